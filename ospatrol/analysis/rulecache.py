"""A cache of compiled rule sets, so a process that analyses one line starts quickly.

Compiling OSSEC's 4.3 rule set (parsing ~170 XML files, translating and analysing ~1,800
patterns) costs about 0.35 CPU-seconds; test runners start one `ospatrol logtest` per case.
`compile_cached(plan, errors, compile_plan)` keys a compiled `Ruleset` by a SHA-256 over
everything its compilation depends on: the load plan itself (file order, levels, every option),
the bytes of every file the plan names (a folder contributes its sorted listing), the analysis
package's own source code and the Python version (with `re`'s compiler, see `reprograms`). A
changed rule file, a new file in a rule folder or a new OSPatrol release therefore never meets
an old entry.

An entry holds the pickled rule set and the code of its patterns' `re` programs, recorded while
it was compiled (`reprograms`): a process that reads it rebuilds them in C in a few
milliseconds instead of compiling each on its first use (~0.2 ms apiece in `re`'s Python). It
also holds `casefold`'s table (~20 ms to build on the first non-ASCII text, ~0.5 ms to read).

Safety: entries live in a private folder (`OSPATROL_CACHE_DIR`, else `$XDG_CACHE_HOME/ospatrol`,
else `~/.cache/ospatrol`, then `rulesets/`), created with mode 0700. An entry is only unpickled
when that folder and the file are owned by the current user and writable by nobody else (so no
other local user can plant a pickle), when its header carries the key its file name stands for
(an entry moved to another key's name is refused) and the SHA-256 of its body (a truncated or
corrupted entry is deleted and the rule set compiled again). Any problem with
the cache means "compile as without it"; `OSPATROL_RULESET_CACHE=0` switches it off. Only rule
sets that loaded without error are stored; the newest `KEEP` entries are kept.
"""

from __future__ import annotations

import contextlib
import copyreg
import hashlib
import io
import os
import pickle
import stat
import sys
import tempfile
from collections.abc import Callable
from dataclasses import fields, is_dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from ospatrol.analysis import casefold, reprograms

if TYPE_CHECKING:
    from ospatrol.analysis.loader import LoadPlan, Ruleset
    from ospatrol.errors import InputError

MAGIC = b"OSPATROL-RULESET-4\n"
KEEP = 16
SUFFIX = ".ruleset"
_source_digest: bytes | None = None


def cache_dir() -> Path | None:
    """The private cache folder (created if needed), or None when caching is off or unsafe."""
    if os.environ.get("OSPATROL_RULESET_CACHE", "1") == "0":
        return None
    explicit = os.environ.get("OSPATROL_CACHE_DIR")
    if explicit:
        base = Path(explicit)
    elif os.environ.get("XDG_CACHE_HOME"):
        base = Path(os.environ["XDG_CACHE_HOME"]) / "ospatrol"
    else:
        try:
            base = Path.home() / ".cache" / "ospatrol"
        except RuntimeError:  # no home directory
            return None
    folder = base / "rulesets"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = os.lstat(folder)
    except OSError:
        return None
    return folder if _private(info) and stat.S_ISDIR(info.st_mode) else None


def _private(info: os.stat_result) -> bool:
    """Owned by us and writable by no one else."""
    return info.st_uid == os.geteuid() and not info.st_mode & 0o022


def _sources() -> bytes:
    """Digest of the analysis package's code: a new version never reads an old entry."""
    global _source_digest
    if _source_digest is None:
        digest = hashlib.sha256(sys.version.encode() + reprograms.fingerprint())
        for path in sorted(Path(__file__).resolve().parent.glob("*.py")):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
        _source_digest = digest.digest()
    return _source_digest


def _paths(value: object) -> list[Path]:
    """Every Path inside a load plan's fields (lists, tuples, nested dataclasses)."""
    if isinstance(value, Path):
        return [value]
    if isinstance(value, list | tuple):
        return [p for item in value for p in _paths(item)]
    if is_dataclass(value) and not isinstance(value, type):
        return [p for item in fields(value) for p in _paths(getattr(value, item.name))]
    return []


def plan_key(plan: LoadPlan) -> str:
    """The cache key of `plan`: hex SHA-256 of the plan, its files' contents and our code."""
    digest = hashlib.sha256(MAGIC + _sources())
    digest.update(repr(plan).encode())
    for path in _paths(plan):
        digest.update(b"\0path\0" + str(path).encode())
        if path.is_dir():
            digest.update("\n".join(sorted(p.name for p in path.iterdir())).encode())
        elif path.is_file():
            data = path.read_bytes()
            digest.update(len(data).to_bytes(8, "big") + data)
        else:
            digest.update(b"\0missing")
    return digest.hexdigest()


def _proxy(mapping: dict) -> MappingProxyType:
    return MappingProxyType(mapping)


def _dumps(ruleset: Ruleset, programs: reprograms.Programs) -> bytes:
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = copyreg.dispatch_table.copy()
    pickler.dispatch_table[MappingProxyType] = lambda proxy: (_proxy, (dict(proxy),))
    pickler.dump((ruleset, programs, casefold.table()))
    return buffer.getvalue()


def _discard(path: Path) -> None:
    """Delete a cache file if we can; another process may have done it already."""
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)


def _name_key(path: Path) -> bytes | None:
    """The key an entry's file name stands for (its header must carry the same)."""
    try:
        return bytes.fromhex(path.name.removesuffix(SUFFIX))
    except ValueError:
        return None


def read_entry(path: Path) -> Ruleset | None:
    """The rule set stored at `path`, or None (absent, not ours, corrupted or filed under
    another key: then deleted)."""
    key = _name_key(path)
    if key is None:
        return None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        with os.fdopen(fd, "rb") as handle:
            if not _private(os.fstat(handle.fileno())):
                return None
            blob = handle.read()
    except OSError:
        return None
    # MAGIC, the key (so an entry renamed to another key is refused), SHA-256 of the body.
    key_at, digest_at, body_at = len(MAGIC), len(MAGIC) + 32, len(MAGIC) + 64
    body = blob[body_at:]
    if (
        blob[:key_at] != MAGIC
        or blob[key_at:digest_at] != key
        or blob[digest_at:body_at] != hashlib.sha256(body).digest()
    ):
        _discard(path)
        return None
    try:
        ruleset, programs, fold_table = pickle.loads(body)
        reprograms.restore(programs)
        casefold.adopt_table(fold_table)
    except Exception:  # our own entry, but unreadable (older state): compile anew
        _discard(path)
        return None
    return ruleset  # type: ignore[no-any-return]


def write_entry(path: Path, ruleset: Ruleset, programs: reprograms.Programs | None = None) -> None:
    """Store `ruleset` at `path` (named by its key) atomically, with the `re` programs
    recorded while compiling it (none: they compile on first use); a failure only means no
    cache."""
    key = _name_key(path)
    if key is None:
        return
    try:
        body = _dumps(ruleset, programs or (reprograms.fingerprint(), []))
    except (pickle.PicklingError, TypeError, AttributeError, RecursionError):
        return
    try:
        fd, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    except OSError:
        return
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(MAGIC + key + hashlib.sha256(body).digest() + body)
        os.replace(temporary, path)
    except OSError:
        _discard(Path(temporary))
        return
    # Keep the newest KEEP entries; other processes may be pruning at the same time.
    dated = []
    for entry in path.parent.glob(f"*{SUFFIX}"):
        try:
            dated.append((entry.stat().st_mtime, entry))
        except OSError:
            continue
    for _, old in sorted(dated)[:-KEEP]:
        _discard(old)


def compile_cached(
    plan: LoadPlan,
    errors: list[InputError],
    compile_plan: Callable[[LoadPlan, list[InputError]], Ruleset],
) -> Ruleset:
    """`compile_plan(plan, errors)`, answered from the cache when it holds this exact input."""
    folder = cache_dir()
    if folder is None:
        return compile_plan(plan, errors)
    try:
        path = folder / (plan_key(plan) + SUFFIX)
    except OSError:  # unreadable input: compiling reports it
        return compile_plan(plan, errors)
    cached = read_entry(path)
    if cached is not None:
        return cached
    with reprograms.recording() as record:
        ruleset = compile_plan(plan, errors)
    if not errors:
        write_entry(path, ruleset, reprograms.collect(ruleset, record))
    return ruleset

"""The compiled `re` programs of a rule set, kept in the rule cache and restored in C.

`re.compile` is mostly Python: `re._parser` parses the pattern, `re._compiler` turns it into a
list of integers (the program's code), and only the last step, ``_sre.compile(pattern, flags,
code, groups, groupindex, indexgroup)``, is C. For Wazuh's rule set the Python part costs about
0.35 CPU-s (~0.2 ms a program); rebuilding the same ~3,500 programs from their code costs about
10 ms. So a rule set compiled for the cache is compiled while `recording()`: every program
`re` makes then is remembered with the arguments of its last step, `collect` keeps those of the
rule set's patterns (their fast and lowered programs, see `matchers.RegexPattern`), and `restore`
rebuilds them when the cache is read, instead of each compiling on its first use.

The code is only meaningful to the `_sre` it was made for: a table carries `fingerprint()` (the
Python build, `_sre`'s constants, the source of `re`'s compiler), and a table with another
fingerprint is not restored (its patterns compile on first use, as without it). The rule cache
also puts the fingerprint into its key, so another Python never even reads the entry. `_sre`
validates code it is given; an invalid table raises and the caller drops the entry.
"""

from __future__ import annotations

import array
import contextlib
import hashlib
import sys
import threading
import types
from collections.abc import Iterator
from pathlib import Path
from re import Pattern
from typing import TYPE_CHECKING

try:  # `re`'s compiler, whose `_sre` is replaced while recording; a Python without it: no table
    import _sre
    from re import _compiler
except ImportError:  # pragma: no cover - only another Python's `re` lacks them
    _sre = None
    _compiler = None

if TYPE_CHECKING:
    from ospatrol.analysis.loader import Ruleset
    from ospatrol.analysis.matchers import RegexPattern

# The arguments of `_sre.compile`: pattern (None for a program made from a parsed pattern, as
# the lowered ones are), flags, code (as CODESIZE-byte words), groups, groupindex, indexgroup.
ProgramArgs = tuple[str | None, int, bytes, int, dict[str, int], tuple[str | None, ...]]
# What the cache keeps: the fingerprint, then each pattern with its fast and lowered program.
Programs = tuple[bytes, list[tuple["RegexPattern", ProgramArgs | None, ProgramArgs | None]]]

_CODE_TYPE = next(
    (t for t in "ILQ" if _sre is not None and array.array(t).itemsize == _sre.CODESIZE), None
)
# One recording at a time: it swaps a module global of `re._compiler`.
_recording_lock = threading.Lock()
_fingerprint: bytes | None = None


def fingerprint() -> bytes:
    """What a program's code depends on besides the pattern: this Python build, `_sre`'s
    constants and `re`'s compiler sources (empty where programs cannot be kept)."""
    global _fingerprint
    if _fingerprint is None:
        if _sre is None or _compiler is None or _CODE_TYPE is None:
            _fingerprint = b""
        else:
            digest = hashlib.sha256(sys.version.encode())
            constants = (_sre.MAGIC, _sre.CODESIZE, _sre.MAXREPEAT, _sre.MAXGROUPS)
            digest.update(repr(constants).encode())
            for path in sorted(Path(_compiler.__file__).parent.glob("*.py")):
                digest.update(path.name.encode() + b"\0" + path.read_bytes())
            _fingerprint = digest.digest()
    return _fingerprint


class Recording:
    """The programs `re` made while recording, by id (each kept alive, so ids stay theirs)."""

    def __init__(self) -> None:
        self.made: dict[int, tuple[Pattern[str], ProgramArgs]] = {}

    def args(self, program: Pattern[str] | None) -> ProgramArgs | None:
        """The `_sre.compile` arguments `program` was made from, or None (not recorded)."""
        if program is None:
            return None
        found = self.made.get(id(program))
        return None if found is None or found[0] is not program else found[1]


@contextlib.contextmanager
def recording() -> Iterator[Recording]:
    """Remember every `re` program compiled inside (in any thread) with its `_sre.compile`
    arguments. Programs taken from `re`'s own cache were not compiled here: `re.purge()`
    first, so a rule set compiled inside has all of its programs recorded."""
    record = Recording()
    if not fingerprint():
        yield record
        return
    real = _sre

    def compile_and_record(pattern, flags, code, groups, groupindex, indexgroup):  # type: ignore[no-untyped-def]
        program = real.compile(pattern, flags, code, groups, groupindex, indexgroup)
        words = array.array(_CODE_TYPE, code).tobytes()  # type: ignore[arg-type]
        record.made[id(program)] = (
            program,
            (pattern, flags, words, groups, dict(groupindex), tuple(indexgroup)),
        )
        return program

    stand_in = types.ModuleType(real.__name__)
    stand_in.__dict__.update(real.__dict__)
    stand_in.compile = compile_and_record  # type: ignore[attr-defined]
    with _recording_lock:
        import re

        re.purge()
        _compiler._sre = stand_in  # type: ignore[union-attr]
        try:
            yield record
        finally:
            _compiler._sre = real  # type: ignore[union-attr]


def collect(ruleset: Ruleset, record: Recording) -> Programs:
    """The recorded programs of `ruleset`'s patterns, to pickle with it."""
    from ospatrol.analysis.matchers import RegexPattern

    kept = []
    seen: set[int] = set()
    for pattern in ruleset.patterns():
        if not isinstance(pattern, RegexPattern) or id(pattern) in seen:
            continue
        seen.add(id(pattern))
        fast, lowered = pattern.programs()
        fast_args, lowered_args = record.args(fast), record.args(lowered)
        if fast_args is not None or lowered_args is not None:
            kept.append((pattern, fast_args, lowered_args))
    return fingerprint(), kept


def rebuild(args: ProgramArgs) -> Pattern[str]:
    """The program `args` were recorded from (equal to it: same flags, code and pattern)."""
    pattern, flags, words, groups, groupindex, indexgroup = args
    code = array.array(_CODE_TYPE, words).tolist()  # type: ignore[arg-type]
    return _sre.compile(pattern, flags, code, groups, groupindex, indexgroup)  # type: ignore[union-attr]


def restore(programs: Programs) -> bool:
    """Give each pattern of `programs` its programs back; False (nothing done) when they were
    made for another `re`. Raises RuntimeError on code `_sre` refuses (a damaged table)."""
    stamp, kept = programs
    if not stamp or stamp != fingerprint():
        return False
    # Patterns sharing a translation shared one program (`re`'s cache): they share it again.
    built: dict[int, Pattern[str]] = {}
    for pattern, fast_args, lowered_args in kept:
        fast = lowered = None
        if fast_args is not None:
            fast = built.get(id(fast_args))
            if fast is None:
                fast = built[id(fast_args)] = rebuild(fast_args)
        if lowered_args is not None:
            lowered = built.get(id(lowered_args))
            if lowered is None:
                lowered = built[id(lowered_args)] = rebuild(lowered_args)
        pattern.restore(fast, lowered)
    return True

"""File integrity monitoring over a transport: list, hash what moved, compare, keep the baseline.

Per host and audit: ONE listing command (every watched entry with its stat, NUL-separated, with
an end marker; on a first scan also the names of the ids it lists), then hashing commands for the
regular files that are new or whose size, mtime, ctime or inode moved (so an unchanged tree is not
rehashed), then, for `report_changes` files that changed, their content (capped, masked) for a
diff. Differences with the stored baseline become findings phrased as OSSEC syscheck events
(docs/events.md).

An unchanged host costs one listing and one digest: the store keeps, with the baseline, the
digest of the listing (and profile) it was built from, recorded only when the next scan of that
listing would fetch nothing (every file hashed, every kept content present). The same digest
again means the same findings (none) and the same baseline, so nothing is parsed or written.

Fail safe: if the host cannot be reached, a command times out, or the listing or hashing output is
cut short, the result is `incomplete` with ONE `ospatrol: scan incomplete: ...` finding (collector
`fim`) and no updates. A complete scan returns the new baseline as updates, which the audit
commits with the findings in one transaction. The first scan of a host records its baseline and
reports nothing. `accept` records the current state as good (all or some paths).
"""

from __future__ import annotations

import asyncio
import fnmatch
import hashlib
import logging
import re
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path

from ospatrol.collect.base import CollectorResult, StateView, incomplete_finding
from ospatrol.collect.fim_compare import (
    COLLECTOR,
    compare_records,
    content_changed,
    is_text,
    record_needs_hash,
    unhashable_finding,
    unified_diff,
    unreadable_finding,
)
from ospatrol.collect.fim_listing import (
    Listing,
    ListingError,
    anchored_prefix,
    content_command,
    hash_commands,
    inflate,
    inline_hashing,
    listing_command,
    listing_records,
    lists_names,
    names_command,
    parse_hashes,
    parse_names,
    split_listing,
)
from ospatrol.collect.fim_records import (
    R_GID,
    R_GROUP,
    R_OWNER,
    R_PATH,
    R_SHA256,
    R_SIZE,
    R_TYPE,
    R_UID,
    FileEntry,
    FimRecord,
    entry_record,
    pack,
    record_entry,
    unpack,
)
from ospatrol.errors import InputError, OSPatrolError
from ospatrol.model import Host
from ospatrol.profiles import Profile, load_profiles, profile_for
from ospatrol.profiles.fim import FimProfile
from ospatrol.scrub import Scrubber, off_loop, scrubber_for
from ospatrol.store import (
    FileContent,
    PutFimContents,
    PutFimSnapshot,
    SetFimListing,
    StateUpdate,
)
from ospatrol.store.protocols import StateStore
from ospatrol.transport import Transport, TransportError, TransportSettings, open_transport
from ospatrol.transport.base import DEFAULT_MAX_OUTPUT

log = logging.getLogger(__name__)

DIGEST_VERSION = b"ospatrol-fim-1"
"""Part of every listing digest: a change in what records hold invalidates stored digests."""
_NO_HASHES = ("", "", "")


class ScanIncomplete(OSPatrolError):
    """A FIM scan that could not complete (for `accept`, which must not record a partial state)."""


@dataclass(frozen=True)
class FimStats:
    """What one scan did: entries listed, files hashed, contents fetched, commands run."""

    listed: int = 0
    hashed: int = 0
    contents: int = 0
    commands: int = 0


@dataclass(frozen=True)
class FimScan:
    """A scan's result plus what it saw (`entries` is None when the scan was incomplete)."""

    result: CollectorResult
    stats: FimStats
    entries: dict[str, FileEntry] | None = None
    contents: dict[str, FileContent] = field(default_factory=dict)
    first: bool = False


def _under(path: str, roots: Iterable[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def listing_digest(profile: FimProfile, listing: Listing) -> str:
    """What a baseline built from `listing` under `profile` is recorded against."""
    digest = hashlib.sha256(DIGEST_VERSION + b"\0")
    digest.update(repr(profile).encode("utf-8", "surrogateescape") + b"\0")
    digest.update(listing.identity)
    return digest.hexdigest()


def _drop_excluded(
    records: Iterable[tuple[str, ...]], profile: FimProfile
) -> dict[str, tuple[str, ...]]:
    """Records not excluded themselves nor below an excluded directory (client-side pass)."""
    roots = {w.path for w in profile.paths}
    prefixes = tuple(r.rstrip("/") + "/" for r in roots)
    ends, search, match = _exclusion_parts(profile)
    excluded = _exclusion_test(ends, search, match)
    # Suffix tests only (the shipped profile's case): done inline, without a call per entry.
    suffixes_only = search is None and match is None
    verdicts: dict[str, bool] = {}

    def excluded_dir(path: str) -> bool:
        """Whether entries in directory `path` are excluded (it or an ancestor below a root)."""
        verdict = verdicts.get(path)
        if verdict is None:
            parent = path.rpartition("/")[0] or "/"
            inherited = path not in roots and parent != path and excluded_dir(parent)
            verdict = verdicts[path] = inherited or excluded(path)
        return verdict

    kept: dict[str, tuple[str, ...]] = {}
    # find lists a directory's entries together: the parent's verdict is reused while it lasts.
    parent, parent_excluded = "", False
    for record in records:
        path = record[R_PATH]
        if path not in roots:
            if not path.startswith(prefixes):
                continue
            directory = path.rpartition("/")[0] or "/"
            if directory != parent:
                parent, parent_excluded = directory, excluded_dir(directory)
            if parent_excluded:
                continue
        if suffixes_only:
            if not path.endswith(ends):
                kept[path] = record
        elif not excluded(path):
            kept[path] = record
    return kept


def exclusion_test(profile: FimProfile) -> Callable[[str], bool]:
    """`profile.excluded` for paths under the watched ones, with less regex work per path.

    `excluded` searches every path with one regex joining all path globs and regexes, and
    matches names with another. Here globs without wildcards are suffix tests: a path glob
    (its translated regex, searched, means exactly that), a name (`/name`) or a name glob
    `*suffix`; an anchored regex whose literal start no watched path can have is dropped. The
    shipped profile's test is then one `endswith` (tests/fim/test_fim_fast.py checks the two
    agree).
    """
    return _exclusion_test(*_exclusion_parts(profile))


def _exclusion_parts(
    profile: FimProfile,
) -> tuple[tuple[str, ...], Callable[[str], object] | None, Callable[[str], object] | None]:
    """(suffixes, search on the path or None, match on the name or None)."""
    roots = [w.path for w in profile.paths]
    suffixes: list[str] = []
    full: list[str] = []
    names: list[str] = []
    for ex in profile.exclude:
        pattern = ex.pattern
        if ex.regex:
            prefix = anchored_prefix(pattern)
            if prefix is None or any(prefix.startswith(r) or r.startswith(prefix) for r in roots):
                full.append(pattern)
        elif not any(c in pattern for c in "*?["):
            suffixes.append(pattern if "/" in pattern else "/" + pattern)
        elif "/" in pattern:
            full.append(fnmatch.translate(pattern))
        elif pattern.startswith("*") and not any(c in pattern[1:] for c in "*?["):
            suffixes.append(pattern[1:])
        else:
            names.append(fnmatch.translate(pattern))
    search = re.compile("|".join(f"(?:{r})" for r in full)).search if full else None
    match = re.compile("|".join(f"(?:{r})" for r in names)).match if names else None
    return tuple(suffixes), search, match


def _exclusion_test(
    ends: tuple[str, ...],
    search: Callable[[str], object] | None,
    match: Callable[[str], object] | None,
) -> Callable[[str], bool]:
    def excluded(path: str) -> bool:
        if path.endswith(ends):
            return True
        if search is not None and search(path):
            return True
        return match is not None and match(path.rpartition("/")[2]) is not None

    return excluded


def _content_matcher(profile: FimProfile) -> tuple[tuple[str, ...], Callable[[str], object]]:
    """`profile.keeps_content` as (literal starts, match): a path can only match a glob that it
    starts like, and the globs joined are one regex. Starts no watched path can have are left
    out (none left: no path under the watched ones can match)."""
    roots = [w.path for w in profile.paths]
    starts: list[str] = []
    globs: list[str] = []
    for glob in profile.report_changes:
        start = re.split(r"[*?\[]", glob, maxsplit=1)[0]
        if any(r.startswith(start) or start.startswith(r) for r in roots):
            starts.append(start)
            globs.append(fnmatch.translate(glob))
    if not globs:
        return (), lambda _path: None
    return tuple(starts), re.compile("|".join(globs)).match


class _Scanner:
    """One scan of one host: the I/O steps, counting commands."""

    def __init__(self, transport: Transport, profile: FimProfile) -> None:
        self.transport = transport
        self.profile = profile
        self.commands = 0
        self.fetched = 0
        # A compressed listing may inflate to what the transport lets a command print.
        settings = getattr(transport, "settings", None)
        self.max_output = getattr(settings, "max_output", DEFAULT_MAX_OUTPUT)

    async def run(self, command: str) -> bytes:
        self.commands += 1
        result = await self.transport.run(command)
        if result.truncated:
            raise ListingError("truncated listing: output over the size cap")
        return result.stdout_bytes

    async def listing(self, *, first: bool) -> Listing:
        """The listing; on a first scan with names, and hashes where `inline_hashing` allows."""
        token = secrets.token_hex(8) if self.profile.tools == "gnu" else ""
        command = listing_command(self.profile, first=first, token=token)
        output = inflate(await self.run(command), self.max_output)
        names = lists_names(self.profile, first=first)
        hashes = names and inline_hashing(self.profile)
        return split_listing(output, token, names=names, hashes=hashes)

    async def names(
        self,
        listing: Listing,
        entries: Mapping[str, tuple[str, ...]],
        baseline: Mapping[str, FimRecord],
    ) -> tuple[dict[str, str], dict[str, str]]:
        """uid and gid names: from the listing or the baseline, else one `getent` command.

        Only GNU listings need this (find's %u/%g cost a lookup per entry); stat gives names.
        """
        users = {r[R_UID]: r[R_OWNER] for r in baseline.values()}
        groups = {r[R_GID]: r[R_GROUP] for r in baseline.values()}
        if self.profile.tools != "gnu":
            return users, groups
        if listing.users is not None:
            users.update(listing.users)
            groups.update(listing.groups)
        new_uids = set(map(itemgetter(R_UID), entries.values())).difference(users)
        new_gids = set(map(itemgetter(R_GID), entries.values())).difference(groups)
        if new_uids or new_gids:
            found_users, found_groups = parse_names(
                await self.run(names_command(new_uids, new_gids))
            )
            users.update(found_users)
            groups.update(found_groups)
        return users, groups

    async def hashes(self, paths: Sequence[str]) -> dict[str, dict[str, str]]:
        merged: dict[str, dict[str, str]] = {}
        for batch in hash_commands(paths, self.profile.hashes, self.profile.tools):
            for alg, digests in parse_hashes(await self.run(batch.command)).items():
                merged.setdefault(alg, {}).update(digests)
        return merged

    async def content(self, path: str) -> bytes | None:
        """The file's first `max_content + 1` bytes, or None if unreadable."""
        self.commands += 1
        self.fetched += 1
        result = await self.transport.run(content_command(path, self.profile.max_content))
        return None if result.exit_status != 0 or result.truncated else result.stdout_bytes


@dataclass(frozen=True)
class _Gaps:
    """What a scan could not see: directories it could not read (their baseline entries are
    kept) and regular files it could not hash (a same-size change would go unseen)."""

    unreadable: tuple[str, ...] = ()
    unhashable: tuple[str, ...] = ()


@dataclass
class _Outcome:
    """What `_scan` found: the result, and the state behind it (records, contents, digest)."""

    result: CollectorResult
    stats: FimStats
    records: dict[str, FimRecord] | None = None
    contents: dict[str, FileContent] | None = None
    first: bool = False
    unchanged: bool = False
    """The listing was the one the baseline was recorded against: nothing was parsed."""


class FimCollector:
    """The `fim` collector. Stateless apart from the parsed profiles."""

    name = COLLECTOR

    def __init__(self, profiles: Mapping[str, Profile] | None = None) -> None:
        self.profiles = dict(profiles) if profiles is not None else load_profiles()

    @classmethod
    def from_checks(cls, checks_dir: Path | None) -> FimCollector:
        return cls(load_profiles(checks_dir))

    def profile_for(self, host: Host) -> FimProfile | None:
        """The host's FIM settings (platform profile + host vars); None if none apply."""
        profile = profile_for(self.profiles, host.platform)
        if profile is None or profile.fim is None:
            return None
        return profile.fim.for_host(host)

    async def collect(self, host: Host, transport: Transport, state: StateView) -> CollectorResult:
        return (await self._scan(host, transport, state)).result

    async def scan(self, host: Host, transport: Transport, state: StateView) -> FimScan:
        """Scan and compare with the baseline; the result carries the updates to commit."""
        outcome = await self._scan(host, transport, state)
        if outcome.unchanged:
            # The stored baseline is what the host holds.
            entries = baseline_entries(state)
            contents = state.fim_contents()
        elif outcome.records is None:
            return FimScan(outcome.result, outcome.stats, first=outcome.first)
        else:
            entries = {p: record_entry(r) for p, r in outcome.records.items()}
            contents = outcome.contents or {}
        return FimScan(outcome.result, outcome.stats, entries, contents, outcome.first)

    async def _scan(self, host: Host, transport: Transport, state: StateView) -> _Outcome:
        try:
            profile = self.profile_for(host)
        except InputError as exc:
            # A bad ospatrol_fim_* var fails this host's FIM, not the whole audit.
            return _Outcome(CollectorResult(COLLECTOR, "error", error=str(exc)), FimStats())
        if profile is None:
            # No fim profile for this platform (network devices): nothing to do.
            return _Outcome(CollectorResult(COLLECTOR, "ok"), FimStats())
        scanner = _Scanner(transport, profile)
        snapshot = state.fim_snapshot()
        known = None if snapshot is None else (snapshot.entries, snapshot.listing)
        try:
            listing = await scanner.listing(first=known is None)
            digest = listing_digest(profile, listing)
            if known is not None and known[1] == digest:
                stats = FimStats(listed=known[0], commands=scanner.commands)
                log.debug("fim %s: unchanged, %s", host.name, stats)
                return _Outcome(CollectorResult(COLLECTOR, "ok"), stats, unchanged=True)
            baseline = unpack(snapshot.records) if snapshot is not None else {}
            old_contents = state.fim_contents()
            current, hashed, gaps = await self._current(scanner, listing, baseline)
            contents, diffs, complete = await self._contents(
                scanner, baseline, current, old_contents
            )
        except (TransportError, ListingError) as exc:
            reason = exc.reason if isinstance(exc, TransportError) else str(exc)
            return self._incomplete(host, scanner, reason)
        if baseline and not current:
            # Nothing at all where there was a tree: a path or tool problem, not a mass deletion.
            return self._incomplete(host, scanner, "error: the listing is empty")
        first = not baseline
        findings = [] if first else compare_records(host.name, baseline, current, profile, diffs)
        # What this scan could not see is said every time, first scan included.
        findings += [unreadable_finding(host.name, path) for path in gaps.unreadable]
        findings += [unhashable_finding(host.name, path) for path in gaps.unhashable]
        complete = complete and not gaps.unreadable
        rewrite = current != baseline or contents != old_contents
        moved = rewrite and (contents != old_contents or _entries_differ(baseline, current))
        updates: list[StateUpdate] = []
        if current:
            # The digest is kept only when a scan of the same listing would do nothing more.
            complete = complete and "" not in [
                r[R_SHA256] for r in current.values() if r[R_TYPE] == "f"
            ]
            kept = digest if complete else None
            if rewrite:
                updates = snapshot_updates(current.values(), contents.values(), kept)
            elif known is None or known[1] != kept:
                updates = [SetFimListing(kept)]
        stats = FimStats(len(current), hashed, scanner.fetched, scanner.commands)
        log.info("fim %s: %s", host.name, stats)
        result = CollectorResult(
            COLLECTOR, "ok", tuple(findings), updates=tuple(updates), baseline_changed=moved
        )
        return _Outcome(result, stats, current, contents, first)

    @staticmethod
    def _incomplete(host: Host, scanner: _Scanner, reason: str) -> _Outcome:
        log.warning("fim scan of %s incomplete: %s", host.name, reason)
        finding = incomplete_finding(host.name, reason, collector=COLLECTOR)
        result = CollectorResult(COLLECTOR, "incomplete", (finding,), reason)
        return _Outcome(result, FimStats(commands=scanner.commands))

    async def _current(
        self, scanner: _Scanner, listing: Listing, baseline: Mapping[str, FimRecord]
    ) -> tuple[dict[str, FimRecord], int, _Gaps]:
        """The listing as records with hashes (carried over from the baseline, or computed if
        stat moved), the number hashed, and what could not be seen."""
        current, hashed = await self._records(scanner, listing, baseline)
        unreadable = tuple(
            p for p in listing.unreadable if p in current and not scanner.profile.excluded(p)
        )
        if unreadable:
            # find could not read below these: what was there is kept, not reported deleted.
            for path, record in baseline.items():
                if path not in current and _under(path, unreadable):
                    current[path] = record
        unhashable = tuple(sorted(p for p in hashed if not current[p][R_SHA256]))
        return current, len(hashed), _Gaps(unreadable, unhashable)

    async def _records(
        self, scanner: _Scanner, listing: Listing, baseline: Mapping[str, FimRecord]
    ) -> tuple[dict[str, FimRecord], list[str]]:
        """The listing as records, and the paths that were to be hashed."""
        profile = scanner.profile
        listed = _drop_excluded(listing_records(listing, profile.tools), profile)
        users, groups = await scanner.names(listing, listed, baseline)
        get = baseline.get
        if baseline:
            to_hash = [p for p, e in listed.items() if record_needs_hash(get(p), e)]
        else:
            to_hash = [p for p, e in listed.items() if e[R_TYPE] == "f"]
        digests = await self._hashes(scanner, to_hash, listing.hashes)
        sha256, sha1, md5 = (digests.get(a, {}) for a in ("sha256", "sha1", "md5"))
        stat_names = profile.tools != "gnu"
        if not baseline and not stat_names:
            # A first GNU scan: every regular file was hashed, names came with the listing.
            u, g, no = users.get, groups.get, _NO_HASHES
            return {
                p: (
                    *e,
                    u(e[R_UID], ""),
                    g(e[R_GID], ""),
                    sha256.get(p, ""),
                    sha1.get(p, ""),
                    md5.get(p, ""),
                )
                if e[R_TYPE] == "f"
                else (*e, u(e[R_UID], ""), g(e[R_GID], ""), *no)
                for p, e in listed.items()
            }, to_hash
        rehashed = set(to_hash)
        current: dict[str, FimRecord] = {}
        for path, e in listed.items():
            if path in rehashed:
                sums = (sha256.get(path, ""), sha1.get(path, ""), md5.get(path, ""))
            elif e[R_TYPE] == "f" and (old := get(path)) is not None:
                sums = old[R_SHA256:]
            else:
                sums = _NO_HASHES
            if stat_names:
                names = (
                    e[R_OWNER] or users.get(e[R_UID], ""),
                    e[R_GROUP] or groups.get(e[R_GID], ""),
                )
                current[path] = (*e[:R_OWNER], *names, *sums)
            else:
                current[path] = (*e, users.get(e[R_UID], ""), groups.get(e[R_GID], ""), *sums)
        return current, to_hash

    @staticmethod
    async def _hashes(
        scanner: _Scanner, paths: list[str], inline: dict[str, dict[str, str]] | None
    ) -> dict[str, dict[str, str]]:
        """Digests of `paths`: those the listing brought (first scan), the rest computed."""
        if inline is None:
            return await scanner.hashes(paths) if paths else {}
        found = [inline.get(alg, {}) for alg in scanner.profile.hashes]
        if all(all(map(digests.__contains__, paths)) for digests in found):
            return inline
        missing = [p for p in paths if not all(p in digests for digests in found)]
        computed = await scanner.hashes(missing)
        return {
            alg: {**inline.get(alg, {}), **computed.get(alg, {})} for alg in scanner.profile.hashes
        }

    async def _contents(
        self,
        scanner: _Scanner,
        baseline: Mapping[str, FimRecord],
        current: Mapping[str, FimRecord],
        old_contents: Mapping[str, FileContent],
    ) -> tuple[dict[str, FileContent], dict[str, str], bool]:
        """Kept contents for `report_changes` files, diffs for those that changed, and whether
        every wanted content is now kept."""
        profile = scanner.profile
        starts, keeps = _content_matcher(profile) if profile.report_changes else ((), None)
        if not starts:
            return {}, {}, True
        wanted = [
            record_entry(r)
            for p, r in current.items()
            if p.startswith(starts)
            and r[R_TYPE] == "f"
            and keeps(p)
            and int(r[R_SIZE]) <= profile.max_content
        ]
        fetch = [
            e
            for e in wanted
            if e.path not in old_contents
            or baseline.get(e.path) is None
            or content_changed(record_entry(baseline[e.path]), e, profile)
        ]
        fetched = await asyncio.gather(*(scanner.content(e.path) for e in fetch))
        contents = {e.path: old_contents[e.path] for e in wanted if e.path in old_contents}
        for entry in fetch:
            contents.pop(entry.path, None)
        readable = [
            (entry.path, data)
            for entry, data in zip(fetch, fetched, strict=True)
            if data is not None and len(data) <= profile.max_content and is_text(data)
        ]
        size = sum(len(data) for _, data in readable)
        scrubber = scrubber_for(profile.mask)
        new, diffs = await off_loop(size, _masked_diffs, scrubber, readable, baseline, old_contents)
        contents.update(new)
        return contents, diffs, len(contents) == len(wanted)

    async def accept(
        self, host: Host, transport: Transport, store: StateStore, paths: Sequence[str] = ()
    ) -> FimScan:
        """Record the host's current state as its baseline: everything, or only under `paths`.

        A path no watched path covers, or with nothing at or under it on the host or in the
        baseline, is an `InputError` (a typo must not read as "accepted")."""
        profile = self.profile_for(host)
        roots = [p.path for p in profile.paths] if profile is not None else []
        for path in paths:
            covered = _under(path, roots) or any(_under(r, (path,)) for r in roots)
            if not covered or (profile is not None and profile.excluded(path)):
                raise InputError(f"{path} is not monitored on {host.name}")
        state = StateView(store, host.name, COLLECTOR)
        scan = await self.scan(host, transport, state)
        if scan.entries is None:
            raise ScanIncomplete(f"{host.name}: {scan.result.error}")
        if not paths:
            replace_baseline(store, host.name, scan.entries.values(), scan.contents.values())
            return scan
        baseline = baseline_records(state)
        for path in paths:
            if not any(_under(p, (path,)) for p in (*scan.entries, *baseline)):
                raise InputError(f"{path} does not exist on {host.name} nor in its baseline")
        update_baseline(
            store,
            host.name,
            [e for p, e in scan.entries.items() if _under(p, paths)],
            removed=[p for p in baseline if _under(p, paths) and p not in scan.entries],
            contents=[c for p, c in scan.contents.items() if _under(p, paths)],
        )
        return scan


def _masked_diffs(
    scrubber: Scrubber,
    fetched: Sequence[tuple[str, bytes]],
    baseline: Mapping[str, FimRecord],
    old_contents: Mapping[str, FileContent],
) -> tuple[dict[str, FileContent], dict[str, str]]:
    """The fetched contents with secrets masked, and the diffs of those that changed (CPU work:
    `off_loop` runs it on a thread when it is large)."""
    contents: dict[str, FileContent] = {}
    diffs: dict[str, str] = {}
    for path, data in fetched:
        masked = scrubber.data(data, path)
        before = old_contents.get(path)
        if before is not None and path in baseline and before.content != masked:
            diffs[path] = unified_diff(before.content, masked)
        contents[path] = FileContent(path, masked, len(data))
    return contents, diffs


def _entries_differ(baseline: Mapping[str, FimRecord], current: Mapping[str, FimRecord]) -> bool:
    """Whether records that differ as text also differ as entries (`1.5` is `1.50`)."""
    if baseline.keys() != current.keys():
        return True
    return any(
        record_entry(r) != record_entry(baseline[p]) for p, r in current.items() if baseline[p] != r
    )


def baseline_records(state: StateView) -> dict[str, FimRecord]:
    """The stored baseline of the view's host as records, by path (empty when never scanned)."""
    snapshot = state.fim_snapshot()
    return unpack(snapshot.records) if snapshot is not None else {}


def baseline_entries(state: StateView) -> dict[str, FileEntry]:
    """The stored baseline of the view's host as entries, sorted by path."""
    return {p: record_entry(r) for p, r in sorted(baseline_records(state).items())}


def fim_state(store: StateStore, host: str) -> StateView:
    """A read-only view of `host`'s FIM state (for `baseline show`, reports and tests)."""
    return StateView(store, host, COLLECTOR)


def snapshot_updates(
    records: Iterable[FimRecord], contents: Iterable[FileContent], listing: str | None
) -> list[StateUpdate]:
    """The updates that make `records` and `contents` the host's whole baseline."""
    records = list(records)
    return [
        PutFimSnapshot(len(records), pack(records), listing),
        PutFimContents(tuple(contents), replace=True),
    ]


def replace_baseline(
    store: StateStore,
    host: str,
    entries: Iterable[FileEntry],
    contents: Iterable[FileContent] = (),
) -> None:
    """Make `entries` and `contents` the whole baseline of `host`, atomically."""
    store.apply_updates(
        host, COLLECTOR, snapshot_updates(map(entry_record, entries), contents, None)
    )


def update_baseline(
    store: StateStore,
    host: str,
    entries: Iterable[FileEntry],
    removed: Iterable[str] = (),
    contents: Iterable[FileContent] = (),
) -> None:
    """Accept some paths only: upsert `entries` and `contents`, drop `removed`, atomically."""
    records = baseline_records(fim_state(store, host))
    gone = tuple(removed)
    for path in gone:
        records.pop(path, None)
    records.update((e.path, entry_record(e)) for e in entries)
    store.apply_updates(
        host,
        COLLECTOR,
        [
            PutFimSnapshot(len(records), pack(records.values()), None),
            PutFimContents(tuple(contents), removed=gone),
        ],
    )


def accept_baseline(
    host: Host,
    settings: TransportSettings,
    store: StateStore,
    collector: FimCollector,
    paths: Sequence[str] = (),
) -> FimScan:
    """Connect to `host` and record its current state as the baseline (for `baseline accept`)."""

    async def run() -> FimScan:
        async with open_transport(host, settings) as transport:
            return await collector.accept(host, transport, store, paths)

    return asyncio.run(run())

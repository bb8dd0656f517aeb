"""File integrity monitoring over a transport: list, hash what moved, compare, keep the baseline.

Per host and audit: ONE listing command (every watched entry with its stat, NUL-separated, with
an end marker), then hashing commands for the regular files that are new or whose size, mtime,
ctime or inode moved (so an unchanged tree is not rehashed), then, for `report_changes` files that
changed, their content (capped, masked) for a diff. Differences with the stored baseline become
findings phrased as OSSEC syscheck events (docs/events.md).

Fail safe: if the host cannot be reached, a command times out, or the listing or hashing output is
cut short, the result is `incomplete` with ONE `ospatrol: scan incomplete: ...` finding (collector
`audit`, subject `fim`) and the baseline is not touched. Only a complete scan replaces it, in one
transaction. The first scan of a host records its baseline and reports nothing. `dry_run`
compares and writes nothing. `accept` records the current state as good (all or some paths).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from ospatrol.collect.base import CollectorResult
from ospatrol.collect.checks import FimProfile, Profile, load_profiles, profile_for
from ospatrol.collect.fim_compare import (
    COLLECTOR,
    compare,
    content_changed,
    is_text,
    mask,
    needs_hash,
    unified_diff,
)
from ospatrol.collect.fim_listing import (
    ListingError,
    content_command,
    hash_commands,
    listing_command,
    names_command,
    parse_hashes,
    parse_listing,
    parse_names,
)
from ospatrol.errors import InputError, OSPatrolError
from ospatrol.model import Finding, Host
from ospatrol.store import FileContent, FileEntry, Store
from ospatrol.transport import Transport, TransportError, TransportSettings, open_transport

log = logging.getLogger(__name__)

AUDIT_COLLECTOR = "audit"


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


def incomplete_finding(host: str, reason: str) -> Finding:
    return Finding(
        host=host,
        collector=AUDIT_COLLECTOR,
        kind="incomplete",
        subject=COLLECTOR,
        detail=reason,
        event_text=f"ospatrol: scan incomplete: {reason}",
    )


def _under(path: str, roots: Iterable[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def _drop_excluded(entries: Iterable[FileEntry], profile: FimProfile) -> dict[str, FileEntry]:
    """Entries not excluded themselves nor below an excluded directory (client-side pass)."""
    roots = [w.path for w in profile.paths]
    verdicts: dict[str, bool] = {}

    def excluded(path: str) -> bool:
        if path not in verdicts:
            parent = path.rpartition("/")[0] or "/"
            inherited = path not in roots and parent != path and excluded(parent)
            verdicts[path] = inherited or profile.excluded(path)
        return verdicts[path]

    kept: dict[str, FileEntry] = {}
    for entry in entries:
        if _under(entry.path, roots) and not excluded(entry.path):
            kept[entry.path] = entry
    return kept


class _Scanner:
    """One scan of one host: the I/O steps, counting commands."""

    def __init__(self, host: Host, transport: Transport, profile: FimProfile) -> None:
        self.host = host
        self.transport = transport
        self.profile = profile
        self.commands = 0
        self.fetched = 0

    async def run(self, command: str) -> bytes:
        self.commands += 1
        result = await self.transport.run(command)
        if result.truncated:
            raise ListingError("truncated listing: output over the size cap")
        return result.stdout_bytes

    async def listing(self) -> dict[str, FileEntry]:
        output = await self.run(listing_command(self.profile))
        return _drop_excluded(parse_listing(output, self.profile.tools), self.profile)

    async def names(
        self, entries: Mapping[str, FileEntry], baseline: Mapping[str, FileEntry]
    ) -> tuple[dict[int, str], dict[int, str]]:
        """uid and gid names: from the baseline for ids it has, else one `getent` command.

        Only GNU listings need this (find's %u/%g cost a lookup per entry); stat gives names.
        """
        users = {e.uid: e.owner for e in baseline.values()}
        groups = {e.gid: e.group for e in baseline.values()}
        if self.profile.tools != "gnu":
            return users, groups
        new_uids = {e.uid for e in entries.values()} - users.keys()
        new_gids = {e.gid for e in entries.values()} - groups.keys()
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

    async def collect(
        self, host: Host, transport: Transport, store: Store, *, dry_run: bool = False
    ) -> CollectorResult:
        return (await self.scan(host, transport, store, dry_run=dry_run)).result

    async def scan(
        self, host: Host, transport: Transport, store: Store, *, dry_run: bool = False
    ) -> FimScan:
        """Scan, compare with the baseline, and (unless `dry_run`) store the new baseline."""
        try:
            profile = self.profile_for(host)
        except InputError as exc:
            # A bad ospatrol_fim_* var fails this host's FIM, not the whole audit.
            return FimScan(CollectorResult(COLLECTOR, "error", error=str(exc)), FimStats())
        if profile is None:
            # No fim profile for this platform (network devices): nothing to do.
            return FimScan(CollectorResult(COLLECTOR, "ok"), FimStats())
        scanner = _Scanner(host, transport, profile)
        baseline = store.fim_baseline(host.name)
        old_contents = store.fim_contents(host.name)
        try:
            current, hashed = await self._current(scanner, baseline)
            contents, diffs = await self._contents(scanner, baseline, current, old_contents)
        except (TransportError, ListingError) as exc:
            reason = exc.reason if isinstance(exc, TransportError) else str(exc)
            return self._incomplete(host, scanner, reason)
        if baseline and not current:
            # Nothing at all where there was a tree: a path or tool problem, not a mass deletion.
            return self._incomplete(host, scanner, "error: the listing is empty")
        first = not baseline
        findings = [] if first else compare(host.name, baseline, current, profile, diffs)
        moved = current != baseline or contents != old_contents
        if moved and not dry_run:
            store.replace_fim_baseline(host.name, current.values(), contents.values())
        stats = FimStats(len(current), hashed, scanner.fetched, scanner.commands)
        log.info("fim %s: %s", host.name, stats)
        result = CollectorResult(
            COLLECTOR, "ok", tuple(findings), baseline_changed=moved and not dry_run
        )
        return FimScan(result, stats, current, contents, first)

    @staticmethod
    def _incomplete(host: Host, scanner: _Scanner, reason: str) -> FimScan:
        log.warning("fim scan of %s incomplete: %s", host.name, reason)
        finding = incomplete_finding(host.name, reason)
        result = CollectorResult(COLLECTOR, "incomplete", (finding,), reason)
        return FimScan(result, FimStats(commands=scanner.commands))

    async def _current(
        self, scanner: _Scanner, baseline: Mapping[str, FileEntry]
    ) -> tuple[dict[str, FileEntry], int]:
        """The listing with hashes: carried over from the baseline, or computed if stat moved."""
        listed = await scanner.listing()
        users, groups = await scanner.names(listed, baseline)
        to_hash = [p for p, e in listed.items() if needs_hash(baseline.get(p), e)]
        digests = await scanner.hashes(to_hash) if to_hash else {}
        rehashed = set(to_hash)
        current: dict[str, FileEntry] = {}
        for path, entry in listed.items():
            old = baseline.get(path)
            sums: dict[str, str | None] = {}
            if path in rehashed:
                sums = {a: digests.get(a, {}).get(path) for a in ("sha256", "sha1", "md5")}
            elif entry.type == "f" and old is not None:
                sums = {"sha256": old.sha256, "sha1": old.sha1, "md5": old.md5}
            current[path] = replace(
                entry,
                owner=entry.owner or users.get(entry.uid, ""),
                group=entry.group or groups.get(entry.gid, ""),
                **sums,
            )
        return current, len(to_hash)

    async def _contents(
        self,
        scanner: _Scanner,
        baseline: Mapping[str, FileEntry],
        current: Mapping[str, FileEntry],
        old_contents: Mapping[str, FileContent],
    ) -> tuple[dict[str, FileContent], dict[str, str]]:
        """Kept contents for `report_changes` files, and diffs for those that changed."""
        profile = scanner.profile
        wanted = [
            e
            for p, e in current.items()
            if e.type == "f" and profile.keeps_content(p) and e.size <= profile.max_content
        ]
        fetch = [
            e
            for e in wanted
            if e.path not in old_contents
            or baseline.get(e.path) is None
            or content_changed(baseline[e.path], e, profile)
        ]
        fetched = await asyncio.gather(*(scanner.content(e.path) for e in fetch))
        contents = {e.path: old_contents[e.path] for e in wanted if e.path in old_contents}
        diffs: dict[str, str] = {}
        for entry, data in zip(fetch, fetched, strict=True):
            contents.pop(entry.path, None)
            if data is None or len(data) > profile.max_content or not is_text(data):
                continue
            masked = mask(entry.path, data, profile.mask)
            before = old_contents.get(entry.path)
            if before is not None and entry.path in baseline and before.content != masked:
                diffs[entry.path] = unified_diff(before.content, masked)
            contents[entry.path] = FileContent(entry.path, masked, len(data))
        return contents, diffs

    async def accept(
        self, host: Host, transport: Transport, store: Store, paths: Sequence[str] = ()
    ) -> FimScan:
        """Record the host's current state as its baseline: everything, or only under `paths`."""
        scan = await self.scan(host, transport, store, dry_run=True)
        if scan.entries is None:
            raise ScanIncomplete(f"{host.name}: {scan.result.error}")
        if not paths:
            store.replace_fim_baseline(host.name, scan.entries.values(), scan.contents.values())
            return scan
        baseline = store.fim_baseline(host.name)
        store.update_fim_entries(
            host.name,
            [e for p, e in scan.entries.items() if _under(p, paths)],
            removed=[p for p in baseline if _under(p, paths) and p not in scan.entries],
            contents=[c for p, c in scan.contents.items() if _under(p, paths)],
        )
        return scan


def accept_baseline(
    host: Host,
    settings: TransportSettings,
    store: Store,
    collector: FimCollector,
    paths: Sequence[str] = (),
) -> FimScan:
    """Connect to `host` and record its current state as the baseline (for `baseline accept`)."""

    async def run() -> FimScan:
        async with open_transport(host, settings) as transport:
            return await collector.accept(host, transport, store, paths)

    return asyncio.run(run())

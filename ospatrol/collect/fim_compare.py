"""Compare a FIM listing with the baseline and phrase the differences as OSSEC syscheck events.

Plain functions over `FileEntry` records. Texts follow docs/events.md exactly: rules 550/553/554
and their local tuning match them. Directories report attribute changes only (their size and
mtime move whenever a child changes, and their children are reported themselves).

A scan works on `FimRecord`s (tuples of strings): equal records are equal entries, so only the
records that differ are turned into `FileEntry`s and judged (`compare_records`).
"""

from __future__ import annotations

import difflib
import stat
import time
from collections.abc import Mapping

from ospatrol.collect.base import cap_lines
from ospatrol.collect.fim_listing import permissions
from ospatrol.collect.fim_records import (
    R_CTIME,
    R_INODE,
    R_MTIME,
    R_SHA256,
    R_SIZE,
    R_TYPE,
    FileEntry,
    FimRecord,
    record_entry,
)
from ospatrol.escape import escape
from ospatrol.model import Finding
from ospatrol.profiles.fim import FimProfile

COLLECTOR = "fim"


def record_needs_hash(old: FimRecord | None, new: tuple[str, ...]) -> bool:
    """Whether `new` (a record, or a listing's record prefix) must be (re)hashed: a regular
    file that is new, had no sha256, or whose size, mtime, ctime or inode moved.

    Stat fields written differently but equal (`1.5`, `1.50`) count as moved: a needless hash,
    never a missed one."""
    if new[R_TYPE] != "f":
        return False
    if old is None or old[R_TYPE] != "f" or not old[R_SHA256]:
        return True
    return (
        old[R_SIZE] != new[R_SIZE]
        or old[R_MTIME] != new[R_MTIME]
        or old[R_CTIME] != new[R_CTIME]
        or old[R_INODE] != new[R_INODE]
    )


def _ctime(seconds: float) -> str:
    """C's ctime() layout (`Mon Mar  3 09:00:00 2025`, day padded with a space), in UTC."""
    return time.asctime(time.gmtime(seconds))


def change_lines(old: FileEntry, new: FileEntry, profile: FimProfile) -> list[str]:
    """The syscheck detail lines for what differs between `old` and `new` (empty: no change)."""
    watched = set(profile.attributes)
    is_dir = new.type == "d" and old.type == "d"
    lines: list[str] = []
    if old.type != new.type:
        lines.append(f"Type changed from '{old.type}' to '{new.type}'")
    # A directory's size moves with its children, a symlink's with its target (reported below).
    sized = not is_dir and "l" not in (old.type, new.type)
    if "size" in watched and sized and old.size != new.size:
        lines.append(f"Size changed from '{old.size}' to '{new.size}'")
    if "mode" in watched and old.mode != new.mode and new.type != "l":
        lines.append(
            f"Permissions changed from '{permissions(old.mode)}' to '{permissions(new.mode)}'"
        )
    if "owner" in watched and old.uid != new.uid:
        lines.append(f"Ownership was '{old.uid}', now it is '{new.uid}'")
    if "group" in watched and old.gid != new.gid:
        lines.append(f"Group ownership was '{old.gid}', now it is '{new.gid}'")
    if "link" in watched and old.link_target != new.link_target:
        lines.append(
            f"Symbolic link target changed from '{escape(old.link_target)}' "
            f"to '{escape(new.link_target)}'"
        )
    for alg in profile.hashes:
        before, after = getattr(old, alg), getattr(new, alg)
        if before and after and before != after:
            lines.append(f"Old {alg}sum was: '{before}'")
            lines.append(f"New {alg}sum is : '{after}'")
    if "mtime" in watched and not is_dir and int(old.mtime) != int(new.mtime):
        lines.append(
            f"Old modification time was: '{_ctime(old.mtime)}', now it is '{_ctime(new.mtime)}'"
        )
    if "inode" in watched and old.inode != new.inode:
        lines.append(f"Old inode was: '{old.inode}', now it is '{new.inode}'")
    return lines


def content_changed(old: FileEntry, new: FileEntry, profile: FimProfile) -> bool:
    return any(
        getattr(old, alg) and getattr(new, alg) and getattr(old, alg) != getattr(new, alg)
        for alg in profile.hashes
    ) or (old.type == "f" and new.type == "f" and old.size != new.size)


def is_text(data: bytes) -> bool:
    return b"\0" not in data


def unified_diff(old: bytes, new: bytes) -> str:
    """A unified diff body (no file headers), capped as event texts are (`cap_lines`). Bytes
    that are not UTF-8 are kept (surrogateescape): renderers show them escaped."""
    a, b = _lines(old), _lines(new)
    lines = list(difflib.unified_diff(a, b, lineterm="", n=1))[2:]
    return cap_lines("\n".join(lines))


def _lines(data: bytes) -> list[str]:
    """Lines split on newlines only (a carriage return or form feed is content, kept)."""
    text = data.decode("utf-8", "surrogateescape")
    return text.removesuffix("\n").split("\n") if text else []


def changed_finding(
    host: str, old: FileEntry, new: FileEntry, lines: list[str], diff: str | None
) -> Finding:
    text = "\n".join([f"Integrity checksum changed for: '{escape(new.path)}'", *lines])
    if diff:
        text += "\nWhat changed:\n" + diff
    kind = (
        "changed"
        if any(line.startswith(("Old ", "Size ", "Type ", "Symbolic ")) for line in lines)
        else ("attributes")
    )
    return Finding(
        host=host,
        collector=COLLECTOR,
        kind=kind,
        subject=escape(new.path),
        detail="\n".join(lines),
        diff=diff or None,
        event_text=text,
    )


RISKY_MODE_BITS = stat.S_ISUID | stat.S_ISGID | stat.S_IWOTH
"""Mode bits an auditor wants named when a file appears: setuid, setgid, world-writable."""


def added_finding(host: str, entry: FileEntry) -> Finding:
    """OSSEC's one-line text, plus the permissions when the new file has a risky bit (rules
    raise a new setuid file, docs/events.md)."""
    text = f"New file '{escape(entry.path)}' added to the file system."
    if entry.type != "l" and entry.mode & RISKY_MODE_BITS:
        text += f"\nPermissions: '{permissions(entry.mode)}'"
    return Finding(
        host=host,
        collector=COLLECTOR,
        kind="added",
        subject=escape(entry.path),
        detail=f"type {entry.type}, size {entry.size}",
        event_text=text,
    )


def deleted_finding(host: str, entry: FileEntry) -> Finding:
    return Finding(
        host=host,
        collector=COLLECTOR,
        kind="deleted",
        subject=escape(entry.path),
        event_text=f"File '{escape(entry.path)}' was deleted. Unable to retrieve checksum.",
    )


def unreadable_finding(host: str, path: str) -> Finding:
    """A directory the audit user cannot read or enter: its entries were kept, unseen."""
    shown = escape(path)
    return Finding(
        host=host,
        collector=COLLECTOR,
        kind="unreadable",
        subject=shown,
        detail="cannot read the directory: its entries are kept from the last scan",
        event_text=(
            f"ospatrol: scan incomplete: error: cannot read directory '{shown}': "
            "its entries are kept from the last scan"
        ),
    )


def unhashable_finding(host: str, path: str) -> Finding:
    """A regular file that could not be hashed (not readable, vanished, path too long)."""
    shown = escape(path)
    return Finding(
        host=host,
        collector=COLLECTOR,
        kind="unhashable",
        subject=shown,
        detail="cannot hash the file: a change that keeps its size would go unseen",
        event_text=(
            f"ospatrol: scan incomplete: error: cannot hash '{shown}': "
            "a change that keeps its size would go unseen"
        ),
    )


def compare(
    host: str,
    baseline: Mapping[str, FileEntry],
    current: Mapping[str, FileEntry],
    profile: FimProfile,
    diffs: Mapping[str, str] | None = None,
) -> list[Finding]:
    """Findings for `current` against `baseline`, sorted by path; `diffs` by path (optional)."""
    diffs = diffs or {}
    findings: list[Finding] = []
    for path in sorted(baseline.keys() | current.keys()):
        old, new = baseline.get(path), current.get(path)
        if old is None and new is not None:
            if new.type != "d":
                findings.append(added_finding(host, new))
        elif new is None and old is not None:
            if old.type != "d":
                findings.append(deleted_finding(host, old))
        elif old is not None and new is not None:
            lines = change_lines(old, new, profile)
            if lines:
                findings.append(changed_finding(host, old, new, lines, diffs.get(path)))
    return findings


def compare_records(
    host: str,
    baseline: Mapping[str, FimRecord],
    current: Mapping[str, FimRecord],
    profile: FimProfile,
    diffs: Mapping[str, str] | None = None,
) -> list[Finding]:
    """`compare` on records: the same findings, judging only the records that differ."""
    old = {p: record_entry(r) for p, r in baseline.items() if current.get(p) != r}
    new = {p: record_entry(r) for p, r in current.items() if baseline.get(p) != r}
    return compare(host, old, new, profile, diffs)

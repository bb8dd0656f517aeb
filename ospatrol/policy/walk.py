"""One bounded filesystem walk shared by every check that needs the whole tree.

World-writable files, unowned files and SUID/SGID binaries are found by ONE `find` per local
mount (`-xdev`; pseudo and network filesystems from /proc/mounts skipped) printing, for every file
or directory that is in any of those classes, its flags, mode, type and NUL-terminated name. The
walk runs under its own time budget inside the policy script; a walk that ran out of time or
output is reported incomplete and its checks are "not run", never "passed". Names are bytes:
non-UTF-8 names survive (decoded with `surrogateescape`; reports show them escaped).

Rules (native policies): `w:CLASS [-> content over the paths]` holds when some entry of CLASS
exists (with content: some entry's path matches). Classes: `world_writable` (files),
`world_writable_dirs` (world-writable directories without the sticky bit), `unowned`,
`ungrouped`, `suid`, `sgid`.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ospatrol.policy.evaluate import RuleValue
    from ospatrol.policy.facts import Facts
    from ospatrol.policy.model import Rule

SKIPPED_FILESYSTEMS = (
    "proc|sysfs|devtmpfs|devpts|cgroup|cgroup2|securityfs|debugfs|tracefs|pstore|bpf|mqueue|"
    "hugetlbfs|configfs|fusectl|binfmt_misc|rpc_pipefs|nsfs|efivarfs|selinuxfs|autofs|"
    "nfs|nfs4|cifs|smb3|smbfs|ceph|glusterfs|9p|fuse\\.sshfs|fuse\\.s3fs|afs|davfs|squashfs|iso9660"
)
CLASSES = ("world_writable", "world_writable_dirs", "unowned", "ungrouped", "suid", "sgid")
_FIND = (
    'find "$mnt" -xdev \\( -perm -0002 -o -perm -4000 -o -perm -2000 -o -nouser -o -nogroup \\)'
    " \\( -type f -o -type d \\) \\( -nouser -printf U -o -true \\)"
    " \\( -nogroup -printf G -o -true \\) -printf '.%m %y %p\\0' 2>/dev/null"
)
_NEEDS_PRINTF = (
    "find / -maxdepth 0 -printf '' >/dev/null 2>&1 || { echo 'find has no -printf' >&2; exit 3; }"
)


def walk_command(roots: tuple[str, ...] = ()) -> str:
    """The walk as one sh command: every local mount from /proc/mounts (pseudo and network
    filesystems skipped), or only `roots` when given (each still `-xdev`)."""
    if roots:
        listed = " ".join(shlex.quote(root) for root in roots)
        return f"{_NEEDS_PRINTF}\nfor mnt in {listed}; do {_FIND}; done\nexit 0"
    return (
        f"{_NEEDS_PRINTF}\n"
        "while read -r dev mnt fstype rest; do\n"
        f"  case $fstype in {SKIPPED_FILESYSTEMS}) continue;; esac\n"
        "  mnt=$(printf '%b' \"$mnt\")\n"
        f"  {_FIND}\n"
        "done </proc/mounts\n"
        "exit 0"
    )


@dataclass(frozen=True)
class WalkEntry:
    path: str
    mode: int
    kind: str
    unowned: bool
    ungrouped: bool

    def classes(self) -> set[str]:
        found: set[str] = set()
        if self.kind == "f" and self.mode & 0o002:
            found.add("world_writable")
        if self.kind == "d" and self.mode & 0o002 and not self.mode & 0o1000:
            found.add("world_writable_dirs")
        if self.unowned:
            found.add("unowned")
        if self.ungrouped:
            found.add("ungrouped")
        if self.kind == "f" and self.mode & 0o4000:
            found.add("suid")
        if self.kind == "f" and self.mode & 0o2000:
            found.add("sgid")
        return found


@dataclass(frozen=True)
class WalkResult:
    entries: tuple[WalkEntry, ...]
    complete: bool

    def of_class(self, name: str) -> list[WalkEntry]:
        return [e for e in self.entries if name in e.classes()]


def parse_walk(data: bytes, *, complete: bool) -> WalkResult:
    """Records `FLAGS.MODE TYPE PATH\\0`; a malformed record is skipped (a name cut by the
    output cap, for instance), and duplicates from bind mounts are kept once."""
    seen: dict[str, WalkEntry] = {}
    for record in data.split(b"\0"):
        flags, dot, rest = record.partition(b".")
        if not dot:
            continue
        mode, _, rest = rest.partition(b" ")
        kind, _, raw_path = rest.partition(b" ")
        try:
            mode_bits = int(mode, 8)
        except ValueError:
            continue
        if kind not in (b"f", b"d") or not raw_path.startswith(b"/"):
            continue
        path = raw_path.decode("utf-8", "surrogateescape")
        seen.setdefault(
            path, WalkEntry(path, mode_bits, kind.decode(), b"U" in flags, b"G" in flags)
        )
    return WalkResult(tuple(seen.values()), complete)


def walk_rule(rule: Rule, facts: Facts) -> RuleValue:
    from ospatrol.policy.evaluate import NOT_RUN_VALUE, RuleValue, content_matches

    name = rule.targets[0]
    if name not in CLASSES:
        return RuleValue(None, f"unknown walk class {name!r} (expected {', '.join(CLASSES)})")
    if facts.walk is None or not facts.walk.complete:
        why = "timed out" if facts.walk_timed_out else "was not run"
        return RuleValue(NOT_RUN_VALUE, f"filesystem walk {why}")
    paths = [e.path for e in facts.walk.of_class(name)]
    if rule.content is not None:
        paths = [p for p in paths if content_matches(rule.content, [p])[0]]
    if not paths:
        return RuleValue(False, f"no {name} entries")
    shown = ", ".join(paths[:5])
    more = f" and {len(paths) - 5} more" if len(paths) > 5 else ""
    return RuleValue(
        True, f"{len(paths)} {name} entr{'y' if len(paths) == 1 else 'ies'}", shown + more
    )

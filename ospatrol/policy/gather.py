"""What a policy needs from a host, fetched in one remote script, and split back safely.

`needs_of(checks)` collects, across all checks, the commands to run, the files to test or read,
the directories to list and whether the process list or the shared filesystem walk is wanted;
identical commands and paths are asked once. `build_script` turns them into ONE POSIX sh script;
`parse_frames` splits its stdout. Each item's output goes first to a private temporary file and is
then printed behind a header carrying a per-run random marker, the item, its status and its
exact length in bytes:

    __OSPATROL_POLICY_<nonce>__ C 3 0 0 1234\\n<1234 bytes>__OSPATROL_POLICY_<nonce>__ F 0 ...

The parser reads headers and skips exactly the announced number of bytes, never searching inside
an item, so a file or command output imitating the framing (even with the right marker) cannot
change another item. A final `END` header proves the output is complete; what a truncated or
timed-out run never delivered is simply missing (its checks are "not run").

`d:` listings are recursive and stay on the directory's filesystem (`find -H DIR -xdev`): stock
rootcheck policies list `/` for user files, which must not descend into /proc or a network mount.

Each command runs under its own time budget (`timeout` where the host has it, a watchdog
otherwise, which marks the command timed out before it kills it: marking after the kill raced
with the parent stopping the watchdog once the command died); one that hangs is reported as timed
out and the script goes on. Commands run a few at
a time (`PARALLEL`). Items are capped at `ITEM_CAP` bytes (the header says when).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ospatrol.policy.model import Check, Rule

ITEM_CAP = 4 * 1024 * 1024
"""Bytes kept of one file or command output; more is cut and marked truncated."""
PS_COMMAND = "ps -e -o comm= 2>/dev/null; echo; ps -e -o args= 2>/dev/null"
"""The process list for `p:` rules: names, an empty line, then full command lines."""
TIMED_OUT = "T"


@dataclass
class Needs:
    """Everything some checks want from a host, deduplicated."""

    commands: set[str] = field(default_factory=set)
    exists: set[str] = field(default_factory=set)
    reads: set[str] = field(default_factory=set)
    listings: set[str] = field(default_factory=set)
    walk: bool = False
    device: bool = False
    """The device's configuration (rules `config`, `block:`, `every:`)."""

    def __bool__(self) -> bool:
        return bool(self.commands or self.exists or self.reads or self.listings or self.walk)


def listing_root(target: str) -> str:
    """The directory a `d:` target lists: `/etc/x.d/*` is `/etc/x.d` (listing is recursive)."""
    root = target[:-2] if target.endswith("/*") else target
    return root.rstrip("/") or "/"


def rule_needs(rule: Rule, needs: Needs) -> None:
    if rule.kind == "f":
        (needs.reads if rule.content is not None else needs.exists).update(rule.targets)
    elif rule.kind == "d":
        if rule.name is None:
            needs.exists.update(listing_root(t) for t in rule.targets)
        else:
            needs.listings.update(listing_root(t) for t in rule.targets)
    elif rule.kind == "p":
        needs.commands.add(PS_COMMAND)
    elif rule.kind in ("c", "t"):
        needs.commands.add(rule.targets[0])
    elif rule.kind == "w":
        needs.walk = True
    elif rule.kind in ("config", "block", "every"):
        needs.device = True


def needs_of(checks: Iterable[Check]) -> Needs:
    needs = Needs()
    for check in checks:
        for rule in check.rules:
            rule_needs(rule, needs)
    return needs


@dataclass(frozen=True)
class Plan:
    """A script's items in order, so a header's index maps back to a command or path."""

    commands: tuple[str, ...] = ()
    exists: tuple[str, ...] = ()
    reads: tuple[str, ...] = ()
    listings: tuple[str, ...] = ()
    walk: str | None = None

    @classmethod
    def of(cls, needs: Needs, walk_command: str | None = None) -> Plan:
        return cls(
            tuple(sorted(needs.commands)),
            tuple(sorted(needs.exists - needs.reads)),
            tuple(sorted(needs.reads)),
            tuple(sorted(needs.listings)),
            walk_command if needs.walk else None,
        )

    @property
    def count(self) -> int:
        walk = 1 if self.walk else 0
        return len(self.commands) + len(self.exists) + len(self.reads) + len(self.listings) + walk


_PRELUDE = r"""M={marker}
T=$(mktemp -d 2>/dev/null || mktemp -d -t ospatrol) || exit 97
trap 'rm -rf "$T"' EXIT
TO=; timeout -k 1 5 true >/dev/null 2>&1 && TO=1
_e() {{ n=$(wc -c <"$4"); n=$((n+0)); t=0
  if [ "$n" -gt {cap} ]; then n={cap}; t=1; fi
  printf '%s %s %s %s %s %s\n' "$M" "$1" "$2" "$3" "$t" "$n"; head -c "$n" "$4"; }}
_r() {{ if [ -n "$TO" ]; then
    timeout -k 2 "$2" sh -c "$3" </dev/null >"$T/o$1" 2>&1; s=$?
    case $s in 124|137) s=T;; esac
  else
    sh -c "$3" </dev/null >"$T/o$1" 2>&1 & p=$!
    ( sleep "$2"; : >"$T/t$1"; kill -9 "$p" 2>/dev/null ) </dev/null >/dev/null 2>&1 & k=$!
    wait "$p"; s=$?; kill "$k" 2>/dev/null; wait "$k" 2>/dev/null
    if [ -e "$T/t$1" ]; then s=T; fi
  fi
  echo "$s" >"$T/s$1"; }}
_c() {{ s=T; [ -e "$T/s$2" ] && read -r s <"$T/s$2"; : >>"$T/o$2"; _e "$1" "$3" "$s" "$T/o$2"; }}
_x() {{ if [ -d "$2" ]; then s=d; elif [ -f "$2" ]; then s=f
  elif [ -e "$2" ] || [ -L "$2" ]; then s=o; else s=n; fi
  printf '%s X %s %s 0 0\n' "$M" "$1" "$s"; }}
_f() {{ : >"$T/o"; if [ -d "$2" ]; then s=d; elif [ -f "$2" ]; then
    if head -c {cap1} -- "$2" >"$T/o" 2>/dev/null; then s=f; else s=r; : >"$T/o"; fi
  elif [ -e "$2" ] || [ -L "$2" ]; then s=o; else s=n; fi; _e F "$1" "$s" "$T/o"; }}
_l() {{ : >"$T/o"; if [ -d "$2" ]; then find -H "$2" -xdev -type f -print0 >"$T/o" 2>/dev/null; s=0
  else s=n; fi; _e L "$1" "$s" "$T/o"; }}
"""
PARALLEL = 8
"""Commands a script runs at the same time (each still under its own time budget)."""


def build_script(plan: Plan, nonce: str, command_timeout: float, walk_timeout: float = 0) -> str:
    """The one sh script fetching everything in `plan` (see the module docstring).

    Commands (and the walk) run in the background, `PARALLEL` at a time, each into its own
    temporary file, under `command_timeout` (the walk: `walk_timeout`) seconds; files are tested
    and read meanwhile; then every item is printed, in order, behind its header."""
    marker = marker_of(nonce)
    lines = [_PRELUDE.format(marker=marker, cap=ITEM_CAP, cap1=ITEM_CAP + 1)]
    seconds = max(1, round(command_timeout))
    q = shlex.quote
    if plan.walk:
        lines.append(f"_r w {max(1, round(walk_timeout))} {q(plan.walk)} &")
    for index, command in enumerate(plan.commands):
        lines.append(f"_r {index} {seconds} {q(command)} &")
        if index % PARALLEL == PARALLEL - 1:
            lines.append("wait")
    for index, path in enumerate(plan.exists):
        lines.append(f"_x {index} {q(path)}")
    for index, path in enumerate(plan.reads):
        lines.append(f"_f {index} {q(path)}")
    for index, path in enumerate(plan.listings):
        lines.append(f"_l {index} {q(path)}")
    lines.append("wait")
    lines += [f"_c C {index} {index}" for index in range(len(plan.commands))]
    if plan.walk:
        lines.append("_c W w 0")
    lines.append(f"printf '%s END %s\\n' \"$M\" {plan.count}")
    return "\n".join(lines) + "\n"


def marker_of(nonce: str) -> str:
    return f"__OSPATROL_POLICY_{nonce}__"


@dataclass(frozen=True)
class Item:
    """One framed item: `status` is an exit status (as text), `T` (timed out) or a file state
    (`f` file, `d` directory, `o` other type, `n` missing, `r` unreadable)."""

    status: str
    data: bytes
    truncated: bool = False

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", "surrogateescape")


@dataclass(frozen=True)
class Frames:
    """The items of a run by (kind, index), and whether the END header arrived."""

    items: Mapping[tuple[str, int], Item]
    complete: bool


def parse_frames(data: bytes, nonce: str) -> Frames:
    """Split a script's stdout by headers and byte counts (see the module docstring)."""
    marker = marker_of(nonce).encode()
    header = re.compile(
        rb"(?P<kind>[CXFLW]) (?P<index>\d+) (?P<status>\S+) (?P<cut>[01]) (?P<size>\d+)\n"
    )
    items: dict[tuple[str, int], Item] = {}
    start = data.find(marker + b" ")
    # Anything before the first header is the login shell's noise (motd, rc files), not ours.
    pos = start
    while 0 <= pos < len(data):
        if not data.startswith(marker + b" ", pos):
            break
        pos += len(marker) + 1
        if data.startswith(b"END ", pos):
            return Frames(items, True)
        found = header.match(data, pos)
        if found is None:
            break
        size = int(found.group("size"))
        body_start = found.end()
        if body_start + size > len(data):
            break  # cut short: this item is incomplete
        key = (found.group("kind").decode(), int(found.group("index")))
        items[key] = Item(
            found.group("status").decode(),
            data[body_start : body_start + size],
            found.group("cut") == b"1",
        )
        pos = body_start + size
    return Frames(items, False)

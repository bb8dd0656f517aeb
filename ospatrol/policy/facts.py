"""What was learnt from a host (or read offline): command outputs, files, listings, the walk.

`Facts` is what the evaluator reads; it never knows whether the facts came over SSH, the `local`
transport, or a config file given on the command line. A command or path that is absent from it
was never fetched (a run cut short): the checks needing it are "not run".
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ospatrol.policy.gather import TIMED_OUT, Frames, Needs, Plan, listing_root
from ospatrol.policy.model import Check

if TYPE_CHECKING:
    from ospatrol.policy.device import DeviceConfig
    from ospatrol.policy.walk import WalkResult


@dataclass(frozen=True)
class CommandFact:
    output: str
    status: int | None
    timed_out: bool = False
    truncated: bool = False


@dataclass(frozen=True)
class PathFact:
    """`state`: `f` regular file, `d` directory, `o` other type, `n` missing, `r` unreadable;
    `content` only for files that were read."""

    state: str
    content: str | None = None
    truncated: bool = False

    @property
    def exists(self) -> bool:
        return self.state != "n"


@dataclass
class Facts:
    commands: dict[str, CommandFact] = field(default_factory=dict)
    paths: dict[str, PathFact] = field(default_factory=dict)
    listings: dict[str, tuple[str, ...] | None] = field(default_factory=dict)
    walk: WalkResult | None = None
    walk_timed_out: bool = False
    device: DeviceConfig | None = None
    platform: str = ""

    def merge(self, other: Facts) -> None:
        self.commands.update(other.commands)
        for path, fact in other.paths.items():
            if fact.content is not None or path not in self.paths:
                self.paths[path] = fact
        self.listings.update(other.listings)
        if other.walk is not None or other.walk_timed_out:
            self.walk, self.walk_timed_out = other.walk, other.walk_timed_out


def facts_from(plan: Plan, frames: Frames) -> Facts:
    """The facts a run's frames hold; items the run did not deliver stay absent."""
    from ospatrol.policy.walk import parse_walk

    facts = Facts()
    items = frames.items
    for index, command in enumerate(plan.commands):
        item = items.get(("C", index))
        if item is not None:
            timed_out = item.status == TIMED_OUT
            status = int(item.status) if item.status.isdigit() else None
            facts.commands[command] = CommandFact(item.text, status, timed_out, item.truncated)
    for index, path in enumerate(plan.exists):
        item = items.get(("X", index))
        if item is not None:
            facts.paths[path] = PathFact(item.status)
    for index, path in enumerate(plan.reads):
        item = items.get(("F", index))
        if item is not None:
            content = item.text if item.status == "f" else None
            facts.paths[path] = PathFact(item.status, content, item.truncated)
    for index, path in enumerate(plan.listings):
        item = items.get(("L", index))
        if item is not None:
            names = tuple(n.decode("utf-8", "surrogateescape") for n in item.data.split(b"\0") if n)
            facts.listings[path] = names if item.status == "0" else None
    walk = items.get(("W", 0))
    if walk is not None:
        facts.walk_timed_out = walk.status == TIMED_OUT or walk.truncated
        facts.walk = parse_walk(walk.data, complete=not facts.walk_timed_out)
    return facts


def listed_files(rule_targets: tuple[str, ...], facts: Facts) -> list[str]:
    """Every file listed under a `d:` rule's directories (sorted, once each)."""
    files: set[str] = set()
    for target in rule_targets:
        files.update(facts.listings.get(listing_root(target)) or ())
    return sorted(files)


def second_round(checks: list[Check], facts: Facts) -> Needs:
    """Files to read after the listings came back: those under `d:` directories whose name
    matches a rule's file-name pattern, when the rule looks at content."""
    from ospatrol.policy.evaluate import content_matches

    needs = Needs()
    for check in checks:
        for rule in check.rules:
            if rule.kind != "d" or rule.name is None or rule.content is None:
                continue
            for path in listed_files(rule.targets, facts):
                if path in facts.paths:
                    continue
                if content_matches(rule.name, [posixpath.basename(path)])[0]:
                    needs.reads.add(path)
    return needs

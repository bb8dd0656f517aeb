"""Security-aware classification of a device's config diff: what kind of change each block is.

The rules are data, in the `config:` section of a platform's profile (`checks/<platform>.yml`):

    config:
      blocks:                       # header of a flat (top-level) line: first regex that matches
        - '^access-list \\S+'       # (its group `h` if it has one, else the whole match)
      classify:                     # first rule that matches a changed line gives its kind
        - {kind: access rule widened, added: '^access-list \\S+ extended permit .*\\bany'}
        - {kind: access rule widened, removed: '^access-list \\S+ extended deny\\b'}
        - {kind: management plane opened, parent: '^line vty', added: '^transport input .*telnet'}

A rule matches a changed line when its `parent` regex (if any) finds the line's block header and
the line (without its indentation) matches the rule's regex for its sign: `added` for a `+`
line, `removed` for a `-` line, `line` for either; a rule with none of the three matches every
line of the blocks `parent` finds. Rules are tried in file order, so the specific ones go first.
A line no rule matches is `other`.

A block is where a changed line sits: its chain of parent headers (`interface Gi0/1`, `system >
services`); a line that opens a block is part of that block (an added `ip access-list extended
X` goes with its entries); a flat line takes its header from `blocks:` (`access-list OUTSIDE`),
else `(top level)`. Each (block, kind) pair becomes one finding (`ospatrol.collect.configs`),
so every kind gets its own rule level (rules/rules/device_config.xml) and one alert; lines of a
block that no rule classified ride along with the block's most severe kind rather than raising
an `other` alert of their own.

Plain functions over the diff's records: no I/O, testable on any two config texts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ospatrol.errors import InputError
from ospatrol.yamlfile import LineDict

TOP = "(top level)"
OTHER = "other"
KINDS: tuple[str, ...] = (
    "access rule widened",
    "management plane opened",
    "crypto weakened",
    "local user added/changed",
    "AAA changed",
    "logging or NTP removed",
    "routing changed",
    "interface/description only",
    OTHER,
)
"""Every kind, most severe first (findings come in this order). The event texts carry these
names and rules/rules/device_config.xml gives each its level; a profile may use only these, so a
misspelt kind is a load error instead of a change that never alerts at its level."""
_RULE_KEYS = ("kind", "parent", "added", "removed", "line")
_EVENT_HEAD = re.compile(
    r"^ospatrol: config changed: '[^'\n]*': kind '([^'\n]*)' in '([^\n]*)'$", re.M
)


@dataclass(frozen=True)
class Change:
    """One changed line of a hierarchy-aware diff: its parent chain, `+` or `-`, the line
    (stripped), whether it opens a block of its own (children indented below it), and a note
    shown with it (`secret changed`: the text is the same, its masked secret is not)."""

    parents: tuple[str, ...]
    sign: str
    line: str
    opens: bool = False
    note: str = ""


@dataclass(frozen=True)
class ClassifyRule:
    """One `classify:` entry; `origin` (file:line) names it in errors and docs."""

    kind: str
    origin: str
    parent: re.Pattern[str] | None = None
    added: re.Pattern[str] | None = None
    removed: re.Pattern[str] | None = None
    line: re.Pattern[str] | None = None

    def matches(self, header: str, change: Change) -> bool:
        if self.parent is not None and not self.parent.search(header):
            return False
        if self.added is None and self.removed is None and self.line is None:
            return True
        specific = self.added if change.sign == "+" else self.removed
        return any(p is not None and p.search(change.line) for p in (specific, self.line))


@dataclass(frozen=True)
class Block:
    """The changed lines of one block that share a kind, in diff order."""

    kind: str
    header: str
    changes: tuple[Change, ...]


def compile_regex(
    value: Any, what: str, path: str, line: int | None, flags: int = 0
) -> re.Pattern[str]:
    """A regex of the `config:` section, or an `InputError` naming file, line and key."""
    if not isinstance(value, str):
        raise InputError(f"config: {what}: expected a regular expression", path, line)
    try:
        return re.compile(value, flags)
    except re.error as exc:
        raise InputError(f"config: {what}: bad regular expression: {exc}", path, line) from None


def parse_blocks(
    value: Any, path: str, line: int | None, errors: list[InputError]
) -> tuple[re.Pattern[str], ...]:
    """The `blocks:` list (regexes giving a flat line's block header); errors appended."""
    if not isinstance(value, list):
        errors.append(
            InputError("config: 'blocks' must be a list of regular expressions", path, line)
        )
        return ()
    patterns = []
    for item in value:
        try:
            patterns.append(compile_regex(item, "blocks", path, line))
        except InputError as exc:
            errors.append(exc)
    return tuple(patterns)


def parse_classify(
    value: Any, path: str, line: int | None, errors: list[InputError]
) -> tuple[ClassifyRule, ...]:
    """The `classify:` list (module doc); every error appended with its file and line."""
    if not isinstance(value, list):
        errors.append(InputError("config: 'classify' must be a list of rules", path, line))
        return ()
    rules = []
    for item in value:
        where = item.line if isinstance(item, LineDict) else line
        if not isinstance(item, dict) or not item.get("kind"):
            errors.append(
                InputError("config: classify: a rule is a mapping with 'kind'", path, where)
            )
            continue
        unknown = sorted(set(item) - set(_RULE_KEYS))
        if unknown:
            known = ", ".join(_RULE_KEYS)
            errors.append(
                InputError(
                    f"config: classify: unknown key {unknown[0]!r}; known: {known}", path, where
                )
            )
            continue
        if item["kind"] not in KINDS:
            errors.append(
                InputError(
                    f"config: classify: unknown kind {item['kind']!r}; known: {', '.join(KINDS)}",
                    path,
                    where,
                )
            )
            continue
        try:
            patterns = {
                key: compile_regex(item[key], f"classify {key}", path, where)
                for key in _RULE_KEYS[1:]
                if key in item
            }
        except InputError as exc:
            errors.append(exc)
            continue
        if not patterns:
            errors.append(
                InputError(
                    "config: classify: a rule needs parent, added, removed or line", path, where
                )
            )
            continue
        rules.append(ClassifyRule(item["kind"], f"{path}:{where}", **patterns))
    return tuple(rules)


def header_of(change: Change, blocks: Sequence[re.Pattern[str]]) -> str:
    """The block header a changed line belongs to (module doc)."""
    opened = change.line.rstrip("{").strip()
    chain = (*change.parents, opened) if change.opens else change.parents
    if chain:
        return " > ".join(chain)
    for pattern in blocks:
        match = pattern.search(change.line)
        if match:
            return (match.group("h") if "h" in pattern.groupindex else match.group()).strip()
    return TOP


def kind_of(header: str, change: Change, rules: Sequence[ClassifyRule]) -> str:
    """The kind of one changed line: the first rule that matches, else `other`."""
    for rule in rules:
        if rule.matches(header, change):
            return rule.kind
    return OTHER


def classify(
    changes: Sequence[Change],
    rules: Sequence[ClassifyRule],
    blocks: Sequence[re.Pattern[str]] = (),
) -> list[Block]:
    """The changed lines grouped by (block, kind), most severe kind first, then in diff order;
    unclassified lines of a block that has a classified one join its most severe kind."""
    by_block: dict[str, list[tuple[str, Change]]] = {}
    for change in changes:
        header = header_of(change, blocks)
        by_block.setdefault(header, []).append((kind_of(header, change, rules), change))
    result = []
    for header, lines in by_block.items():
        kinds = sorted({k for k, _ in lines}, key=KINDS.index)
        first = kinds[0]
        for kind in kinds:
            if kind == OTHER and first != OTHER:
                continue
            members = tuple(c for k, c in lines if k == kind or (kind == first and k == OTHER))
            result.append(Block(kind, header, members))
    result.sort(key=lambda b: KINDS.index(b.kind))  # stable: diff order within a kind
    return result


def event_head(command: str, kind: str, header: str) -> str:
    """The first line of a classified change's event (docs/events.md); rules key on it."""
    return f"ospatrol: config changed: '{command}': kind '{kind}' in '{header}'"


def parse_event_head(text: str) -> tuple[str, str] | None:
    """(kind, block header) of a classified change's event text (its first line), else None."""
    match = _EVENT_HEAD.match(text.split("\n", 1)[0])
    return (match[1], match[2]) if match else None

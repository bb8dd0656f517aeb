"""Device configurations: fetch, normalise, keep every version, report a hierarchy-aware diff.

The `config:` section of a platform's profile (`checks/<platform>.yml`) lists the commands whose
output is the device's configuration (`show running-config`, ...), the line that proves an output
complete (IOS `end`, ASA `: end`), and the volatile lines to drop before comparing (clock-driven
headers, checksums, "last changed" stamps): a line that moves without a config change would be a
false alarm. Secrets are masked by the one scrubber (`ospatrol.scrub`) before anything is stored,
diffed or reported.

Every normalised version is kept in the collector state table (key: the command; versions count
up), so `ospatrol config history|show|diff` can show any of them. A new version becomes one
finding per changed block and kind of change (`ospatrol.collect.config_classify`: access rule
widened, management plane opened, ...), whose text starts `ospatrol: config changed: '<command>':
kind '<kind>' in '<block>'` (docs/events.md) followed by that block's changed lines grouped under
their parent (`interface Gi0/1`, `line vty 0 4`, a Junos hierarchy): a line moved between blocks
shows under each parent. One finding per kind lets each kind have its rule level and one alert.
An output that is rejected, cut short or lacks its completion line stores nothing and reports
the device incomplete.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ospatrol.collect.base import (
    STORED_DIFF_LINES,
    CollectorResult,
    StateView,
    cap_lines,
    incomplete_finding,
)
from ospatrol.collect.config_classify import (
    KINDS,
    TOP,
    Block,
    Change,
    ClassifyRule,
    classify,
    compile_regex,
    event_head,
    parse_blocks,
    parse_classify,
)
from ospatrol.errors import InputError, InputErrors
from ospatrol.model import Finding, Host
from ospatrol.store.records import PutState
from ospatrol.yamlfile import LineDict

if TYPE_CHECKING:
    from ospatrol.profiles import Profile
    from ospatrol.transport import Transport
    from ospatrol.transport.base import CommandResult

NAME = "config"
MAX_BLOCK_FINDINGS = 50
"""Findings one config change gives at most, one per block and kind (then one per kind): a
change of hundreds of interfaces is a handful of alerts, not hundreds."""
_SECTION_KEYS = ("commands", "drop", "blocks", "classify")


@dataclass(frozen=True)
class ConfigCommand:
    """One command whose output is (part of) the configuration."""

    command: str
    name: str
    complete: re.Pattern[str] | None = None
    """A line every complete output holds (its absence means the output was cut short)."""


@dataclass(frozen=True)
class ConfigProfile:
    """The `config:` section: what to fetch, which lines are volatile, and how changes are
    classified (`blocks`, `classify`: `ospatrol.collect.config_classify`)."""

    commands: tuple[ConfigCommand, ...]
    drop: tuple[re.Pattern[str], ...] = ()
    blocks: tuple[re.Pattern[str], ...] = ()
    classify: tuple[ClassifyRule, ...] = ()


def parse_config_section(data: Any, path: str, line: int | None = None) -> ConfigProfile:
    """The `config:` section of a profile; every error names file and line."""
    if not isinstance(data, LineDict):
        raise InputError("config: expected a mapping with 'commands' (and 'drop')", path, line)
    errors: list[InputError] = []
    for key in data:
        if key not in _SECTION_KEYS:
            known = ", ".join(_SECTION_KEYS)
            errors.append(
                InputError(f"config: unknown key {key!r}; known: {known}", path, data.line_of(key))
            )
    commands: list[ConfigCommand] = []
    items = data.get("commands")
    if not isinstance(items, list) or not items:
        errors.append(InputError("config: 'commands' must be a non-empty list", path, data.line))
        items = []
    for item in items:
        where = item.line if isinstance(item, LineDict) else data.line_of("commands")
        if isinstance(item, str):
            item = {"command": item}
        if not isinstance(item, dict) or not isinstance(item.get("command"), str):
            errors.append(
                InputError(
                    "config: a command is a string or {command, name, complete}", path, where
                )
            )
            continue
        unknown = set(item) - {"command", "name", "complete"}
        if unknown:
            errors.append(
                InputError(f"config: unknown key {sorted(unknown)[0]!r} in a command", path, where)
            )
            continue
        try:
            complete = (
                compile_regex(item["complete"], "complete", path, where, re.MULTILINE)
                if "complete" in item
                else None
            )
        except InputError as exc:
            errors.append(exc)
            continue
        commands.append(
            ConfigCommand(item["command"], str(item.get("name", item["command"])), complete)
        )
    drop: list[re.Pattern[str]] = []
    raw_drop = data.get("drop", [])
    if not isinstance(raw_drop, list):
        errors.append(
            InputError(
                "config: 'drop' must be a list of regular expressions", path, data.line_of("drop")
            )
        )
        raw_drop = []
    for pattern in raw_drop:
        try:
            drop.append(compile_regex(pattern, "drop", path, data.line_of("drop"), re.MULTILINE))
        except InputError as exc:
            errors.append(exc)
    blocks = parse_blocks(data.get("blocks", []), path, data.line_of("blocks"), errors)
    rules = parse_classify(data.get("classify", []), path, data.line_of("classify"), errors)
    if errors:
        raise InputErrors(errors)
    return ConfigProfile(tuple(commands), tuple(drop), blocks, rules)


def normalise(output: str, profile: ConfigProfile) -> str:
    """The output as stored and compared: line endings unified, volatile lines dropped, trailing
    blanks removed, secrets masked."""
    from ospatrol.scrub import base_scrubber

    lines = output.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept = [ln.rstrip() for ln in lines if not any(p.search(ln) for p in profile.drop)]
    while kept and not kept[-1]:
        kept.pop()
    while kept and not kept[0]:
        kept.pop(0)
    return base_scrubber().text("\n".join(kept) + "\n")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _structural(line: str) -> bool:
    """A line that carries no configuration (blank, IOS `!`, Junos' closing `}`, `#`)."""
    return line.strip() in ("", "!", "}", "#")


def parents(lines: Sequence[str]) -> list[tuple[str, ...]]:
    """For each line, the chain of block headers it sits under (by indentation: IOS, ASA, NX-OS
    and Junos' curly form all indent a block's lines under its header)."""
    chains: list[tuple[str, ...]] = []
    stack: list[tuple[int, str]] = []
    for line in lines:
        if _structural(line):
            chains.append(tuple(h for _, h in stack))
            continue
        depth = _indent(line)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        chains.append(tuple(h for _, h in stack))
        stack.append((depth, _header(line)))
    return chains


def _header(line: str) -> str:
    return line.strip().rstrip("{").strip()


def _opens(lines: Sequence[str], index: int) -> bool:
    """Whether line `index` heads a block: the next line that carries configuration is indented
    deeper."""
    depth = _indent(lines[index])
    for following in lines[index + 1 :]:
        if not _structural(following):
            return _indent(following) > depth
    return False


def changes(old: str, new: str) -> list[Change]:
    """The changed lines of `old` -> `new`, each with its parent chain (hierarchy-aware: the
    same line under another parent is a change), removals of a run before its additions."""
    a, b = old.splitlines(), new.splitlines()
    pa, pb = parents(a), parents(b)
    out: list[Change] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        for lines, chains, sign, lo, hi in ((a, pa, "-", i1, i2), (b, pb, "+", j1, j2)):
            out.extend(
                Change(chains[i], sign, lines[i].strip(), _opens(lines, i))
                for i in range(lo, hi)
                if not _structural(lines[i])
            )
    return out


def render(diff: Sequence[Change]) -> str:
    """Changed lines under their parent block: `@@ interface Gi0/1` then `-`/`+` lines (`@@
    system > services` for a nested block, `@@ (top level)` for a line outside any)."""
    out: list[str] = []
    current: tuple[str, ...] | None = None
    for change in diff:
        if change.parents != current:
            out.append("@@ " + (" > ".join(change.parents) if change.parents else TOP))
            current = change.parents
        out.append(f"{change.sign} {change.line}")
    return "\n".join(out)


def hierarchical_diff(old: str, new: str) -> str:
    """`render(changes(old, new))`: empty when the two are equal."""
    return render(changes(old, new))


def changed_findings(
    host: str, command: ConfigCommand, old: str, new: str, section: ConfigProfile
) -> list[Finding]:
    """One finding per changed block and kind (`ospatrol.collect.config_classify`), most
    severe first; past `MAX_BLOCK_FINDINGS` the rest are merged into one finding per kind."""
    blocks = classify(changes(old, new), section.classify, section.blocks)
    if len(blocks) > MAX_BLOCK_FINDINGS:
        kept, rest = blocks[:MAX_BLOCK_FINDINGS], blocks[MAX_BLOCK_FINDINGS:]
        for kind in KINDS:
            same = [b for b in rest if b.kind == kind]
            if same:
                merged = tuple(c for b in same for c in b.changes)
                kept.append(Block(kind, f"({len(same)} more blocks)", merged))
        blocks = kept
    return [_block_finding(host, command, block) for block in blocks]


def _block_finding(host: str, command: ConfigCommand, block: Block) -> Finding:
    diff = cap_lines(render(block.changes), STORED_DIFF_LINES)
    head = event_head(command.command, block.kind, block.header)
    return Finding(
        host=host,
        collector=NAME,
        kind="changed",
        subject=command.name,
        detail=f"{block.kind} in '{block.header}': {len(block.changes)} line(s) changed",
        diff=diff,
        event_text=f"{head}\n{cap_lines(diff)}",
    )


class ConfigsCollector:
    """Fetches each device's configuration per its platform's `config:` profile section."""

    name = NAME

    def __init__(self, profiles: Mapping[str, Profile]) -> None:
        self.profiles = profiles

    def section(self, host: Host) -> ConfigProfile | None:
        from ospatrol.profiles import profile_for

        profile = profile_for(self.profiles, host.platform)
        return None if profile is None else profile.sections.get("config")

    async def collect(self, host: Host, transport: Transport, state: StateView) -> CollectorResult:
        section = self.section(host)
        if section is None:
            return CollectorResult(NAME, "ok")
        findings: list[Finding] = []
        updates: list[PutState] = []
        for command in section.commands:
            result = await transport.run(command.command)
            problem = _problem(result, command)
            if problem:
                reason = f"{problem} ({command.command})"
                finding = incomplete_finding(host.name, reason, collector=NAME)
                return CollectorResult(NAME, "incomplete", (finding,), reason)
            text = normalise(result.stdout, section)
            digest = hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()
            previous = state.get(command.command)
            if previous is not None and previous.digest == digest:
                continue
            if previous is not None:
                findings.extend(changed_findings(host.name, command, previous.text, text, section))
            updates.append(
                PutState(command.command, text.encode("utf-8", "surrogateescape"), digest)
            )
        return CollectorResult(
            NAME, "ok", tuple(findings), updates=tuple(updates), baseline_changed=bool(updates)
        )


def _problem(result: CommandResult, command: ConfigCommand) -> str:
    """Why an output cannot be stored ("" when it can): rejected, cut short, incomplete."""
    if result.truncated:
        return "truncated listing: output over the size cap or cut short"
    if result.exit_status != 0:
        first = result.stdout.strip().splitlines()[:1]
        return f"error: the device rejected the command: {first[0] if first else 'no output'}"
    if not result.stdout.strip():
        return "truncated listing: empty output"
    if command.complete is not None and not command.complete.search(result.stdout):
        return "truncated listing: the configuration has no end line"
    return ""

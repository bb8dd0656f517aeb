"""Device configurations: fetch, normalise, keep every version, report a hierarchy-aware diff.

The `config:` section of a platform's profile (`checks/<platform>.yml`) lists the commands whose
output is the device's configuration (`show running-config`, ...), the line that proves an output
complete (IOS `end`, ASA `: end`), and the volatile lines to drop before comparing (clock-driven
headers, checksums, "last changed" stamps): a line that moves without a config change would be a
false alarm. Secrets are masked by the one scrubber (`ospatrol.scrub`) before anything is stored,
diffed or reported.

Every normalised version is kept in the collector state table (key: the command; versions count
up), so `ospatrol config history|show|diff` can show any of them. A new version becomes one
finding whose text starts `ospatrol: config changed: '<command>'` (docs/events.md) followed by the
changed lines grouped under their parent block (`interface Gi0/1`, `line vty 0 4`, a Junos
hierarchy): a line moved between blocks shows under each parent. An output that is rejected, cut
short or lacks its completion line stores nothing and reports the device incomplete.
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
from ospatrol.errors import InputError, InputErrors
from ospatrol.model import Finding, Host
from ospatrol.store.records import PutState
from ospatrol.yamlfile import LineDict

if TYPE_CHECKING:
    from ospatrol.profiles import Profile
    from ospatrol.transport import Transport
    from ospatrol.transport.base import CommandResult

NAME = "config"
TOP = "(top level)"


@dataclass(frozen=True)
class ConfigCommand:
    """One command whose output is (part of) the configuration."""

    command: str
    name: str
    complete: re.Pattern[str] | None = None
    """A line every complete output holds (its absence means the output was cut short)."""


@dataclass(frozen=True)
class ConfigProfile:
    """The `config:` section: what to fetch and which lines are volatile."""

    commands: tuple[ConfigCommand, ...]
    drop: tuple[re.Pattern[str], ...] = ()


def _regex(value: Any, what: str, path: str, line: int | None) -> re.Pattern[str]:
    if not isinstance(value, str):
        raise InputError(f"config: {what}: expected a regular expression", path, line)
    try:
        return re.compile(value, re.MULTILINE)
    except re.error as exc:
        raise InputError(f"config: {what}: bad regular expression: {exc}", path, line) from None


def parse_config_section(data: Any, path: str, line: int | None = None) -> ConfigProfile:
    """The `config:` section of a profile; every error names file and line."""
    if not isinstance(data, LineDict):
        raise InputError("config: expected a mapping with 'commands' (and 'drop')", path, line)
    errors: list[InputError] = []
    for key in data:
        if key not in ("commands", "drop"):
            errors.append(
                InputError(
                    f"config: unknown key {key!r}; known: commands, drop", path, data.line_of(key)
                )
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
                _regex(item["complete"], "complete", path, where) if "complete" in item else None
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
            drop.append(_regex(pattern, "drop", path, data.line_of("drop")))
        except InputError as exc:
            errors.append(exc)
    if errors:
        raise InputErrors(errors)
    return ConfigProfile(tuple(commands), tuple(drop))


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


def parents(lines: Sequence[str]) -> list[tuple[str, ...]]:
    """For each line, the chain of block headers it sits under (by indentation: IOS, ASA, NX-OS
    and Junos' curly form all indent a block's lines under its header)."""
    chains: list[tuple[str, ...]] = []
    stack: list[tuple[int, str]] = []
    for line in lines:
        if not line.strip() or line.strip() in ("!", "}", "#"):
            chains.append(tuple(h for _, h in stack))
            continue
        depth = _indent(line)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        chains.append(tuple(h for _, h in stack))
        stack.append((depth, line.strip().rstrip("{").strip()))
    return chains


def hierarchical_diff(old: str, new: str) -> str:
    """Changed lines grouped under their parent block: `@@ interface Gi0/1` then `-`/`+` lines.
    Empty when the two are equal."""
    a, b = old.splitlines(), new.splitlines()
    pa, pb = parents(a), parents(b)
    out: list[str] = []
    current: tuple[str, ...] | None = None

    def emit(parent: tuple[str, ...], sign: str, line: str) -> None:
        nonlocal current
        if parent != current:
            out.append("@@ " + (" > ".join(parent) if parent else TOP))
            current = parent
        out.append(f"{sign} {line.strip()}")

    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        for i in range(i1, i2):
            if a[i].strip() not in ("", "!"):
                emit(pa[i], "-", a[i])
        for j in range(j1, j2):
            if b[j].strip() not in ("", "!"):
                emit(pb[j], "+", b[j])
    return "\n".join(out)


def changed_finding(host: str, command: ConfigCommand, old: str, new: str) -> Finding:
    diff = cap_lines(hierarchical_diff(old, new), STORED_DIFF_LINES)
    changed = sum(1 for ln in diff.splitlines() if ln[:1] in "+-")
    return Finding(
        host=host,
        collector=NAME,
        kind="changed",
        subject=command.name,
        detail=f"{changed} line(s) changed in {command.command!r}",
        diff=diff,
        event_text=f"ospatrol: config changed: '{command.command}'\n{cap_lines(diff)}",
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
                findings.append(changed_finding(host.name, command, previous.text, text))
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

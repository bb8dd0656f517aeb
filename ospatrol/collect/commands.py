"""Command-output diff: run a platform's commands in one shell, normalise, diff against the store.

What OSSEC's `ssh_generic_diff` did, with fewer round-trips: every command of the host's profile
(`checks/<platform>.yml`, section `commands:`) runs in ONE remote `sh -c` invocation, its output
framed by markers that carry a per-run random nonce (so no command output can forge them) and the
command's exit status. A final `DONE` marker proves the output was not truncated.

Each output is normalised by the command's filters (regex data: drop lines, substitute, then
optionally sort), hashed, and compared with the stored output; only when the hash moved is a
unified diff computed. The first run records silently. A command the host lacks (exit status 126
or 127) is skipped and its stored output, if any, is kept.

The pure functions (`parse_command_specs`, `normalise`, `build_script`, `parse_batch`,
`unified_diff`, `command_event_text`) take and return plain values; only
`CommandsCollector.collect` touches the transport; it reads the stored outputs (the collector
state table, one version per change) and returns the new ones as updates.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import secrets
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
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
from ospatrol.scrub import base_scrubber, off_loop
from ospatrol.store.records import PutState

if TYPE_CHECKING:
    from ospatrol.transport import CommandResult, Transport

NAME = "commands"
NOT_APPLICABLE_STATUSES = (126, 127)
"""Exit statuses of a shell that could not find or run the command: the host lacks it."""
EXCERPT_SCAN = 4096
"""Characters of unframed output masked for its excerpt (blanks fold, so more than shown)."""


@dataclass(frozen=True)
class LineFilter:
    """One normalisation step: drop lines matching `pattern`, or substitute it with `replace`."""

    pattern: re.Pattern[str]
    replace: str | None = None

    def apply(self, lines: list[str]) -> list[str]:
        if self.replace is None:
            return [line for line in lines if not self.pattern.search(line)]
        return [self.pattern.sub(self.replace, line) for line in lines]


@dataclass(frozen=True)
class CommandSpec:
    """A command whose output is watched. `command` is also its identity in the store and events."""

    command: str
    name: str = ""
    filters: tuple[LineFilter, ...] = ()
    sort: bool = False

    @property
    def label(self) -> str:
        return self.name or self.command


@dataclass(frozen=True)
class CommandOutput:
    """One command's framed output from a batch run, before normalisation."""

    output: str
    exit_status: int


@dataclass(frozen=True)
class BatchOutput:
    """Everything a batch run returned: per command index, and whether the DONE marker arrived."""

    outputs: Mapping[int, CommandOutput]
    complete: bool


class GarbageOutput(ValueError):
    """The remote side answered with something that is not our framed output at all."""


class OutputOverCap(ValueError):
    """A command's output passed the transport's size cap: the transport stopped it there."""

    def __init__(self, result: CommandResult) -> None:
        kept = max(len(result.stdout_bytes), len(result.stderr_bytes))
        super().__init__(f"output over the size cap ({kept} bytes kept)")


# --- profile data -----------------------------------------------------------------------------


def parse_command_specs(data: Any, path: str, line: int | None = None) -> tuple[CommandSpec, ...]:
    """Parse a `commands:` section (a list) of a checks profile; every error names file and line.

    Each item is either a string (the command) or a mapping with `command` (required), `name`,
    `sort` (bool) and `filters`: a list of `{drop: REGEX}` or
    `{sub: REGEX, with: TEXT}` applied to each line in file order.
    """
    if data is None:
        return ()
    if not isinstance(data, list):
        raise InputError("commands: expected a list of commands", path, line)
    specs: list[CommandSpec] = []
    errors: list[InputError] = []
    seen: set[str] = set()
    for index, item in enumerate(data):
        item_line = getattr(item, "line", None) or line
        try:
            spec = _parse_spec(item, path, item_line, index)
        except InputErrors as exc:
            errors.extend(exc.errors)
            continue
        except InputError as exc:
            errors.append(exc)
            continue
        if spec.command in seen:
            errors.append(
                InputError(f"commands: duplicate command {spec.command!r}", path, item_line)
            )
            continue
        seen.add(spec.command)
        specs.append(spec)
    if errors:
        raise InputErrors(errors)
    return tuple(specs)


def _parse_spec(item: Any, path: str, line: int | None, index: int) -> CommandSpec:
    if isinstance(item, str):
        if not item.strip():
            raise InputError(f"commands[{index}]: empty command", path, line)
        return CommandSpec(command=item.strip())
    if not isinstance(item, dict):
        raise InputError(f"commands[{index}]: expected a string or a mapping", path, line)
    unknown = set(item) - {"command", "name", "sort", "filters"}
    if unknown:
        key = sorted(map(str, unknown))[0]
        raise InputError(f"commands[{index}]: unknown key {key!r}", path, _line_of(item, key, line))
    command = item.get("command")
    if not isinstance(command, str) or not command.strip():
        raise InputError(f"commands[{index}]: 'command' must be a non-empty string", path, line)
    name = item.get("name", "")
    if not isinstance(name, str):
        raise InputError(
            f"commands[{index}]: 'name' must be a string", path, _line_of(item, "name", line)
        )
    sort = item.get("sort", False)
    if not isinstance(sort, bool):
        raise InputError(
            f"commands[{index}]: 'sort' must be true or false", path, _line_of(item, "sort", line)
        )
    filters = _parse_filters(item.get("filters"), path, _line_of(item, "filters", line), index)
    return CommandSpec(command.strip(), name, filters, sort)


def _parse_filters(data: Any, path: str, line: int | None, index: int) -> tuple[LineFilter, ...]:
    if data is None:
        return ()
    if not isinstance(data, list):
        raise InputError(f"commands[{index}].filters: expected a list", path, line)
    result: list[LineFilter] = []
    for number, item in enumerate(data):
        where = f"commands[{index}].filters[{number}]"
        item_line = getattr(item, "line", None) or line
        if not isinstance(item, dict) or not (
            {"drop"} == set(item) or {"sub", "with"} == set(item)
        ):
            raise InputError(
                f"{where}: expected {{drop: REGEX}} or {{sub: REGEX, with: TEXT}}", path, item_line
            )
        raw = item.get("drop", item.get("sub"))
        replace = item.get("with")
        if not isinstance(raw, str) or (replace is not None and not isinstance(replace, str)):
            raise InputError(f"{where}: patterns and replacements must be strings", path, item_line)
        try:
            pattern = re.compile(raw)
        except re.error as exc:
            raise InputError(f"{where}: bad regex {raw!r}: {exc}", path, item_line) from None
        result.append(LineFilter(pattern, replace))
    return tuple(result)


def _line_of(item: Any, key: str, default: int | None) -> int | None:
    line_of = getattr(item, "line_of", None)
    return line_of(key) if line_of else default


# --- pure core --------------------------------------------------------------------------------


def normalise(output: str, spec: CommandSpec) -> str:
    """Apply the spec's filters line by line, in order, mask secrets (`ospatrol.scrub`, after
    the filters so no filter can bring a secret back), then sort if asked."""
    lines = [line.rstrip() for line in output.replace("\r\n", "\n").split("\n")]
    for line_filter in spec.filters:
        lines = line_filter.apply(lines)
    lines = base_scrubber().text("\n".join(lines)).split("\n")
    while lines and not lines[-1]:
        lines.pop()
    if spec.sort:
        lines.sort()
    return "\n".join(lines) + "\n" if lines else ""


def normalise_batch(specs: Sequence[CommandSpec], batch: BatchOutput) -> dict[int, str]:
    """The normalised output of every command the host could run (not 126/127), by index."""
    return {
        index: normalise(output.output, specs[index])
        for index, output in batch.outputs.items()
        if output.exit_status not in NOT_APPLICABLE_STATUSES
    }


def build_script(specs: Sequence[CommandSpec], nonce: str) -> str:
    """One POSIX sh script running every command, each framed by BEGIN/END markers, then DONE.

    Commands get no stdin and their stderr is merged, so a failing command shows why. The `\\n`
    printed before each END marker is removed again by `parse_batch`, so output without a final
    newline cannot glue itself to a marker.
    """
    marker = f"__OSPATROL_{nonce}__"
    parts = []
    for index, spec in enumerate(specs):
        parts.append(
            f"printf '%s BEGIN %d\\n' {marker} {index}; ( {spec.command}\n) </dev/null 2>&1; "
            f"printf '\\n%s END %d %d\\n' {marker} {index} $?"
        )
    parts.append(f"printf '%s DONE %d\\n' {marker} {len(specs)}")
    return "\n".join(parts) + "\n"


def remote_command(script: str) -> str:
    """The command line that runs `script` with sh whatever the login shell (csh, busybox ash)."""
    return f"sh -c {shlex.quote(script)}"


def parse_batch(stdout: str, nonce: str, count: int) -> BatchOutput:
    """Split a batch run's stdout into per-command outputs; raise GarbageOutput if unframed."""
    marker = re.escape(f"__OSPATROL_{nonce}__")
    framed = re.compile(
        rf"^{marker} BEGIN (\d+)\n(.*?)\n{marker} END \1 (\d+)$", re.DOTALL | re.MULTILINE
    )
    outputs: dict[int, CommandOutput] = {}
    for match in framed.finditer(stdout):
        index = int(match.group(1))
        if index < count:
            outputs[index] = CommandOutput(match.group(2), int(match.group(3)))
    done = re.search(rf"^{marker} DONE {count}$", stdout, re.MULTILINE) is not None
    if not outputs and not done and count:
        raise GarbageOutput(_excerpt(stdout))
    return BatchOutput(outputs, done and len(outputs) == count)


def _excerpt(text: str, limit: int = 80) -> str:
    """The start of unframed output, for the incomplete finding: masked like any output, since
    it is stored and reported too. Only the start is masked, whatever the output's size: the
    rest is never shown."""
    flat = " ".join(base_scrubber().text(text[:EXCERPT_SCAN]).split())
    return flat if len(flat) <= limit else flat[:limit] + "..."


def output_hash(output: str) -> str:
    return hashlib.sha256(output.encode("utf-8", "surrogateescape")).hexdigest()


def unified_diff(old: str, new: str, command: str) -> str:
    """A unified diff of two normalised outputs, headed by the command; empty when equal."""
    lines = difflib.unified_diff(
        old.splitlines(),
        new.splitlines(),
        f"{command} (previous)",
        f"{command} (current)",
        lineterm="",
    )
    return "\n".join(lines)


def command_event_text(command: str, diff: str) -> str:
    """The event line of docs/events.md, then the diff capped as agentlessd does."""
    return f"ospatrol: command output changed: '{command}'\n{cap_lines(diff)}"


def diff_stats(diff: str) -> str:
    added = sum(
        1 for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")
    )
    removed = sum(
        1 for line in diff.splitlines() if line.startswith("-") and not line.startswith("---")
    )
    return f"{added} line(s) added, {removed} removed"


def changed_finding(host: str, spec: CommandSpec, previous: str, current: str) -> Finding:
    """The finding for a command whose normalised output moved from `previous` to `current`."""
    diff = unified_diff(previous, current, spec.command)
    return Finding(
        host=host,
        collector=NAME,
        kind="changed",
        # Titled by the check's name; the event text keeps the command, which rules match.
        subject=spec.label,
        detail=diff_stats(diff),
        diff=cap_lines(diff, STORED_DIFF_LINES),
        event_text=command_event_text(spec.command, diff),
    )


# --- the collector ----------------------------------------------------------------------------


class CommandsCollector:
    """Runs a host's command list in one shell and reports changed outputs as findings."""

    name = NAME

    def __init__(
        self,
        specs_for: Mapping[str, Sequence[CommandSpec]],
        timeout: float | None = None,
        *,
        batch: bool = True,
    ):
        """`specs_for` maps a platform to its commands; `timeout` bounds the whole batch
        (None: the transport's per-host command time-out). `batch=False` sends one exec request
        per command, for peers without a POSIX shell (appliances, the lab's ESXi simulator)."""
        self.specs_for = specs_for
        self.timeout = timeout
        self.batch = batch

    def specs(self, host: Host) -> tuple[CommandSpec, ...]:
        return tuple(self.specs_for.get(host.platform, ()))

    async def collect(self, host: Host, transport: Transport, state: StateView) -> CollectorResult:
        from ospatrol.transport.errors import CommandTimeout

        specs = self.specs(host)
        if not specs:
            return CollectorResult(NAME, "ok")
        try:
            if self.batch:
                batch = await self._run_batch(transport, specs)
            else:
                batch = await self._run_each(transport, specs)
        except CommandTimeout as exc:
            return _incomplete(host, f"{exc.reason} (commands)")
        except OutputOverCap as exc:
            return _incomplete(host, f"truncated listing: {exc}")
        except GarbageOutput as exc:
            return _incomplete(host, f"error: unrecognised command output: {exc}", "error")
        if not batch.complete:
            got = len(batch.outputs)
            return _incomplete(host, f"truncated listing: {got} of {len(specs)} command outputs")
        size = sum(len(output.output) for output in batch.outputs.values())
        normalised = await off_loop(size, normalise_batch, specs, batch)
        return self._compare(host, specs, normalised, state)

    async def _run_batch(self, transport: Transport, specs: Sequence[CommandSpec]) -> BatchOutput:
        nonce = secrets.token_hex(8)
        script = remote_command(build_script(specs, nonce))
        result = await transport.run(script, timeout=self.timeout)
        if result.truncated:
            raise OutputOverCap(result)
        return parse_batch(result.stdout, nonce, len(specs))

    async def _run_each(self, transport: Transport, specs: Sequence[CommandSpec]) -> BatchOutput:
        outputs: dict[int, CommandOutput] = {}
        for index, spec in enumerate(specs):
            result = await transport.run(spec.command, timeout=self.timeout)
            if result.truncated:
                raise OutputOverCap(result)
            if result.exit_status is None:
                return BatchOutput(outputs, False)
            outputs[index] = CommandOutput(result.stdout + result.stderr, result.exit_status)
        return BatchOutput(outputs, True)

    def _compare(
        self,
        host: Host,
        specs: Sequence[CommandSpec],
        normalised: Mapping[int, str],
        state: StateView,
    ) -> CollectorResult:
        """Findings for the outputs whose hash moved, and a new stored version of each."""
        stored = state.latest()
        findings: list[Finding] = []
        updates: list[PutState] = []
        for index, spec in enumerate(specs):
            current = normalised.get(index)
            if current is None:
                continue
            digest = output_hash(current)
            previous = stored.get(spec.command)
            if previous is not None and previous.digest == digest:
                continue
            if previous is not None:
                findings.append(changed_finding(host.name, spec, previous.text, current))
            blob = current.encode("utf-8", "surrogateescape")
            updates.append(PutState(spec.command, blob, digest))
        return CollectorResult(
            NAME, "ok", tuple(findings), updates=tuple(updates), baseline_changed=bool(updates)
        )


def _incomplete(host: Host, reason: str, status: str = "incomplete") -> CollectorResult:
    """A result with the one finding of a scan that could not finish."""
    return CollectorResult(
        NAME, status, (incomplete_finding(host.name, reason, collector=NAME),), reason
    )


def load_command_profiles(checks_dir: Path | None = None) -> dict[str, tuple[CommandSpec, ...]]:
    """The `commands:` section serving each platform (under every spelling of the platform
    table), for the platforms whose profile file has one."""
    from ospatrol.platforms import BY_SPELLING
    from ospatrol.profiles import load_profiles, profile_for

    profiles = load_profiles(checks_dir)
    specs = {name: found.commands for name in BY_SPELLING if (found := profile_for(profiles, name))}
    return {name: commands for name, commands in specs.items() if commands}

"""Active response: run a command when an alert matches, undo it after a timeout (OSSEC's execd).

Config (`commands:` and `active_response:` in ospatrol.yml, see docs/manager.md):

* a **command** names an executable (a path, or a shipped action: `nftables-drop`,
  `iptables-drop`, `host-deny`), the alert fields it expects (`srcip`, `user`) and whether it
  may be undone after a timeout;
* an **active_response** block picks alerts by minimum `level`, `rules_id` and/or
  `rules_group`, names the command, a `timeout` in seconds and optional `repeated_offenders`
  (growing timeouts in minutes for the 2nd, 3rd, ... offence of the same address or user).
  The action runs on the manager (`location: local`).

Safety, as execd: the command runs from an argv list, never a shell, with OSSEC's arguments
`add|delete USER SRCIP ALERT_ID RULE_ID LOCATION` (`-` for an absent value); every expected
field is validated first (an address must parse as an IP; a user name must match
`USER_PATTERN`), so `1.2.3.4;rm -rf /` or `$(id)` is rejected, never passed. Addresses on the
allow list are never blocked. Every action and rejection is written to
`active-responses.log` in the state dir and fed back into analysis as an event (location
`active-response`), so rules can alert on them.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ospatrol.errors import InputError, InputErrors
from ospatrol.model import Alert, Event
from ospatrol.syslog.acl import SourceFilter, parse_networks
from ospatrol.yamlfile import LineDict

log = logging.getLogger(__name__)

USER_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._@-]{0,63}")
FIELDS = ("srcip", "user")
BUILTIN_ACTIONS = ("nftables-drop", "iptables-drop", "host-deny")
RUN_TIMEOUT = 60.0
QUEUE_SIZE = 10_000
LOCATION = "active-response"


@dataclass(frozen=True)
class Command:
    name: str
    argv: tuple[str, ...]
    expect: tuple[str, ...]
    timeout_allowed: bool = True


@dataclass(frozen=True)
class ResponseRule:
    command: Command
    level: int | None = None
    rules_id: frozenset[int] = frozenset()
    rules_group: frozenset[str] = frozenset()
    timeout: float = 0.0
    repeated_offenders: tuple[float, ...] = ()

    def matches(self, alert: Alert) -> bool:
        if self.level is not None and alert.level < self.level:
            return False
        if self.rules_id and alert.rule_id not in self.rules_id:
            return False
        return not self.rules_group or bool(self.rules_group & set(alert.groups))

    def timeout_for(self, offence: int) -> float:
        """Seconds to keep the action for the `offence`-th time (1-based) of one offender."""
        if offence > 1 and self.repeated_offenders:
            minutes = self.repeated_offenders[min(offence - 2, len(self.repeated_offenders) - 1)]
            return minutes * 60.0
        return self.timeout


@dataclass(frozen=True)
class ActiveResponseConfig:
    rules: tuple[ResponseRule, ...] = ()
    allow: SourceFilter = field(default_factory=SourceFilter)


def _builtin_argv(name: str) -> tuple[str, ...]:
    return (sys.executable, "-m", "ospatrol.respond.actions", name)


def _line(node: Any, key: Any = None) -> int | None:
    if isinstance(node, LineDict):
        return node.line_of(key) if key is not None else node.line
    return None


def parse_active_response(
    commands: tuple[Mapping[str, Any], ...],
    blocks: tuple[Mapping[str, Any], ...],
    allow: Any,
    path: str,
    base: Path,
) -> ActiveResponseConfig:
    """The `commands`, `active_response` and `allow_list` sections, checked whole."""
    errors: list[InputError] = []

    def error(where: str, message: str, node: Any, key: Any = None) -> None:
        errors.append(InputError(f"{where}: {message}", path, _line(node, key)))

    known_commands: dict[str, Command] = {}
    for i, node in enumerate(commands):
        where = f"commands[{i}]"
        for key in node:
            if key not in ("name", "executable", "expect", "timeout_allowed"):
                error(f"{where}.{key}", "unknown key", node, key)
        name, executable = node.get("name"), node.get("executable")
        if not isinstance(name, str) or not name:
            error(f"{where}.name", "is required", node, "name")
            continue
        if not isinstance(executable, str) or not executable:
            error(f"{where}.executable", "is required", node, "executable")
            continue
        if executable in BUILTIN_ACTIONS:
            argv = _builtin_argv(executable)
        else:
            program = Path(executable) if Path(executable).is_absolute() else base / executable
            if not program.is_file():
                error(f"{where}.executable", f"no such program: {program}", node, "executable")
                continue
            argv = (str(program),)
        expect = node.get("expect", [])
        if isinstance(expect, str):
            expect = [expect]
        if not isinstance(expect, list) or any(e not in FIELDS for e in expect):
            error(f"{where}.expect", f"a list of {', '.join(FIELDS)}", node, "expect")
            continue
        allowed = node.get("timeout_allowed", True)
        if not isinstance(allowed, bool):
            error(f"{where}.timeout_allowed", "expected true or false", node, "timeout_allowed")
            continue
        known_commands[name] = Command(name, argv, tuple(expect), allowed)
    rules = []
    for i, node in enumerate(blocks):
        where = f"active_response[{i}]"
        known = (
            "command", "location", "level", "rules_id", "rules_group", "timeout",
            "repeated_offenders",
        )  # fmt: skip
        for key in node:
            if key not in known:
                error(f"{where}.{key}", "unknown key", node, key)
        command = known_commands.get(node.get("command"))  # type: ignore[arg-type]
        if command is None:
            error(f"{where}.command", f"no command named {node.get('command')!r}", node, "command")
            continue
        if node.get("location", "local") != "local":
            error(f"{where}.location", "only 'local' (the manager) is supported", node, "location")
            continue
        level = node.get("level")
        ids = node.get("rules_id", [])
        groups = node.get("rules_group", [])
        timeout = node.get("timeout", 0)
        repeated = node.get("repeated_offenders", [])
        ids = [ids] if isinstance(ids, int) else ids
        groups = [groups] if isinstance(groups, str) else groups
        problems = []
        if level is not None and (not isinstance(level, int) or not 0 <= level <= 16):
            problems.append(("level", "a level from 0 to 16"))
        if not isinstance(ids, list) or not all(isinstance(x, int) for x in ids):
            problems.append(("rules_id", "a list of rule ids"))
        if not isinstance(groups, list) or not all(isinstance(x, str) for x in groups):
            problems.append(("rules_group", "a list of group names"))
        if not isinstance(timeout, int | float) or timeout < 0:
            problems.append(("timeout", "seconds, 0 or more"))
        if not isinstance(repeated, list) or not all(isinstance(x, int | float) for x in repeated):
            problems.append(("repeated_offenders", "a list of minutes"))
        if level is None and not ids and not groups:
            problems.append(("level", "give level, rules_id or rules_group"))
        for key, message in problems:
            error(f"{where}.{key}", f"expected {message}", node, key)
        if problems:
            continue
        if timeout and not command.timeout_allowed:
            error(f"{where}.timeout", f"command {command.name} cannot be undone", node, "timeout")
            continue
        rules.append(
            ResponseRule(
                command, level, frozenset(ids), frozenset(groups), float(timeout), tuple(repeated)
            )
        )
    allow_filter = SourceFilter()
    if allow is not None:
        try:
            if not isinstance(allow, list):
                raise ValueError("expected a list of addresses or CIDR networks")
            allow_filter = SourceFilter(parse_networks(allow), ())
        except ValueError as exc:
            errors.append(InputError(f"allow_list: {exc}", path, None))
    if errors:
        raise InputErrors(errors)
    return ActiveResponseConfig(tuple(rules), allow_filter)


class Rejected(ValueError):
    """An alert field that must not reach a command."""


def validated_arguments(command: Command, alert: Alert) -> dict[str, str]:
    """The expected fields of `alert`, checked; raises Rejected naming the bad one."""
    values: dict[str, str] = {}
    fields = alert.fields
    for name in command.expect:
        if name == "srcip":
            raw = fields.get("srcip")
            if raw is None:
                raise Rejected("the alert has no srcip")
            try:
                values["srcip"] = str(ipaddress.ip_address(raw))
            except ValueError:
                raise Rejected(f"srcip {raw!r} is not an IP address") from None
        elif name == "user":
            raw = fields.get("dstuser") or fields.get("srcuser")
            if raw is None:
                raise Rejected("the alert has no user")
            if not USER_PATTERN.fullmatch(raw):
                raise Rejected(f"user {raw!r} is not a plain user name")
            values["user"] = raw
    return values


def _shown(text: str) -> str:
    return text.encode("unicode_escape").decode("ascii")[:200]


class ActiveResponder:
    """The `active_response` sink: `emit` queues; `run()` (a task) acts; deletes are timed."""

    name = "active_response"

    def __init__(
        self,
        config: ActiveResponseConfig,
        log_path: Path,
        feed: Callable[[Event], None],
        hostname: str,
    ) -> None:
        self.config = config
        self.log_path = log_path
        self.feed = feed
        self.hostname = hostname
        self.counts: Counter[str] = Counter()
        self._queue: asyncio.Queue[Alert] = asyncio.Queue(QUEUE_SIZE)
        self._active: dict[tuple[str, tuple], asyncio.TimerHandle | None] = {}
        self._offences: Counter[tuple[str, tuple]] = Counter()
        self._tasks: set[asyncio.Task] = set()
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()

    @property
    def depth(self) -> int:
        return self._queue.qsize()

    def emit(self, alert: Alert) -> None:
        if threading.get_ident() != self._thread:
            # from a scheduled audit's thread: hand over to the event loop
            self._loop.call_soon_threadsafe(self.emit, alert)
            return
        if alert.event.location == LOCATION:
            return  # never respond to our own action events (no feedback loop)
        if not any(rule.matches(alert) for rule in self.config.rules):
            return
        try:
            self._queue.put_nowait(alert)
        except asyncio.QueueFull:
            self.counts["dropped"] += 1

    def close(self) -> None:
        """Pending deletes stay scheduled only while the manager runs (as OSSEC's execd)."""

    async def run(self) -> None:
        while True:
            alert = await self._queue.get()
            for rule in self.config.rules:
                if rule.matches(alert):
                    await self._respond(rule, alert)

    async def _respond(self, rule: ResponseRule, alert: Alert) -> None:
        command = rule.command
        try:
            values = validated_arguments(command, alert)
        except Rejected as exc:
            self.counts["rejected"] += 1
            self._record(f"rejected {command.name} for rule {alert.rule_id}: {exc}")
            return
        srcip = values.get("srcip")
        if srcip is not None and self.config.allow.allowed and self.config.allow.accepts(srcip):
            self.counts["allow_listed"] += 1
            self._record(f"skipped {command.name} srcip={srcip}: on the allow list")
            return
        key = (command.name, tuple(sorted(values.items())))
        if key in self._active:
            self.counts["already_active"] += 1
            return
        self._offences[key] += 1
        timeout = rule.timeout_for(self._offences[key])
        argv = self._argv(command, "add", values, alert)
        self._active[key] = None
        ok = await self._run(command, "add", argv, values)
        if not ok:
            del self._active[key]
            return
        if timeout > 0:
            loop = asyncio.get_running_loop()
            delete = self._argv(command, "delete", values, alert)
            self._active[key] = loop.call_later(
                timeout, self._schedule_delete, key, command, delete, values
            )

    def _schedule_delete(self, key, command: Command, argv: list[str], values) -> None:
        task = asyncio.ensure_future(self._delete(key, command, argv, values))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _delete(self, key, command: Command, argv: list[str], values) -> None:
        await self._run(command, "delete", argv, values)
        self._active.pop(key, None)

    @staticmethod
    def _argv(command: Command, action: str, values: dict[str, str], alert: Alert) -> list[str]:
        return [
            *command.argv,
            action,
            values.get("user", "-"),
            values.get("srcip", "-"),
            alert.alert_id or "-",
            str(alert.rule_id),
            # the location is ours (syslog:ADDR, agentless:HOST:...), but escape it anyway
            _shown(alert.event.location) or "-",
        ]

    async def _run(self, command: Command, action: str, argv: list[str], values) -> bool:
        shown = " ".join(f"{k}={v}" for k, v in sorted(values.items()))
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            output, _ = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT)
        except TimeoutError:
            process.kill()
            outcome, ok = "timed out", False
        except OSError as exc:
            outcome, ok = f"cannot run: {exc.strerror}", False
        else:
            ok = process.returncode == 0
            outcome = "ok" if ok else f"failed (exit {process.returncode})"
            if not ok and output:
                outcome += f": {_shown(output.decode(errors='replace').strip())}"
        self.counts[f"{action}:{'ok' if ok else 'failed'}"] += 1
        self._record(f"{action} {command.name} {shown}: {outcome}")
        return ok

    def _record(self, text: str) -> None:
        line = f"ospatrol-active-response: {text}"
        log.warning(line) if "rejected" in text or "failed" in text else log.info(line)
        stamp = time.strftime("%Y %b %d %H:%M:%S")
        with open(self.log_path, "a", encoding="utf-8") as out:
            out.write(f"{stamp} {line}\n")
        self.feed(Event(text=line, location=LOCATION, host=self.hostname, source="active-response"))

"""Active response: run a command when an alert matches, undo it after a timeout (OSSEC's execd).

Config (`commands:` and `active_response:` in ospatrol.yml, see docs/manager.md):

* a **command** names an executable (a path, or a shipped action: `nftables-drop`,
  `iptables-drop`, `host-deny`), the alert fields it expects (`srcip`, `user`) and whether it
  may be undone after a timeout;
* an **active_response** block picks alerts by minimum `level`, `rules_id` and/or
  `rules_group`, names the command, a `timeout` in seconds and optional `repeated_offenders`
  (growing timeouts in minutes for the 2nd, 3rd, ... offence of the same address or user).
  The action runs on the manager (`location: local`, the default), on the host the event came
  from (`origin`) or on inventory hosts (`host NAME`, `group NAME`) over SSH
  (`ospatrol.respond.remote`; the hosts come from the top-level `inventory:`).

Safety, as execd: the command runs from an argv list, never a shell, with OSSEC's arguments
`add|delete USER SRCIP ALERT_ID RULE_ID LOCATION` (`-` for an absent value); every expected
field is validated first (an address must parse as an IP; a user name must match
`USER_PATTERN`), so `1.2.3.4;rm -rf /` or `$(id)` is rejected, never passed; on a remote
host every word of that argv is shell-quoted. Addresses on the
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
from ospatrol.model import Alert, Event, Host
from ospatrol.respond.remote import (
    REMOTE_BUILTINS,
    Location,
    origin_host,
    parse_location,
    remote_argv,
    run_remote,
)
from ospatrol.syslog.acl import SourceFilter, parse_networks
from ospatrol.transport import TransportSettings
from ospatrol.yamlfile import LineDict

log = logging.getLogger(__name__)

USER_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._@-]{0,63}")
FIELDS = ("srcip", "user")
BUILTIN_ACTIONS = ("nftables-drop", "iptables-drop", "host-deny")
RUN_TIMEOUT = 60.0
QUEUE_SIZE = 10_000
# Responses running at once (each may wait for an SSH connection).
MAX_RUNNING = 32
# Repeated-offender memory: how many offenders (address or user, per command and target).
MAX_OFFENDERS = 100_000
LOCATION = "active-response"


@dataclass(frozen=True)
class Command:
    """A `commands:` entry: `argv` runs it on the manager; `executable` as written (a path on
    the remote host, or a shipped action's name, for remote locations)."""

    name: str
    argv: tuple[str, ...]
    expect: tuple[str, ...]
    timeout_allowed: bool = True
    executable: str = ""


@dataclass(frozen=True)
class ResponseRule:
    command: Command
    level: int | None = None
    rules_id: frozenset[int] = frozenset()
    rules_group: frozenset[str] = frozenset()
    timeout: float = 0.0
    repeated_offenders: tuple[float, ...] = ()
    location: Location = field(default_factory=Location)

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
    """`hosts`: the manager's inventory (`inventory:`), which remote locations reach."""

    rules: tuple[ResponseRule, ...] = ()
    allow: SourceFilter = field(default_factory=SourceFilter)
    hosts: tuple[Host, ...] = ()


def _builtin_argv(name: str) -> tuple[str, ...]:
    return (sys.executable, "-m", "ospatrol.respond.actions", name)


def _line(node: Any, key: Any = None) -> int | None:
    if isinstance(node, LineDict):
        return node.line_of(key) if key is not None else node.line
    return None


def _inventory(value: Any, path: str, base: Path, node: Any) -> Any:
    """The manager's inventory (`inventory:`), loaded; raises InputErrors."""
    from ospatrol.inventory import load_inventory

    line = _line(node, "inventory")
    if not isinstance(value, str) or not value:
        raise InputErrors([InputError("inventory: expected a path", path, line)])
    file = Path(value) if Path(value).is_absolute() else base / value
    if not file.is_file():
        raise InputErrors([InputError(f"inventory: no such file: {file}", path, line)])
    return load_inventory(file)


def parse_active_response(
    commands: tuple[Mapping[str, Any], ...],
    blocks: tuple[Mapping[str, Any], ...],
    allow: Any,
    path: str,
    base: Path,
    inventory: Any = None,
    top: Any = None,
) -> ActiveResponseConfig:
    """The `commands`, `active_response`, `allow_list` and `inventory` sections, checked whole
    (`top` is the file's top mapping, for the line of `inventory:`)."""
    errors: list[InputError] = []

    def error(where: str, message: str, node: Any, key: Any = None) -> None:
        errors.append(InputError(f"{where}: {message}", path, _line(node, key)))

    loaded = None
    if inventory is not None:
        try:
            loaded = _inventory(inventory, path, base, top)
        except InputErrors as exc:
            errors.extend(exc.errors)
    known_commands: dict[str, Command] = {}
    # A command's program must exist on the manager unless only remote locations run it.
    missing: dict[str, tuple[str, Any]] = {}
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
                missing[name] = (f"{where}.executable: no such program: {program}", node)
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
        known_commands[name] = Command(name, argv, tuple(expect), allowed, executable)
    used_locally: set[str] = set()
    used_remotely: set[str] = set()
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
        try:
            location = _location(node.get("location", "local"), command, loaded)
        except ValueError as exc:
            error(f"{where}.location", str(exc), node, "location")
            continue
        (used_remotely if location.remote else used_locally).add(command.name)
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
                command,
                level,
                frozenset(ids),
                frozenset(groups),
                float(timeout),
                tuple(repeated),
                location,
            )
        )
    for name, (message, node) in missing.items():
        if name in used_locally or name not in used_remotely:
            errors.append(InputError(message, path, _line(node, "executable")))
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
    hosts = tuple(loaded.select(None)) if loaded is not None else ()
    return ActiveResponseConfig(tuple(rules), allow_filter, hosts)


def _location(value: Any, command: Command, inventory: Any) -> Location:
    """A rule's `location`, checked against the inventory and the command; raises ValueError."""
    kind, name = parse_location(value)
    if kind == "local":
        return Location()
    if inventory is None:
        raise ValueError(f"'{value}' needs the hosts of an `inventory:` (top level)")
    executable = command.executable
    if executable in BUILTIN_ACTIONS and executable not in REMOTE_BUILTINS:
        raise ValueError(f"{executable} runs on the manager only")
    if executable not in REMOTE_BUILTINS and not executable.startswith("/"):
        raise ValueError(
            f"command {command.name} runs on other hosts: its executable must be an absolute "
            f"path there (or one of {', '.join(REMOTE_BUILTINS)})"
        )
    if kind == "host":
        if name not in inventory.host_names():
            raise ValueError(f"no host {name!r} in the inventory")
        return Location(kind, name, (name,))
    if kind == "group":
        if name not in inventory.group_names():
            raise ValueError(f"no group {name!r} in the inventory")
        return Location(kind, name, tuple(inventory.hosts_of(name)))
    return Location(kind)


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


def _remember(table: dict, key: object, value: object) -> None:
    """Put `key` last in `table` (insertion order is recency); past MAX_OFFENDERS entries the
    least recent is forgotten (an offender seen again after that starts afresh)."""
    table.pop(key, None)
    table[key] = value
    if len(table) > MAX_OFFENDERS:
        del table[next(iter(table))]


class ActiveResponder:
    """The `active_response` sink: `emit` queues; `run()` (a task) acts; deletes are timed.

    Remote locations go over SSH with `ssh` (`remote.response_transport`; default: the pins
    in the log's folder, policy strict)."""

    name = "active_response"

    def __init__(
        self,
        config: ActiveResponseConfig,
        log_path: Path,
        feed: Callable[[Event], None],
        hostname: str,
        ssh: TransportSettings | None = None,
    ) -> None:
        self.config = config
        self.log_path = log_path
        self.feed = feed
        self.hostname = hostname
        self.counts: Counter[str] = Counter()
        self._queue: asyncio.Queue[Alert] = asyncio.Queue(QUEUE_SIZE)
        self._active: dict[tuple, asyncio.TimerHandle | None] = {}
        # Actions in force until their delete (a timer; None while the add runs), actions
        # without a timeout (kept once done), and offences per offender. Attackers' addresses
        # are unbounded, so the last two keep the MAX_OFFENDERS most recent (`_remember`).
        self._permanent: dict[tuple, None] = {}
        self._offences: dict[tuple, int] = {}
        self._tasks: set[asyncio.Task] = set()
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()
        self._hosts = {host.name: host for host in config.hosts}
        self._ssh = ssh or TransportSettings(
            known_hosts=log_path.with_name("known_hosts"), host_key_policy="strict"
        )

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
        # Each alert's responses run as a task of their own (at most MAX_RUNNING at once), so
        # an unreachable host that takes its connect time-out holds up no other response.
        running = asyncio.Semaphore(MAX_RUNNING)
        while True:
            alert = await self._queue.get()
            await running.acquire()
            task = asyncio.create_task(self._respond_all(alert))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            task.add_done_callback(lambda _task: running.release())

    async def _respond_all(self, alert: Alert) -> None:
        try:
            for rule in self.config.rules:
                if rule.matches(alert):
                    await self._respond(rule, alert)
        except Exception:  # a bug costs this alert's responses, not the responder
            self.counts["failed"] += 1
            log.exception("active response for rule %s failed", alert.rule_id)

    def _targets(self, rule: ResponseRule, alert: Alert) -> list[Host | None]:
        """Where `rule` acts for `alert`: [None] for the manager itself; raises Rejected when
        the event's origin is not an inventory host."""
        location = rule.location
        if not location.remote:
            return [None]
        if location.kind == "origin":
            host = origin_host(alert, self._hosts)
            if host is None:
                origin = _shown(alert.event.host or alert.event.location)
                raise Rejected(f"origin {origin} is not a host of the inventory")
            return [host]
        return [self._hosts[name] for name in location.hosts if name in self._hosts]

    async def _respond(self, rule: ResponseRule, alert: Alert) -> None:
        command = rule.command
        try:
            values = validated_arguments(command, alert)
            targets = self._targets(rule, alert)
        except Rejected as exc:
            self.counts["rejected"] += 1
            self._record(f"rejected {command.name} for rule {alert.rule_id}: {exc}")
            return
        srcip = values.get("srcip")
        if srcip is not None and self.config.allow.allowed and self.config.allow.accepts(srcip):
            self.counts["allow_listed"] += 1
            self._record(f"skipped {command.name} srcip={srcip}: on the allow list")
            return
        await asyncio.gather(*(self._act(rule, alert, values, target) for target in targets))

    async def _act(
        self, rule: ResponseRule, alert: Alert, values: dict[str, str], target: Host | None
    ) -> None:
        """`add` on one target, and its `delete` scheduled after the timeout."""
        command = rule.command
        key = (command.name, tuple(sorted(values.items())), target.name if target else None)
        if key in self._active or key in self._permanent:
            self.counts["already_active"] += 1
            return
        offence = self._offences.get(key, 0) + 1
        _remember(self._offences, key, offence)
        timeout = rule.timeout_for(offence)
        self._active[key] = None
        ok = await self._run(command, "add", values, alert, target)
        if ok and timeout > 0:
            self._active[key] = self._loop.call_later(
                timeout, self._schedule_delete, key, command, values, alert, target
            )
            return
        del self._active[key]
        if ok:
            _remember(self._permanent, key, None)

    def _schedule_delete(self, key, command: Command, values, alert, target) -> None:
        task = asyncio.ensure_future(self._delete(key, command, values, alert, target))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _delete(self, key, command: Command, values, alert, target) -> None:
        await self._run(command, "delete", values, alert, target)
        self._active.pop(key, None)

    @staticmethod
    def _arguments(action: str, values: dict[str, str], alert: Alert) -> list[str]:
        """OSSEC's `add|delete USER SRCIP ALERT_ID RULE_ID LOCATION`."""
        return [
            action,
            values.get("user", "-"),
            values.get("srcip", "-"),
            alert.alert_id or "-",
            str(alert.rule_id),
            # the location is ours (syslog:ADDR, agentless:HOST:...), but escape it anyway
            _shown(alert.event.location) or "-",
        ]

    async def _run(
        self, command: Command, action: str, values, alert: Alert, target: Host | None
    ) -> bool:
        shown = " ".join(f"{k}={v}" for k, v in sorted(values.items()))
        arguments = self._arguments(action, values, alert)
        if target is None:
            ok, outcome = await self._run_local([*command.argv, *arguments])
            where = ""
        else:
            argv = remote_argv(command.executable, action, values, arguments)
            ok, outcome = await run_remote(target, argv, self._ssh, RUN_TIMEOUT)
            where = f" on {target.name}"
        self.counts[f"{action}:{'ok' if ok else 'failed'}"] += 1
        self._record(f"{action} {command.name} {shown}{where}: {_shown(outcome)}")
        return ok

    @staticmethod
    async def _run_local(argv: list[str]) -> tuple[bool, str]:
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
            return False, "timed out"
        except OSError as exc:
            return False, f"cannot run: {exc.strerror}"
        if process.returncode == 0:
            return True, "ok"
        outcome = f"failed (exit {process.returncode})"
        if output:
            outcome += f": {output.decode(errors='replace').strip()}"
        return False, outcome

    def _record(self, text: str) -> None:
        line = f"ospatrol-active-response: {text}"
        log.warning(line) if "rejected" in text or "failed" in text else log.info(line)
        stamp = time.strftime("%Y %b %d %H:%M:%S")
        with open(self.log_path, "a", encoding="utf-8") as out:
            out.write(f"{stamp} {line}\n")
        self.feed(Event(text=line, location=LOCATION, host=self.hostname, source="active-response"))

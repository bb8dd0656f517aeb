"""Run policies over one transport: at most three exec round-trips per policy, then evaluate.

1. the requirements' needs (skipped when there are none); a policy whose requirements do not hold
   stops here, all its checks "not applicable";
2. every check's needs, deduplicated across checks, in one script (`gather`), the shared
   filesystem walk included;
3. only when `d:` rules look into files: the files their listings named.

Each round is one `sh -s` whose script comes on stdin (no command-line length limit, nothing in
`ps`); `become` is the transport's, as for every collector. The evaluation itself is
`evaluate.evaluate_policy`, plain functions over the `Facts`. Offline device checks
(`facts_offline`) skip the transport entirely.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ospatrol.errors import InputError
from ospatrol.policy.evaluate import evaluate_check, evaluate_policy, requirements_met
from ospatrol.policy.facts import CommandFact, Facts, PathFact, facts_from, second_round
from ospatrol.policy.gather import Needs, Plan, build_script, needs_of, parse_frames
from ospatrol.policy.model import NOT_APPLICABLE, CheckOutcome, Policy
from ospatrol.policy.walk import walk_command

if TYPE_CHECKING:
    from ospatrol.transport import Transport

DEFAULT_COMMAND_TIMEOUT = 30.0
"""Seconds one policy command may take (Wazuh's `sca.commands_timeout` default)."""
DEFAULT_WALK_TIMEOUT = 300.0
"""Seconds the shared filesystem walk may take before its checks are "not run"."""


@dataclass(frozen=True)
class RunSettings:
    """Time budgets of one policy run; `walk_roots` limits the filesystem walk to those trees
    (default: every local mount)."""

    command_timeout: float = DEFAULT_COMMAND_TIMEOUT
    walk_timeout: float = DEFAULT_WALK_TIMEOUT
    walk_roots: tuple[str, ...] = ()


@dataclass(frozen=True)
class PolicyRun:
    """One policy on one host: each check's outcome, and the exec round-trips it took."""

    host: str
    policy: Policy
    outcomes: tuple[CheckOutcome, ...]
    round_trips: int
    applicable: bool


class Gatherer:
    """Fetches needs over one transport, counting round-trips; remembers what it fetched, so
    policies run on the same host share commands and files."""

    def __init__(self, transport: Transport, settings: RunSettings | None = None) -> None:
        self.transport = transport
        self.settings = settings or RunSettings()
        self.facts = Facts()
        self.round_trips = 0

    def _missing(self, needs: Needs) -> Needs:
        have = self.facts
        return Needs(
            needs.commands - set(have.commands),
            {p for p in needs.exists if p not in have.paths},
            {
                p
                for p in needs.reads
                if p not in have.paths
                or (have.paths[p].content is None and have.paths[p].state == "f")
            },
            needs.listings - set(have.listings),
            needs.walk and have.walk is None and not have.walk_timed_out,
            needs.device,
        )

    async def _fetch_config(self) -> None:
        """A device's configuration, by the command its platform shows it with."""
        from ospatrol.policy.device import CONFIG_COMMANDS, parse_config
        from ospatrol.transport.errors import TransportError

        platform = self.transport.host.platform
        command = CONFIG_COMMANDS.get(platform)
        if command is None:
            return
        self.round_trips += 1
        try:
            result = await self.transport.run(command, timeout=self.settings.command_timeout)
        except TransportError:
            return  # no config: the device rules are "not run"
        self.facts.platform = platform
        self.facts.device = parse_config(result.stdout, platform, f"{self.transport.host.name}")

    async def _fetch_each(self, missing: Needs, parallel: int) -> None:
        """Peers without a POSIX shell (ESXi's busybox login, appliances): one exec request per
        command and per file. Listings and the filesystem walk need a shell: their checks
        stay "not run"."""
        from ospatrol.transport.errors import CommandTimeout, RemoteCommandError, TransportError

        limit = asyncio.Semaphore(max(1, parallel))
        timeout = self.settings.command_timeout

        async def command(text: str) -> None:
            async with limit:
                self.round_trips += 1
                try:
                    result = await self.transport.run(text, timeout=timeout)
                except CommandTimeout as exc:
                    self.facts.commands[text] = CommandFact(exc.result.stdout, None, timed_out=True)
                    return
                output = result.stdout + result.stderr
                self.facts.commands[text] = CommandFact(output, result.exit_status)

        async def path(name: str, read: bool) -> None:
            async with limit:
                self.round_trips += 1
                try:
                    data = await self.transport.read(name)
                except RemoteCommandError:
                    self.facts.paths[name] = PathFact("n")
                    return
                except TransportError:
                    return
                text = data.decode("utf-8", "surrogateescape")
                self.facts.paths[name] = PathFact("f", text if read else None)

        await asyncio.gather(
            *(command(c) for c in sorted(missing.commands)),
            *(path(p, True) for p in sorted(missing.reads)),
            *(path(p, False) for p in sorted(missing.exists - missing.reads)),
        )

    async def fetch(self, needs: Needs) -> None:
        missing = self._missing(needs)
        if missing.device and self.facts.device is None:
            await self._fetch_config()
        missing.device = False
        if not missing:
            return
        capabilities = getattr(self.transport, "capabilities", None)
        if capabilities is not None and not capabilities.posix_shell:
            await self._fetch_each(missing, capabilities.max_parallel)
            return
        await self._fetch_batch(missing)

    async def _fetch_batch(self, missing: Needs) -> None:
        from ospatrol.transport.errors import CommandTimeout

        plan = Plan.of(missing, walk_command(self.settings.walk_roots))
        nonce = secrets.token_hex(12)
        s = self.settings
        script = build_script(plan, nonce, s.command_timeout, s.walk_timeout)
        budget = (
            s.command_timeout * max(1, len(plan.commands))
            + (s.walk_timeout if plan.walk else 0)
            + 60
        )
        self.round_trips += 1
        try:
            result = await self.transport.run("sh -s", input=script, timeout=budget)
        except CommandTimeout as exc:
            result = exc.result
        frames = parse_frames(result.stdout_bytes, nonce)
        self.facts.merge(facts_from(plan, frames))


async def run_policy(
    policy: Policy, transport: Transport, gatherer: Gatherer | None = None
) -> PolicyRun:
    """Evaluate `policy` on the transport's host (see the module docstring)."""
    gatherer = gatherer or Gatherer(transport)
    host = transport.host.name
    start = gatherer.round_trips
    if policy.requirements is not None:
        await gatherer.fetch(needs_of([policy.requirements]))
        unmet = requirements_met(policy, gatherer.facts)
        if unmet is not None:
            reason = f"requirements not met ({unmet.status}): {unmet.reason}"
            outcomes = tuple(CheckOutcome(c.id, NOT_APPLICABLE, reason) for c in policy.checks)
            return PolicyRun(host, policy, outcomes, gatherer.round_trips - start, False)
    checks = list(policy.checks)
    await gatherer.fetch(needs_of(checks))
    await gatherer.fetch(second_round(checks, gatherer.facts))
    outcomes = tuple(evaluate_check(c, gatherer.facts, polarity=policy.polarity) for c in checks)
    return PolicyRun(host, policy, outcomes, gatherer.round_trips - start, True)


def facts_offline(config_path: Path, platform: str, shows: dict[str, Path] | None = None) -> Facts:
    """Facts of a device from files: its config, and `show` outputs by command."""
    from ospatrol.policy.device import parse_config

    try:
        text = config_path.read_text(encoding="utf-8", errors="surrogateescape")
    except OSError as exc:
        raise InputError(f"cannot read config: {exc}", str(config_path)) from None
    facts = Facts(device=parse_config(text, platform, str(config_path)), platform=platform)
    for command, path in (shows or {}).items():
        try:
            output = path.read_text(encoding="utf-8", errors="surrogateescape")
        except OSError as exc:
            raise InputError(f"cannot read output of {command!r}: {exc}", str(path)) from None
        facts.commands[command] = CommandFact(output, 0)
    return facts


def run_offline(policy: Policy, facts: Facts, host: str) -> PolicyRun:
    outcomes = tuple(evaluate_policy(policy, facts))
    applicable = requirements_met(policy, facts) is None
    return PolicyRun(host, policy, outcomes, 0, applicable)

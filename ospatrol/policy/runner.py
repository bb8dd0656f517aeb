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

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ospatrol.errors import InputError
from ospatrol.policy.evaluate import evaluate_check, evaluate_policy, requirements_met
from ospatrol.policy.facts import CommandFact, Facts, facts_from, second_round
from ospatrol.policy.gather import Needs, Plan, build_script, needs_of, parse_frames
from ospatrol.policy.model import NOT_APPLICABLE, CheckOutcome, Policy
from ospatrol.policy.walk import WALK_COMMAND

if TYPE_CHECKING:
    from ospatrol.transport import Transport

DEFAULT_COMMAND_TIMEOUT = 30.0
"""Seconds one policy command may take (Wazuh's `sca.commands_timeout` default)."""
DEFAULT_WALK_TIMEOUT = 300.0
"""Seconds the shared filesystem walk may take before its checks are "not run"."""


@dataclass(frozen=True)
class RunSettings:
    command_timeout: float = DEFAULT_COMMAND_TIMEOUT
    walk_timeout: float = DEFAULT_WALK_TIMEOUT


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
        )

    async def fetch(self, needs: Needs) -> None:
        from ospatrol.transport.errors import CommandTimeout

        missing = self._missing(needs)
        if not missing:
            return
        plan = Plan.of(missing, WALK_COMMAND)
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

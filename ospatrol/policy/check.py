"""`ospatrol check` without the command line: policies on hosts (one transport each) or offline.

A host that cannot be reached, authenticated or finished is one `HostResult` with an error; the
other hosts complete. Policies on the same host share one `Gatherer`, so a command or file two
policies need is fetched once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ospatrol.policy.model import FAILED, NOT_RUN, Policy
from ospatrol.policy.report import HostResult
from ospatrol.policy.runner import (
    Gatherer,
    PolicyRun,
    RunSettings,
    facts_offline,
    run_offline,
    run_policy,
)

if TYPE_CHECKING:
    from ospatrol.config import Config
    from ospatrol.model import Host
    from ospatrol.policy.waivers import Waivers

EXIT_OK, EXIT_FAILED, EXIT_INCOMPLETE = 0, 1, 2


async def check_host(
    host: Host, policies: Sequence[Policy], opener, settings: RunSettings | None = None
) -> HostResult:
    from ospatrol.transport import TransportError

    try:
        async with opener(host) as transport:
            gatherer = Gatherer(transport, settings)
            runs = [await run_policy(p, transport, gatherer) for p in policies]
    except TransportError as exc:
        return HostResult(host.name, error=getattr(exc, "reason", "") or str(exc))
    return HostResult(host.name, tuple(runs))


def check_hosts(
    hosts: Sequence[Host],
    policies: Sequence[Policy],
    config: Config,
    waivers: Waivers | None = None,
) -> list[HostResult]:
    """Every policy on every host, `config.concurrency` hosts at a time."""
    from ospatrol.audit.setup import transport_opener

    opener = transport_opener(config)

    async def main() -> list[HostResult]:
        limit = asyncio.Semaphore(config.concurrency)

        async def one(host: Host) -> HostResult:
            async with limit:
                return await check_host(host, policies, opener)

        return list(await asyncio.gather(*(one(h) for h in hosts)))

    results = asyncio.run(main())
    return [apply_waivers(r, waivers) for r in results]


def check_offline(
    policies: Sequence[Policy],
    config_file: Path,
    platform: str,
    shows: dict[str, Path],
    waivers: Waivers | None = None,
) -> HostResult:
    """Device policies on a saved config (and saved `show` outputs)."""
    facts = facts_offline(config_file, platform, shows)
    name = config_file.stem
    runs = tuple(run_offline(p, facts, name) for p in policies)
    return apply_waivers(HostResult(name, runs), waivers)


def apply_waivers(result: HostResult, waivers: Waivers | None) -> HostResult:
    if waivers is None:
        return result
    waived = {
        (run.policy.id, o.check_id): note
        for run in result.runs
        for o in run.outcomes
        if o.status == FAILED and (note := waivers.note_for(result.host, run.policy.id, o.check_id))
    }
    return HostResult(result.host, result.runs, result.error, waived)


def exit_status(results: Sequence[HostResult]) -> int:
    """2 when a host or a check could not be completed, else 1 when an unwaived check failed."""
    runs: list[tuple[HostResult, PolicyRun]] = [(r, run) for r in results for run in r.runs]
    if any(r.error for r in results) or any(
        o.status == NOT_RUN for _, run in runs for o in run.outcomes
    ):
        return EXIT_INCOMPLETE
    failed = any(
        o.status == FAILED and (run.policy.id, o.check_id) not in r.waived
        for r, run in runs
        for o in run.outcomes
    )
    return EXIT_FAILED if failed else EXIT_OK

"""Scheduled audits for the manager: each job runs exactly the `ospatrol audit` pipeline
(`audit_configured`) in a thread, with the manager's alert sinks, under the state dir's lock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ospatrol.config import Config
from ospatrol.scheduler import Job

# A scheduled run waits this long for another audit of the same state dir (manual or another
# job) to finish, instead of failing.
LOCK_WAIT = 3600.0
OUTCOMES = {0: "ok", 1: "findings", 2: "incomplete"}


def run_audit_job(job: Job, state_dir: Path, sinks: Sequence[Any]) -> str:
    """One run of `job`; its outcome as `ospatrol audit`'s exit status names it."""
    from ospatrol.audit import exit_status
    from ospatrol.audit.setup import audit_configured, parse_only
    from ospatrol.inventory import load_inventory

    config = Config(state_dir=state_dir)
    names = parse_only(",".join(job.only) or None)
    hosts = load_inventory(job.inventory).select(job.limit)
    if not hosts:
        return "no_hosts"
    record = audit_configured(
        hosts,
        names,
        config,
        job.checks_dir,
        dry_run=False,
        lock_wait=LOCK_WAIT,
        options={
            "inventory": str(job.inventory),
            "limit": job.limit,
            "only": list(names),
            "schedule": job.name,
        },
        sinks=sinks,
    )
    return OUTCOMES.get(exit_status(record), "error")


def audit_runner(state_dir: Path, sinks: Callable[[], Sequence[Any]]):
    """The scheduler's runner: audits in a worker thread so the event loop keeps receiving.
    `sinks` gives the outputs current at the start of each run (they change on SIGHUP)."""

    async def run(job: Job) -> str:
        return await asyncio.to_thread(run_audit_job, job, state_dir, sinks())

    return run

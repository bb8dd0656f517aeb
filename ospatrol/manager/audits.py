"""Scheduled audits for the manager: each job runs exactly the `ospatrol audit` pipeline
(`audit_configured`) in a thread, with the manager's alert sinks, under the state dir's lock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ospatrol.config import Config
from ospatrol.scheduler import Job

# A scheduled run waits this long for another audit of the same state dir (manual or another
# job) to finish, instead of failing.
LOCK_WAIT = 3600.0
OUTCOMES = {0: "ok", 1: "findings", 2: "incomplete"}


def run_audit_job(job: Job, config: Config, sinks: Sequence[Any]) -> str:
    """One run of `job` with the config file's audit settings; its outcome as `ospatrol audit`'s
    exit status names it."""
    from ospatrol.audit import exit_status
    from ospatrol.audit.setup import audit_configured, parse_only
    from ospatrol.inventory import load_inventory

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


def audit_runner(config: Config, state_dir: Path, sinks: Callable[[], Sequence[Any]]):
    """The scheduler's runner: audits in a worker thread so the event loop keeps receiving.
    `config` holds the audit settings (the command line's state dir wins over the file's);
    `sinks` gives the outputs current at the start of each run (they change on SIGHUP)."""
    settings = replace(config, state_dir=state_dir)

    async def run(job: Job) -> str:
        return await asyncio.to_thread(run_audit_job, job, settings, sinks())

    return run

"""Scheduled audits: jobs with a cron expression (croniter) or an interval, random jitter, never
two overlapping runs of one job, and a run missed while the manager was down made up once.

A job is the `schedules:` entry of ospatrol.yml:

    - {name: nightly, inventory: inventory.yml, limit: all, only: [fim, commands],
       cron: "0 2 * * *", jitter: 300}
    - {name: configs, inventory: net.yml, interval: 3600}

Each run goes through exactly the `ospatrol audit` pipeline (`ospatrol.audit.setup.
audit_configured`, with the manager's alert sinks), so a scheduled audit stores runs,
baselines and alerts as a manual one does. Run times are kept in `schedule.json` in the state
dir: a job is *due* when it never ran, or when a fire time passed since it last started (a cron
job missed during downtime runs once on start, not once per missed fire time).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from croniter import croniter

from ospatrol.errors import InputError, InputErrors
from ospatrol.yamlfile import LineDict

log = logging.getLogger(__name__)

STATE_FILE = "schedule.json"


@dataclass(frozen=True)
class Job:
    name: str
    inventory: Path
    limit: str | None = None
    only: tuple[str, ...] = ()
    cron: str | None = None
    interval: float | None = None
    jitter: float = 0.0
    checks_dir: Path | None = None

    def last_fire(self, now: float) -> float | None:
        """The latest scheduled time at or before `now` (None for interval jobs)."""
        if self.cron is None:
            return None
        return float(croniter(self.cron, now).get_prev(float))

    def next_fire(self, after: float) -> float:
        if self.cron is not None:
            return float(croniter(self.cron, after).get_next(float))
        assert self.interval is not None
        return after + self.interval

    def due(self, last_start: float | None, now: float) -> bool:
        if last_start is None:
            return True
        if self.cron is not None:
            fire = self.last_fire(now)
            return fire is not None and fire > last_start
        assert self.interval is not None
        return now - last_start >= self.interval


_KEYS = ("name", "inventory", "limit", "only", "cron", "interval", "jitter", "checks")


def parse_jobs(nodes: tuple[Mapping[str, Any], ...], path: str, base: Path) -> tuple[Job, ...]:
    """The `schedules:` entries, every problem named with its key and line."""
    errors: list[InputError] = []
    jobs: list[Job] = []
    names: set[str] = set()

    def error(where: str, message: str, node: Any, key: Any = None) -> None:
        line = None
        if isinstance(node, LineDict):
            line = node.line_of(key) if key is not None else node.line
        errors.append(InputError(f"{where}: {message}", path, line))

    for i, node in enumerate(nodes):
        where = f"schedules[{i}]"
        bad = [key for key in node if key not in _KEYS]
        for key in bad:
            error(f"{where}.{key}", f"unknown key (known: {', '.join(_KEYS)})", node, key)
        name = node.get("name")
        if not isinstance(name, str) or not name:
            error(f"{where}.name", "is required", node, "name")
            continue
        if name in names:
            error(f"{where}.name", f"two jobs named {name!r}", node, "name")
        names.add(name)
        inventory = node.get("inventory")
        if not isinstance(inventory, str) or not inventory:
            error(f"{where}.inventory", "is required", node, "inventory")
            continue
        inventory_path = Path(inventory) if Path(inventory).is_absolute() else base / inventory
        if not inventory_path.exists():
            error(f"{where}.inventory", f"no such inventory: {inventory_path}", node, "inventory")
        cron, interval = node.get("cron"), node.get("interval")
        if (cron is None) == (interval is None):
            error(where, "give exactly one of cron or interval", node)
            continue
        if cron is not None and (not isinstance(cron, str) or not croniter.is_valid(cron)):
            error(f"{where}.cron", f"not a cron expression: {cron!r}", node, "cron")
            continue
        if interval is not None and (
            isinstance(interval, bool) or not isinstance(interval, int | float) or interval <= 0
        ):
            error(f"{where}.interval", "expected seconds, more than 0", node, "interval")
            continue
        jitter = node.get("jitter", 0)
        if isinstance(jitter, bool) or not isinstance(jitter, int | float) or jitter < 0:
            error(f"{where}.jitter", "expected seconds, 0 or more", node, "jitter")
            continue
        only = node.get("only", [])
        only = [only] if isinstance(only, str) else only
        if not isinstance(only, list) or not all(isinstance(x, str) for x in only):
            error(f"{where}.only", "expected a list of collector names", node, "only")
            continue
        limit = node.get("limit")
        if limit is not None and not isinstance(limit, str):
            error(f"{where}.limit", "expected an Ansible --limit pattern", node, "limit")
            continue
        checks = node.get("checks")
        checks_dir = None
        if checks is not None:
            checks_dir = Path(str(checks)) if Path(str(checks)).is_absolute() else base / checks
        jobs.append(
            Job(
                name=name,
                inventory=inventory_path,
                limit=limit,
                only=tuple(only),
                cron=cron,
                interval=float(interval) if interval is not None else None,
                jitter=float(jitter),
                checks_dir=checks_dir,
            )
        )
    if errors:
        raise InputErrors(errors)
    return tuple(jobs)


Runner = Callable[[Job], Awaitable[str]]
"""Runs one job (the audit); returns its outcome (`ok`, `findings`, `incomplete`, `error`)."""


@dataclass
class JobRecord:
    last_start: float | None = None
    last_end: float | None = None
    last_outcome: str | None = None
    last_duration: float | None = None
    outcomes: Counter[str] = field(default_factory=Counter)


class Scheduler:
    """Runs `jobs` with `runner` on their schedule; `run_due()` once, or `run_forever()`."""

    def __init__(self, jobs: tuple[Job, ...], runner: Runner, state_dir: Path) -> None:
        self.jobs = jobs
        self.runner = runner
        self.state_path = state_dir / STATE_FILE
        self.records: dict[str, JobRecord] = {job.name: JobRecord() for job in jobs}
        self._running: set[str] = set()
        self._inflight: set[asyncio.Task] = set()
        self._load()

    def update(self, jobs: tuple[Job, ...]) -> None:
        """New job definitions (SIGHUP); run history and running jobs are kept by name."""
        self.jobs = jobs
        for job in jobs:
            self.records.setdefault(job.name, JobRecord())

    def _load(self) -> None:
        try:
            saved = json.loads(self.state_path.read_text())
        except (OSError, ValueError):
            return
        for name, values in saved.items():
            if name in self.records and isinstance(values, dict):
                record = self.records[name]
                record.last_start = values.get("last_start")
                record.last_end = values.get("last_end")
                record.last_outcome = values.get("last_outcome")

    def _save(self) -> None:
        data = {
            name: {
                "last_start": r.last_start,
                "last_end": r.last_end,
                "last_outcome": r.last_outcome,
            }
            for name, r in self.records.items()
        }
        temporary = self.state_path.with_name(STATE_FILE + ".tmp")
        temporary.write_text(json.dumps(data, indent=1, sort_keys=True))
        temporary.replace(self.state_path)

    def stats(self) -> dict[str, Any]:
        return {
            name: {
                "outcomes": dict(r.outcomes),
                "last_duration": r.last_duration,
                "last_start": r.last_start,
            }
            for name, r in self.records.items()
        }

    def due_jobs(self, now: float | None = None) -> list[Job]:
        now = time.time() if now is None else now
        return [j for j in self.jobs if j.due(self.records[j.name].last_start, now)]

    async def run_job(self, job: Job) -> None:
        """One run of `job`, unless one is still going (then it is skipped and counted)."""
        record = self.records[job.name]
        if job.name in self._running:
            record.outcomes["skipped:overlap"] += 1
            log.warning("schedule %s: previous run still going, this one skipped", job.name)
            return
        self._running.add(job.name)
        record.last_start = time.time()
        self._save()
        started = time.monotonic()
        try:
            outcome = await self.runner(job)
        except Exception as exc:
            log.error("schedule %s: %s", job.name, exc)
            outcome = "error"
        finally:
            self._running.discard(job.name)
        record.last_end = time.time()
        record.last_duration = time.monotonic() - started
        record.last_outcome = outcome
        record.outcomes[outcome] += 1
        self._save()
        log.info("schedule %s: %s in %.1fs", job.name, outcome, record.last_duration)

    async def run_due(self) -> None:
        """Run every due job once (`ospatrol manager --once`)."""
        for job in self.due_jobs():
            await self.run_job(job)

    async def run_forever(self) -> None:
        """Make up missed runs, then run each job at its fire times (plus jitter)."""
        await asyncio.gather(*(self._job_loop(job) for job in self.jobs))

    def _start(self, job: Job) -> None:
        # In its own task, so a long run does not delay the next fire time's overlap check;
        # kept here, so a SIGHUP that restarts the job loops does not lose a running audit.
        task = asyncio.create_task(self.run_job(job))
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def _job_loop(self, job: Job) -> None:
        if job.due(self.records[job.name].last_start, time.time()):
            self._start(job)
        fire = job.next_fire(time.time())
        while True:
            start = fire + random.uniform(0, job.jitter) if job.jitter else fire
            await asyncio.sleep(max(0.0, start - time.time()))
            self._start(job)
            fire = job.next_fire(max(fire, time.time()))

"""`ospatrol manager`: one asyncio process wiring listeners, analysis workers and outputs.

    listeners ──► BoundedIntake ──► dispatcher ──► WorkerPool ──────► sinks
    (udp/tcp/tls)  (drops UDP,       (batches,      (N processes:      (alerts.json, alerts.log,
                    holds TCP)        by sender)     parse, decode,      e-mail, syslog, webhook,
                                                     rules, corr.,       active response)
                                                     render, store)

Signals: SIGHUP reloads the config (rules, decoders, outputs, schedules); a new worker pool is
started on the new rule set and swapped in between two batches, then the old pool finishes what
it was sent, so no event is lost (a config that does not load is logged and the running one
kept). SIGTERM/SIGINT stop the listeners, let the queue and the workers drain, and close the
outputs. The manager writes `manager.json` (pid, bound addresses) and `manager-stats.json`
(counters, refreshed every second) into the state dir.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

from ospatrol.errors import OSPatrolError
from ospatrol.manager.config import ManagerConfig, load_manager_config
from ospatrol.manager.intake import BoundedIntake
from ospatrol.manager.workers import WorkerPool
from ospatrol.model import Alert, Event
from ospatrol.syslog.receiver import Listener

log = logging.getLogger(__name__)

STATS_INTERVAL = 1.0
SWITCH_INTERVAL = 0.0002
# On SIGTERM, how long open syslog connections may take to finish sending.
DRAIN_SECONDS = 5.0


def sd_notify(message: str) -> None:
    """Tell systemd (Type=notify) about our state, when started by it."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        try:
            sock.sendto(message.encode(), address)
        except OSError as exc:
            log.warning("sd_notify failed: %s", exc)


class Manager:
    """The running daemon. `await run()` returns after SIGTERM once everything drained."""

    def __init__(self, config: ManagerConfig, state_dir: Path) -> None:
        self.config = config
        self.state_dir = state_dir
        self.counts: Counter[str] = Counter()
        self.intake = BoundedIntake(config.analysis.queue_size)
        self.listeners: list[Listener] = []
        self.pool: WorkerPool | None = None
        self.sinks: list[Any] = []
        self._submit_lock = asyncio.Lock()
        self._stop = asyncio.Event()
        self._reloading = False
        self._tasks: list[asyncio.Task] = []
        self._responder_task: asyncio.Task | None = None
        self._scheduler_task: asyncio.Task | None = None
        self.scheduler: Any = None
        self._audit_runner: Any = None
        self.metrics_port: int | None = None

    # -- results -----------------------------------------------------------------------------
    def _on_result(
        self, alerts: list[Alert], counts: Counter, texts: dict[str, tuple[str, int]]
    ) -> None:
        self.counts.update(counts)
        for sink in self.sinks:
            rendered = texts.get(sink.name)
            if rendered is not None:
                text, count = rendered
                if text:
                    sink.emit_text(text, count)
            else:
                for alert in alerts:
                    sink.emit(alert)

    # -- lifecycle ---------------------------------------------------------------------------
    def _build_sinks(self, config: ManagerConfig) -> list[Any]:
        from ospatrol.manager.outputs import build_sinks

        return build_sinks(config, self.state_dir)

    def _start_responder(self, config: ManagerConfig) -> None:
        """Active responses, when configured: a sink like the others, acting in this loop."""
        if self._responder_task is not None:
            self._responder_task.cancel()
            self._responder_task = None
        if not config.responses.rules:
            return
        from ospatrol.respond.active import ActiveResponder
        from ospatrol.respond.remote import response_transport

        responder = ActiveResponder(
            config.responses,
            self.state_dir / "active-responses.log",
            self._feed_event,
            config.analysis.hostname or socket.gethostname(),
            ssh=response_transport(config.audit, self.state_dir),
        )
        self.sinks.append(responder)
        self._responder_task = asyncio.create_task(responder.run())

    def _audit_sinks(self) -> list[Any]:
        # The audit stores its own alerts (as the workers do); the outputs get them from here.
        return list(self.sinks)

    def _start_scheduler(self, config: ManagerConfig) -> None:
        if self._scheduler_task is not None:
            self._scheduler_task.cancel()
            self._scheduler_task = None
        if not config.schedules:
            return
        from ospatrol.manager.audits import audit_runner
        from ospatrol.scheduler import Scheduler

        if self.scheduler is None:
            self.scheduler = Scheduler(config.schedules, self._run_audit, self.state_dir)
        else:
            self.scheduler.update(config.schedules)
        self._audit_runner = audit_runner(config.audit, self.state_dir, self._audit_sinks)
        self._scheduler_task = asyncio.create_task(self.scheduler.run_forever())

    async def _run_audit(self, job: Any) -> str:
        return await self._audit_runner(job)

    def _feed_event(self, event: Event) -> None:
        """An event the manager itself produced (active responses) goes through analysis too."""
        if not self.intake.offer([event]):  # type: ignore[list-item]
            self.counts["dropped:internal"] += 1

    async def _start_pool(self, config: ManagerConfig) -> WorkerPool:
        from ospatrol.manager.outputs import rendering

        pool = WorkerPool(
            config.analysis, config.workers, self._on_result, rendering(config, self.state_dir)
        )
        await pool.start()
        return pool

    async def run(self) -> None:
        # The output threads (store, files, mail) are CPU-bound between their writes; with the
        # default 5 ms GIL switch interval every socket read of the event loop could wait that
        # long for the GIL (the convoy effect), throttling the listeners to a few hundred
        # reads a second. A short interval keeps the loop responsive.
        sys.setswitchinterval(SWITCH_INTERVAL)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        from ospatrol.store import Store

        Store.open(self.state_dir).close()  # created and migrated once, before the workers
        from ospatrol.analysis.pcre import LINEAR_TIME_MISSING, linear_time_available

        if not linear_time_available():
            log.warning(LINEAR_TIME_MISSING)
        self.pool = await self._start_pool(self.config)
        self.sinks = self._build_sinks(self.config)
        self._start_responder(self.config)
        try:
            for spec in self.config.syslog:
                listener = Listener(spec, self.intake)
                await listener.start()
                self.listeners.append(listener)
        except OSError as exc:
            await self._shutdown()
            raise OSPatrolError(f"cannot listen: {exc}") from exc
        self._start_metrics()
        self._start_scheduler(self.config)
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(self.reload()))
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop.set)
        self._tasks = [
            asyncio.create_task(self._dispatch()),
            asyncio.create_task(self._write_stats_forever()),
            asyncio.create_task(self._prune_forever()),
        ]
        self._write_state()
        log.info("manager: ready, %d analysis worker(s)", self.pool.size)
        sd_notify("READY=1")
        await self._stop.wait()
        sd_notify("STOPPING=1")
        await self._shutdown()

    async def _dispatch(self) -> None:
        batch_size = self.config.analysis.batch_size
        while True:
            batch = await self.intake.take(batch_size)
            async with self._submit_lock:
                assert self.pool is not None
                await self.pool.submit(batch)
            self.counts["submitted"] += len(batch)

    async def reload(self) -> None:
        """SIGHUP: the new config's rules, outputs and schedules, without losing an event."""
        if self._reloading:
            log.warning("manager: reload already in progress")
            return
        self._reloading = True
        try:
            try:
                config = load_manager_config(self.config.path)
                pool = await self._start_pool(config)
            except OSPatrolError as exc:
                log.error("manager: reload failed, keeping the running config:\n%s", exc)
                self.counts["reload_failed"] += 1
                return
            async with self._submit_lock:
                old, self.pool = self.pool, pool
            assert old is not None
            await old.stop()
            if config.outputs != self.config.outputs or config.responses != self.config.responses:
                old_sinks, self.sinks = self.sinks, self._build_sinks(config)
                self._start_responder(config)
                await asyncio.to_thread(_close_all, old_sinks)
            self._start_scheduler(config)
            if config.syslog != self.config.syslog:
                log.warning("manager: listener changes take effect on restart")
            self.config = replace(config, syslog=self.config.syslog)
            self.counts["reloads"] += 1
            log.info("manager: reloaded %s", config.path)
        finally:
            self._reloading = False

    async def _shutdown(self) -> None:
        await asyncio.gather(*(listener.close(DRAIN_SECONDS) for listener in self.listeners))
        while len(self.intake) and self.pool is not None and self.pool.alive():
            await asyncio.sleep(0.02)
        tasks = [*self._tasks]
        tasks += [t for t in (self._responder_task, self._scheduler_task) if t is not None]
        async with self._submit_lock:
            for task in tasks:
                task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.pool is not None:
            await self.pool.stop()
        await asyncio.to_thread(_close_all, self.sinks)
        self._write_stats()
        log.info("manager: stopped %s", json.dumps(self.stats(), sort_keys=True))

    # -- retention ---------------------------------------------------------------------------
    async def _prune_forever(self) -> None:
        """Stored alerts past `alerts.retention_days`: pruned now and every `prune_interval`
        (the config read at each round, so SIGHUP changes take effect)."""
        while True:
            retention = self.config.alerts
            if retention.retention_days is not None:
                before = time.time() - retention.retention_days * 86400
                try:
                    removed = await asyncio.to_thread(_prune, self.state_dir, before)
                except Exception:  # a locked or broken database: try again next round
                    log.exception("manager: pruning old alerts failed")
                    self.counts["prune_failed"] += 1
                else:
                    self.counts["alerts_pruned"] += removed
                    if removed:
                        log.info("manager: pruned %d alert(s) older than %s days", removed,
                                 retention.retention_days)  # fmt: skip
            await asyncio.sleep(retention.prune_interval)

    # -- observability -----------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """Counters by source: per listener, analysis, per output."""
        return {
            "listeners": {
                _listener_name(listener): dict(listener.stats.counts) for listener in self.listeners
            },
            "analysis": dict(self.counts),
            "queue": len(self.intake),
            "outputs": {
                sink.name: {**getattr(sink, "counts", {}), "queued": getattr(sink, "depth", 0)}
                for sink in self.sinks
            },
            "audits": self.scheduler.stats() if self.scheduler is not None else {},
        }

    def _write_state(self) -> None:
        state = {
            "pid": os.getpid(),
            "started": time.time(),
            "listeners": [
                {"protocol": listener.spec.protocol, "host": h, "port": p}
                for listener in self.listeners
                for h, p in [listener.bound or (listener.spec.host, listener.spec.port)]
            ],
            "metrics_port": self.metrics_port,
        }
        _write_json(self.state_dir / "manager.json", state)

    def _write_stats(self) -> None:
        _write_json(self.state_dir / "manager-stats.json", self.stats())

    async def _write_stats_forever(self) -> None:
        while True:
            await asyncio.sleep(STATS_INTERVAL)
            # Written from a thread: the rename took up to 10 ms on a busy disk, a stall of
            # the loop that feeds the workers every second.
            stats = self.stats()
            await asyncio.to_thread(_write_json, self.state_dir / "manager-stats.json", stats)

    def _start_metrics(self) -> None:
        if self.config.metrics_listen is None:
            return
        from ospatrol.manager.metrics import serve_metrics

        host, port = self.config.metrics_listen
        self.metrics_port = serve_metrics(self, host, port)


def _listener_name(listener: Listener) -> str:
    """`protocol:host:port` with the port actually bound (the config may say 0)."""
    host, port = listener.bound or (listener.spec.host, listener.spec.port)
    return f"{listener.spec.protocol}:{host}:{port}"


def _prune(state_dir: Path, before: float) -> int:
    from ospatrol.store import Store

    with Store.open(state_dir) as store:
        return store.prune_alerts(before)


def _close_all(sinks: list[Any]) -> None:
    for sink in sinks:
        try:
            sink.close()
        except Exception:
            log.exception("output %s: close failed", getattr(sink, "name", sink))


_WRITING = threading.Lock()


def _write_json(path: Path, data: Any) -> None:
    # The lock: the stats task's thread may still be writing when shutdown writes the last.
    with _WRITING:
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
        temporary.replace(path)


def run_manager(config_path: Path | None, state_dir: Path, *, once: bool = False) -> None:
    """Load the config and run the manager until SIGTERM (raises InputErrors on a bad config);
    with `once`, only run the scheduled jobs that are due and return."""
    config = load_manager_config(config_path)
    if once:
        asyncio.run(run_due_jobs(config, state_dir))
    else:
        asyncio.run(Manager(config, state_dir).run())


async def run_due_jobs(config: ManagerConfig, state_dir: Path) -> dict[str, Any]:
    """`ospatrol manager --once`: the due scheduled audits, through the configured outputs."""
    from ospatrol.manager.audits import audit_runner
    from ospatrol.manager.outputs import build_sinks
    from ospatrol.scheduler import Scheduler

    state_dir.mkdir(parents=True, exist_ok=True)
    sinks = build_sinks(config, state_dir)
    try:
        runner = audit_runner(config.audit, state_dir, lambda: sinks)
        scheduler = Scheduler(config.schedules, runner, state_dir)
        await scheduler.run_due()
    finally:
        await asyncio.to_thread(_close_all, sinks)
    return scheduler.stats()

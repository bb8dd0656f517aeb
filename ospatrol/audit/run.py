"""Audit orchestration: every collector on every host, one connection per host, bounded concurrency.

`audit(hosts, collectors, store, opener, ...)` is the one entry point (`run_audit` wraps it for
synchronous callers). Each host gets one transport from `opener(host)`, shared by its collectors,
which run concurrently on it (the transport multiplexes sessions) or, on a transport with one
session (`max_parallel` 1: a device CLI, whose mode a collector may change), one after the
other; at most `concurrency` hosts are audited at a time. A failure belongs to whoever failed: a
host that cannot be reached (or whose host key changed) gets one audit-level finding; a collector
that fails mid-run (lost connection, time-out, a profile problem, a bug of ours) gets its own
incomplete result while its siblings' results are kept.

Every finding is turned into an event (`finding_event`) and passed through the analysis engine,
when one is given, for its rule and level; without an engine, `DEFAULT_LEVELS` stand in so exit
codes still mean something. Alerts go to the store's alerts table and to every `AlertSink`.
Observers (`AuditObserver`) hear about hosts and collectors as they finish; nothing here prints.

Storage is decided here and nowhere else. As soon as a collector finishes, its findings (with
rule, level and description), its alerts and, when it completed, its state updates are committed
in ONE transaction: an interrupted run loses nothing a collector reported, and a baseline never
moves without its findings. A dry run writes nothing at all (no run row, no state, no alerts).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ospatrol.audit.records import (
    CollectorOutcome,
    HostReport,
    ReportedFinding,
    RunRecord,
    worst_status,
)
from ospatrol.collect.base import (
    AUDIT_COLLECTOR,
    Collector,
    CollectorResult,
    StateView,
    finding_event,
    incomplete_finding,
)
from ospatrol.errors import OSPatrolError
from ospatrol.model import Alert, Event, Finding, Host

if TYPE_CHECKING:
    from ospatrol.analysis.engine import EngineResult
    from ospatrol.respond.sink import AlertSink
    from ospatrol.store.protocols import AuditStore
    from ospatrol.transport import Transport
    from ospatrol.transport.errors import HostKeyChanged

log = logging.getLogger(__name__)

Opener = Callable[[Host], AbstractAsyncContextManager["Transport"]]
"""Opens the one transport a host's collectors share (`ospatrol.transport.open_transport`)."""

DEFAULT_LEVELS: dict[str, int] = {
    "hostkey": 12,
    "changed": 7,
    "deleted": 7,
    "attributes": 7,
    "incomplete": 7,
    "error": 7,
    "added": 5,
}
"""Levels used when no analysis engine is available (OSSEC's syscheck rules 550/553/554 levels)."""


class Analyzer(Protocol):
    """What the audit needs of the analysis engine (`ospatrol.analysis.engine.Engine`)."""

    def process(self, event: Event) -> EngineResult: ...


class AuditObserver:
    """Callbacks of a run; subclass and override what you need. Called on the event-loop thread."""

    def run_started(self, hosts: Sequence[Host], collectors: Sequence[str]) -> None:
        """The run is about to audit `hosts` with `collectors`."""

    def host_started(self, host: Host) -> None:
        """`host`'s connection is being opened."""

    def collector_finished(self, host: Host, result: CollectorResult) -> None:
        """One collector finished on `host` (whatever its status)."""

    def host_finished(self, report: HostReport) -> None:
        """`host` is done; `report` is what the run records for it."""

    def run_finished(self, record: RunRecord) -> None:
        """The whole run is done."""


@dataclass
class AuditOptions:
    """How to run: `concurrency` bounds hosts audited at once; `dry_run` writes nothing."""

    concurrency: int = 50
    dry_run: bool = False
    alert_level: int = 7
    host_timeout: float | None = None
    """Upper bound for one host's whole audit (connect and every collector); None: unbounded."""
    options: dict[str, Any] = field(default_factory=dict)
    """Recorded with the run (JSON-able, no secrets): how it was invoked."""


def run_audit(
    hosts: Sequence[Host],
    collectors: Sequence[Collector],
    store: AuditStore,
    opener: Opener,
    *,
    engine: Analyzer | None = None,
    options: AuditOptions | None = None,
    observers: Sequence[AuditObserver] = (),
    sinks: Sequence[AlertSink] = (),
) -> RunRecord:
    """Synchronous wrapper of `audit` for the CLI and the Ansible module."""
    return asyncio.run(
        audit(
            hosts,
            collectors,
            store,
            opener,
            engine=engine,
            options=options,
            observers=observers,
            sinks=sinks,
        )
    )


async def audit(
    hosts: Sequence[Host],
    collectors: Sequence[Collector],
    store: AuditStore,
    opener: Opener,
    *,
    engine: Analyzer | None = None,
    options: AuditOptions | None = None,
    observers: Sequence[AuditObserver] = (),
    sinks: Sequence[AlertSink] = (),
) -> RunRecord:
    """Audit `hosts` with `collectors`; returns the run's record (stored unless `dry_run`).

    `store` is only read in a dry run (give it `Store.open_for_reading`)."""
    opts = options or AuditOptions()
    names = tuple(c.name for c in collectors)
    notify = _Notifier(observers)
    started = time.time()
    run_id = None
    if not opts.dry_run:
        for interrupted in store.mark_interrupted():
            log.warning("audit run %d was interrupted (its process is gone)", interrupted)
        run_id = store.start_run({**opts.options, "collectors": list(names)})
    notify("run_started", hosts, names)
    limit = asyncio.Semaphore(max(1, opts.concurrency))
    auditor = _HostAuditor(collectors, store, opener, engine, opts, run_id, notify, sinks)

    async def bounded(host: Host) -> HostReport:
        async with limit:
            return await auditor.audit(host)

    reports = await asyncio.gather(*(bounded(h) for h in hosts))
    record = RunRecord(
        id=run_id,
        started=started,
        finished=time.time(),
        hosts=tuple(reports),
        alert_level=opts.alert_level,
        dry_run=opts.dry_run,
        collectors=names,
    )
    if run_id is not None:
        store.finish_run(run_id, "incomplete" if record.failed_hosts else "ok")
    notify("run_finished", record)
    return record


def _merged_facts(results: Sequence[CollectorResult]) -> tuple[tuple[str, str], ...]:
    """The facts of every collector of one host, in the collectors' order; the first wins."""
    merged: dict[str, str] = {}
    for result in results:
        for name, value in result.facts:
            merged.setdefault(name, value)
    return tuple(merged.items())


class _Notifier:
    """Calls every observer; an observer's bug is logged, never allowed to break the run."""

    def __init__(self, observers: Sequence[AuditObserver]) -> None:
        self.observers = list(observers)

    def __call__(self, method: str, *args: Any) -> None:
        for observer in self.observers:
            try:
                getattr(observer, method)(*args)
            except Exception:
                log.exception("audit observer %r failed in %s", observer, method)


class _HostAuditor:
    """Audits one host at a time (many concurrently): connect, collect, analyse, commit."""

    def __init__(
        self,
        collectors: Sequence[Collector],
        store: AuditStore,
        opener: Opener,
        engine: Analyzer | None,
        options: AuditOptions,
        run_id: int | None,
        notify: _Notifier,
        sinks: Sequence[AlertSink],
    ) -> None:
        self.collectors = collectors
        self.store = store
        self.opener = opener
        self.engine = engine
        self.options = options
        self.run_id = run_id
        self.notify = notify
        self.sinks = sinks

    async def audit(self, host: Host) -> HostReport:
        self.notify("host_started", host)
        began = time.monotonic()
        done: dict[str, tuple[CollectorResult, list[ReportedFinding]]] = {}
        try:
            status, error, audit_findings = await self._collect(host, done)
        except Exception as exc:
            log.exception("internal error auditing %s", host.name)
            status, error = "error", f"error: internal error: {type(exc).__name__}"
            audit_findings = [incomplete_finding(host.name, error)]
        reported = self._commit(host, AUDIT_COLLECTOR, audit_findings)
        # In the collectors' order, whatever order they finished in.
        finished = [done[c.name] for c in self.collectors if c.name in done]
        results = [result for result, _ in finished]
        for _, findings in finished:
            reported.extend(findings)
        for result in results:
            status = worst_status(status, _host_status(result.status))
            if result.status != "ok" and not error:
                error = f"{result.collector}: {result.error}"
        report = HostReport(
            name=host.name,
            address=host.address,
            status=status,
            error=error,
            findings=tuple(reported),
            collectors=tuple(CollectorOutcome(r.collector, r.status, r.error) for r in results),
            # Only what was written moved: nothing does in a dry run.
            baseline_changed=not self.options.dry_run
            and any(r.baseline_changed and r.status == "ok" for r in results),
            duration=time.monotonic() - began,
            platform=host.platform,
            groups=tuple(host.groups),
            facts=_merged_facts(results),
        )
        if not self.options.dry_run:
            with self.store.transaction():
                self.store.touch_host(host)
                self.store.set_run_host(
                    self.run_id,
                    host.name,
                    report.status,
                    report.error,
                    duration=report.duration,
                    collectors=[(c.name, c.status, c.error) for c in report.collectors],
                )
        self.notify("host_finished", report)
        return report

    async def _collect(
        self, host: Host, done: dict[str, tuple[CollectorResult, list[ReportedFinding]]]
    ) -> tuple[str, str, list[Finding]]:
        """Connect and run the collectors, recording each one's result and analysed findings
        in `done` as it finishes; returns the connection's status, error and audit findings."""
        from ospatrol.transport.errors import (
            ConnectTimeout,
            HostKeyChanged,
            TransportError,
            Unreachable,
        )

        if not host.address:
            reason = "error: host has no address"
            return "error", reason, [incomplete_finding(host.name, reason)]
        # The host's own limit (ospatrol_host_timeout) wins over the run's.
        limit = host.options.host_timeout or self.options.host_timeout
        try:
            async with asyncio.timeout(limit):
                async with self.opener(host) as transport:
                    await self._run_collectors(host, transport, done)
        except HostKeyChanged as exc:
            return "error", str(exc), [_host_key_finding(host, exc)]
        except (Unreachable, ConnectTimeout) as exc:
            return "unreachable", exc.reason, [incomplete_finding(host.name, exc.reason)]
        except TransportError as exc:
            return "error", exc.reason, [incomplete_finding(host.name, exc.reason)]
        except TimeoutError:
            reason = f"timeout: host not audited within {limit:g} s"
            for collector in self.collectors:
                # Those that finished are committed already; the others did not complete.
                if collector.name not in done:
                    unfinished = CollectorResult(collector.name, "incomplete", error=reason)
                    done[collector.name] = (unfinished, [])
            return "incomplete", reason, [incomplete_finding(host.name, reason)]
        return "ok", "", []

    async def _run_collectors(
        self,
        host: Host,
        transport: Transport,
        done: dict[str, tuple[CollectorResult, list[ReportedFinding]]],
    ) -> None:
        async def one(collector: Collector) -> None:
            result = await self._run_collector(collector, host, transport)
            done[collector.name] = (
                result,
                self._commit(host, collector.name, result.findings, result),
            )
            self.notify("collector_finished", host, result)

        if transport.capabilities.max_parallel == 1:
            # One CLI session whose mode a collector may change (an ASA's `changeto context`):
            # collectors take turns, so none runs its commands in another's context.
            for collector in self.collectors:
                await one(collector)
        else:
            await asyncio.gather(*(one(c) for c in self.collectors))

    async def _run_collector(
        self, collector: Collector, host: Host, transport: Transport
    ) -> CollectorResult:
        """One collector. Whatever it raises ends its own result (incomplete for transport
        problems, error for profile problems and bugs of ours) and never touches a sibling's."""
        from ospatrol.transport.errors import TransportError

        state = StateView(self.store, host.name, collector.name)
        try:
            return await collector.collect(host, transport, state)
        except TransportError as exc:
            status, reason = "incomplete", exc.reason
        except OSPatrolError as exc:
            status, reason = "error", f"error: {exc}"
        except Exception as exc:
            log.exception("internal error in collector %s on %s", collector.name, host.name)
            status, reason = "error", f"error: internal error: {type(exc).__name__}"
        finding = incomplete_finding(host.name, reason, collector=collector.name)
        return CollectorResult(collector.name, status, (finding,), reason)

    def _commit(
        self,
        host: Host,
        collector: str,
        findings: Sequence[Finding],
        result: CollectorResult | None = None,
    ) -> list[ReportedFinding]:
        """Analyse `findings` and (unless a dry run) store them, their alerts and, when the
        collector completed, its state updates, in one transaction."""
        analysed = [self._analyse(f) for f in findings]
        updates = result.updates if result is not None and result.status == "ok" else ()
        if not self.options.dry_run and (analysed or updates):
            store = self.store
            with store.transaction():
                for reported, _ in analysed:
                    store.add_findings(
                        self.run_id,
                        [reported.finding],
                        rule=reported.rule,
                        level=reported.level,
                        description=reported.description,
                    )
                for _, alert in analysed:
                    if alert is not None:
                        store.add_alert(alert, run=self.run_id)
                store.apply_updates(host.name, collector, updates, run=self.run_id)
        for _, alert in analysed:
            if alert is not None:
                for sink in self.sinks:
                    sink.emit(alert)
        return [reported for reported, _ in analysed]

    def _analyse(self, finding: Finding) -> tuple[ReportedFinding, Alert | None]:
        """Rule, level and alert from the engine. A rule that matched without alerting (level
        0, an operator's tuning) is respected; no rule at all is a gap in the rule set, and the
        finding keeps its default level rather than vanishing (fail safe)."""
        default = DEFAULT_LEVELS.get(finding.kind, 7)
        if self.engine is None:
            return ReportedFinding(finding, None, default), None
        result = self.engine.process(finding_event(finding))
        alert = result.alert
        if alert is not None:
            return ReportedFinding(finding, alert.rule_id, alert.level, alert.description), alert
        rule = result.rule
        if rule is not None:
            return ReportedFinding(finding, rule.id, rule.level, rule.description), None
        return ReportedFinding(finding, None, default), None


def _host_status(collector_status: str) -> str:
    return {"ok": "ok", "incomplete": "incomplete"}.get(collector_status, "error")


def _host_key_finding(host: Host, exc: HostKeyChanged) -> Finding:
    """The documented host-key event (`HostKeyChanged.event_text`)."""
    return Finding(
        host=host.name,
        collector=AUDIT_COLLECTOR,
        kind="hostkey",
        subject=f"{host.address}:{host.port}",
        detail=str(exc),
        event_text=exc.event_text,
    )

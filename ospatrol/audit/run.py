"""Audit orchestration: every collector on every host, one connection per host, bounded concurrency.

`audit(hosts, collectors, store, opener, ...)` is the one entry point (`run_audit` wraps it for
synchronous callers). Each host gets one transport from `opener(host)`, shared by its collectors,
which run concurrently on it (the transport multiplexes sessions); at most `concurrency` hosts are
audited at a time. A host's failure (unreachable, time-out, authentication, changed host key,
garbage output, a bug of ours) is recorded for that host and the others complete.

Every finding is turned into an event (`finding_event`) and passed through the analysis engine,
when one is given, for its rule and level; without an engine, `DEFAULT_LEVELS` stand in so exit
codes still mean something. Observers (`AuditObserver`) hear about hosts and collectors as they
finish; nothing here prints.

Storage (skipped entirely with `dry_run`): a run row, one run_hosts row per host and the findings
with their rule and level. Collectors write their own baselines.
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
    finding_event,
    incomplete_finding,
)
from ospatrol.errors import OSPatrolError
from ospatrol.model import Finding, Host

if TYPE_CHECKING:
    from ospatrol.store import Store
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
    """What the audit needs of the analysis engine: an event in, a result with `.alert` out."""

    def process(self, event: Any) -> Any: ...


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
    store: Store,
    opener: Opener,
    *,
    engine: Analyzer | None = None,
    options: AuditOptions | None = None,
    observers: Sequence[AuditObserver] = (),
) -> RunRecord:
    """Synchronous wrapper of `audit` for the CLI and the Ansible module."""
    return asyncio.run(
        audit(hosts, collectors, store, opener, engine=engine, options=options, observers=observers)
    )


async def audit(
    hosts: Sequence[Host],
    collectors: Sequence[Collector],
    store: Store,
    opener: Opener,
    *,
    engine: Analyzer | None = None,
    options: AuditOptions | None = None,
    observers: Sequence[AuditObserver] = (),
) -> RunRecord:
    """Audit `hosts` with `collectors`; returns the run's record (stored unless `dry_run`)."""
    opts = options or AuditOptions()
    names = tuple(c.name for c in collectors)
    notify = _Notifier(observers)
    started = time.time()
    run_id = None
    if not opts.dry_run:
        run_id = store.start_run({**opts.options, "collectors": list(names)})
    notify("run_started", hosts, names)
    limit = asyncio.Semaphore(max(1, opts.concurrency))
    auditor = _HostAuditor(collectors, store, opener, engine, opts, run_id, notify)

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
    """Audits one host at a time (many concurrently): connect, collect, analyse, store."""

    def __init__(
        self,
        collectors: Sequence[Collector],
        store: Store,
        opener: Opener,
        engine: Analyzer | None,
        options: AuditOptions,
        run_id: int | None,
        notify: _Notifier,
    ) -> None:
        self.collectors = collectors
        self.store = store
        self.opener = opener
        self.engine = engine
        self.options = options
        self.run_id = run_id
        self.notify = notify

    async def audit(self, host: Host) -> HostReport:
        self.notify("host_started", host)
        began = time.monotonic()
        try:
            results, status, error, audit_findings = await self._collect(host)
        except Exception as exc:
            log.exception("internal error auditing %s", host.name)
            reason = f"error: internal error: {type(exc).__name__}"
            results, status, error = [], "error", reason
            audit_findings = _incomplete(host, reason)[1]
        findings = [*audit_findings, *(f for r in results for f in r.findings)]
        reported = tuple(self._analyse(f) for f in findings)
        for result in results:
            status = worst_status(status, _host_status(result.status))
            if result.status != "ok" and not error:
                error = f"{result.collector}: {result.error}"
        report = HostReport(
            name=host.name,
            address=host.address,
            status=status,
            error=error,
            findings=reported,
            collectors=tuple(CollectorOutcome(r.collector, r.status, r.error) for r in results),
            baseline_changed=any(r.baseline_changed for r in results),
            duration=time.monotonic() - began,
        )
        if not self.options.dry_run:
            self._store(host, report)
        self.notify("host_finished", report)
        return report

    async def _collect(self, host: Host) -> tuple[list[CollectorResult], str, str, list[Finding]]:
        """Run the collectors; returns their results, the connection status, error and findings."""
        from ospatrol.transport.errors import (
            AuthenticationFailed,
            ConnectTimeout,
            HostKeyChanged,
            HostKeyUnknown,
            TransportError,
            Unreachable,
        )

        if not host.address:
            reason = "error: host has no address"
            return [], "error", *_incomplete(host, reason)
        results: list[CollectorResult] = []
        try:
            async with asyncio.timeout(self.options.host_timeout):
                async with self.opener(host) as transport:
                    results = await self._run_collectors(host, transport)
        except HostKeyChanged as exc:
            return results, "error", str(exc), [_host_key_finding(host, exc)]
        except (Unreachable, ConnectTimeout) as exc:
            return results, "unreachable", *_incomplete(host, exc.reason)
        except (AuthenticationFailed, HostKeyUnknown, TransportError) as exc:
            return results, "error", *_incomplete(host, exc.reason)
        except TimeoutError:
            reason = f"timeout: host not audited within {self.options.host_timeout:g} s"
            return results, "incomplete", *_incomplete(host, reason)
        return results, "ok", "", []

    async def _run_collectors(self, host: Host, transport: Transport) -> list[CollectorResult]:
        async def one(collector: Collector) -> CollectorResult:
            result = await self._run_collector(collector, host, transport)
            self.notify("collector_finished", host, result)
            return result

        # Every collector finishes (or fails) before the connection closes; a connection-level
        # error (lost connection, ...) from any of them then stops the host.
        outcomes = await asyncio.gather(*(one(c) for c in self.collectors), return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        return list(outcomes)

    async def _run_collector(
        self, collector: Collector, host: Host, transport: Transport
    ) -> CollectorResult:
        """One collector. A command time-out makes it incomplete and a profile problem makes it
        fail, without stopping the host's other collectors; connection errors stop the host."""
        from ospatrol.transport.errors import CommandTimeout, TransportError

        try:
            return await collector.collect(
                host, transport, self.store, dry_run=self.options.dry_run
            )
        except CommandTimeout as exc:
            status, reason = "incomplete", exc.reason
        except TransportError:
            raise
        except OSPatrolError as exc:
            status, reason = "error", f"error: {exc}"
        finding = incomplete_finding(host.name, reason, collector=collector.name)
        return CollectorResult(collector.name, status, (finding,), reason)

    def _analyse(self, finding: Finding) -> ReportedFinding:
        """Rule and level from the engine. A rule that matched without alerting (level 0, an
        operator's tuning) is respected; no rule at all is a gap in the rule set, and the
        finding keeps its default level rather than vanishing (fail safe)."""
        default = DEFAULT_LEVELS.get(finding.kind, 7)
        if self.engine is None:
            return ReportedFinding(finding, None, default)
        result = self.engine.process(finding_event(finding))
        alert = getattr(result, "alert", None)
        if alert is not None:
            return ReportedFinding(finding, alert.rule_id, alert.level, alert.description)
        rule = getattr(result, "rule", None)
        if rule is not None:
            return ReportedFinding(finding, rule.id, rule.level, rule.description)
        return ReportedFinding(finding, None, default)

    def _store(self, host: Host, report: HostReport) -> None:
        store, run_id = self.store, self.run_id
        with store.transaction():
            store.touch_host(host)
            store.set_run_host(run_id, host.name, report.status, report.error)
            for reported in report.findings:
                store.add_findings(
                    run_id, [reported.finding], rule=reported.rule, level=reported.level
                )


def _host_status(collector_status: str) -> str:
    return {"ok": "ok", "incomplete": "incomplete"}.get(collector_status, "error")


def _incomplete(host: Host, reason: str) -> tuple[str, list[Finding]]:
    return reason, [incomplete_finding(host.name, reason)]


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

"""Rebuild the record of a stored run (for `ospatrol report`) from runs, run_hosts and findings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ospatrol.audit.records import CollectorOutcome, HostReport, ReportedFinding, RunRecord
from ospatrol.collect.base import AUDIT_COLLECTOR
from ospatrol.errors import OSPatrolError

if TYPE_CHECKING:
    from ospatrol.store import Store


class RunNotFound(OSPatrolError):
    """No such run in the store (or no run at all)."""


def load_run(store: Store, run_id: int | None = None, alert_level: int = 7) -> RunRecord:
    """The stored run `run_id` (default: the latest) as a `RunRecord`."""
    if run_id is None:
        latest = store.runs(limit=1)
        if not latest:
            raise RunNotFound(f"no audit run stored in {store.path}")
        info = latest[0]
    else:
        info = store.run(run_id)
        if info is None:
            raise RunNotFound(f"no audit run {run_id} in {store.path}")
    collectors = tuple(info.options.get("collectors", ()))
    addresses = {h.name: h.address for h in store.hosts()}
    by_host: dict[str, list[ReportedFinding]] = {}
    for stored in store.findings(run_id=info.id):
        by_host.setdefault(stored.finding.host, []).append(
            ReportedFinding(stored.finding, stored.rule, stored.level)
        )
    hosts = []
    for run_host in store.run_hosts(info.id):
        findings = tuple(by_host.get(run_host.host, ()))
        hosts.append(
            HostReport(
                name=run_host.host,
                address=addresses.get(run_host.host, ""),
                status=run_host.status,
                error=run_host.error,
                findings=findings,
                collectors=_outcomes(collectors, run_host.status, findings),
            )
        )
    return RunRecord(
        id=info.id,
        started=info.started,
        finished=info.finished or info.started,
        hosts=tuple(hosts),
        alert_level=alert_level,
        collectors=collectors,
    )


def _outcomes(
    collectors: tuple[str, ...], host_status: str, findings: tuple[ReportedFinding, ...]
) -> tuple[CollectorOutcome, ...]:
    """Per-collector outcomes, inferred: a collector with an `incomplete` finding did not finish.

    FIM records its incomplete finding as the audit's, with its own name as the subject."""
    if host_status in ("unreachable", "error") and not any(
        f.finding.collector in collectors for f in findings
    ):
        return ()
    broken: dict[str, str] = {}
    for f in findings:
        if f.finding.kind == "incomplete":
            name = (
                f.finding.subject if f.finding.collector == AUDIT_COLLECTOR else f.finding.collector
            )
            broken.setdefault(name, f.finding.detail)
    return tuple(
        CollectorOutcome(name, "incomplete", broken[name])
        if name in broken
        else CollectorOutcome(name, "ok")
        for name in collectors
    )

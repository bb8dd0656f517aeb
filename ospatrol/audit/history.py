"""Rebuild the record of a stored run (for `ospatrol report`) from runs, run_hosts and findings.

The store keeps what the live report showed (rule descriptions, durations, each collector's
outcome), so a re-rendered run reads as the live one did. A run whose process died before it
finished is shown as `interrupted`, with whatever it committed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ospatrol.audit.records import CollectorOutcome, HostReport, ReportedFinding, RunRecord
from ospatrol.collect.facts import facts_of_run
from ospatrol.errors import OSPatrolError

if TYPE_CHECKING:
    from ospatrol.store.protocols import AuditStore


class RunNotFound(OSPatrolError):
    """No such run in the store (or no run at all)."""


def load_run(store: AuditStore, run_id: int | None = None, alert_level: int = 7) -> RunRecord:
    """The stored run `run_id` (default: the latest) as a `RunRecord`."""
    store.mark_interrupted()
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
    known = {h.name: h for h in store.hosts()}
    by_host: dict[str, list[ReportedFinding]] = {}
    for stored in store.findings(run_id=info.id):
        by_host.setdefault(stored.finding.host, []).append(
            ReportedFinding(stored.finding, stored.rule, stored.level, stored.description)
        )
    hosts = []
    for run_host in store.run_hosts(info.id):
        seen = known.get(run_host.host)
        hosts.append(
            HostReport(
                name=run_host.host,
                address=seen.address if seen else "",
                platform=seen.platform if seen else "",
                status=run_host.status,
                error=run_host.error,
                findings=tuple(by_host.pop(run_host.host, ())),
                collectors=tuple(CollectorOutcome(*c) for c in run_host.collectors),
                duration=run_host.duration,
                facts=facts_of_run(store, run_host.host, info.id),
            )
        )
    # Hosts of an interrupted run that committed findings but never finished.
    for name, findings in by_host.items():
        hosts.append(
            HostReport(
                name=name,
                address=known[name].address if name in known else "",
                platform=known[name].platform if name in known else "",
                status="incomplete",
                error="interrupted: the run stopped before this host finished",
                findings=tuple(findings),
            )
        )
    return RunRecord(
        id=info.id,
        started=info.started,
        finished=info.finished or info.started,
        hosts=tuple(hosts),
        alert_level=alert_level,
        collectors=collectors,
        status=info.status,
    )

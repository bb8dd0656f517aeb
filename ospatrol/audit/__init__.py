"""`ospatrol audit`: run the collectors over an inventory, analyse, store, report.

`run.audit`/`run.run_audit` orchestrate; `records` holds the run record reports render;
`lock` keeps two audits of one state dir apart; `history` rebuilds a stored run; `setup` builds
the collectors, the transport opener and the engine from config and profiles.
"""

from ospatrol.audit.lock import AuditLocked, audit_lock
from ospatrol.audit.records import (
    EXIT_FINDINGS,
    EXIT_INCOMPLETE,
    EXIT_OK,
    CollectorOutcome,
    HostReport,
    ReportedFinding,
    RunRecord,
    exit_status,
)
from ospatrol.audit.run import AuditObserver, AuditOptions, audit, run_audit

__all__ = [
    "EXIT_FINDINGS",
    "EXIT_INCOMPLETE",
    "EXIT_OK",
    "AuditLocked",
    "AuditObserver",
    "AuditOptions",
    "CollectorOutcome",
    "HostReport",
    "ReportedFinding",
    "RunRecord",
    "audit",
    "audit_lock",
    "exit_status",
    "run_audit",
]

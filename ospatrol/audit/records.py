"""The record of one audit run, as the orchestrator builds it and reports render it.

A `RunRecord` is built live by `ospatrol.audit.run` and rebuilt from the store by
`ospatrol.audit.history` for `ospatrol report`; renderers only ever see these records.
"""

from __future__ import annotations

from dataclasses import dataclass

from ospatrol.model import Finding
from ospatrol.store.records import RUN_HOST_STATUSES

HOST_STATUSES = RUN_HOST_STATUSES
"""Best to worst; a host's status is the worst its connection and collectors reached (the store
records exactly these)."""


@dataclass(frozen=True)
class ReportedFinding:
    """A finding with what analysis made of it: matched rule and level (None: not analysed)."""

    finding: Finding
    rule: int | None = None
    level: int | None = None
    description: str = ""

    def at_or_above(self, threshold: int) -> bool:
        return self.level is not None and self.level >= threshold


@dataclass(frozen=True)
class CollectorOutcome:
    """How one collector fared on one host (`ok`, `incomplete`, `error`, or `skipped`)."""

    name: str
    status: str
    error: str = ""


@dataclass(frozen=True)
class HostReport:
    """One host's part of a run (`platform` and `groups` as the inventory gave them; `facts`
    as the collectors parsed them this run: model, OS version, serial...)."""

    name: str
    address: str
    status: str
    error: str = ""
    findings: tuple[ReportedFinding, ...] = ()
    collectors: tuple[CollectorOutcome, ...] = ()
    baseline_changed: bool = False
    duration: float = 0.0
    platform: str = ""
    groups: tuple[str, ...] = ()
    facts: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class RunRecord:
    """One audit run: `id` is the store's run id (None for a dry run, which stores nothing)."""

    id: int | None
    started: float
    finished: float
    hosts: tuple[HostReport, ...]
    alert_level: int = 7
    dry_run: bool = False
    collectors: tuple[str, ...] = ()
    status: str = "finished"
    """`finished` for a live run; a stored run's status (`ok`, `incomplete`, `interrupted`,
    `running`)."""

    @property
    def failed_hosts(self) -> list[HostReport]:
        return [h for h in self.hosts if h.status != "ok"]

    def alerting_findings(self) -> list[ReportedFinding]:
        """Findings at or above the run's alert threshold, host by host."""
        return [f for h in self.hosts for f in h.findings if f.at_or_above(self.alert_level)]

    @property
    def baseline_changed(self) -> bool:
        return any(h.baseline_changed for h in self.hosts)


EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_INCOMPLETE = 2


def exit_status(record: RunRecord) -> int:
    """2 if any host could not be fully audited, else 1 if a finding reached the threshold, else 0.

    Incomplete hosts win over findings: a cron job or CI step must not read "only findings" as
    "everything was looked at".
    """
    if record.failed_hosts or record.status == "interrupted":
        return EXIT_INCOMPLETE
    if record.alerting_findings():
        return EXIT_FINDINGS
    return EXIT_OK


def worst_status(*statuses: str) -> str:
    """The worst of host statuses in `HOST_STATUSES` order."""
    return max(statuses, key=HOST_STATUSES.index, default="ok")

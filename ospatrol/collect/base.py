"""The contract every collector (fim, commands, configs, cis, esx) fulfils for `ospatrol audit`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ospatrol.model import Event, Finding, Host

if TYPE_CHECKING:
    from ospatrol.store import Store
    from ospatrol.transport import Transport

STATUSES = ("ok", "incomplete", "error")

AUDIT_COLLECTOR = "audit"
"""Collector name of audit-level findings: a host that could not be scanned, a changed host key."""

EVENT_DIFF_LINES = 40
"""Diff lines kept in an event's text; OSSEC's agentlessd likewise keeps a few and says so."""
MORE = "More changes..."


@dataclass(frozen=True)
class CollectorResult:
    """What one collector learned about one host in one audit.

    `status` is `ok` when the scan was complete, `incomplete` when it could not finish (the stored
    state was left untouched), `error` for a fault of ours or the host's that is not transient.
    `baseline_changed` tells callers (the Ansible module) that stored state moved.
    """

    collector: str
    status: str
    findings: tuple[Finding, ...] = ()
    error: str = ""
    baseline_changed: bool = False


class Collector(Protocol):
    """A collector is stateless; all state lives in the store."""

    name: str

    async def collect(
        self, host: Host, transport: Transport, store: Store, *, dry_run: bool = False
    ) -> CollectorResult:
        """Scan `host`; with `dry_run`, compare but write nothing to the store."""
        ...


def cap_lines(text: str, limit: int = EVENT_DIFF_LINES) -> str:
    """At most `limit` lines of `text`, then `More changes...` when some were cut."""
    lines = text.splitlines()
    if len(lines) <= limit:
        return text
    return "\n".join([*lines[:limit], MORE])


def incomplete_finding(
    host: str, reason: str, *, collector: str = AUDIT_COLLECTOR, subject: str = ""
) -> Finding:
    """The one finding of a scan that could not finish; `reason` starts with a documented word
    (docs/events.md) and the stored state it would have replaced stays untouched."""
    return Finding(
        host=host,
        collector=collector,
        kind="incomplete",
        subject=subject,
        detail=reason,
        event_text=f"ospatrol: scan incomplete: {reason}",
    )


def location(host: str, collector: str) -> str:
    """The stable event location of an agentless finding; rules match on it."""
    return f"agentless:{host}:{collector}"


def finding_event(finding: Finding, when: float | None = None) -> Event:
    """The event a finding becomes, ready for the analysis engine."""
    extra = {"collector": finding.collector, "kind": finding.kind, "subject": finding.subject}
    if finding.diff:
        extra["diff"] = finding.diff
    kwargs = {} if when is None else {"time": when}
    return Event(
        text=finding.event_text,
        location=location(finding.host, finding.collector),
        host=finding.host,
        source="agentless",
        extra=extra,
        **kwargs,
    )

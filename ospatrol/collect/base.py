"""The contract every collector (fim, commands, configs, cis, esx) fulfils for `ospatrol audit`.

    result = await collector.collect(host, transport, state)   # -> CollectorResult

A collector reads its stored state through `state` (a read-only, lazy `StateView`) and returns
its findings together with the `updates` (`ospatrol.store.records.StateUpdate`) it wants written.
It never writes the store: the audit commits a collector's updates and findings in one
transaction, and only when the collector completed (`status == "ok"`), so a scan that fails,
an interrupted run or a dry run can never move a baseline without its findings being kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ospatrol.model import Event, Finding, Host

if TYPE_CHECKING:
    from ospatrol.store import FileContent, FimSnapshot, StateEntry, StateUpdate
    from ospatrol.store.protocols import StateStore
    from ospatrol.transport import Transport

STATUSES = ("ok", "incomplete", "error")

AUDIT_COLLECTOR = "audit"
"""Collector name of audit-level findings: a host that could not be scanned, a changed host key."""

EVENT_DIFF_LINES = 40
"""Diff lines kept in an event's text; OSSEC's agentlessd likewise keeps a few and says so."""
MORE = "More changes..."
STORED_DIFF_LINES = 2000
"""Diff lines kept in a finding (store and reports); a runaway output must not bloat the store."""


@dataclass(frozen=True)
class CollectorResult:
    """What one collector learned about one host in one audit.

    `status` is `ok` when the scan was complete, `incomplete` when it could not finish, `error`
    for a fault of ours or the host's that is not transient; `updates` are written only for `ok`.
    `baseline_changed` says that committing them moves what the host is compared with (the
    Ansible module's `changed`), as opposed to bookkeeping such as a listing digest.
    `facts` are what the host is (model, OS version, serial: (name, value) pairs) for reports.
    """

    collector: str
    status: str
    findings: tuple[Finding, ...] = ()
    error: str = ""
    updates: tuple[StateUpdate, ...] = ()
    baseline_changed: bool = False
    facts: tuple[tuple[str, str], ...] = ()


class StateView:
    """One collector's stored state of one host, read-only and read lazily (each call is one
    query, made only when the collector asks)."""

    def __init__(self, store: StateStore, host: str, collector: str) -> None:
        self._store = store
        self.host = host
        self.collector = collector

    def get(self, key: str) -> StateEntry | None:
        """The latest version of `key`."""
        return self._store.state(self.host, self.collector, key)

    def latest(self) -> dict[str, StateEntry]:
        """The latest version of every key, by key."""
        return self._store.states(self.host, self.collector)

    def history(self, key: str) -> list[StateEntry]:
        """Every version of `key`, oldest first."""
        return self._store.state_history(self.host, self.collector, key)

    def fim_snapshot(self) -> FimSnapshot | None:
        return self._store.fim_snapshot(self.host)

    def fim_contents(self) -> dict[str, FileContent]:
        return self._store.fim_contents(self.host)


class Collector(Protocol):
    """A collector is stateless; all state lives in the store, read through `state`."""

    name: str

    async def collect(self, host: Host, transport: Transport, state: StateView) -> CollectorResult:
        """Scan `host`, compare with `state`, return findings and the updates to commit."""
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

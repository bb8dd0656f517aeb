"""What the rest of OSPatrol may ask of a store, split by concern.

Each protocol is small so that a caller states what it needs (the audit needs runs, alerts and
collector state; `ospatrol alerts` needs alerts only) and so that another backend (PostgreSQL,
for several managers sharing a fleet) is one more class passing `tests/store/test_contract.py`.
`ospatrol.store.sqlite.Store` implements all of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from ospatrol.model import Alert, Finding, Host
from ospatrol.store.records import (
    FileContent,
    FimSnapshot,
    HostInfo,
    PolicyScore,
    RunHost,
    RunInfo,
    StateEntry,
    StateUpdate,
    StoredAlert,
    StoredCheckResult,
    StoredFinding,
)


class Transactional(Protocol):
    def transaction(self) -> AbstractContextManager[None]:
        """Writes inside commit together or not at all; nested blocks join the outer one."""
        ...


class RunStore(Transactional, Protocol):
    """Audit runs, the hosts they covered and their findings."""

    def touch_host(self, host: Host, when: float | None = None) -> None: ...
    def hosts(self) -> list[HostInfo]: ...
    def start_run(self, options: Mapping[str, Any] | None = None) -> int: ...
    def finish_run(self, run_id: int, status: str) -> None: ...
    def mark_interrupted(self) -> list[int]:
        """Close every run still `running` whose process is gone as `interrupted`."""
        ...

    def run(self, run_id: int) -> RunInfo | None: ...
    def runs(self, limit: int = 20) -> list[RunInfo]: ...
    def set_run_host(
        self,
        run_id: int,
        host: str,
        status: str,
        error: str = "",
        *,
        duration: float = 0.0,
        collectors: Sequence[tuple[str, str, str]] = (),
    ) -> None: ...
    def run_hosts(self, run_id: int) -> list[RunHost]: ...
    def add_findings(
        self,
        run_id: int | None,
        findings: Iterable[Finding],
        *,
        rule: int | None = None,
        level: int | None = None,
        description: str = "",
    ) -> list[int]: ...
    def findings(
        self, *, run_id: int | None = None, host: str | None = None, collector: str | None = None
    ) -> list[StoredFinding]: ...


class AlertStore(Transactional, Protocol):
    """Every alert raised, whatever its source (audit, syslog, agent)."""

    def add_alert(self, alert: Alert, *, run: int | None = None) -> int: ...
    def add_alerts(self, alerts: Iterable[Alert], *, run: int | None = None) -> None:
        """Record many alerts in one transaction: all of them or none."""
        ...

    def prune_alerts(self, before: float) -> int:
        """Delete the alerts older than `before` (epoch seconds); returns how many (retention)."""
        ...

    def alerts(
        self,
        *,
        host: str | None = None,
        since: float | None = None,
        level: int | None = None,
        rule: int | None = None,
        run: int | None = None,
    ) -> list[StoredAlert]: ...


class StateStore(Transactional, Protocol):
    """Collectors' state: a generic versioned table plus FIM's packed snapshot.

    `(host, collector, key) -> (version, digest, blob, time, run)`; every put adds a version, so
    the history of a device config or a command output is kept. Collectors only read it (through
    `ospatrol.collect.base.StateView`); the audit applies their updates.
    """

    def state(self, host: str, collector: str, key: str) -> StateEntry | None: ...
    def states(self, host: str, collector: str) -> dict[str, StateEntry]: ...
    def state_history(self, host: str, collector: str, key: str) -> list[StateEntry]: ...
    def state_version(
        self, host: str, collector: str, key: str, version: int
    ) -> StateEntry | None: ...
    def fim_snapshot(self, host: str) -> FimSnapshot | None: ...
    def fim_contents(self, host: str) -> dict[str, FileContent]: ...
    def apply_updates(
        self, host: str, collector: str, updates: Iterable[StateUpdate], run: int | None = None
    ) -> None: ...


class PolicyStore(Protocol):
    """Policy check outcomes per run (written through `PutCheckResults` updates) and the score
    trend they give."""

    def check_results(
        self, host: str, policy: str | None = None, run: int | None = None
    ) -> list[StoredCheckResult]: ...
    def policy_scores(self, host: str, policy: str) -> list[PolicyScore]: ...


class HostKeyStore(Protocol):
    """Pinned SSH host keys as neutral (algorithm, key blob) pairs, one list per host and port.

    Implemented by the `known_hosts` file in the state dir (`ospatrol.transport.hostkeys`), which
    OpenSSH tools can read too."""

    def pinned(self, host: str, port: int) -> list[tuple[str, bytes]]: ...
    def pin(self, host: str, port: int, algorithm: str, blob: bytes) -> None: ...


class AuditStore(RunStore, AlertStore, StateStore, Protocol):
    """Everything an audit run writes."""

    path: Any

    def close(self) -> None: ...

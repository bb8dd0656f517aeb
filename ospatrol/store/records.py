"""Records the store reads and writes: rows as frozen dataclasses, no SQL here.

Collectors hand the audit `StateUpdate`s (what to write) instead of writing the store themselves;
the audit applies a collector's updates with its findings in one transaction, and only when the
collector completed.
"""

from __future__ import annotations

from dataclasses import dataclass

from ospatrol.model import Finding

RUN_HOST_STATUSES = ("ok", "incomplete", "unreachable", "error")
"""How a host fared in a run, best to worst (`ospatrol.audit.records.HOST_STATUSES`)."""


@dataclass(frozen=True)
class FileContent:
    """A small text file's last known content, already masked, for `report_changes` diffs."""

    path: str
    content: bytes
    size: int
    """Size of the original file; larger than `len(content)` when the content was capped."""


@dataclass(frozen=True)
class StateEntry:
    """One version of one key of a collector's state on one host (a config, a command output)."""

    key: str
    version: int
    digest: str
    blob: bytes
    time: float
    run: int | None = None

    @property
    def text(self) -> str:
        """The blob as text; bytes that are not UTF-8 come back as surrogate escapes."""
        return self.blob.decode("utf-8", "surrogateescape")


@dataclass(frozen=True)
class FimSnapshot:
    """FIM's whole baseline of one host, packed by the FIM collector (the store never parses it),
    with the digest of the listing it was built from (None: rescan in full next time)."""

    entries: int
    records: bytes
    listing: str | None


@dataclass(frozen=True)
class PutState:
    """Add a version of `key` (version numbers count up from 1 per key)."""

    key: str
    blob: bytes
    digest: str


@dataclass(frozen=True)
class PutFimSnapshot:
    """Replace the host's FIM snapshot (an empty one, `entries == 0`, removes it)."""

    entries: int
    records: bytes
    listing: str | None


@dataclass(frozen=True)
class SetFimListing:
    """Keep the snapshot; record the listing digest it stands for."""

    listing: str | None


@dataclass(frozen=True)
class PutFimContents:
    """Kept `report_changes` contents: `replace` drops every other one of the host first;
    `removed` paths are dropped."""

    contents: tuple[FileContent, ...] = ()
    removed: tuple[str, ...] = ()
    replace: bool = False


@dataclass(frozen=True)
class CheckRow:
    """One policy check's outcome in one run (evidence masked and escaped by the collector)."""

    check_id: str
    status: str
    reason: str = ""
    evidence: str = ""


@dataclass(frozen=True)
class PutCheckResults:
    """Record every check outcome of one policy on the host for this run."""

    policy: str
    rows: tuple[CheckRow, ...]


@dataclass(frozen=True)
class StoredCheckResult:
    run: int | None
    host: str
    policy: str
    check_id: str
    status: str
    reason: str
    evidence: str
    time: float


@dataclass(frozen=True)
class PolicyScore:
    """A policy's score on a host in one run: passed / (passed + failed), None without either."""

    run: int | None
    time: float
    passed: int
    failed: int

    @property
    def score(self) -> float | None:
        total = self.passed + self.failed
        return None if total == 0 else round(100 * self.passed / total, 1)


StateUpdate = PutState | PutFimSnapshot | SetFimListing | PutFimContents | PutCheckResults
"""What a collector asks the audit to write when (and only when) it completed."""


@dataclass(frozen=True)
class HostInfo:
    """A host the store has seen."""

    name: str
    address: str
    platform: str
    first_seen: float
    last_seen: float


@dataclass(frozen=True)
class RunInfo:
    """One audit run. `status` is `running` until `finish_run`."""

    id: int
    started: float
    finished: float | None
    status: str
    options: dict


@dataclass(frozen=True)
class RunHost:
    """How one host fared in one run: `ok`, `incomplete`, `unreachable` or `error`, how long it
    took and each collector's (name, status, error)."""

    run: int
    host: str
    status: str
    error: str = ""
    duration: float = 0.0
    collectors: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True)
class StoredFinding:
    """A finding as recorded for a run, with the rule and level analysis gave it (if any)."""

    id: int
    run: int | None
    finding: Finding
    rule: int | None
    level: int | None
    created: float
    description: str = ""


@dataclass(frozen=True)
class StoredEvent:
    """An event as recorded (the `extra` mapping round-trips through JSON)."""

    id: int
    time: float
    host: str
    location: str
    source: str
    text: str
    extra: dict


@dataclass(frozen=True)
class StoredAlert:
    """An alert as recorded: its rule, level and the text and location of its event."""

    id: int
    time: float
    rule_id: int
    level: int
    description: str
    host: str
    location: str
    text: str
    groups: tuple[str, ...]
    fields: dict
    run: int | None = None
    alert: dict | None = None
    """The whole alert as `ospatrol.model.to_dict` gave it (None for alerts stored before
    schema 5); `ospatrol.model.from_dict(Alert, ...)` rebuilds it."""

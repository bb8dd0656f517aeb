"""Records the store reads and writes: rows as frozen dataclasses, no SQL here."""

from __future__ import annotations

from dataclasses import dataclass

from ospatrol.model import Finding

RUN_HOST_STATUSES = ("ok", "incomplete", "unreachable", "error")


@dataclass(frozen=True)
class FileEntry:
    """One file's state as FIM saw it: what `find -printf`/`stat` lists, plus its hashes.

    `type` is find's `%y` letter (`f` file, `d` directory, `l` symlink, `p`, `s`, `c`, `b`).
    `mode` holds the permission bits (e.g. 0o644); times are seconds since the epoch.
    Hashes are None for entries that are not regular files or were not hashed.
    """

    path: str
    type: str
    size: int
    mode: int
    uid: int
    gid: int
    owner: str = ""
    group: str = ""
    mtime: float = 0.0
    inode: int = 0
    link_target: str = ""
    sha256: str | None = None
    sha1: str | None = None
    md5: str | None = None
    ctime: float = 0.0
    """Inode change time: moves on any content or attribute change, and cannot be set back."""


@dataclass(frozen=True)
class FileContent:
    """A small text file's last known content, already masked, for `report_changes` diffs."""

    path: str
    content: bytes
    size: int
    """Size of the original file; larger than `len(content)` when the content was capped."""


@dataclass(frozen=True)
class CommandOutput:
    """The last output of one command on one host (already scrubbed of secrets)."""

    host: str
    command: str
    output: str
    sha256: str
    updated: float


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
    """How one host fared in one run: `ok`, `incomplete`, `unreachable` or `error`."""

    run: int
    host: str
    status: str
    error: str = ""


@dataclass(frozen=True)
class StoredFinding:
    """A finding as recorded for a run, with the rule and level analysis gave it (if any)."""

    id: int
    run: int | None
    finding: Finding
    rule: int | None
    level: int | None
    created: float


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

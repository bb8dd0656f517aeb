"""Records the store reads and writes: rows as frozen dataclasses, no SQL here.

FIM baselines also exist as `FimRecord`s, plain tuples of strings in listing order: FIM handles a
thousand entries per host per audit, and building, comparing and storing tuples costs a fraction
of doing so with dataclasses. `entry_record` and `record_entry` convert between the two.
"""

from __future__ import annotations

from dataclasses import dataclass

from ospatrol.model import Finding

RUN_HOST_STATUSES = ("ok", "incomplete", "unreachable", "error")
"""How a host fared in a run, best to worst (`ospatrol.audit.records.HOST_STATUSES`)."""


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


FimRecord = tuple[str, ...]
"""One FIM entry as strings: path, size, mode (octal), uid, gid, mtime, ctime, inode, type, link
target (GNU find's `-printf` order), then owner, group, sha256, sha1, md5 ("" for no hash).

Equal records mean equal entries; unequal records may still be equal entries (`1.5` and `1.50`),
so differences are judged on `FileEntry`s (`record_entry`)."""

RECORD_FIELDS = 15
R_PATH, R_SIZE, R_MODE, R_UID, R_GID, R_MTIME, R_CTIME, R_INODE, R_TYPE, R_LINK = range(10)
R_OWNER, R_GROUP, R_SHA256, R_SHA1, R_MD5 = range(10, 15)


def record_entry(r: FimRecord) -> FileEntry:
    """The `FileEntry` a record stands for."""
    return FileEntry(
        path=r[R_PATH],
        type=r[R_TYPE],
        size=int(r[R_SIZE]),
        mode=int(r[R_MODE], 8),
        uid=int(r[R_UID]),
        gid=int(r[R_GID]),
        owner=r[R_OWNER],
        group=r[R_GROUP],
        mtime=float(r[R_MTIME]),
        inode=int(r[R_INODE]),
        link_target=r[R_LINK],
        sha256=r[R_SHA256] or None,
        sha1=r[R_SHA1] or None,
        md5=r[R_MD5] or None,
        ctime=float(r[R_CTIME]),
    )


def entry_record(e: FileEntry) -> FimRecord:
    """The record of a `FileEntry` (`record_entry(entry_record(e)) == e`)."""
    return (
        e.path,
        str(e.size),
        format(e.mode, "o"),
        str(e.uid),
        str(e.gid),
        repr(float(e.mtime)),
        repr(float(e.ctime)),
        str(e.inode),
        e.type,
        e.link_target,
        e.owner,
        e.group,
        e.sha256 or "",
        e.sha1 or "",
        e.md5 or "",
    )


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

"""FIM's own record format: `FileEntry` and the packed `FimRecord` tuples of a baseline.

FIM handles a thousand entries per host per audit; building, comparing and storing plain tuples of
strings in listing order costs a fraction of doing so with dataclasses, so baselines are
`FimRecord`s and `entry_record` / `record_entry` convert. A baseline is stored as one blob
(`pack`), which only this module reads and writes: the store keeps the bytes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ospatrol.errors import OSPatrolError


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


class CorruptSnapshot(OSPatrolError):
    """A stored FIM baseline that does not unpack into whole records."""


def pack(records: Iterable[FimRecord]) -> bytes:
    """Records as one blob: every field, NUL-separated (no path or name can hold a NUL)."""
    # Joined a record at a time: faster than one join over a chain of every field.
    return "\0".join(map("\0".join, records)).encode("utf-8", "surrogateescape")


def unpack(blob: bytes) -> dict[str, FimRecord]:
    """The records of a `pack`ed blob, by path."""
    fields = bytes(blob).decode("utf-8", "surrogateescape").split("\0")
    if len(fields) % RECORD_FIELDS:
        raise CorruptSnapshot(f"corrupt FIM baseline: {len(fields)} fields")
    return {r[0]: r for r in zip(*[iter(fields)] * RECORD_FIELDS, strict=True)}

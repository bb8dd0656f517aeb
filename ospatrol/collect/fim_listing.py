"""The remote commands FIM runs and the parsing of their output: plain functions, no I/O.

Listing: ONE command lists every watched entry NUL-separated (names with newlines, spaces and
quotes survive), then prints an end marker; a listing without it was cut short. GNU find does it
with `-printf`; busybox and BSD, whose find lacks `-printf`, run `stat` per entry through
`find -exec sh -c ... {} +`. Hashing: only the entries that need it, passed as quoted arguments in
chunks (one command per chunk); GNU uses `sha256sum -z`, the others a loop over the files.
Every path is quoted with `shlex.quote`.
"""

from __future__ import annotations

import re
import shlex
import stat
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from ospatrol.collect.checks import FimProfile
from ospatrol.store import FileEntry

END = "__OSPATROL_END__"
ALG = "__OSPATROL_ALG__"
CHUNK_BYTES = 64 * 1024
"""Argument bytes per hashing command: far below ARG_MAX and sshd's packet limits."""

# No %u/%g: find looks the names up for every entry (4x slower on 10k files); they are
# resolved once per unseen id instead (`names_command`).
_GNU_FORMAT = r"%p\0%s\0%m\0%U\0%G\0%T@\0%C@\0%i\0%y\0%l\0"
_GNU_FIELDS = 10
# Per entry: "<stat line>\n<path>\0<link target>\0"; the stat line has no user-controlled text.
_STAT_FORMATS = {
    "busybox": "%s %a %u %g %U %G %Y %Z %i %F",
    "bsd": "%z %Lp %u %g %Su %Sg %m %c %i %HT",
}
_STAT_OPTION = {"busybox": "-c", "bsd": "-f"}
_TYPE_NAMES = {
    "regular file": "f",
    "regular empty file": "f",
    "directory": "d",
    "symbolic link": "l",
    "fifo": "p",
    "socket": "s",
    "character special file": "c",
    "block special file": "b",
    "character device": "c",
    "block device": "b",
}
_HASH_TOOLS = {
    "busybox": {"sha256": "sha256sum", "sha1": "sha1sum", "md5": "md5sum"},
    "bsd": {"sha256": "sha256 -q", "sha1": "sha1 -q", "md5": "md5 -q"},
}
_END_RE = re.compile(rb"^" + END.encode() + rb" (\d+)\n?$")


class ListingError(ValueError):
    """The listing is incomplete or unreadable: the reason starts with `truncated listing`."""


def _prunes(profile: FimProfile) -> list[str]:
    """find primaries that prune the glob excludes (regexes are applied client-side only)."""
    tests = []
    for ex in profile.exclude:
        if ex.regex:
            continue
        tests.append(f"{'-path' if '/' in ex.pattern else '-name'} {shlex.quote(ex.pattern)}")
    return tests


def listing_command(profile: FimProfile) -> str:
    """One shell command listing every watched path, then `END <status>`."""
    prunes = _prunes(profile)
    if profile.tools == "gnu":
        action = f"-printf {shlex.quote(_GNU_FORMAT)}"
    else:
        fmt = _STAT_FORMATS[profile.tools]
        option = _STAT_OPTION[profile.tools]
        script = (
            # Paths from find start with "/" (watched paths are absolute): no "--" needed,
            # which busybox's readlink lacks.
            f'for f do stat {option} "{fmt}" "$f" && '
            'printf "%s\\0%s\\0" "$f" "$(readlink "$f")"; done'
        )
        action = f"-exec sh -c {shlex.quote(script)} sh {{}} +"
    finds = []
    for watched in profile.paths:
        depth = "" if watched.recurse else " -maxdepth 1"
        prune = f" \\( {' -o '.join(prunes)} \\) -prune -o" if prunes else ""
        finds.append(f"find {shlex.quote(watched.path)}{depth}{prune} {action} 2>/dev/null")
    body = "; ".join(f"{f} || s=$?" for f in finds)
    return f"s=0; {body}; printf '\\n{END} %s\\n' \"$s\""


def _split_end(output: bytes) -> bytes:
    body, sep, tail = output.rpartition(b"\n" + END.encode())
    match = _END_RE.match(END.encode() + tail) if sep else None
    if match is None:
        raise ListingError("truncated listing: end marker missing")
    if int(match.group(1)) in (126, 127):
        # The shell could not run find/stat: an empty listing would read as "all deleted".
        raise ListingError("error: find or stat cannot be run on the host")
    return body


def parse_listing(output: bytes, tools: str) -> list[FileEntry]:
    """Entries from a `listing_command` output; `ListingError` if it is cut short or malformed.

    `ListingError` messages start with the reason of the "scan incomplete" event.
    """
    body = _split_end(output)
    if not body:
        return []
    if not body.endswith(b"\0"):
        raise ListingError("truncated listing: last entry incomplete")
    fields = body[:-1].split(b"\0")
    try:
        if tools == "gnu":
            return list(_parse_gnu(fields))
        return list(_parse_stat(fields, tools))
    except (ValueError, IndexError) as exc:
        raise ListingError(f"truncated listing: malformed entry ({exc})") from None


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _parse_gnu(fields: list[bytes]) -> Iterator[FileEntry]:
    if len(fields) % _GNU_FIELDS:
        raise ValueError(f"{len(fields)} fields is not a multiple of {_GNU_FIELDS}")
    for i in range(0, len(fields), _GNU_FIELDS):
        path, size, mode, uid, gid, mtime, ctime, inode, kind, link = fields[i : i + _GNU_FIELDS]
        yield FileEntry(
            path=_text(path),
            type=_text(kind),
            size=int(size),
            mode=int(mode, 8),
            uid=int(uid),
            gid=int(gid),
            mtime=float(mtime),
            inode=int(inode),
            link_target=_text(link),
            ctime=float(ctime),
        )


def names_command(uids: Iterable[int], gids: Iterable[int]) -> str:
    """Look up user and group names of numeric ids (one `getent` each, separated by a marker)."""
    users = " ".join(str(u) for u in sorted(uids)) or "-"
    groups = " ".join(str(g) for g in sorted(gids)) or "-"
    return f"getent passwd {users}; printf '{ALG}\\n'; getent group {groups}; true"


def parse_names(output: bytes) -> tuple[dict[int, str], dict[int, str]]:
    """({uid: name}, {gid: name}) from `names_command` output; unknown ids are left out."""
    users_part, _, groups_part = _text(output).partition(ALG + "\n")

    def table(text: str) -> dict[int, str]:
        names: dict[int, str] = {}
        for line in text.splitlines():
            fields = line.split(":")
            if len(fields) >= 3 and fields[2].isdigit():
                names[int(fields[2])] = fields[0]
        return names

    return table(users_part), table(groups_part)


def _parse_stat(fields: list[bytes], tools: str) -> Iterator[FileEntry]:
    if len(fields) % 2:
        raise ValueError("odd number of fields")
    for i in range(0, len(fields), 2):
        head, _, path = fields[i].partition(b"\n")
        parts = _text(head).split(" ", 9)
        size, mode, uid, gid, user, group, mtime, ctime, inode, kind = parts
        yield FileEntry(
            path=_text(path),
            type=_TYPE_NAMES.get(kind.strip().lower(), "?"),
            size=int(size),
            mode=int(mode, 8) & 0o7777,
            uid=int(uid),
            gid=int(gid),
            owner=user,
            group=group,
            mtime=float(mtime),
            inode=int(inode),
            link_target=_text(fields[i + 1]),
            ctime=float(ctime),
        )


def permissions(mode: int) -> str:
    """`rw-r--r--` (with s/t bits), as OSSEC's syscheck prints permissions."""
    return stat.filemode(stat.S_IFREG | mode)[1:]


@dataclass(frozen=True)
class HashBatch:
    """One hashing command and the paths it covers."""

    command: str
    paths: tuple[str, ...]


def hash_commands(paths: Sequence[str], hashes: Iterable[str], tools: str) -> list[HashBatch]:
    """Commands hashing `paths` with every algorithm in `hashes`, chunked by argument size."""
    algorithms = tuple(hashes)
    batches: list[HashBatch] = []
    chunk: list[str] = []
    size = 0
    for path in paths:
        quoted = len(shlex.quote(path)) + 1
        if chunk and size + quoted > CHUNK_BYTES:
            batches.append(_hash_batch(chunk, algorithms, tools))
            chunk, size = [], 0
        chunk.append(path)
        size += quoted
    if chunk:
        batches.append(_hash_batch(chunk, algorithms, tools))
    return batches


def _hash_batch(paths: list[str], algorithms: tuple[str, ...], tools: str) -> HashBatch:
    args = " ".join(shlex.quote(p) for p in paths)
    parts = []
    for alg in algorithms:
        parts.append(f"printf '{ALG} {alg}\\0'")
        if tools == "gnu":
            parts.append(f"{alg}sum -z -- {args} 2>/dev/null")
        else:
            tool = _HASH_TOOLS[tools][alg]
            parts.append(
                f'for f in {args}; do h=$({tool} < "$f" 2>/dev/null) && '
                'printf "%s  %s\\0" "${h%% *}" "$f"; done'
            )
    parts.append(f"printf '{END} 0\\n'")
    return HashBatch("; ".join(parts), tuple(paths))


def parse_hashes(output: bytes) -> dict[str, dict[str, str]]:
    """{algorithm: {path: hex}} from a hashing command; `ListingError` if cut short."""
    if not output.endswith(f"{END} 0\n".encode()):
        raise ListingError("truncated listing: hashing output cut short")
    result: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for record in output[: -len(f"{END} 0\n")].split(b"\0"):
        if not record:
            continue
        if record.startswith(ALG.encode() + b" "):
            current = result.setdefault(_text(record[len(ALG) + 1 :]), {})
            continue
        digest, sep, path = record.partition(b"  ")
        if current is None or not sep or not re.fullmatch(rb"[0-9a-f]+", digest):
            raise ListingError("truncated listing: malformed hash record")
        current[_text(path)] = digest.decode()
    return result


def content_command(path: str, cap: int) -> str:
    """At most `cap + 1` bytes of a file (one more than kept, to tell "too large")."""
    return f"head -c {cap + 1} -- {shlex.quote(path)}"

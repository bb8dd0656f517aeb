"""The remote commands FIM runs and the parsing of their output: plain functions, no I/O.

Listing: ONE command lists every watched entry NUL-separated (names with newlines, spaces and
quotes survive), then prints an end marker; a listing without it was cut short. GNU find does it
with `-printf`; busybox and BSD, whose find lacks `-printf`, run `stat` per entry through
`find -exec sh -c ... {} +`. On a first scan the GNU listing also looks up the names of the uids
and gids it lists (a second `find` for the ids, one `getent` each), so no command is spent on
names. Hashing: only the entries that need it, passed as quoted arguments in chunks (one command
per chunk); GNU uses `sha256sum -z`, the others a loop over the files. Every path is quoted with
`shlex.quote`.

Entries come out as `FimRecord` prefixes (tuples of strings, see `ospatrol.store.records`): a
thousand of them are split, checked and keyed in a few C-level passes, with no object per field.
"""

from __future__ import annotations

import re
import shlex
import stat
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ospatrol.collect.fim_records import FileEntry, record_entry
from ospatrol.profiles.fim import FimProfile

END = "__OSPATROL_END__"
ALG = "__OSPATROL_ALG__"
NAMES = "__OSPATROL_NAMES__"
CHUNK_BYTES = 64 * 1024
"""Argument bytes per hashing command: far below ARG_MAX and sshd's packet limits."""
DEEP_PATH = 1000
"""Bytes of a path from which it is hashed by `cd` in steps: PATH_MAX is 4096 on Linux and
1024 on the BSDs; longer paths cannot be opened whole."""

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
# Numeric columns of a listing, each column's values joined by newlines.
_TIMES_RE = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:\n-?[0-9]+(?:\.[0-9]+)?)*")
_SAFE_PATHS_RE = re.compile(r"[\w@%+=:,./-]*", re.ASCII)
"""What `shlex.quote` leaves unquoted."""


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


def _finds(
    profile: FimProfile, action: str, prunes: list[str] | None = None, *, follow: bool = False
) -> list[str]:
    """One `find` per watched path, pruning the glob excludes, running `action` per entry.

    A watched path that is a symlink is followed, as OSSEC's `follow_symbolic_link`: the link
    itself is listed, then the tree it points to, under the link's path (`follow`: only the
    tree, for passes that test directories), unless that tree is watched already (merged /usr:
    `/bin -> usr/bin` is listed once, under /usr/bin). busybox find has no `-H`: there the link
    alone."""
    prunes = _prunes(profile) if prunes is None else prunes
    prune = f" \\( {' -o '.join(prunes)} \\) -prune -o" if prunes else ""
    finds = []
    for watched in profile.paths:
        path = shlex.quote(watched.path)
        depth = "" if watched.recurse else " -maxdepth 1"
        if profile.tools == "busybox":
            finds.append(f"find {path}{depth}{prune} {action} 2>/dev/null")
        elif follow:
            finds.append(f"find -H {path}{depth}{prune} {action} 2>/dev/null")
        else:
            others = [w.path.rstrip("/") or "/" for w in profile.paths if w != watched]
            watched_already = "|".join(
                f"{shlex.quote(o)}|{shlex.quote(o.rstrip('/'))}/*" for o in others
            )
            tree = f"find -H {path} -mindepth 1{depth}{prune} {action}"
            if watched_already:
                tree = f'case "$(readlink -f {path})" in {watched_already}) ;; *) {tree};; esac'
            finds.append(
                f"if [ -h {path} ]; then find {path} -maxdepth 0 {action} && {tree}; "
                f"else find {path}{depth}{prune} {action}; fi 2>/dev/null"
            )
    return finds


def listing_command(profile: FimProfile, *, first: bool = False, token: str = "") -> str:
    """One shell command listing every watched path, then `END <status>`.

    With a `token` (random: no file name can forge the markers holding it; GNU only), a listing
    whose `find` failed (status not 0) is followed by the directories the audit user cannot
    read or enter (an unreadable subtree is kept from the baseline, never "deleted"), and with
    `first` (a host without baseline; stat prints names itself) by the hashes of the regular
    files no exclude may drop (`first_scan_prunes`, when `inline_hashing`) and a `NAMES`
    section: `getent passwd` and `getent group` of every uid and gid listed. A first scan then
    needs no other command, except to hash files the inline pass left out.
    """
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
    body = "; ".join(f"{f} || s=$?" for f in _finds(profile, action))
    section = ""
    if token and profile.tools == "gnu":
        # Only when find reported an error: an audit that can read everything pays nothing.
        unreadable = "-type d ! \\( -readable -executable \\) -prune -printf '%p\\0'"
        body += (
            f"; [ \"$s\" = 0 ] || {{ printf '%s\\0' {_unreadable_marker(token)}; "
            + "; ".join(_finds(profile, unreadable, follow=True))
            + "; }"
        )
    if lists_names(profile, first=first):
        if token and inline_hashing(profile):
            prunes = first_scan_prunes(profile) or []
            section += f"; printf '%s\\0' {_hash_marker(token)}"
            for alg in profile.hashes:
                hashing = f"-type f -exec {alg}sum -z -- {{}} +"
                section += f"; printf '{ALG} {alg}\\0'; " + "; ".join(
                    _finds(profile, hashing, prunes)
                )
        ids = " ; ".join(_finds(profile, "-printf 'u%U\\ng%G\\n'"))
        section += (
            f"; printf '{NAMES}\\n'; i=$( ( {ids} ) | sort -u ); u=; g=; "
            'for x in $i; do case $x in u*) u="$u ${x#u}";; g*) g="$g ${x#g}";; esac; done; '
            f'[ -z "$u" ] || getent passwd $u; printf \'{ALG}\\n\'; [ -z "$g" ] || getent group $g'
        )
    # From /: find -exec must be able to return to where it started (a home it cannot read).
    command = f"cd /; s=0; {body}{section}; printf '\\n{END} %s\\n' \"$s\""
    return _compressed(command) if section else _buffered(command)


def lists_names(profile: FimProfile, *, first: bool) -> bool:
    """Whether `listing_command` ends with a `NAMES` section (a first GNU scan: stat prints names
    itself)."""
    return first and profile.tools == "gnu"


def inline_hashing(profile: FimProfile) -> bool:
    """Whether a first scan can hash in its listing command (give `listing_command` a token)."""
    return profile.tools == "gnu" and first_scan_prunes(profile) is not None


def _hash_marker(token: str) -> str:
    return f"__OSPATROL_HASHES_{token}__"


def _unreadable_marker(token: str) -> str:
    return f"__OSPATROL_UNREADABLE_{token}__"


def first_scan_prunes(profile: FimProfile) -> list[str] | None:
    """find primaries pruning everything an exclude may drop, for hashing on a first scan.

    More than the excludes may be pruned (what is left unhashed is hashed afterwards), never
    less: hashing an excluded file could mean reading a huge tree the operator left out. Name
    globs prune by name; path globs, searched anywhere in the path, prune `*glob`; a regex must
    be anchored (`^...`) and is pruned by its literal start. None when that cannot be done
    (an unanchored regex, a backslash in a glob: fnmatch and find differ there).
    """
    prunes = []
    for ex in profile.exclude:
        if ex.regex:
            prefix = anchored_prefix(ex.pattern)
            if prefix is None:
                return None
            prunes.append(f"-path {shlex.quote(_glob_escape(prefix) + '*')}")
        elif "\\" in ex.pattern:
            return None
        elif "/" in ex.pattern:
            prunes.append(f"-path {shlex.quote('*' + ex.pattern)}")
        else:
            prunes.append(f"-name {shlex.quote(ex.pattern)}")
    return prunes


def _glob_escape(text: str) -> str:
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


_REGEX_SPECIAL = set(".^$*+?{}[]|()")


def anchored_prefix(pattern: str) -> str | None:
    """The literal text every match of `pattern` (searched) starts with, or None if it has none.

    Only a pattern anchored at the start (`^`, `\\A`) without top-level alternation has one;
    the prefix stops at the first construct that is not a plain or escaped literal.
    """
    if pattern.startswith("^"):
        i = 1
    elif pattern.startswith("\\A"):
        i = 2
    else:
        return None
    if _top_level_alternation(pattern):
        return None
    prefix: list[str] = []
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            nxt = pattern[i + 1 : i + 2]
            if not nxt or nxt.isalnum() or nxt == "_":
                break
            prefix.append(nxt)
            i += 2
            continue
        if c in _REGEX_SPECIAL:
            if c in "*?{" and prefix:
                prefix.pop()  # the last literal may repeat zero times
            break
        prefix.append(c)
        i += 1
    return "".join(prefix)


def _top_level_alternation(pattern: str) -> bool:
    depth, i, in_class = 0, 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
            if pattern[i + 1 : i + 2] == "]":
                i += 1  # a leading ] is a member
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            return True
        i += 1
    return False


def _compressed(command: str) -> str:
    """`command` with its output gzipped when the host has gzip (see `inflate`).

    For a first scan's listing, hashes and names (~200 bytes a file): the client's share of
    moving them (decryption, packets) costs more than inflating a third of the bytes.
    """
    return f"( {command} ) | ( gzip -1 2>/dev/null || dd obs=65536 2>/dev/null || cat )"


def inflate(output: bytes, cap: int) -> bytes:
    """`output` as the command wrote it: gunzipped if it is gzip (listings never start with
    0x1f), at most `cap` bytes (`ListingError` past it: a host cannot make us inflate a bomb)."""
    if not output.startswith(b"\x1f\x8b"):
        return output
    inflater = zlib.decompressobj(wbits=31)
    try:
        data = inflater.decompress(output, cap)
    except zlib.error as exc:
        raise ListingError(f"truncated listing: bad compressed output ({exc})") from None
    if inflater.unconsumed_tail:
        raise ListingError("truncated listing: output over the size cap")
    if not inflater.eof:
        raise ListingError("truncated listing: compressed output cut short")
    return data


def _buffered(command: str) -> str:
    """`command` with its output written in 64 KiB blocks.

    find and sha256sum write to a pipe 4 KiB at a time, and sshd sends what it reads: a listing
    would cross in ~30 small packets, each costing the client a decryption and a dispatch. `dd`
    with an output block size regroups them; without a usable `dd`, `cat` passes the output on.
    """
    return f"( {command} ) | ( dd obs=65536 2>/dev/null || cat )"


@dataclass(frozen=True)
class Listing:
    """A complete listing output, split: the entries (raw), find's status and, on a first
    scan, names and hashes."""

    body: bytes
    status: int
    users: dict[str, str] | None = None
    groups: dict[str, str] = field(default_factory=dict)
    hashes: dict[str, dict[str, str]] | None = None
    unreadable: tuple[str, ...] = ()
    """Directories find could not read or enter: what is below them is not in `body`."""

    @property
    def identity(self) -> bytes:
        """What identifies the listed state: the entries, the status and the directories that
        could not be read, not the names."""
        gaps = "\0".join(self.unreadable).encode("utf-8", "surrogateescape")
        return b"%d\0" % self.status + self.body + b"\0\0" + gaps


def split_listing(
    output: bytes, token: str = "", *, names: bool = True, hashes: bool = False
) -> Listing:
    """The parts of a `listing_command` output; `ListingError` if it is cut short.

    `names`: look for the `NAMES` section (`lists_names`). Where the command printed none, a
    symlink target that looks like its marker must stay an entry's field. `hashes`: the
    command hashed inline (a first scan with `inline_hashing`); `token`: the one it was given."""
    body, status = _split_end(output)
    users, groups = None, {}
    marker = NAMES.encode() + b"\n"
    if names and body.startswith(marker):
        body, section = b"", body[len(marker) :]
        users, groups = parse_names(section)
    elif names:
        entries, sep, section = body.rpartition(b"\0" + marker)
        if sep:
            body = entries + b"\0"
            users, groups = parse_names(section)
    digests = None
    if token and hashes:
        body, found = _split_section(body, _hash_marker(token))
        if found is None:
            raise ListingError("truncated listing: hashes missing")
        digests = _parse_hash_sections(_text(found))
    unreadable: tuple[str, ...] = ()
    if token:
        body, gaps = _split_section(body, _unreadable_marker(token))
        if gaps:
            if not gaps.endswith(b"\0"):
                raise ListingError("truncated listing: unreadable directories cut short")
            unreadable = tuple(_text(gaps[:-1]).split("\0"))
    if body and not body.endswith(b"\0"):
        raise ListingError("truncated listing: last entry incomplete")
    return Listing(body, status, users, groups, digests, unreadable)


def _split_section(body: bytes, marker: str) -> tuple[bytes, bytes | None]:
    """(what precedes the section `marker` starts, the section) or (body, None) without one.

    Entries end with a NUL, so the marker follows one (or starts an empty listing)."""
    head = marker.encode() + b"\0"
    if body.startswith(head):
        return b"", body[len(head) :]
    entries, sep, section = body.partition(b"\0" + head)
    return (entries + b"\0", section) if sep else (body, None)


def _split_end(output: bytes) -> tuple[bytes, int]:
    body, sep, tail = output.rpartition(b"\n" + END.encode())
    match = _END_RE.match(END.encode() + tail) if sep else None
    if match is None:
        raise ListingError("truncated listing: end marker missing")
    status = int(match.group(1))
    if status in (126, 127):
        # The shell could not run find/stat: an empty listing would read as "all deleted".
        raise ListingError("error: find or stat cannot be run on the host")
    return body, status


def listing_records(listing: Listing, tools: str) -> list[tuple[str, ...]]:
    """The entries as `FimRecord` prefixes: the first 10 fields, plus owner and group for stat.

    `ListingError` if an entry is malformed.
    """
    if not listing.body:
        return []
    fields = listing.body[:-1].decode("utf-8", "surrogateescape").split("\0")
    try:
        if tools == "gnu":
            return _parse_gnu(fields)
        return _parse_stat(fields, tools)
    except (ValueError, IndexError) as exc:
        raise ListingError(f"truncated listing: malformed entry ({exc})") from None


def parse_listing(output: bytes, tools: str) -> list[FileEntry]:
    """Entries from a `listing_command` output; `ListingError` if it is cut short or malformed.

    `ListingError` messages start with the reason of the "scan incomplete" event.
    """
    blank = ("",) * 5
    return [
        record_entry(r[:10] + (r[10:] or ("", "")) + blank[2:])
        for r in listing_records(split_listing(output), tools)
    ]


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _check_digits(column: list[str], what: str, octal: bool = False) -> None:
    """Every value non-empty ASCII digits (octal ones with `octal`), by C string methods."""
    if not column:
        return
    joined = "".join(column)
    if not (joined.isascii() and joined.isdigit()) or "" in column:
        raise ValueError(f"bad {what}")
    if octal and ("8" in joined or "9" in joined):
        raise ValueError(f"bad {what}")


_DIGITS = str.maketrans("", "", "0123456789")


def _check_times(column: list[str]) -> None:
    """Every value a decimal number `float` reads. find prints `digits.digits`: with the digits
    deleted the column is one dot per value (and no value is a lone dot), a check 3x faster
    than the regex (`-?digits[.digits]`) it falls back to; `float` on find's 20-digit times is
    slower still."""
    if not column:
        return
    joined = "\n".join(column)
    if joined.translate(_DIGITS) == ".\n" * (len(column) - 1) + "." and "." not in column:
        return
    if _TIMES_RE.fullmatch(joined) is None:
        raise ValueError("bad time")


def _parse_gnu(fields: list[str]) -> list[tuple[str, ...]]:
    if len(fields) % _GNU_FIELDS:
        raise ValueError(f"{len(fields)} fields is not a multiple of {_GNU_FIELDS}")
    # Checked a column at a time (C-level passes) instead of a conversion per value.
    for start, what in ((1, "size"), (3, "uid"), (4, "gid"), (7, "inode")):
        _check_digits(fields[start::_GNU_FIELDS], what)
    _check_digits(fields[2::_GNU_FIELDS], "mode", octal=True)
    _check_times(fields[5::_GNU_FIELDS])
    _check_times(fields[6::_GNU_FIELDS])
    return list(zip(*[iter(fields)] * _GNU_FIELDS, strict=True))


def names_command(uids: Iterable[str], gids: Iterable[str]) -> str:
    """Look up user and group names of numeric ids (one `getent` each, separated by a marker)."""
    users = " ".join(sorted(uids, key=int)) or "-"
    groups = " ".join(sorted(gids, key=int)) or "-"
    return f"getent passwd {users}; printf '{ALG}\\n'; getent group {groups}; true"


def parse_names(output: bytes) -> tuple[dict[str, str], dict[str, str]]:
    """({uid: name}, {gid: name}) from `names_command` output, ids as listed (decimal strings).

    Unknown ids are left out; for an id listed twice the first entry counts, as for getpwuid.
    """
    users_part, _, groups_part = _text(output).partition(ALG + "\n")

    def table(text: str) -> dict[str, str]:
        names: dict[str, str] = {}
        for line in text.splitlines():
            fields = line.split(":")
            if len(fields) >= 3 and fields[2].isascii() and fields[2].isdigit():
                names.setdefault(str(int(fields[2])), fields[0])
        return names

    return table(users_part), table(groups_part)


def _parse_stat(fields: list[str], tools: str) -> list[tuple[str, ...]]:
    if len(fields) % 2:
        raise ValueError("odd number of fields")
    records = []
    for i in range(0, len(fields), 2):
        head, _, path = fields[i].partition("\n")
        size, mode, uid, gid, user, group, mtime, ctime, inode, kind = head.split(" ", 9)
        records.append(
            (
                path,
                str(int(size)),
                format(int(mode, 8) & 0o7777, "o"),
                str(int(uid)),
                str(int(gid)),
                repr(float(mtime)),
                repr(float(ctime)),
                str(int(inode)),
                _TYPE_NAMES.get(kind.strip().lower(), "?"),
                fields[i + 1],
                user,
                group,
            )
        )
    return records


def permissions(mode: int) -> str:
    """`rw-r--r--` (with s/t bits), as OSSEC's syscheck prints permissions."""
    return stat.filemode(stat.S_IFREG | mode)[1:]


@dataclass(frozen=True)
class HashBatch:
    """One hashing command and the paths it covers."""

    command: str
    paths: tuple[str, ...]


def hash_commands(paths: Sequence[str], hashes: Iterable[str], tools: str) -> list[HashBatch]:
    """Commands hashing `paths` with every algorithm in `hashes`, chunked by argument size.

    Only what is a regular file when it is hashed (not a FIFO, device or link that replaced it
    since the listing: reading one could block or never end). Paths longer than `DEEP_PATH`
    bytes (past PATH_MAX the kernel refuses them) are hashed from their directory, reached by
    `cd` in steps."""
    algorithms = tuple(hashes)
    deep = [p for p in paths if len(p.encode("utf-8", "surrogateescape")) > DEEP_PATH]
    if deep:
        shallow = [p for p in paths if len(p.encode("utf-8", "surrogateescape")) <= DEEP_PATH]
        return [
            *hash_commands(shallow, algorithms, tools),
            *(_deep_batch(p, algorithms, tools) for p in deep),
        ]
    # Most trees need no quoting at all: one regex over every path tells.
    safe = all(paths) and _SAFE_PATHS_RE.fullmatch("/".join(paths)) is not None
    quoted = list(paths) if safe else [shlex.quote(p) for p in paths]
    batches: list[HashBatch] = []
    start = size = 0
    for i, arg in enumerate(quoted):
        if i > start and size + len(arg) + 1 > CHUNK_BYTES:
            batches.append(_hash_batch(paths[start:i], quoted[start:i], algorithms, tools))
            start, size = i, 0
        size += len(arg) + 1
    if start < len(quoted):
        batches.append(_hash_batch(paths[start:], quoted[start:], algorithms, tools))
    return batches


def _hash_batch(
    paths: Sequence[str], quoted: Sequence[str], algorithms: tuple[str, ...], tools: str
) -> HashBatch:
    args = " ".join(quoted)
    parts = ["cd /"]  # see listing_command
    for alg in algorithms:
        parts.append(f"printf '{ALG} {alg}\\0'")
        if tools == "gnu":
            # Paths are absolute: find takes none of them for an option or an operator.
            parts.append(f"find {args} -maxdepth 0 -type f -exec {alg}sum -z -- {{}} + 2>/dev/null")
        else:
            tool = _HASH_TOOLS[tools][alg]
            parts.append(
                f'for f in {args}; do [ -f "$f" ] && [ ! -h "$f" ] && '
                f'h=$({tool} < "$f" 2>/dev/null) && printf "%s  %s\\0" "${{h%% *}}" "$f"; done'
            )
    parts.append(f"printf '{END} 0\\n'")
    return HashBatch(_buffered("; ".join(parts)), tuple(paths))


def _deep_batch(path: str, algorithms: tuple[str, ...], tools: str) -> HashBatch:
    """Hash one path too long for the kernel: `cd` to its directory in steps of at most
    `DEEP_PATH` bytes, then hash the name (regular files only, as `_hash_batch`)."""
    directory, _, name = path.rpartition("/")
    steps = ["/"]
    for part in filter(None, directory.split("/")):
        joined = steps[-1].rstrip("/") + "/" + part
        if len(joined.encode("utf-8", "surrogateescape")) <= DEEP_PATH:
            steps[-1] = joined
        else:
            steps.append(part)
    # -P: a relative step from where we are (without it, dash joins $PWD and the step and
    # the joined path is past PATH_MAX again)
    cd = " && ".join(f"cd -P -- {shlex.quote(step)}" for step in steps)
    here = shlex.quote("./" + name)
    parts = []
    for alg in algorithms:
        tool = f"{alg}sum" if tools != "bsd" else _HASH_TOOLS[tools][alg]
        parts.append(f"printf '{ALG} {alg}\\0'")
        parts.append(
            f"( {cd} && [ -f {here} ] && [ ! -h {here} ] && h=$({tool} < {here}) && "
            f'printf "%s  %s\\0" "${{h%% *}}" {shlex.quote(path)} ) 2>/dev/null'
        )
    parts.append(f"printf '{END} 0\\n'")
    return HashBatch(_buffered("; ".join(parts)), (path,))


def parse_hashes(output: bytes) -> dict[str, dict[str, str]]:
    """{algorithm: {path: hex}} from a hashing command; `ListingError` if cut short."""
    tail = f"{END} 0\n".encode()
    if not output.endswith(tail):
        raise ListingError("truncated listing: hashing output cut short")
    return _parse_hash_sections(_text(output[: -len(tail)]))


def _parse_hash_sections(text: str) -> dict[str, dict[str, str]]:
    """Sections (`ALG <alg>`, NUL) of NUL-terminated `<hex>  <path>` records."""
    result: dict[str, dict[str, str]] = {}
    # Records start with a digest, so a NUL followed by the marker starts a section whatever
    # the paths hold.
    head, *sections = ("\0" + text).split(f"\0{ALG} ")
    if head.strip("\0"):
        raise ListingError("truncated listing: malformed hash record")
    for section in sections:
        alg, *records = section.split("\0")
        if "" in records:
            records = [r for r in records if r]
        digests = result.setdefault(alg, {})
        if not records:
            continue
        # One algorithm's digests all have the same length: "<hex>  <path>".
        width = records[0].find("  ")
        hexes = [r[:width] for r in records]
        if (
            width < 1
            or "".join([r[width : width + 2] for r in records]) != "  " * len(records)
            or not _is_hex("".join(hexes))
        ):
            raise ListingError("truncated listing: malformed hash record")
        start = width + 2
        digests.update(zip([r[start:] for r in records], hexes, strict=True))
    return result


def _is_hex(text: str) -> bool:
    """Lowercase hex digits only: `fromhex` skips whitespace (caught by the length) and takes
    uppercase (caught by `lower`). A regex over the same text is 5x slower."""
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        return False
    return 2 * len(raw) == len(text) and text.lower() == text


def content_command(path: str, cap: int) -> str:
    """At most `cap + 1` bytes of a file (one more than kept, to tell "too large"), only if it
    is still a regular file (a FIFO put in its place would block the read)."""
    quoted = shlex.quote(path)
    return f"[ -f {quoted} ] && [ ! -h {quoted} ] && head -c {cap + 1} -- {quoted}"

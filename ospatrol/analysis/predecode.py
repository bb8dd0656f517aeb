"""Pre-decoding: split a raw log line into header fields and the message, as OSSEC's OS_CleanMSG.

OSSEC's ``analysisd/cleanevent.c`` recognises a handful of fixed-position timestamp layouts; only
the syslog-style ones are followed by a hostname and a program name:

==========================================  ===========================  ======================
layout (example)                            skipped                      then
==========================================  ===========================  ======================
``Dec 29 10:00:01``                         16 characters                host, program
``2015-04-16 21:51:02,805`` (proftpd)       23                           host, program
``2007-06-14T15:48:55-04:00`` (ISO 8601)    26, or 27..32 with fraction  host, program
``2015 Dec 29 10:00:01``                    21                           host, program
``2019:11:06-00:08:03`` (Sophos UTM)        20                           host, program
``Mon Apr 17 18:27:14 2006`` (xferlog)      24                           --
``01/28-09:13:16.240702`` (snort)           23                           --
``01/28/1979-09:13:16.240702`` (suricata)   28                           --
``[Fri Feb 11 18:06:35 2004]`` (apache)     27                           --
``[Time 2006.12.28 15:53:55 UTC]`` (OS X)   25                           ``[Sender ..]``,
                                                                         ``[Message ..]``,
                                                                         ``[Host ..]``
``1140804070.368  11623`` (squid)           14 and following spaces      --
==========================================  ===========================  ======================

After a syslog timestamp (and one optional extra space): the hostname is a run of
``[A-Za-z0-9@_./()-]``; ``name: `` with no hostname is Solaris' program name; the program name
may carry ``[pid]`` with or without the ``:``; ``facility|prio: name`` is AIX; a Solaris
``[ID n fac.sev] `` tag after the program name is dropped from the log. Anything that does not fit
leaves the log where the scan stopped, exactly as OSSEC (so a bad program name keeps the hostname
but leaves ``program_name`` unset).

Before any of this the line is sanitised as OSSEC's OS_CleanMSG does (CVE-2020-8445 fix,
``remove_control_characters``): every control character, bytes 1-31 and 127 with tab, CR and LF
among them, is deleted (``for\\troot`` becomes ``forroot``, a CRLF line loses its CR). The line is
also cut at the first NUL, where OSSEC's C strings end, and at 65,536 characters (the engine has
cut it before, to OS_MAXSTR's 6,144 bytes less the location header: `ossec_cut`). One exception:
OSPatrol's own findings (location ``agentless:HOST:COLLECTOR``) are multi-line by design (a diff
follows the first line; the scrubber has already escaped hostile bytes in them), so they keep their
line feeds. Lines without a
hostname take ``default_hostname`` (OSSEC: the manager's name, or the agent's name for a location
like ``(agent) 10.0.0.1->/var/log/messages``).

Wazuh's dialect (``wazuh=True``, a rule set loaded from a Wazuh ``<ruleset>``) follows
wazuh-analysisd's cleanevent.c instead: control characters are kept, its own syslog timestamp
layouts are recognised (among them macOS' ``2020-03-23 06:47:42.801612-0700``), and the space
after ``program:`` or ``program[pid]:`` is optional.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from ospatrol.analysis.patterns import MAX_INPUT

_DIGITS: Final = frozenset("0123456789")
_LOWER: Final = frozenset("abcdefghijklmnopqrstuvwxyz")
_CONTROL: Final = re.compile(r"[\x01-\x1f\x7f]")
_CONTROL_BUT_LF: Final = re.compile(r"[\x01-\x09\x0b-\x1f\x7f]")
# Every control byte (NUL too) mapped to a non-ASCII one, the others to themselves: an ASCII
# line's bytes so translated are ASCII exactly when it holds no control character.
_MARK_CONTROL: Final = bytes(c | 0x80 if c < 32 or c == 127 else c for c in range(256))
_MARKED_CR: Final = ord("\r") | 0x80
# The location prefix of OSPatrol's own findings (ospatrol.collect.base.location).
OWN_FINDINGS: Final = "agentless:"
# OSSEC 4.3's OS_MAXSTR (src/headers/defs.h): analysisd's message buffer, which holds
# "1:location:", the log and a NUL.
OSSEC_MAXSTR: Final = 6144
# Wazuh 4.x's (src/headers/defs.h), read the same way (analysisd.c ad_input_main: OS_RecvUnix
# into an OS_MAXSTR buffer): bytes too.
WAZUH_MAXSTR: Final = 65536


_PREDECODED_FIELDS = (
    "full_log",
    "log",
    "hostname",
    "program_name",
    "timestamp",
    "location",
    "hostname_from_header",
    "agent_name",
)


class PreDecoded:
    """What pre-decoding learned about one log line (read-only; a plain class rather than a
    frozen dataclass or a named tuple because one is built per event, and their constructors
    run interpreted even in the compiled build).

    ``full_log`` is the whole (sanitised) line; ``log`` is what decoders and rules look at.
    ``hostname`` is never None: without one in the header it is the agent's or the default name.
    ``hostname_from_header`` tells which. ``timestamp`` is the header's timestamp text as written
    (None when no layout matched); ``agent_name`` is set for ``(agent) ...`` locations.
    """

    __slots__ = _PREDECODED_FIELDS

    def __init__(
        self,
        full_log: str,
        log: str,
        hostname: str,
        program_name: str | None,
        timestamp: str | None,
        location: str,
        hostname_from_header: bool,
        agent_name: str | None = None,
    ) -> None:
        self.full_log: Final = full_log
        self.log: Final = log
        self.hostname: Final = hostname
        self.program_name: Final = program_name
        self.timestamp: Final = timestamp
        self.location: Final = location
        self.hostname_from_header: Final = hostname_from_header
        self.agent_name: Final = agent_name

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in _PREDECODED_FIELDS)
        return f"PreDecoded({shown})"


def ossec_room(location: str, maxstr: int = OSSEC_MAXSTR) -> int:
    """How many bytes of a log OSSEC 4.3's analysisd sees from `location`: OS_MAXSTR less
    "1:location:" and the NUL (6,135 for "stdin": the pieces ossec-logtest reads, fgets into
    the buffer after "1:stdin:"); `maxstr`: another analysisd's OS_MAXSTR (`WAZUH_MAXSTR`)."""
    return max(0, maxstr - 1 - len(f"1:{location}:".encode("utf-8", "surrogateescape")))


def ossec_cut(line: str, location: str, maxstr: int = OSSEC_MAXSTR) -> str:
    """`line` cut to what OSSEC 4.3's analysisd (or the one whose OS_MAXSTR is `maxstr`) sees
    of it from `location` (`ossec_room`): bytes, so a multi-byte character at the edge keeps
    only its first bytes (as surrogate escapes, the way undecodable input bytes are kept).
    `line` itself when it fits."""
    if 4 * (len(line) + len(location)) <= maxstr - 4:
        return line  # fits even at 4 UTF-8 bytes a character: the common case, no encoding
    room = ossec_room(location, maxstr)
    if line.isascii():
        return line if len(line) <= room else line[:room]
    # The first `room` characters hold the first `room` bytes (a character is at least one).
    head = line[:room]
    try:
        data = head.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate that is no escaped byte: count its three bytes
        data = head.encode("utf-8", "surrogatepass")
    if len(data) <= room and len(head) == len(line):
        return line
    return data[:room].decode("utf-8", "surrogateescape")


def cut(message: str) -> str:
    """The line as wazuh-analysisd sees it: cut at NUL and OS_MAXSTR, nothing deleted."""
    nul = message.find("\x00")
    if nul >= 0:
        message = message[:nul]
    return message[:MAX_INPUT]


def sanitize(message: str, *, keep_lf: bool = False) -> str:
    """The line as analysisd sees it: cut at NUL and OS_MAXSTR, control characters deleted
    (line feeds kept with `keep_lf`)."""
    # The common cases settled in one C-level pass: a line without control characters, or a
    # CRLF one whose only control character is the last.
    if len(message) <= MAX_INPUT:
        if message.isascii():
            # A byte-table look-up each: a quarter of what str.isprintable's Unicode one costs.
            marked = message.encode("ascii").translate(_MARK_CONTROL)
            if marked.isascii():
                return message
            if marked[-1] == _MARKED_CR and marked[:-1].isascii():
                return message[:-1]
        elif message[-1:] == "\r":
            if message[:-1].isprintable():
                return message[:-1]
        elif message.isprintable():
            return message
    return _sanitize_all(message, keep_lf)


def _sanitize_all(message: str, keep_lf: bool) -> str:
    """`sanitize` for any line: cut at NUL and OS_MAXSTR, then every control character deleted."""
    nul = message.find("\x00")
    if nul >= 0:
        message = message[:nul]
    if len(message) > MAX_INPUT:
        message = message[:MAX_INPUT]
    return (_CONTROL_BUT_LF if keep_lf else _CONTROL).sub("", message)


# A timestamp layout: (minimum line length, ((position, allowed characters), ...), characters to
# skip). Checked in OSSEC's order; the first that fits wins. A skip of 0 marks squid's layout,
# which skips 14 characters and then every following space.
_Layout = tuple[int, tuple[tuple[int, str], ...], int]
_D = "0123456789"
_ISO = ((4, "-"), (7, "-"), (10, "T"), (13, ":"), (16, ":"))
SYSLOG_LAYOUTS: tuple[_Layout, ...] = (
    (17, ((3, " "), (6, " "), (9, ":"), (12, ":"), (15, " ")), 16),  # Dec 29 10:00:01
    (24, ((4, "-"), (7, "-"), (10, " "), (13, ":"), (16, ":"), (19, ",")), 23),  # proftpd
    (33, (*_ISO, (22, ":"), (25, " ")), 26),  # 2007-06-14T15:48:55-04:00
    # 2009-05-22T09:36:46.214994-07:00: 1 to 6 fraction digits, '.' or ','
    *((33, (*_ISO, (19, ".,"), (colon, ":")), colon + 3) for colon in range(24, 30)),
    (21, ((0, _D), (4, " "), (8, " "), (11, " "), (14, ":"), (17, ":"), (20, " ")), 21),
    (20, ((0, _D), (4, ":"), (7, ":"), (10, "-"), (13, ":"), (16, ":")), 20),  # Sophos UTM
)
# wazuh-analysisd's syslog layouts (cleanevent.c), in its order.
_WAZUH_ISO = ((4, "-"), (7, "-"), (10, "T"), (13, ":"), (16, ":"))
WAZUH_SYSLOG_LAYOUTS: tuple[_Layout, ...] = (
    (17, ((3, " "), (6, " "), (9, ":"), (12, ":"), (15, " ")), 16),  # Dec 29 10:00:01
    (24, ((4, "-"), (7, "-"), (10, " "), (13, ":"), (16, ":"), (19, ",")), 24),  # proftpd
    (33, (*_WAZUH_ISO, (22, ":"), (25, " ")), 26),  # 2007-06-14T15:48:55-04:00
    (33, (*_WAZUH_ISO, (19, "."), (26, ":")), 30),  # 2022-12-19T15:02:53.288+00:00
    (33, (*_WAZUH_ISO, (19, "."), (29, ":")), 33),  # 2009-05-22T09:36:46.214994-07:00
    (33, (*_WAZUH_ISO, (19, ".")), 32),
    (21, ((0, _D), (4, " "), (8, " "), (11, " "), (14, ":"), (17, ":"), (20, " ")), 21),
    # macOS unified log: 2021-04-21 10:16:09.404756-0700
    (
        33,
        (
            *((0, _D), (4, "-"), (7, "-"), (10, " "), (13, ":"), (16, ":")),
            *((19, "."), (26, "-+"), (31, " ")),
        ),
        32,
    ),
)
OTHER_LAYOUTS: tuple[_Layout, ...] = (
    # xferlog: Mon Apr 17 18:27:14 2006
    (
        28,
        ((3, " "), (7, " "), (10, " "), (13, ":"), (16, ":"), (19, " "), (24, " "), (26, " ")),
        24,
    ),
    (24, ((2, "/"), (5, "-"), (8, ":"), (11, ":"), (14, "."), (21, " ")), 23),  # snort
    (26, ((2, "/"), (5, "/"), (10, "-"), (13, ":"), (16, ":"), (19, "."), (26, " ")), 28),
    # apache: [Fri Feb 11 18:06:35 2004]
    (27, ((0, "["), (4, " "), (8, " "), (11, " "), (14, ":"), (17, ":"), (20, " "), (25, "]")), 27),
    # squid: 1140804070.368  11623
    *(
        (32, ((0, "1"), (1, _D), (2, _D), (3, _D), (10, "."), (13, _D), (14, " "), (gap, " ")), 0)
        for gap in (21, 22)
    ),
)


# OS X ASL: [Time 2006.12.28 15:53:55 UTC] [Facility auth] [Sender sshd] ... [Host name]
OSX_ASL_LAYOUT: _Layout = (
    26,
    ((0, "["), (1, "T"), (5, " "), (10, "."), (13, "."), (16, " "), (19, ":")),
    25,
)
# Every layout position lies within this many bytes of the start.
_HEAD: Final = 40
# The surrogate escapes of raw bytes 0x80-0xff (undecodable input read with surrogateescape).
_RAW_FIRST: Final = chr(0xDC80)
_RAW_LAST: Final = chr(0xDCFF)


def _as_bytes(s: str) -> tuple[str, Callable[[int], int]]:
    """`s` as OSSEC's byte-wise checks see it, and a map from those positions back to `s`.

    OSSEC tests layouts at byte offsets, so a non-ASCII character early in the line shifts every
    position after it (and "Déc 29 ..." is no syslog header) -- except a German "Mär", which
    OS_CleanMSG repairs to "Mar" on purpose. For lines whose first `_HEAD` characters are not
    all ASCII (in the others, byte and character positions are the same).
    """
    head = s[:_HEAD]
    view: list[str] = []
    owner: list[int] = []  # for each byte: the index of the character it starts, or the next one
    for index, char in enumerate(head):
        # One byte: ASCII, a surrogateescape'd raw byte, or the "ä" of "Mär" once repaired.
        one_byte = char.isascii() or _RAW_FIRST <= char <= _RAW_LAST or (index, char) == (1, "ä")
        size = 1 if one_byte else len(char.encode("utf-8", "surrogatepass"))
        view.append(char if size == 1 else "\x80" * size)
        owner.extend([index] + [index + 1] * (size - 1))
    extra = len(owner) - len(head)

    def char_index(position: int) -> int:
        return owner[position] if position < len(owner) else position - extra

    return "".join(view) + s[_HEAD:], char_index


def _table(layouts: tuple[_Layout, ...]) -> tuple[re.Pattern[str], tuple[int, ...]]:
    """Layouts as one anchored regex, tried in order (the first that fits wins: alternation
    does the same), each alternative ending in an empty group that tells which one matched;
    and each layout's skip. One C-level match per line instead of one per layout. The minimum
    length is checked after the marked positions, so a line that fits no layout fails each at
    its first mark instead of counting its first characters ten times over."""
    alternatives = []
    for min_len, marks, _skip in layouts:
        slots = ["."] * (max(i for i, _ in marks) + 1)
        for i, allowed in marks:
            slots[i] = "[" + re.escape(allowed) + "]"
        rest = max(0, min_len - len(slots))
        alternatives.append(f"{''.join(slots)}(?=.{{{rest}}})()")
    return re.compile("|".join(alternatives), re.DOTALL), tuple(skip for _, _, skip in layouts)


_MatchTable = tuple[re.Pattern[str], tuple[int, ...]]
_SYSLOG: Final = _table(SYSLOG_LAYOUTS)
_WAZUH_SYSLOG: Final = _table(WAZUH_SYSLOG_LAYOUTS)
_OTHER: Final = _table(OTHER_LAYOUTS)
_OSX_ASL: Final = _table((OSX_ASL_LAYOUT,))
_SPACES: Final = re.compile(" *")


def _layout_skip(s: str, layouts: _MatchTable) -> int:
    """How many characters the first fitting layout skips, or 0."""
    program, skips = layouts
    found = program.match(s)
    if found is None:
        return 0
    return skips[found.lastindex - 1] or _SPACES.match(s, 14).end()  # type: ignore[union-attr, operator]


# OSSEC's hostname_map: the characters of a hostname or a program name.
_NAME_RUN: Final = re.compile(r"[A-Za-z0-9@_./()-]*")
_DIGIT_RUN: Final = re.compile(r"[0-9]*")
_ALNUM_RUN: Final = re.compile(r"[A-Za-z0-9]*")


def _scan(s: str, i: int, run: re.Pattern[str]) -> int:
    """The end of the run of `run`'s characters starting at `i`."""
    return run.match(s, i).end()  # type: ignore[union-attr]


# The usual "host program: ", "host program[pid]: " and "host program[pid] " in one step; the
# possessive quantifiers keep OSSEC's left-to-right scan (no backtracking into another split).
_COMMON_HEADER: Final = re.compile(
    r" ?+([A-Za-z0-9@_./()-]*+) ([A-Za-z0-9@_./()-]*+)(?:: |\[[0-9]++\](?:: | ))"
)


def _syslog_line(layouts: tuple[_Layout, ...]) -> re.Pattern[str]:
    """Syslog timestamp layouts and the usual header after them as one anchored regex, for a
    line whose head is ASCII: group 1 is the timestamp as skipped (each layout's alternative
    consumes exactly its skip), groups 2 and 3 the hostname and the program name, both unset
    where the header is not the usual one (`_scan_syslog_header` then reads it). Alternation
    keeps the layouts' order (the first that fits wins); an optional header never makes the
    regex try a later layout."""
    alternatives = []
    for min_len, marks, skip in layouts:
        if skip <= max(i for i, _ in marks) or min_len < skip:
            raise ValueError(f"layout {marks} does not skip past its marks")
        slots = ["."] * skip
        for i, allowed in marks:
            slots[i] = "[" + re.escape(allowed) + "]"
        alternatives.append(f"{''.join(slots)}(?=.{{{min_len - skip}}})")
    header = _COMMON_HEADER.pattern
    return re.compile(f"((?:{'|'.join(alternatives)}))(?:{header})?", re.DOTALL)


_SYSLOG_LINE: Final = _syslog_line(SYSLOG_LAYOUTS)
# OSSEC's hostname_map as a set (`_usual_header`).
_NAME_CHARS: Final = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789@_./()-"
)


_FIRST_SKIP: Final = SYSLOG_LAYOUTS[0][2]


def _fits_first_layout(s: str) -> bool:
    """Whether `s` fits the first (and by far the most common) syslog layout, "Dec 29 10:00:01"
    (SYSLOG_LAYOUTS[0], spelled out: a loop over the table costs four times as much)."""
    return (
        len(s) >= 17
        and s[3] == " "
        and s[6] == " "
        and s[9] == ":"
        and s[12] == ":"
        and s[15] == " "
    )


def _is_name(text: str) -> bool:
    """Whether an ASCII `text` is all hostname_map characters (isalnum, one C-level pass,
    settles the plain names; it would take other scripts' letters too)."""
    return text.isalnum() or _NAME_CHARS.issuperset(text)


def _usual_header(s: str, start: int) -> tuple[str, str, int] | None:
    """(hostname, program name, log start) where the text of an ASCII line after a syslog
    timestamp ending at `start` is what `_COMMON_HEADER` matches ("host program: ",
    "host program[pid]: ", "host program[pid] "), else None. Found with str.find and set
    look-ups: a regex match costs more before it starts (~1.7k instructions) than this."""
    n = len(s)
    if start < n and s[start] == " ":
        start += 1
    space = s.find(" ", start)
    if space < 0:
        return None
    hostname = s[start:space]
    if not _is_name(hostname):
        return None
    # The program name runs to its first ':' or '[' (neither is a name character).
    name_start = space + 1
    colon = s.find(":", name_start)
    bracket = s.find("[", name_start)
    end = bracket if bracket >= 0 and (colon < 0 or bracket < colon) else colon
    if end < 0:
        return None
    program = s[name_start:end]
    if not _is_name(program):
        return None
    if end == colon:
        return (hostname, program, end + 2) if end + 1 < n and s[end + 1] == " " else None
    close = s.find("]", end + 1)
    pid = s[end + 1 : close] if close > end + 1 else ""
    if not (pid.isascii() and pid.isdigit()) or close + 1 >= n:
        return None
    if s[close + 1] == " ":
        return hostname, program, close + 2
    if s[close + 1] == ":" and close + 2 < n and s[close + 2] == " ":
        return hostname, program, close + 3
    return None


def _scan_syslog_header(s: str, start: int) -> tuple[str | None, str | None, int, int | None]:
    """OS_CleanMSG's character-by-character header scan, every branch of it."""
    n = len(s)

    def at(i: int) -> str:
        return s[i] if i < n else ""

    if at(start) == " ":
        start += 1
    log = start
    end = _scan(s, start, _NAME_RUN)
    if at(end) == ":" and at(end + 1) == " ":
        # Solaris 8/9: "program: message" with no hostname.
        return None, s[start:end], _drop_solaris_id(s, end + 2), None
    if at(end) != " ":
        return None, None, log, None  # not a hostname: the log stays after the timestamp
    hostname = s[start:end]
    log = end + 1
    name_start = log
    p = _scan(s, name_start, _NAME_RUN)
    if at(p) == ":" and at(p + 1) == " ":
        return hostname, s[name_start:p], _drop_solaris_id(s, p + 2), None
    if at(p) == "[" and at(p + 1) in _DIGITS:
        q = _scan(s, p + 2, _DIGIT_RUN)
        if at(q) == "]" and at(q + 1) == ":" and at(q + 2) == " ":
            return hostname, s[name_start:p], _drop_solaris_id(s, q + 3), None
        if at(q) == "]" and at(q + 1) == " ":
            return hostname, s[name_start:p], _drop_solaris_id(s, q + 2), None
        return hostname, None, log, None
    if at(p) == "|" and at(p + 1) in _LOWER:
        # AIX: "facility|priority: program[pid]: message"
        q = _scan(s, p + 2, _ALNUM_RUN)
        if at(q) != ":":
            return hostname, None, log, None
        q = _scan(s, q + 1, _ALNUM_RUN)
        if at(q) != " ":
            return hostname, None, log, None
        name_start = q + 1
        r = _scan(s, name_start, _NAME_RUN)
        if at(r) == ":" and at(r + 1) == " ":
            return hostname, s[name_start:r], _drop_solaris_id(s, r + 2), None
        if at(r) == "[" and at(r + 1) in _DIGITS:
            t = _scan(s, r + 2, _DIGIT_RUN)
            if at(t) == "]" and at(t + 1) == ":" and at(t + 2) == " ":
                return hostname, s[name_start:r], _drop_solaris_id(s, t + 3), None
            # OSSEC has already cut the buffer at '[': the log ends there too.
            return hostname, s[name_start:r], log, r
        # OSSEC never terminates the name here: it runs to the end of the line.
        return hostname, s[name_start:], _drop_solaris_id(s, r), None
    return hostname, None, log, None


def _wazuh_syslog_header(s: str, start: int) -> tuple[str | None, str | None, int, int | None]:
    """wazuh-analysisd's header scan: like OSSEC's, but the space after `program:` and
    `program[pid]:` is optional."""
    n = len(s)

    def at(i: int) -> str:
        return s[i] if i < n else ""

    if at(start) == " ":
        start += 1
    end = _scan(s, start, _NAME_RUN)
    if at(end) == ":" and at(end + 1) == " ":
        return None, s[start:end], _drop_solaris_id(s, end + 2), None
    if at(end) != " ":
        return None, None, start, None
    hostname = s[start:end]
    name_start = end + 1
    p = _scan(s, name_start, _NAME_RUN)
    if at(p) == ":":
        log = p + 1 + (at(p + 1) == " ")
        return hostname, s[name_start:p], _drop_solaris_id(s, log), None
    if at(p) == "[" and at(p + 1) in _DIGITS:
        q = _scan(s, p + 2, _DIGIT_RUN)
        if at(q) == "]" and at(q + 1) == ":":
            log = q + 2 + (at(q + 2) == " ")
            return hostname, s[name_start:p], _drop_solaris_id(s, log), None
        if at(q) == "]" and at(q + 1) == " ":
            return hostname, s[name_start:p], _drop_solaris_id(s, q + 2), None
        return hostname, None, name_start, None
    if at(p) == "|":
        return _scan_syslog_header(s, start)  # AIX: as OSSEC
    return hostname, None, name_start, None


def _drop_solaris_id(s: str, log: int) -> int:
    """Skip a Solaris ``[ID 123 facility.severity] `` tag at `log`."""
    # One character first: str.startswith with a start is a method call in the compiled build.
    if log < len(s) and s[log] == "[" and s.startswith("[ID ", log):
        close = s.find("] ", log + 4)
        if close >= 0:
            return close + 2
    return log


def _osx_asl(s: str, start: int) -> tuple[str | None, str | None, int, int | None]:
    """(hostname, program_name, log start, log end) from OS X ASL bracketed fields."""
    hostname: str | None = None
    program: str | None = None
    log, log_end = start, None
    done_message = False
    pieces = s.find("[", start)
    while pieces >= 0:
        pieces += 1
        if s.startswith("Sender ", pieces) and program is None:
            pieces += 7
            close = s.find("]", pieces)
            if close < 0:
                break
            program = s[pieces:close]
            pieces = close + 1
        elif s.startswith("Message ", pieces) and not done_message:
            pieces += 8
            done_message = True
            log = pieces
            close = s.find("]", pieces)
            if close < 0:
                break
            log_end = close
            pieces = close + 1
        elif s.startswith("Host ", pieces):
            pieces += 5
            close = s.find("]", pieces)
            if close >= 0:
                hostname = s[pieces:close]
            break
        pieces = s.find("[", pieces)
    return hostname, program, log, log_end


def predecode(
    message: str,
    *,
    location: str = "stdin",
    default_hostname: str = "localhost",
    wazuh: bool = False,
) -> PreDecoded:
    """Pre-decode one log line as OSSEC's OS_CleanMSG does (`wazuh`: as wazuh-analysisd's)."""
    if wazuh:
        full_log = cut(message)
    else:
        full_log = sanitize(message, keep_lf=location.startswith(OWN_FINDINGS))
    s = full_log
    hostname: str | None = None
    program: str | None = None
    timestamp: str | None = None
    log_start, log_end = 0, None

    view = s
    char_index: Callable[[int], int] = int  # in an ASCII head bytes are characters
    usual: tuple[str, str, int] | None = None
    syslog: re.Match[str] | None = None
    ascii_line = s.isascii()
    if ascii_line or s[:_HEAD].isascii():
        if not wazuh and ascii_line and _fits_first_layout(s):
            usual = _usual_header(s, _FIRST_SKIP)
        # Else OSSEC's syslog layouts and the usual header in one match (`_syslog_line`).
        syslog = None if wazuh or usual is not None else _SYSLOG_LINE.match(s)
        skip = 0 if not wazuh else _layout_skip(s, _WAZUH_SYSLOG)
    else:
        view, char_index = _as_bytes(s)
        skip = char_index(_layout_skip(view, _WAZUH_SYSLOG if wazuh else _SYSLOG))
    if usual is not None:
        timestamp = s[:_FIRST_SKIP].strip()
        hostname, program, log_start = usual
        log_start = _drop_solaris_id(s, log_start)
    elif syslog is not None:
        stamp, hostname, program = syslog.groups()
        timestamp = stamp.strip()
        if hostname is None:  # not the usual header: OS_CleanMSG's whole scan
            hostname, program, log_start, log_end = _scan_syslog_header(s, len(stamp))
        else:
            log_start = _drop_solaris_id(s, syslog.end())
    elif skip:
        timestamp = s[:skip].strip()
        if wazuh:
            hostname, program, log_start, log_end = _wazuh_syslog_header(s, skip)
        else:
            hostname, program, log_start, log_end = _scan_syslog_header(s, skip)
    elif skip := _layout_skip(view, _OTHER):
        skip = char_index(skip)
        timestamp = s[:skip].strip().strip("[]").strip()
        log_start = skip
    elif _layout_skip(view, _OSX_ASL):
        close = s.find("]")
        timestamp = s[6:close] if close > 0 else None
        hostname, program, log_start, log_end = _osx_asl(s, char_index(25))

    agent_name = None
    if location.startswith("("):
        close = location.find(")", 1)
        if close > 1:
            agent_name = location[1:close]
    from_header = hostname is not None
    if hostname is None:
        hostname = agent_name if agent_name is not None else default_hostname
    return PreDecoded(
        full_log,
        s[log_start:log_end],
        hostname,
        program,
        timestamp,
        location,
        from_header,
        agent_name,
    )

"""Syslog header parsing: RFC 5424, RFC 3164 and the device quirks seen in the field.

`parse_syslog(text)` never fails: whatever a sender writes becomes a `SyslogMessage` whose `msg`
holds what could not be read as header. The 3164 path follows rsyslog's pmrfc3164 (one optional
space after the PRI, `Mmm dd hh:mm:ss` with any month case, an optional year and trailing colon,
RFC 3339 timestamps, a hostname only when a run of hostname characters ends at a space, a tag
that ends at `:` or space); the 5424 path follows the RFC, with structured data kept and a
malformed SD block (Check Point's `[k:"v"; ...]`) read as message text. Device quirks:

* Cisco IOS/IOS-XE/IOS-XR: `seq: [host: ][seq: ][node:][*|.]Mmm dd hh:mm:ss[.mmm][ TZ]: %FAC-`
  `SEV-MNEMONIC: ...` (with or without hostname or timestamp), also behind a relay's header;
* Cisco ASA/FTD: `host : %ASA-6-113012: ...` (the lone colon is a separator, not a tag);
* ESXi 8 `In(38) sshd[1]: ...` (a level token where the hostname would be);
* no PRI (effective PRI 13, user.notice, as RFC 3164 §4.3.3 tells a relay), no hostname (the
  receiver uses the sender's address), no timestamp.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from types import MappingProxyType

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH_NUMBER = {name.lower(): i + 1 for i, name in enumerate(MONTHS)}
FACILITIES = (
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
    "authpriv", "ftp", "ntp", "audit", "alert", "clock",
    "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
)  # fmt: skip
SEVERITIES = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")
DEFAULT_PRI = 13  # user.notice, for messages without a PRI (RFC 3164 §4.3.3)
BOM = "\ufeff"
NIL = "-"

_PRI = re.compile(r"<(\d{1,3})>")
_BSD_TS = re.compile(
    r"([A-Za-z]{3}) {1,2}(\d{1,2})(?: (\d{4}))? (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?:?(?= |$)"
)
_ISO_TS = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)?(?= |$)"
)
# rsyslog's hostname characters plus `@` (rsyslog's permit.AtSignsInHostname), or an IPv6 address.
_HOSTNAME = re.compile(r"(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f.]{1,15}(?= |$)|[A-Za-z0-9._@\-]+")
_TAG = re.compile(r"[^ :]*:?")
_PROCID = re.compile(r"\[([^\]]*)\]")
_ESXI_LEVEL = re.compile(r"(?:Em|Al|Cr|Er|Wa|No|In|Db|Vb)\(\d{1,3}\)")
_CISCO_SEQ = re.compile(r"\d{1,12}: ")
_CISCO_HOST = re.compile(r"([A-Za-z][A-Za-z0-9._\-]*): ")
_CISCO_NODE = re.compile(r"([A-Z]+(?:/[A-Za-z0-9]+)+):")
_CISCO_TS = re.compile(
    r"([*.])?([A-Za-z]{3}) {1,2}(\d{1,2})(?: (\d{4}))? (\d\d):(\d\d):(\d\d)"
    r"(?:\.(\d{1,6}))?(?: ([A-Za-z]{2,5}))?: "
)
_MNEMONIC = re.compile(r"%([A-Z][A-Z0-9_]*(?:-[A-Z][A-Z0-9_]*)*)-(\d)-([A-Z0-9_]+) ?:")
_ASA_SEPARATOR = ": %"


@dataclass(frozen=True)
class CiscoFields:
    """Cisco's own header parts: sequence number, clock-sync marker, milliseconds, time zone,
    IOS-XR node, and the `%FACILITY-SEVERITY-MNEMONIC` of the message."""

    sequence: str | None = None
    clock: str | None = None
    msec: str | None = None
    timezone: str | None = None
    node: str | None = None
    facility: str | None = None
    severity: str | None = None
    mnemonic: str | None = None


@dataclass(frozen=True)
class SyslogMessage:
    """One syslog message, parsed. Text fields are None when absent (or NILVALUE in 5424).

    `timestamp` is the header's time as rsyslog renders 3164 ones (`Mar  7 19:06:53`, month
    capitalised, day space-padded) or the RFC 3339 text as written; `when` is it as a datetime
    (tz-aware for RFC 3339 with an offset; naive for BSD, which has no year or zone).
    `syslogtag` is the 3164 tag as written (`sshd[12]:`); `app_name` its program part and
    `procid` its pid. `sd` maps SD-IDs to their parameters (5424 only). `msg` is the rest,
    exactly (3164 keeps the space after the tag, as rsyslog's %msg%).
    """

    format: str
    pri: int | None
    msg: str | None
    version: int | None = None
    timestamp: str | None = None
    when: datetime | None = None
    subseconds: str | None = None
    hostname: str | None = None
    app_name: str | None = None
    procid: str | None = None
    msgid: str | None = None
    syslogtag: str | None = None
    sd: Mapping[str, Mapping[str, str]] | None = None
    msg_bom: bool = False
    esxi_level: str | None = None
    cisco: CiscoFields | None = None
    extra: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def effective_pri(self) -> int:
        return DEFAULT_PRI if self.pri is None else self.pri

    @property
    def facility(self) -> int:
        return self.effective_pri >> 3

    @property
    def severity(self) -> int:
        return self.effective_pri & 7

    @property
    def facility_name(self) -> str:
        return FACILITIES[self.facility] if self.facility < len(FACILITIES) else str(self.facility)

    @property
    def severity_name(self) -> str:
        return SEVERITIES[self.severity]

    def bsd_timestamp(self) -> str | None:
        """The header time as `Mmm dd hh:mm:ss` (the layout OSSEC's pre-decoder reads)."""
        if self.when is None:
            return None
        return _bsd(self.when)


def _bsd(when: datetime) -> str:
    """`Mmm dd hh:mm:ss` (day space-padded), without strftime's cost."""
    return (
        f"{MONTHS[when.month - 1]} {when.day:2d} "
        f"{when.hour:02d}:{when.minute:02d}:{when.second:02d}"
    )


def _datetime_iso(found: re.Match[str]) -> tuple[datetime | None, str | None]:
    year, month, day, hour, minute, second, frac, zone = found.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    tz: timezone | None = None
    if zone == "Z":
        tz = UTC
    elif zone:
        sign = 1 if zone[0] == "+" else -1
        tz = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    try:
        when = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tz
        )
    except ValueError:
        return None, frac
    return when, frac


def _datetime_bsd(month: str, day: str, year: str | None, hms: tuple[str, ...]) -> datetime | None:
    number = _MONTH_NUMBER.get(month.lower())
    if number is None:
        return None
    try:
        # No year in a 3164 header: 2000 is a leap year, so Feb 29 stays valid.
        return datetime(int(year or 2000), number, int(day), *(int(p) for p in hms))
    except ValueError:
        return None


def _split_tag(tag: str) -> tuple[str, str | None]:
    """(program name, procid) of a 3164 tag: the program ends at `[`, `:` or `/` (rsyslog)."""
    end = len(tag)
    for stop in "[:/":
        at = tag.find(stop)
        if 0 <= at < end:
            end = at
    pid = _PROCID.search(tag, end) if end < len(tag) and tag[end] == "[" else None
    return tag[:end], pid.group(1) if pid else None


def _mnemonic(msg: str | None) -> tuple[str, str, str] | None:
    # Most messages have no `%` near their start: `find` rules the regex out cheaply.
    if not msg or msg.find("%", 0, 200) < 0:
        return None
    found = _MNEMONIC.search(msg, 0, 200)
    return found.groups() if found else None  # type: ignore[return-value]


# ------------------------------------------------------------------------------------- RFC 5424


class _SdError(ValueError):
    pass


def _parse_sd(text: str, pos: int) -> tuple[dict[str, dict[str, str]] | None, int]:
    """Structured data from `pos`: (elements, end); (None, pos+1) for NILVALUE. Raises _SdError."""
    if text.startswith(NIL, pos):
        return None, pos + 1
    elements: dict[str, dict[str, str]] = {}
    while pos < len(text) and text[pos] == "[":
        pos += 1
        end = pos
        while end < len(text) and text[end] not in ' ]="':
            end += 1
        sd_id = text[pos:end]
        if not sd_id:
            raise _SdError("empty SD-ID")
        params: dict[str, str] = {}
        pos = end
        while True:
            while pos < len(text) and text[pos] == " ":
                pos += 1
            if pos >= len(text):
                raise _SdError("unterminated SD element")
            if text[pos] == "]":
                pos += 1
                break
            end = pos
            while end < len(text) and text[end] not in ' ]="':
                end += 1
            name = text[pos:end]
            pos = end
            while pos < len(text) and text[pos] == " ":
                pos += 1  # rsyslog accepts `name= "value"`
            if not name or not text.startswith("=", pos):
                raise _SdError("SD-PARAM without '='")
            pos += 1
            while pos < len(text) and text[pos] == " ":
                pos += 1
            if not text.startswith('"', pos):
                raise _SdError("SD-PARAM value not quoted")
            pos += 1
            value: list[str] = []
            while True:
                if pos >= len(text):
                    raise _SdError("unterminated SD-PARAM value")
                char = text[pos]
                if char == "\\" and pos + 1 < len(text) and text[pos + 1] in '"\\]':
                    value.append(text[pos + 1])
                    pos += 2
                    continue
                if char == '"':
                    pos += 1
                    break
                value.append(char)
                pos += 1
            params[name] = "".join(value)
        elements.setdefault(sd_id, params)
    if not elements:
        raise _SdError("no SD element")
    return elements, pos


def _parse_5424(text: str, pri: int, version: int, rest: int) -> SyslogMessage | None:
    """RFC 5424 from `rest` (just after `VERSION SP`); None when the header is not 5424."""
    parts: list[str | None] = []
    pos = rest
    for _ in range(5):  # TIMESTAMP HOSTNAME APP-NAME PROCID MSGID
        end = text.find(" ", pos)
        if end < 0:
            return None
        token = text[pos:end]
        if not token:
            return None
        parts.append(None if token == NIL else token)
        pos = end + 1
    stamp, hostname, app_name, procid, msgid = parts
    when = subseconds = None
    if stamp is not None:
        found = _ISO_TS.fullmatch(stamp)
        if found is None:
            return None
        when, subseconds = _datetime_iso(found)
    sd: dict[str, dict[str, str]] | None
    try:
        sd, pos = _parse_sd(text, pos)
    except _SdError:
        sd = None  # not SD after all (Check Point, ESXi): the rest is the message
        msg: str | None = text[pos:]
    else:
        msg = text[pos + 1 :] if pos < len(text) else None
        if pos < len(text) and text[pos] != " ":
            msg = text[pos:]
    bom = bool(msg) and msg.startswith(BOM)  # type: ignore[union-attr]
    if bom:
        msg = msg[1:]  # type: ignore[index]
    tag = None
    if app_name is not None:
        tag = f"{app_name}[{procid}]" if procid is not None else app_name
    mnemonic = _mnemonic(msg)
    return SyslogMessage(
        format="rfc5424",
        pri=pri,
        version=version,
        timestamp=stamp,
        when=when,
        subseconds=subseconds,
        hostname=hostname,
        app_name=app_name,
        procid=procid,
        msgid=msgid,
        syslogtag=tag,
        sd=MappingProxyType({k: MappingProxyType(v) for k, v in sd.items()}) if sd else None,
        msg=msg,
        msg_bom=bom,
        cisco=CiscoFields(facility=mnemonic[0], severity=mnemonic[1], mnemonic=mnemonic[2])
        if mnemonic
        else None,
    )


# ------------------------------------------------------------------------------------- Cisco


def _parse_cisco(text: str, pos: int, pri: int | None, hostname: str | None) -> SyslogMessage:
    """Cisco's `seq: [host: ][seq: ][node:][*|.]timestamp: msg`, from `pos` (at the first seq)."""
    sequence = None
    seq = _CISCO_SEQ.match(text, pos)
    if seq:
        sequence = seq.group(0)[:-2]
        pos = seq.end()
    host = _CISCO_HOST.match(text, pos)
    if host and not text.startswith("%", pos) and not _CISCO_TS.match(text, pos):
        hostname = host.group(1)
        pos = host.end()
        seq = _CISCO_SEQ.match(text, pos)
        if seq:  # a second counter after the name (service sequence-numbers)
            sequence = seq.group(0)[:-2]
            pos = seq.end()
    node = _CISCO_NODE.match(text, pos)
    if node:
        pos = node.end()
    stamp = _CISCO_TS.match(text, pos)
    when = timestamp = None
    clock = msec = zone = None
    if stamp:
        clock, month, day, year, hh, mm, ss, msec, zone = stamp.groups()
        when = _datetime_bsd(month, day, year, (hh, mm, ss))
        pos = stamp.end()
    msg = text[pos:]
    if when is not None:
        timestamp = _bsd(when)
    mnemonic = _mnemonic(msg)
    return SyslogMessage(
        format="cisco",
        pri=pri,
        timestamp=timestamp,
        when=when,
        subseconds=msec,
        hostname=hostname,
        app_name=f"%{mnemonic[0]}-{mnemonic[1]}-{mnemonic[2]}" if mnemonic else None,
        msg=msg,
        cisco=CiscoFields(
            sequence=sequence,
            clock=clock,
            msec=msec,
            timezone=zone,
            node=node.group(1) if node else None,
            facility=mnemonic[0] if mnemonic else None,
            severity=mnemonic[1] if mnemonic else None,
            mnemonic=mnemonic[2] if mnemonic else None,
        ),
    )


# ------------------------------------------------------------------------------------- RFC 3164


def _parse_3164(text: str, pos: int, pri: int | None) -> SyslogMessage:
    if text.startswith(" ", pos) and pri is not None:
        pos += 1  # `<167> Mar  7 ...`
    if text[pos : pos + 1].isdigit() and _CISCO_SEQ.match(text, pos):
        return _parse_cisco(text, pos, pri, None)
    when = None
    timestamp = subseconds = None
    found = _BSD_TS.match(text, pos)
    if found:
        month, day, year, hh, mm, ss, subseconds = found.groups()
        when = _datetime_bsd(month, day, year, (hh, mm, ss))
        if when is None:
            found = None
        else:
            timestamp = _bsd(when)
    if found is None:
        found = _ISO_TS.match(text, pos)
        if found:
            when, subseconds = _datetime_iso(found)
            timestamp = found.group(0) if when is not None else None
            if when is None:
                found = None
    if found is not None:
        pos = found.end()
        if text.startswith(" ", pos):
            pos += 1
    elif pri is None:
        # Neither PRI nor timestamp: not a syslog header at all, the whole line is the message
        # (RFC 3164 §4.3.3: a relay adds its own header rather than guess one).
        return _with_mnemonic(text, 0, None, None, None, None, None, syslogtag=None, fmt="raw")
    hostname = esxi_level = None
    level = _ESXI_LEVEL.match(text, pos)
    name = level or _HOSTNAME.match(text, pos)
    if name and (name.end() == len(text) or text[name.end()] == " "):
        if level:
            esxi_level = level.group(0)
        else:
            hostname = name.group(0)
        pos = name.end() + 1
    elif name is None and found is not None and text.startswith(" ", pos):
        pos += 1  # empty hostname field (`Feb 22 10:21:43  sshd[1]: ...`)
    if pos >= len(text):
        return SyslogMessage(
            format="rfc3164",
            pri=pri,
            timestamp=timestamp,
            when=when,
            subseconds=subseconds,
            hostname=hostname,
            esxi_level=esxi_level,
            msg="",
        )
    if hostname is not None and text.startswith(_ASA_SEPARATOR, pos):
        pos += 2  # ASA/FTD `host : %ASA-6-...`: the colon separates, no tag
        return _with_mnemonic(text, pos, pri, timestamp, when, subseconds, hostname, syslogtag=None)
    if hostname is not None and _CISCO_SEQ.match(text, pos):
        # a relay's header in front of the device's own `seq: timestamp: %...` line
        inner = _parse_cisco(text, pos, pri, hostname)
        return replace(inner, timestamp=timestamp, when=when)
    tag = _TAG.match(text, pos)
    syslogtag = tag.group(0) if tag else ""
    pos += len(syslogtag)
    app_name, procid = _split_tag(syslogtag)
    return _with_mnemonic(
        text,
        pos,
        pri,
        timestamp,
        when,
        subseconds,
        hostname,
        syslogtag=syslogtag,
        app_name=app_name,
        procid=procid,
        esxi_level=esxi_level,
    )


def _with_mnemonic(
    text: str,
    pos: int,
    pri: int | None,
    timestamp: str | None,
    when: datetime | None,
    subseconds: str | None,
    hostname: str | None,
    *,
    syslogtag: str | None,
    app_name: str | None = None,
    procid: str | None = None,
    esxi_level: str | None = None,
    fmt: str = "rfc3164",
) -> SyslogMessage:
    msg = text[pos:]
    mnemonic = _mnemonic(syslogtag) or _mnemonic(msg)
    cisco = None
    if mnemonic:
        cisco = CiscoFields(facility=mnemonic[0], severity=mnemonic[1], mnemonic=mnemonic[2])
        if app_name is None:
            app_name = f"%{mnemonic[0]}-{mnemonic[1]}-{mnemonic[2]}"
    return SyslogMessage(
        format=fmt,
        pri=pri,
        timestamp=timestamp,
        when=when,
        subseconds=subseconds,
        hostname=hostname,
        syslogtag=syslogtag,
        app_name=app_name,
        procid=procid,
        esxi_level=esxi_level,
        msg=msg,
        cisco=cisco,
    )


# The shape nearly every Linux and network device sends, `<PRI>Mmm dd hh:mm:ss host prog[pid]:`,
# in the form `parse_syslog` reads without any of its quirks: a capitalised month, a space-padded
# day, a hostname of hostname characters, a tag that starts with a letter (not a Cisco sequence
# number) whose program has no `/` and whose pid is digits.
_COMMON_3164 = re.compile(
    r"<(\d{1,3})>((?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (?: [1-9]|[12]\d|3[01]) "
    r"(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d) ([A-Za-z0-9._@\-]+) "
    r"([A-Za-z_.\-][A-Za-z0-9_.\-]*)(?:\[(\d+)\])?:"
)
_SHORT_MONTHS = {"Feb": 29, "Apr": 30, "Jun": 30, "Sep": 30, "Nov": 30}


def parse_common_3164(text: str) -> tuple[int, str, str, str, str | None, int] | None:
    """(pri, timestamp, hostname, app_name, procid, where the message starts) of a message in
    the common 3164 shape (`_COMMON_3164`) without a Cisco mnemonic, exactly as `parse_syslog`
    reads it (rfc3164, no subseconds, syslogtag `text[pri end:message start]` less the
    header); None for anything else, which `parse_syslog` must read. Builds no SyslogMessage:
    the analysis workers read every received message, and the general path cost as much as
    a fifth of analysing it."""
    found = _COMMON_3164.match(text)
    if found is None:
        return None
    pri, stamp, hostname, app_name, procid = found.groups()
    start = found.end()
    if (
        int(pri) > 191
        or (stamp[4] == "3" and int(stamp[4:6]) > _SHORT_MONTHS.get(stamp[:3], 31))
        or text.find("%", start, start + 200) >= 0
    ):
        return None
    return int(pri), stamp, hostname, app_name, procid, start


def parse_syslog(text: str) -> SyslogMessage:
    """Parse one syslog message (without its transport framing). Never raises."""
    pri: int | None = None
    pos = 0
    found = _PRI.match(text)
    if found and int(found.group(1)) <= 191:
        pri = int(found.group(1))
        pos = found.end()
        if (
            len(text) > pos + 1
            and text[pos] in "123456789"
            and text[pos + 1] == " "
            and (parsed := _parse_5424(text, pri, int(text[pos]), pos + 2)) is not None
        ):
            return parsed
    return _parse_3164(text, pos, pri)

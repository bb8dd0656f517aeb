"""A received syslog frame as the `Event` the analysis engine reads, the way OSSEC's remoted does.

remoted strips the `<PRI>` and passes the rest on with location `syslog:ADDR` (ADDR the sender);
so do we, so OSSEC/Wazuh decoders match our events unchanged. RFC 5424 messages are the one
exception: OSSEC's pre-decoder has no layout for them, so they are rewritten into the 3164 layout
it reads (`Mmm dd hh:mm:ss host app[pid]: msg`), as rsyslog's own forwarding format would; their
structured data, MSGID and the original line stay in `Event.extra["syslog"]`.

Bytes that are not UTF-8 are shown as `\\xNN` (backslashreplace): the text stays valid for JSON,
the store and terminals, and no byte is silently lost.
"""

from __future__ import annotations

from typing import Any

from ospatrol.model import Event, FrozenMap
from ospatrol.syslog.message import (
    FACILITIES,
    SEVERITIES,
    SyslogMessage,
    parse_common_3164,
    parse_syslog,
)
from ospatrol.syslog.receiver import Frame


def decode_bytes(data: bytes) -> str:
    """The frame's text: UTF-8, with undecodable bytes as visible `\\xNN` escapes."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="backslashreplace")


def engine_text(message: SyslogMessage, raw: str, pri_end: int) -> str:
    """The line handed to the engine (see the module docstring)."""
    if message.format != "rfc5424":
        return raw[pri_end:]
    parts = []
    stamp = message.bsd_timestamp()
    if stamp is not None and message.hostname is not None:
        parts.extend((stamp, message.hostname))
    if message.syslogtag is not None:
        parts.append(f"{message.syslogtag}:")
    if message.msg:
        parts.append(message.msg)
    elif message.sd:
        parts.append("".join(_sd_text(k, v) for k, v in message.sd.items()))
    return " ".join(parts)


def _sd_text(sd_id: str, params: Any) -> str:
    inner = "".join(
        f' {name}="{value.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for name, value in params.items()
    )
    return f"[{sd_id}{inner}]"


def syslog_details(message: SyslogMessage) -> dict[str, Any]:
    """What the header said, for `Event.extra["syslog"]` (only parts that were present)."""
    details: dict[str, Any] = {
        "format": message.format,
        "facility": message.facility_name,
        "severity": message.severity_name,
    }
    if message.pri is not None:
        details["pri"] = message.pri
    for name in ("timestamp", "hostname", "app_name", "procid", "msgid", "esxi_level"):
        value = getattr(message, name)
        if value is not None:
            details[name] = value
    if message.sd:
        details["sd"] = {k: dict(v) for k, v in message.sd.items()}
    if message.cisco is not None:
        details["cisco"] = {k: v for k, v in message.cisco.__dict__.items() if v is not None}
    return details


def frame_event(frame: Frame) -> Event:
    """The Event for one received frame."""
    return syslog_event(*frame)


def syslog_event(source: str, data: bytes, when: float) -> Event:
    """The Event for the syslog message `data` received from `source` at `when`."""
    raw = decode_bytes(data)
    common = parse_common_3164(raw)
    if common is not None:
        pri, stamp, hostname, app_name, procid, _ = common
        details = {
            "format": "rfc3164",
            "facility": FACILITIES[pri >> 3] if pri >> 3 < len(FACILITIES) else str(pri >> 3),
            "severity": SEVERITIES[pri & 7],
            "pri": pri,
            "timestamp": stamp,
            "hostname": hostname,
            "app_name": app_name,
        }
        if procid is not None:
            details["procid"] = procid
        return Event(
            text=raw[raw.index(">") + 1 :],
            location=f"syslog:{source}",
            host=hostname,
            time=when,
            source="syslog",
            extra=FrozenMap(syslog=details),
        )
    message = parse_syslog(raw)
    pri_end = raw.index(">") + 1 if message.pri is not None else 0
    details = syslog_details(message)
    if message.format == "rfc5424":
        details["message"] = raw
    return Event(
        text=engine_text(message, raw, pri_end),
        location=f"syslog:{source}",
        host=message.hostname or source,
        time=when,
        source="syslog",
        extra={"syslog": details},
    )

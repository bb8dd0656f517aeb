"""Alert output formats: OSSEC's alerts.log text block and the OSSEC/Wazuh alerts.json object.

Both are pure functions of an `ospatrol.model.Alert`, so every output (file, e-mail, syslog,
webhook, `ospatrol logtest -a`) renders an alert the same way and consumers written for OSSEC or
Wazuh (Elastic, OpenSearch, Splunk) parse ours unchanged.

alerts.log follows analysisd's `OS_Log` (src/analysisd/alerts/log.c):

```
** Alert 1700000000.1234: mail  - syslog,sshd,authentication_failed,
2023 Nov 14 22:13:20 myhost->/var/log/auth.log
Rule: 80206 (level 5) -> 'sshd: wrong password.'
Src IP: 10.0.0.5
User: root
Nov 14 22:13:20 myhost sshd[123]: Failed password for root from 10.0.0.5 port 22 ssh2
```

then one line per correlated event and a blank line. The optional lines come in OSSEC's order
(Src IP, Src Port, Dst IP, Dst Port, User) and only when the field was decoded. The date is the
event's time in local time, as analysisd writes it. Events from an agent (location
`(name) address->path`) show the location alone; all others `hostname->location`.
"""

from __future__ import annotations

import functools
import math
import platform
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ospatrol.model import Alert, Event

if TYPE_CHECKING:
    from ospatrol.analysis.engine import EngineResult

# analysisd prints the full log and each correlated log with "%.1256s".
MAX_LOG = 1256
# (field, label) of the optional alerts.log lines, in OS_Log's order.
_LOG_FIELDS = (
    ("srcip", "Src IP"),
    ("srcport", "Src Port"),
    ("dstip", "Dst IP"),
    ("dstport", "Dst Port"),
    ("dstuser", "User"),
)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# The agent id Wazuh gives the manager itself, for events it read or received directly.
MANAGER_AGENT_ID = "000"


@functools.lru_cache(maxsize=4096)
def _groups_text(groups: tuple[str, ...]) -> str:
    """The rule's group list as OSSEC keeps it: comma-separated with a trailing comma (cached:
    every alert of a rule has the same groups)."""
    return "".join(f"{group}," for group in groups)


def _full_log(alert: Alert) -> str:
    return alert.full_log or alert.event.text


def _agent_of(location: str) -> tuple[str, str] | None:
    """(name, address) of an agent location `(name) address->path`, else None."""
    if not location.startswith("("):
        return None
    close = location.find(")")
    arrow = location.find("->", close)
    if close < 1 or arrow < 0:
        return None
    return location[1:close], location[close + 1 : arrow].strip()


def _origin(location: str, hostname: str) -> str:
    """`hostname->location`, or an agent's location alone (it names the agent already)."""
    if _agent_of(location) is not None:
        return location
    return f"{hostname or 'localhost'}->{location}"


def _log_stamp(epoch: float) -> str:
    """analysisd's `YYYY Mmm dd hh:mm:ss`, local time."""
    return _log_second(math.floor(epoch))


@functools.lru_cache(maxsize=64)
def _log_second(second: int) -> str:
    # Cached: the events of a batch were received within a few seconds.
    when = time.localtime(second)
    return (
        f"{when.tm_year} {_MONTHS[when.tm_mon - 1]} {when.tm_mday:02d} "
        f"{when.tm_hour:02d}:{when.tm_min:02d}:{when.tm_sec:02d}"
    )


def format_alerts_log(alert: Alert, alert_id: str) -> str:
    """The alert as an alerts.log block (ending with the blank separator line)."""
    event = alert.event
    mail = " mail " if alert.mail else ""
    text = (
        f"** Alert {alert_id}:{mail} - {_groups_text(tuple(alert.groups))}\n"
        f"{_log_stamp(event.time)} {_origin(event.location, alert.hostname or event.host)}\n"
        f"Rule: {alert.rule_id} (level {alert.level}) -> '{alert.description}'\n"
    )
    fields = alert.fields
    if fields:
        for name, label in _LOG_FIELDS:
            value = fields.get(name)
            if value is not None:
                text += f"{label}: {value}\n"
    text += _full_log(alert)[:MAX_LOG]
    for previous in alert.previous_output:
        text += "\n" + previous[:MAX_LOG]
    return text + "\n\n"


@functools.lru_cache(maxsize=64)
def _local_second(second: int) -> tuple[str, str]:
    """(date and time, +HHMM offset) of one second in local time: the alerts of a batch share a
    few seconds, and two strftime calls per alert were a tenth of rendering it."""
    local = time.localtime(second)
    return time.strftime("%Y-%m-%dT%H:%M:%S", local), time.strftime("%z", local)


def _iso_timestamp(epoch: float) -> str:
    """Wazuh's alert timestamp: local time with milliseconds and a +HHMM offset."""
    second = math.floor(epoch)
    stamp, zone = _local_second(second)
    return f"{stamp}.{int((epoch - second) * 1000):03d}{zone}"


def _header_timestamp(alert: Alert, full_log: str) -> str | None:
    """The timestamp text of the log's own header, as the pre-decoder read it: carried by an
    alert from the engine, found again for one made elsewhere."""
    if alert.header_timestamp is not None:
        return alert.header_timestamp
    from ospatrol.analysis.predecode import predecode

    return predecode(full_log, location=alert.event.location).timestamp


_CONTAINERS = (str, tuple, list, dict)


def _without_empty(mapping: dict[str, Any]) -> dict[str, Any]:
    """`mapping` without None and empty strings and containers (0 and False stay)."""
    # A truthy value is kept at once: comparing each value with five empty ones was a third of
    # rendering an alert.
    return {
        k: v for k, v in mapping.items() if v or (v is not None and not isinstance(v, _CONTAINERS))
    }


def _nested(fields: Mapping[str, str]) -> dict[str, Any]:
    """Decoded fields as Wazuh writes `data`: a dotted name (`win.system.eventID`, from the
    JSON decoder or an `<order>`) becomes nested objects."""
    out: dict[str, Any] = {}
    for name, value in fields.items():
        if not value:
            continue
        if "." not in name:
            out.setdefault(name, value)
            continue
        *parents, last = name.split(".")
        node = out
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node.setdefault(last, value)
    return out


def _agent(event: Event, manager_name: str) -> dict[str, str]:
    """The `agent` object: the `(name)` of an agent location, the audited host for agentless
    events, and the manager (id "000") otherwise; without empty values."""
    agent_location = _agent_of(event.location)
    if agent_location is not None:
        return _without_empty({"name": agent_location[0], "ip": agent_location[1]})
    if event.source == "agentless" and event.host:
        return {"name": event.host}
    if not manager_name:
        return {"id": MANAGER_AGENT_ID}
    return {"id": MANAGER_AGENT_ID, "name": manager_name}


def format_alert_json(alert: Alert, *, manager: str | None = None) -> dict[str, Any]:
    """The alert as one alerts.json object (OSSEC/Wazuh shape); keys with no value are left out.

    `manager` is the manager's name (default: this machine's).
    """
    # Built key by key, leaving out what is empty, in Wazuh's key order: filtering whole dicts
    # afterwards (five `_without_empty` passes) was half the cost of an alerts.json line.
    manager_name = manager or platform.node() or "localhost"
    event = alert.event
    rule: dict[str, Any] = {"level": alert.level}
    if alert.description:
        rule["description"] = alert.description
    rule["id"] = str(alert.rule_id)
    if alert.groups:
        rule["groups"] = list(alert.groups)
    rule["firedtimes"] = alert.firedtimes
    rule["mail"] = alert.mail
    if alert.mitre:
        rule["mitre"] = {"id": list(alert.mitre)}
    document: dict[str, Any] = {"timestamp": _iso_timestamp(event.time), "rule": rule}
    agent = _agent(event, manager_name)
    if agent:
        document["agent"] = agent
    document["manager"] = {"name": manager_name}
    if alert.alert_id:
        document["id"] = alert.alert_id
    full_log = _full_log(alert)
    if full_log:
        document["full_log"] = full_log
    previous = "\n".join(alert.previous_output)
    if previous:
        document["previous_output"] = previous
    predecoder = {}
    if alert.program_name:
        predecoder["program_name"] = alert.program_name
    stamp = _header_timestamp(alert, full_log)
    if stamp:
        predecoder["timestamp"] = stamp
    if alert.hostname:
        predecoder["hostname"] = alert.hostname
    if predecoder:
        document["predecoder"] = predecoder
    decoder = {}
    if alert.decoder_parent:
        decoder["parent"] = alert.decoder_parent
    if alert.decoder:
        decoder["name"] = alert.decoder
    if decoder:
        document["decoder"] = decoder
    data = _nested(alert.fields)
    if data:
        document["data"] = data
    if event.location:
        document["location"] = event.location
    return document


def format_archive_json(result: EngineResult, *, manager: str) -> dict[str, Any]:
    """One analysed event as an archives.json object (Wazuh's `logall_json`): the alerts.json
    shape without rule, id and correlated logs, for every event, alerting or not."""
    event = result.event
    full_log = result.full_log or event.text
    predecoder = {
        "program_name": result.program_name,
        "timestamp": result.header_timestamp,
        "hostname": result.hostname,
    }
    document: dict[str, Any] = {
        "timestamp": _iso_timestamp(event.time),
        "agent": _agent(event, manager),
        "manager": {"name": manager},
        "full_log": full_log,
        "predecoder": _without_empty(predecoder),
        "decoder": _without_empty({"name": result.decoder}),
        "data": _nested(result.fields),
        "location": event.location,
    }
    return _without_empty(document)


def format_archives_log(result: EngineResult) -> str:
    """One analysed event as an archives.log line (analysisd's `logall`):
    `YYYY Mmm dd hh:mm:ss hostname->location full_log`; a multi-line log (an agentless diff)
    stays one line, its line breaks written as `\\n`."""
    event = result.event
    origin = _origin(event.location, result.hostname or event.host)
    full_log = (result.full_log or event.text).replace("\n", "\\n")
    return f"{_log_stamp(event.time)} {origin} {full_log}\n"

"""Forward alerts to another syslog server (a SIEM) as JSON or CEF, over UDP, TCP or TLS.

Each alert is one RFC 5424 message (`<PRI>1 TIMESTAMP HOST ospatrol - - - BODY`) whose body is
the alerts.json object or an ArcSight CEF line; over TCP and TLS it is octet-counted (RFC 6587,
RFC 5425). The PRI is local0 with a severity from the alert level. A broken connection is
reopened once per batch; what still cannot be sent is counted as failed.
"""

from __future__ import annotations

import json
import platform
import socket
import ssl
import time
from typing import Any

from ospatrol.manager.config import SyslogOutput
from ospatrol.model import Alert
from ospatrol.respond.alertfmt import format_alert_json
from ospatrol.respond.queued import QueuedSink
from ospatrol.respond.text import one_line

LOCAL0 = 16
_CEF_FIELDS = (
    ("srcip", "src"),
    ("dstip", "dst"),
    ("srcport", "spt"),
    ("dstport", "dpt"),
    ("srcuser", "suser"),
    ("dstuser", "duser"),
    ("protocol", "proto"),
    ("action", "act"),
    ("url", "request"),
)


def severity(level: int) -> int:
    """Syslog severity for an OSSEC level (15 emergency ... below 4 informational)."""
    if level >= 15:
        return 0
    if level >= 12:
        return 2
    if level >= 10:
        return 3
    if level >= 7:
        return 4
    if level >= 4:
        return 5
    return 6


def _cef_header(text: str) -> str:
    return one_line(text, 512).replace("\\", "\\\\").replace("|", "\\|")


def _cef_value(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("=", "\\=")
    return escaped.replace("\r", "\\r").replace("\n", "\\n")


def format_cef(alert: Alert, version: str) -> str:
    """The alert as a CEF:0 line (header pipes and extension `=` escaped)."""
    header = "|".join(
        [
            "CEF:0",
            "OSPatrol",
            "OSPatrol",
            _cef_header(version),
            str(alert.rule_id),
            _cef_header(alert.description),
            str(min(10, round(alert.level * 10 / 15))),
        ]
    )
    extension = [f"rt={int(alert.event.time * 1000)}", f"dvchost={_cef_value(alert.hostname)}"]
    extension += [
        f"{key}={_cef_value(alert.fields[name])}"
        for name, key in _CEF_FIELDS
        if alert.fields.get(name)
    ]
    extension.append(f"cs1Label=location cs1={_cef_value(alert.event.location)}")
    extension.append(f"msg={_cef_value(alert.full_log or alert.event.text)}")
    return f"{header}|{' '.join(extension)}"


def syslog_message(alert: Alert, settings: SyslogOutput, host: str, version: str) -> bytes:
    body: Any
    if settings.format == "cef":
        body = format_cef(alert, version)
    else:
        body = json.dumps(format_alert_json(alert, manager=host), ensure_ascii=False)
    pri = LOCAL0 * 8 + severity(alert.level)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(alert.event.time))
    return f"<{pri}>1 {stamp}Z {host} ospatrol - - - {body}".encode()


class Forwarder:
    def __init__(self, settings: SyslogOutput) -> None:
        from ospatrol import __version__

        self.settings = settings
        self.version = __version__
        self.host = platform.node() or "localhost"
        address, _, port = settings.target.rpartition(":")
        self.address = (address, int(port))
        self._sock: socket.socket | None = None

    def _connect(self) -> socket.socket:
        if self.settings.protocol == "udp":
            family = socket.AF_INET6 if ":" in self.address[0] else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_DGRAM)
            sock.connect(self.address)
            return sock
        sock = socket.create_connection(self.address, timeout=10)
        if self.settings.protocol == "tls":
            context = ssl.create_default_context(
                cafile=str(self.settings.ca) if self.settings.ca else None
            )
            sock = context.wrap_socket(sock, server_hostname=self.address[0])
        return sock

    def deliver(self, alerts: list[Alert]) -> None:
        messages = [
            syslog_message(a, self.settings, self.host, self.version)
            for a in alerts
            if a.level >= self.settings.min_level
        ]
        if not messages:
            return
        if self.settings.protocol != "udp":
            payload = b"".join(b"%d %s" % (len(m), m) for m in messages)
        for attempt in (1, 2):
            try:
                if self._sock is None:
                    self._sock = self._connect()
                if self.settings.protocol == "udp":
                    for message in messages:
                        self._sock.send(message)
                else:
                    self._sock.sendall(payload)
                return
            except OSError:
                self.close()
                if attempt == 2:
                    raise

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def forward_sink(settings: SyslogOutput) -> QueuedSink:
    forwarder = Forwarder(settings)
    return QueuedSink(
        "syslog", forwarder.deliver, maxsize=settings.queue_size, teardown=forwarder.close
    )

"""E-mail alerts over SMTP: minimum level or the rule's `alert_by_email`, grouping, a cap per
hour, STARTTLS and authentication, body from the jinja2 template `templates/alert-mail.txt`.

Like OSSEC's maild, alerts that arrive within `group_seconds` of each other go out as one
message; past `max_per_hour` messages in the last hour, further alerts are dropped and counted
(`dropped:rate`) rather than flooding the mailbox. Alert text comes from senders and is treated
as hostile: the subject is one line without control characters, the body plain text.
"""

from __future__ import annotations

import smtplib
import ssl
import time
from collections import deque
from email.message import EmailMessage
from typing import Any

from ospatrol.manager.config import EmailOutput
from ospatrol.model import Alert
from ospatrol.respond.alertfmt import format_alerts_log
from ospatrol.respond.queued import QueuedSink
from ospatrol.respond.text import one_line, printable

TEMPLATE = "alert-mail.txt"
_FIELD_LABELS = (
    ("srcip", "Src IP"),
    ("srcport", "Src Port"),
    ("dstip", "Dst IP"),
    ("dstport", "Dst Port"),
    ("srcuser", "Src User"),
    ("dstuser", "User"),
)


def _template():
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    from ospatrol.paths import data_dir

    env = Environment(
        loader=FileSystemLoader(str(data_dir("templates"))),
        undefined=StrictUndefined,
        autoescape=False,  # a text/plain body: nothing in it is interpreted
        trim_blocks=True,
        keep_trailing_newline=True,
    )
    return env.get_template(TEMPLATE)


def _view(alert: Alert) -> dict[str, Any]:
    block = format_alerts_log(alert, alert.alert_id).split("\n")
    return {
        "timestamp": time.strftime("%Y %b %d %H:%M:%S", time.localtime(alert.event.time)),
        "origin": printable(block[1].split(" ", 4)[-1]),
        "rule_id": alert.rule_id,
        "level": alert.level,
        "description": printable(alert.description),
        "fields": [
            (label, printable(alert.fields[name]))
            for name, label in _FIELD_LABELS
            if alert.fields.get(name)
        ],
        "log": printable(alert.full_log or alert.event.text),
        "previous": [printable(line) for line in alert.previous_output],
    }


def render_mail(alerts: list[Alert], settings: EmailOutput, manager: str) -> EmailMessage:
    """The message for a group of alerts."""
    top = max(alerts, key=lambda a: a.level)
    message = EmailMessage()
    subject = f"OSPatrol Alert - {manager} - Level {top.level} - {top.description}"
    if len(alerts) > 1:
        subject += f" (+{len(alerts) - 1} more)"
    message["Subject"] = one_line(subject)
    message["From"] = settings.sender
    message["To"] = ", ".join(settings.to)
    body = _template().render(alerts=[_view(a) for a in alerts], manager=manager)
    message.set_content(body)
    return message


def wants_mail(alert: Alert, settings: EmailOutput) -> bool:
    """At the minimum level, or the rule asks for mail (`<options>alert_by_email</options>`)."""
    return alert.level >= settings.min_level or alert.mail


class MailSender:
    """Sends groups of alerts, at most `max_per_hour` messages per sliding hour."""

    def __init__(self, settings: EmailOutput, manager: str) -> None:
        self.settings = settings
        self.manager = manager
        self.sink: QueuedSink | None = None
        self._sent: deque[float] = deque()

    def deliver(self, alerts: list[Alert]) -> None:
        now = time.monotonic()
        while self._sent and now - self._sent[0] > 3600:
            self._sent.popleft()
        if len(self._sent) >= self.settings.max_per_hour:
            assert self.sink is not None
            self.sink.counts["dropped:rate"] += len(alerts)
            return
        self._send(render_mail(alerts, self.settings, self.manager))
        self._sent.append(now)

    def _send(self, message: EmailMessage) -> None:
        host, _, port = self.settings.smtp.rpartition(":")
        with smtplib.SMTP(host, int(port), timeout=self.settings.timeout) as smtp:
            if self.settings.starttls:
                ca = str(self.settings.ca) if self.settings.ca else None
                smtp.starttls(context=ssl.create_default_context(cafile=ca))
            if self.settings.username:
                smtp.login(self.settings.username, self.settings.password or "")
            smtp.send_message(message)


def email_sink(settings: EmailOutput, manager: str) -> QueuedSink:
    sender = MailSender(settings, manager)
    sink = QueuedSink(
        "email",
        sender.deliver,
        maxsize=settings.queue_size,
        batch=100,
        accepts=lambda alert: wants_mail(alert, settings),
        linger=settings.group_seconds,
    )
    sender.sink = sink
    return sink

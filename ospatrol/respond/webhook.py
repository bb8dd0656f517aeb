"""POST each alert as JSON (the alerts.json object) to a webhook, with retries and back-off.

A failed POST (connection error, timeout, HTTP 5xx or 429) is retried `retries` times, waiting
`backoff`, then twice that, and so on; a 4xx other than 429 is not retried. Failures are counted
by the sink; the queue in front keeps a dead endpoint from holding up anything else.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

from ospatrol.manager.config import WebhookOutput
from ospatrol.model import Alert
from ospatrol.respond.alertfmt import format_alert_json
from ospatrol.respond.queued import QueuedSink


class WebhookSender:
    def __init__(self, settings: WebhookOutput, manager: str) -> None:
        self.settings = settings
        self.manager = manager
        self.sink: QueuedSink | None = None

    def _post(self, body: bytes) -> None:
        request = urllib.request.Request(
            self.settings.url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "User-Agent": "ospatrol"},
        )
        with urllib.request.urlopen(request, timeout=self.settings.timeout) as response:
            response.read()

    def deliver(self, alerts: list[Alert]) -> None:
        assert self.sink is not None
        for alert in alerts:
            body = json.dumps(format_alert_json(alert, manager=self.manager)).encode()
            delay = self.settings.backoff
            for attempt in range(self.settings.retries + 1):
                try:
                    self._post(body)
                    self.sink.counts["posted"] += 1
                    break
                except urllib.error.HTTPError as exc:
                    if exc.code < 500 and exc.code != 429:
                        self.sink.counts["failed:http"] += 1
                        break
                except (urllib.error.URLError, OSError):
                    pass
                if attempt == self.settings.retries:
                    self.sink.counts["failed:retries"] += 1
                    break
                self.sink.counts["retried"] += 1
                time.sleep(delay)
                delay *= 2


def webhook_sink(settings: WebhookOutput, manager: str) -> QueuedSink:
    sender = WebhookSender(settings, manager)
    sink = QueuedSink(
        "webhook",
        sender.deliver,
        maxsize=settings.queue_size,
        batch=100,
        accepts=lambda alert: alert.level >= settings.min_level,
    )
    sender.sink = sink
    return sink

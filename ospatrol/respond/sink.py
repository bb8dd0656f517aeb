"""Where alerts go: the `AlertSink` protocol every output implements, and the store's own sink.

The analysis side (the audit, the manager's workers) hands each alert to every configured sink
with `emit`. A sink must never block its caller: an output that talks to the network queues the
alert (a bounded queue of its own, drops counted) and sends it from its own task or thread, so a
slow or dead output never stalls analysis or another output. `close` flushes what is queued.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

from ospatrol.model import Alert

if TYPE_CHECKING:
    from ospatrol.store.protocols import AlertStore


@runtime_checkable
class AlertSink(Protocol):
    """One output of alerts (the store, alerts.log, alerts.json, e-mail, syslog, a webhook)."""

    name: str

    def emit(self, alert: Alert) -> None:
        """Take `alert`; never blocks the caller and never raises for a delivery problem."""
        ...

    def close(self) -> None:
        """Deliver or persist what is still queued, then release resources."""
        ...


class StoreSink:
    """Writes every alert to the store's alerts table (`ospatrol alerts` and reports read it).

    SQLite writes are short and local, so this sink writes synchronously; `run` ties the alerts
    of an audit to its run.
    """

    name = "store"

    def __init__(self, store: AlertStore, run: int | None = None) -> None:
        self.store = store
        self.run = run

    def emit(self, alert: Alert) -> None:
        self.store.add_alert(alert, run=self.run)

    def close(self) -> None:
        """Nothing is queued: every alert was written by `emit`."""

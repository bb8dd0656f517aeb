"""A sink whose delivery may be slow runs behind its own bounded queue on its own thread.

`emit` never blocks: an alert that finds the queue full is dropped and counted. The thread
takes alerts in batches (everything queued, up to `batch`; with `linger`, also what arrives that
many seconds after the first) so a file or database output writes and flushes once per batch
instead of once per alert, and e-mail can group alerts. A failing delivery is logged and counted,
never raised into analysis. `close` delivers what is queued, then stops the thread.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable

from ospatrol.model import Alert

log = logging.getLogger(__name__)

_STOP = object()


class QueuedSink:
    """An `AlertSink` that hands batches of alerts to `deliver` on a thread of its own.

    `setup` and `teardown` run on that thread (a database connection must be used by the
    thread that opened it)."""

    def __init__(
        self,
        name: str,
        deliver: Callable[[list[Alert]], None],
        *,
        maxsize: int = 10_000,
        batch: int = 1000,
        setup: Callable[[], None] | None = None,
        teardown: Callable[[], None] | None = None,
        accepts: Callable[[Alert], bool] | None = None,
        linger: float = 0.0,
        weight: Callable[[object], int] | None = None,
    ) -> None:
        self.name = name
        self.counts: Counter[str] = Counter()
        self._deliver = deliver
        self._batch = batch
        self._setup = setup
        self._teardown = teardown
        self._accepts = accepts
        self._linger = linger
        self._weight = weight
        self._queue: queue.Queue = queue.Queue(maxsize)
        self._thread = threading.Thread(target=self._run, name=f"sink-{name}", daemon=True)
        self._thread.start()

    @property
    def depth(self) -> int:
        return self._queue.qsize()

    def emit(self, alert: Alert) -> None:
        if self._accepts is not None and not self._accepts(alert):
            return
        try:
            self._queue.put_nowait(alert)
        except queue.Full:
            self.counts["dropped"] += 1

    def put(self, item: object, count: int = 1) -> None:
        """Queue an item that stands for `count` alerts (text rendered elsewhere)."""
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.counts["dropped"] += count

    def close(self, timeout: float = 60.0) -> None:
        self._queue.put(_STOP)
        self._thread.join(timeout)

    def _run(self) -> None:
        if self._setup is not None:
            self._setup()
        try:
            stopping = False
            while not stopping:
                items = [self._queue.get()]
                # With `linger`, wait that long after the first alert for more to join it
                # (e-mail grouping); otherwise take only what is already queued.
                deadline = time.monotonic() + self._linger
                while len(items) < self._batch and items[-1] is not _STOP:
                    try:
                        wait = deadline - time.monotonic()
                        if wait > 0:
                            items.append(self._queue.get(timeout=wait))
                        else:
                            items.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                if _STOP in items:
                    stopping = True
                    items = [item for item in items if item is not _STOP]
                if not items:
                    continue
                count = sum(map(self._weight, items)) if self._weight else len(items)
                try:
                    self._deliver(items)
                    self.counts["delivered"] += count
                except Exception:
                    self.counts["failed"] += count
                    log.exception("output %s: delivery failed", self.name)
        finally:
            if self._teardown is not None:
                self._teardown()

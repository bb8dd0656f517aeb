"""The bounded queue between the syslog listeners and the analysis workers.

UDP listeners `offer` (what does not fit is dropped, and the listener counts it); TCP and TLS
listeners `put` (they wait for room, so their sockets stop being read). The dispatcher `take`s
batches in arrival order.
"""

from __future__ import annotations

import asyncio
from collections import deque

from ospatrol.syslog.receiver import Frame


class BoundedIntake:
    """A FIFO of frames holding at most `capacity`."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: deque[Frame] = deque()
        self._room = asyncio.Event()
        self._room.set()
        self._ready = asyncio.Event()

    def __len__(self) -> int:
        return len(self._items)

    def offer(self, frames: list[Frame]) -> int:
        room = self.capacity - len(self._items)
        if room <= 0:
            self._room.clear()
            return 0
        taken = frames if len(frames) <= room else frames[:room]
        self._items.extend(taken)
        self._ready.set()
        return len(taken)

    async def put(self, frames: list[Frame]) -> None:
        # A batch may overshoot the capacity by its own size: a stream's frames stay together.
        while len(self._items) >= self.capacity:
            self._room.clear()
            await self._room.wait()
        self._items.extend(frames)
        self._ready.set()

    async def take(self, most: int) -> list[Frame]:
        """Up to `most` frames, waiting until there is at least one."""
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        items = self._items
        count = min(most, len(items))
        batch = [items.popleft() for _ in range(count)]
        if len(items) < self.capacity:
            self._room.set()
        return batch

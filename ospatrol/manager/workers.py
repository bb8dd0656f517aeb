"""The manager's side of the analysis workers: start them, feed them, collect alerts, drain.

Frames are partitioned by sender address (`partition`), so one device's events always reach the
same worker and its engine's correlation state. Each worker has a queue of its own, fed by
`submit`, and a feeder task that sends it batches, at most `MAX_IN_FLIGHT` outstanding: a worker
that is behind never holds up the frames of another (with one queue in arrival order, a run of
frames from one busy worker's senders left the other worker idle). `submit` waits while the
queues hold more than `QUEUED_BATCHES` batches a worker, which is the back-pressure that fills
the intake (and so drops UDP / slows TCP senders) when analysis cannot keep up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import zlib
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ospatrol.errors import InputError
from ospatrol.manager.channel import pack, read_message_async
from ospatrol.manager.config import AnalysisConfig
from ospatrol.model import Alert, Event
from ospatrol.syslog.receiver import Frame

log = logging.getLogger(__name__)

MAX_IN_FLIGHT = 4
# Frames the workers' queues may hold, in batches per worker, before `submit` waits.
QUEUED_BATCHES = 4
# Sender -> worker memo: a dict look-up instead of a CRC per frame; cleared when this many
# sources were seen (UDP sources can be spoofed, the memo must not grow without bound).
MAX_REMEMBERED_SOURCES = 65536
START_TIMEOUT = 300.0
PIPE_SIZE = 1 << 20
_F_SETPIPE_SZ = 1031

ResultHandler = Callable[[list[Alert], Counter, dict[str, tuple[str, int]]], None]
"""Gets each batch's alerts (empty unless `Rendering.alerts`), counts, and per rendered output
(sink name) its text and how many alerts or events that text holds."""


@dataclass(frozen=True)
class Rendering:
    """What the workers do for the manager's file outputs, named as their sinks (`outputs`):
    render alerts.json lines (`alerts_json`) and alerts.log blocks (`alerts_log`) with the
    manager name alerts.json carries, every event for the archives (`archives_json`,
    `archives_log`), and store the alerts in the store of `store_dir` (spread over the cores
    instead of in the manager's process).
    `alerts`: send the Alert records back too (an output or active response needs them;
    pickling every alert costs as much as rendering it, so it is skipped when nothing does)."""

    outputs: frozenset[str] = frozenset()
    manager_name: str | None = None
    store_dir: str | None = None
    alerts: bool = True


def worker_spec(
    analysis: AnalysisConfig, index: int, size: int, rendering: Rendering
) -> dict[str, Any]:
    return {
        "ossec_conf": str(analysis.ossec_conf) if analysis.ossec_conf else None,
        "rules_dir": str(analysis.rules_dir) if analysis.rules_dir else None,
        "decoders": [str(p) for p in analysis.decoders],
        "hostname": analysis.hostname,
        "index": index,
        "workers": size,
        "render": sorted(rendering.outputs),
        "manager_name": rendering.manager_name,
        "store_dir": rendering.store_dir,
        "alerts": rendering.alerts,
    }


def partition(source: str, workers: int) -> int:
    """The worker that analyses everything from `source` (stable across runs and reloads)."""
    return zlib.crc32(source.encode()) % workers


def _big_pipe(stream: Any) -> None:
    transport = getattr(stream, "transport", None)
    pipe = transport.get_extra_info("pipe") if transport is not None else None
    if pipe is not None:
        try:
            import fcntl

            fcntl.fcntl(pipe.fileno(), _F_SETPIPE_SZ, PIPE_SIZE)
        except OSError:
            pass


def _columns(part: list[Frame | Event]) -> tuple[tuple, list[Event]]:
    """A batch as it travels: the frames as three columns (sources, datas, times), which
    pickle as plain strings, bytes and floats (a list of named tuples took ten times as long),
    and the manager's own events apart."""
    frames = [item for item in part if item.__class__ is Frame]
    events = [] if len(frames) == len(part) else [i for i in part if i.__class__ is not Frame]
    return tuple(zip(*frames, strict=True)), events  # type: ignore[return-value]


@dataclass
class _Worker:
    index: int
    process: asyncio.subprocess.Process
    slots: asyncio.Semaphore
    reader_task: asyncio.Task | None = None
    feeder_task: asyncio.Task | None = None
    final: dict | None = None
    queue: deque[Frame | Event] = field(default_factory=deque)
    wake: asyncio.Event = field(default_factory=asyncio.Event)


class WorkerPool:
    """`size` worker processes on one rule set. Results go to `on_result` in the event loop."""

    def __init__(
        self,
        analysis: AnalysisConfig,
        size: int,
        on_result: ResultHandler,
        rendering: Rendering = Rendering(),
    ) -> None:
        self.analysis = analysis
        self.size = size
        self.on_result = on_result
        self.rendering = rendering
        self._workers: list[_Worker] = []
        self._stopping = False
        self._closing = False
        self._where: dict[str, int] = {}
        self._batch = analysis.batch_size
        self._limit = analysis.batch_size * QUEUED_BATCHES * size
        self._room = asyncio.Event()
        self.queued = 0

    async def _spawn(self, index: int) -> asyncio.subprocess.Process:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "ospatrol.manager.worker",
            json.dumps(worker_spec(self.analysis, index, self.size, self.rendering)),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=PIPE_SIZE,
        )
        _big_pipe(process.stdin)
        return process

    async def start(self) -> None:
        """Start every worker and wait until each has loaded the rule set.

        Raises InputError (with the loader's messages) when the rule set does not load; no
        worker is left running then."""
        for index in range(self.size):
            process = await self._spawn(index)
            self._workers.append(_Worker(index, process, asyncio.Semaphore(MAX_IN_FLIGHT)))
        try:
            answers = await asyncio.wait_for(
                asyncio.gather(*(read_message_async(w.process.stdout) for w in self._workers)),
                START_TIMEOUT,
            )
        except TimeoutError:
            await self.kill()
            raise InputError("analysis workers did not start in time") from None
        for answer in answers:
            if answer is None or answer[0] != "ready":
                await self.kill()
                detail = answer[1] if answer else "worker exited while loading the rule set"
                raise InputError(f"analysis workers cannot start: {detail}")
        for worker in self._workers:
            worker.reader_task = asyncio.create_task(self._read(worker))
            worker.feeder_task = asyncio.create_task(self._feed(worker))

    async def _respawn(self, worker: _Worker) -> None:
        """Replace a worker that died (its outstanding batches are lost, and counted in the
        results as `lost_batches`)."""
        lost = MAX_IN_FLIGHT - worker.slots._value
        if lost:
            self.on_result([], Counter(lost_batches=lost), {})
        log.error(
            "analysis worker %d exited unexpectedly (status %s); %d batch(es) lost, restarting",
            worker.index,
            worker.process.returncode,
            lost,
        )
        # Until the new process is ready, the feeder waits on slots that are not there yet:
        # it used to take a free slot of the dead one and write the next batch to its closed
        # pipe, losing that batch (and every later one) without a count.
        old_slots, worker.slots = worker.slots, asyncio.Semaphore(0)
        for _ in range(MAX_IN_FLIGHT):
            old_slots.release()  # a feeder waiting on the dead worker moves to the new slots
        process = await self._spawn(worker.index)
        answer = await read_message_async(process.stdout)
        if answer is None or answer[0] != "ready":
            log.error("analysis worker %d cannot restart: %s", worker.index, answer)
            return
        worker.process = process
        worker.reader_task = asyncio.create_task(self._read(worker))
        for _ in range(MAX_IN_FLIGHT):
            worker.slots.release()

    async def submit(self, frames: list[Frame | Event]) -> None:
        """Queue frames for their workers; waits while the queues are full."""
        size = self.size
        if size == 1:
            parts = {0: frames}
        else:
            parts: dict[int, list[Frame | Event]] = {}
            where = self._where
            for frame in frames:
                # Event.location for the manager's own events
                source = frame[0] if frame.__class__ is Frame else frame.location  # type: ignore[union-attr]
                index = where.get(source)
                if index is None:
                    if len(where) >= MAX_REMEMBERED_SOURCES:
                        where.clear()
                    index = where[source] = partition(source, size)
                parts.setdefault(index, []).append(frame)
        for index, part in parts.items():
            worker = self._workers[index]
            worker.queue.extend(part)
            worker.wake.set()
        self.queued += len(frames)
        while self.queued > self._limit:
            self._room.clear()
            await self._room.wait()

    async def _feed(self, worker: _Worker) -> None:
        """Send the worker its queued frames, a batch whenever it has a slot free: the batch
        grows up to the configured size while the worker is busy."""
        queue = worker.queue
        while True:
            while not queue:
                if self._closing:
                    return
                worker.wake.clear()
                await worker.wake.wait()
            slots = worker.slots
            await slots.acquire()
            if slots is not worker.slots:
                continue  # the worker was replaced while we waited: take a slot of the new one
            part = [queue.popleft() for _ in range(min(self._batch, len(queue)))]
            self.queued -= len(part)
            if self.queued <= self._limit:
                self._room.set()
            stdin = worker.process.stdin
            assert stdin is not None
            stdin.write(pack(("batch", *_columns(part))))
            # If the worker died, its reader respawns it and counts the loss.
            with contextlib.suppress(ConnectionError):
                await stdin.drain()

    async def _read(self, worker: _Worker) -> None:
        stdout = worker.process.stdout
        while True:
            message = await read_message_async(stdout)
            if message is None:
                if worker.final is None and not self._stopping:
                    await worker.process.wait()
                    await self._respawn(worker)
                return
            if message[0] == "done":
                worker.slots.release()
                try:
                    self.on_result(*message[1:])
                except Exception:
                    log.exception("manager: handling analysis results failed")
            elif message[0] == "stopped":
                worker.final = message[1]
                return

    async def stop(self) -> dict[str, int]:
        """Let every worker finish what it was sent, then stop it; returns the engines' counters."""
        totals: Counter[str] = Counter()
        self._closing = True
        for worker in self._workers:
            worker.wake.set()
        for worker in self._workers:
            await self._sent_all(worker)
        self._stopping = True
        for worker in self._workers:
            stdin = worker.process.stdin
            if stdin is not None and not stdin.is_closing():
                stdin.write(pack(("stop",)))
                with contextlib.suppress(ConnectionError):
                    await stdin.drain()
        for worker in self._workers:
            if worker.reader_task is not None:
                await worker.reader_task
            if worker.process.stdin is not None:
                worker.process.stdin.close()
            await worker.process.wait()
            totals.update(worker.final or {})
        return dict(totals)

    async def _sent_all(self, worker: _Worker) -> None:
        """Wait until the worker's feeder sent everything queued; give up on a worker that died
        and could not be restarted (its queued frames are lost with it)."""
        task = worker.feeder_task
        while task is not None and not task.done():
            reader = worker.reader_task
            if worker.process.returncode is not None and (reader is None or reader.done()):
                task.cancel()
                return
            await asyncio.wait({task}, timeout=0.1)

    async def kill(self) -> None:
        for worker in self._workers:
            if worker.process.returncode is None:
                worker.process.kill()
            await worker.process.wait()
            for task in (worker.reader_task, worker.feeder_task):
                if task is not None:
                    task.cancel()

    def alive(self) -> bool:
        return all(w.process.returncode is None for w in self._workers)

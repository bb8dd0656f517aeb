"""Syslog listeners on asyncio: UDP, TCP and TLS, each with its sender filter and counters.

A listener only receives: it checks the sender against its `SourceFilter`, splits streams into
frames (`Framer`) and hands `Frame`s to an `Intake`, the bounded queue in front of analysis.
Parsing happens later, in the analysis workers, so the receiving loop stays cheap.

Policy when analysis cannot keep up: a UDP datagram that finds the intake full is dropped and
counted (`dropped`), since blocking would only move the loss into the kernel; a TCP or TLS
connection waits for room (its socket stops being read, so TCP flow control slows the sender).

Counters (`ListenerStats.counts`, keyed by reason) are what the manager's metrics export:
`received`, `denied` (sender not allowed), `dropped`, `rejected:<why>` (empty, oversized,
truncated, tls, idle, too_many_connections), `connections`.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, Protocol

from ospatrol.syslog.acl import SourceFilter
from ospatrol.syslog.framing import Framer

log = logging.getLogger(__name__)

# Kernel receive buffer asked for (the kernel caps it at net.core.rmem_max unless root).
RECV_BUFFER = 32 * 1024 * 1024
STREAM_CHUNK = 256 * 1024
UDP_BATCH = 512


class Frame(NamedTuple):
    """One received syslog message, still bytes: sender address, the bytes, receive time."""

    source: str
    data: bytes
    time: float


class Intake(Protocol):
    """Where listeners deliver frames (the manager's bounded queue)."""

    def offer(self, frames: list[Frame]) -> int:
        """Take what fits without waiting; returns how many were taken (the rest are dropped)."""

    async def put(self, frames: list[Frame]) -> None:
        """Take all of `frames`, waiting for room."""


@dataclass(frozen=True)
class ListenerSpec:
    """One `syslog:` entry of the manager config."""

    protocol: str
    host: str
    port: int
    sources: SourceFilter = field(default_factory=SourceFilter)
    cert: Path | None = None
    key: Path | None = None
    client_ca: Path | None = None
    max_message: int = 65536
    idle_timeout: float = 300.0
    max_connections: int = 1024


@dataclass
class ListenerStats:
    counts: Counter[str] = field(default_factory=Counter)


def _big_buffers(sock: socket.socket) -> None:
    for option in (socket.SO_RCVBUF, getattr(socket, "SO_RCVBUFFORCE", None)):
        if option is None:
            continue
        try:
            sock.setsockopt(socket.SOL_SOCKET, option, RECV_BUFFER)
        except OSError:
            continue


def _address(peer: object) -> str:
    if isinstance(peer, tuple) and peer:
        host = str(peer[0])
        return host[7:] if host.startswith("::ffff:") else host
    return "unknown"


def tls_context(spec: ListenerSpec) -> ssl.SSLContext:
    """The server context of a TLS listener; with `client_ca`, clients must present a cert."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(spec.cert), str(spec.key))
    if spec.client_ca is not None:
        context.load_verify_locations(str(spec.client_ca))
        context.verify_mode = ssl.CERT_REQUIRED
    return context


class _UdpReader(threading.Thread):
    """Reads a UDP socket in a tight loop on its own thread and hands the event loop batches.

    asyncio reads one datagram per loop iteration, which caps a busy loop well below what the
    kernel delivers; this thread drains the socket (blocking reads release the GIL) and passes
    up to `UDP_BATCH` frames at a time to `Listener.udp_batch` in the loop."""

    def __init__(self, listener: Listener, sock: socket.socket) -> None:
        super().__init__(name=f"udp-{listener.spec.port}", daemon=True)
        self.listener = listener
        self.sock = sock
        self.loop = asyncio.get_running_loop()
        self.stopping = False

    def run(self) -> None:
        spec = self.listener.spec
        accepts = spec.sources.accepts
        sock = self.sock
        batch: list[Frame] = []
        counts: Counter[str] = Counter()
        sock.settimeout(0.2)
        while not self.stopping:
            try:
                data, addr = sock.recvfrom(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            sock.setblocking(False)
            while True:
                source = addr[0]
                if source.startswith("::ffff:"):
                    source = source[7:]
                if not accepts(source):
                    counts["denied"] += 1
                else:
                    data = data.rstrip(b"\r\n\x00")
                    if not data:
                        counts["rejected:empty"] += 1
                    elif len(data) > spec.max_message:
                        counts["rejected:oversized"] += 1
                    else:
                        batch.append(Frame(source, data, time.time()))
                if len(batch) >= UDP_BATCH:
                    break
                try:
                    data, addr = sock.recvfrom(65536)
                except (BlockingIOError, OSError):
                    break
            sock.settimeout(0.2)
            if batch or counts:
                self.loop.call_soon_threadsafe(self.listener.udp_batch, batch, counts)
                batch, counts = [], Counter()


class _StreamProtocol(asyncio.StreamReaderProtocol):
    """A stream server protocol that, for TLS, reads nothing before the handshake starts.

    (asyncio's transport reads as soon as the connection is made, which would swallow the
    client's hello into the plain-text reader before `start_tls` could see it.)"""

    def __init__(self, reader: asyncio.StreamReader, accept, *, tls: bool) -> None:
        super().__init__(reader, accept)
        self._tls_first = tls

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._tls_first:
            transport.pause_reading()  # type: ignore[attr-defined]
        super().connection_made(transport)


class Listener:
    """One running listener. `start()` binds; `close()` stops accepting and closes connections."""

    def __init__(self, spec: ListenerSpec, intake: Intake) -> None:
        self.spec = spec
        self.intake = intake
        self.stats = ListenerStats()
        self.bound: tuple[str, int] | None = None
        self._server: asyncio.AbstractServer | None = None
        self._udp: _UdpReader | None = None
        self._tls = tls_context(spec) if spec.protocol == "tls" else None
        self._connections: set[asyncio.Task] = set()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in self.spec.host else socket.AF_INET
        if self.spec.protocol == "udp":
            sock = socket.socket(family, socket.SOCK_DGRAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            _big_buffers(sock)
            sock.bind((self.spec.host, self.spec.port))
            self._udp = _UdpReader(self, sock)
            self._udp.start()
            self.bound = sock.getsockname()[:2]
        else:
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            _big_buffers(sock)
            sock.bind((self.spec.host, self.spec.port))
            tls = self._tls is not None
            self._server = await loop.create_server(
                lambda: _StreamProtocol(
                    asyncio.StreamReader(limit=STREAM_CHUNK), self._accept, tls=tls
                ),
                sock=sock,
                backlog=1024,
            )
            self.bound = sock.getsockname()[:2]
        log.info("syslog: listening on %s %s:%s", self.spec.protocol, *self.bound)

    async def close(self, drain: float = 0.0) -> None:
        """Stop listening. Open connections get `drain` seconds to send the rest and close
        (a sender that already wrote its messages loses none of them); then they are cut."""
        if self._udp is not None:
            self._udp.stopping = True
            await asyncio.to_thread(self._udp.join)
            self._udp.sock.close()
        if self._server is not None:
            self._server.close()
        if self._connections and drain > 0:
            await asyncio.wait(list(self._connections), timeout=drain)
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    # -- UDP ---------------------------------------------------------------------------------
    def udp_batch(self, frames: list[Frame], rejected: Counter[str]) -> None:
        """In the loop: count what the UDP thread read and offer it to the intake."""
        counts = self.stats.counts
        counts.update(rejected)
        if frames:
            counts["received"] += len(frames)
            dropped = len(frames) - self.intake.offer(frames)
            if dropped:
                counts["dropped"] += dropped

    # -- TCP / TLS ---------------------------------------------------------------------------
    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError, OSError):
            self.stats.counts["rejected:connection_error"] += 1
        finally:
            self._connections.discard(task)
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        counts = self.stats.counts
        source = _address(writer.get_extra_info("peername"))
        if not self.spec.sources.accepts(source):
            counts["denied"] += 1
            return
        if len(self._connections) > self.spec.max_connections:
            counts["rejected:too_many_connections"] += 1
            return
        counts["connections"] += 1
        sock = writer.get_extra_info("socket")
        if sock is not None:
            _big_buffers(sock)
        if self._tls is not None:
            try:
                await asyncio.wait_for(
                    writer.start_tls(self._tls), timeout=min(30.0, self.spec.idle_timeout)
                )
            except (ssl.SSLError, ConnectionError, OSError, TimeoutError):
                counts["rejected:tls"] += 1
                return
        framer = Framer(self.spec.max_message)
        try:
            while True:
                try:
                    chunk = await asyncio.wait_for(
                        reader.read(STREAM_CHUNK), timeout=self.spec.idle_timeout
                    )
                except TimeoutError:
                    counts["rejected:idle"] += 1
                    return
                if not chunk:
                    break
                frames = framer.feed(chunk)
                if framer.rejected:
                    self._count_rejections(framer)
                if frames:
                    await self._deliver(source, frames)
            await self._deliver(source, framer.close())
        finally:
            self._count_rejections(framer)

    def _count_rejections(self, framer: Framer) -> None:
        for reason, count in framer.rejected.items():
            self.stats.counts[f"rejected:{reason}"] += count
        framer.rejected.clear()

    async def _deliver(self, source: str, frames: Iterable[bytes]) -> None:
        now = time.time()
        batch = [Frame(source, data, now) for data in frames]
        if batch:
            self.stats.counts["received"] += len(batch)
            await self.intake.put(batch)

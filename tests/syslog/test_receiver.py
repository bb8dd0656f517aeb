"""Listeners on real loopback sockets: UDP, TCP (both framings), TLS (with client certificates),
sender filters, drop and back-pressure policies, and what `logger` (util-linux) sends."""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
from pathlib import Path

import pytest
import trustme

from ospatrol.manager.intake import BoundedIntake
from ospatrol.syslog.acl import SourceFilter
from ospatrol.syslog.event import frame_event
from ospatrol.syslog.receiver import Frame, Listener, ListenerSpec

MSG = b"<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8"


async def _listener(protocol: str, intake, **options) -> Listener:
    listener = Listener(ListenerSpec(protocol, "127.0.0.1", 0, **options), intake)
    await listener.start()
    return listener


async def _frames(intake: BoundedIntake, count: int, timeout: float = 10.0) -> list[Frame]:
    got: list[Frame] = []
    while len(got) < count:
        got += await asyncio.wait_for(intake.take(count - len(got)), timeout)
    return got


async def _closed_by_peer(reader: asyncio.StreamReader) -> bool:
    """True once the server closed the connection (EOF, or a reset when data was unread)."""
    try:
        return await asyncio.wait_for(reader.read(), 10) == b""
    except ConnectionResetError:
        return True


async def _wait_for(predicate, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached")


def test_udp_datagrams_are_received_with_sender_as_location() -> None:
    async def scenario() -> None:
        intake = BoundedIntake(100)
        listener = await _listener("udp", intake)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(MSG + b"\n", listener.bound)
            sock.sendto(b"", listener.bound)
        (frame,) = await _frames(intake, 1)
        assert frame.data == MSG
        await _wait_for(lambda: listener.stats.counts["rejected:empty"] == 1)
        event = frame_event(frame)
        assert event.location == "syslog:127.0.0.1"
        assert event.host == "mymachine"
        assert event.text == MSG.decode()[4:]  # the PRI stripped, as OSSEC's remoted does
        await listener.close()

    asyncio.run(scenario())


def test_udp_drops_and_counts_when_the_intake_is_full() -> None:
    async def scenario() -> None:
        intake = BoundedIntake(5)
        listener = await _listener("udp", intake)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for i in range(20):
                sock.sendto(MSG + str(i).encode(), listener.bound)
        await _wait_for(lambda: listener.stats.counts["received"] == 20)
        assert listener.stats.counts["dropped"] == 15
        frames = await _frames(intake, 5)
        assert [f.data for f in frames] == [MSG + str(i).encode() for i in range(5)]
        await listener.close()

    asyncio.run(scenario())


def test_tcp_back_pressure_loses_nothing() -> None:
    async def scenario() -> None:
        intake = BoundedIntake(10)
        listener = await _listener("tcp", intake)
        _reader, writer = await asyncio.open_connection(*listener.bound)
        payload = b"".join(MSG + b" %d\n" % i for i in range(2000))
        writer.write(payload)
        send = asyncio.create_task(writer.drain())
        got: list[Frame] = []
        while len(got) < 2000:
            got += await asyncio.wait_for(intake.take(7), 10)
            assert len(intake) <= 10 + 2000  # never unbounded beyond one read's frames
        await send
        assert [f.data for f in got] == [MSG + b" %d" % i for i in range(2000)]
        writer.close()
        await listener.close()

    asyncio.run(scenario())


def test_tcp_mixed_framing_oversize_and_idle_connections() -> None:
    async def scenario() -> None:
        intake = BoundedIntake(100)
        listener = await _listener("tcp", intake, max_message=200, idle_timeout=0.5)
        reader, writer = await asyncio.open_connection(*listener.bound)
        octet = b"<34>1 2003-10-11T22:14:15.003Z host app - - - octet"
        writer.write(MSG + b"\n" + b"%d " % len(octet) + octet + b"999 " + b"x" * 999 + MSG + b"\n")
        await writer.drain()
        frames = await _frames(intake, 3)
        assert [f.data for f in frames] == [MSG, octet, MSG]
        assert listener.stats.counts["rejected:oversized"] == 1
        # a slow-loris connection that never finishes a frame is closed after idle_timeout
        writer.write(b"<34>never ending")
        await writer.drain()
        assert await _closed_by_peer(reader)
        assert listener.stats.counts["rejected:idle"] == 1
        await listener.close()

    asyncio.run(scenario())


def test_allowed_and_denied_ips_with_cidrs() -> None:
    async def scenario() -> None:
        intake = BoundedIntake(100)
        deny_all = SourceFilter.from_lists(allowed=["10.0.0.0/8"])
        udp = await _listener("udp", intake, sources=deny_all)
        tcp = await _listener(
            "tcp", intake, sources=SourceFilter.from_lists(["127.0.0.0/8"], ["127.0.0.1"])
        )
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(MSG, udp.bound)
        reader, writer = await asyncio.open_connection(*tcp.bound)
        writer.write(MSG + b"\n")
        assert await _closed_by_peer(reader)
        await _wait_for(lambda: udp.stats.counts["denied"] == 1 and tcp.stats.counts["denied"])
        assert len(intake) == 0
        assert udp.stats.counts["received"] == tcp.stats.counts["received"] == 0
        await udp.close()
        await tcp.close()

    asyncio.run(scenario())


def test_source_filter_rules() -> None:
    rules = SourceFilter.from_lists(["10.0.0.0/8", "2001:db8::/32"], ["10.9.0.0/16"])
    assert rules.accepts("10.1.2.3")
    assert rules.accepts("::ffff:10.1.2.3")
    assert rules.accepts("2001:db8::1")
    assert not rules.accepts("10.9.1.1")
    assert not rules.accepts("192.168.1.1")
    assert not rules.accepts("not-an-address")
    assert SourceFilter().accepts("192.168.1.1")
    with pytest.raises(ValueError, match=r"10\.0\.0\.300"):
        SourceFilter.from_lists(["10.0.0.300"])


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    client = ca.issue_cert("client.example")
    files = {
        "ca": base / "ca.pem",
        "cert": base / "server.pem",
        "key": base / "server.key",
        "client": base / "client.pem",
    }
    ca.cert_pem.write_to_path(files["ca"])
    server.cert_chain_pems[0].write_to_path(files["cert"])
    server.private_key_pem.write_to_path(files["key"])
    client.private_key_and_cert_chain_pem.write_to_path(files["client"])
    return files


def test_tls_with_client_certificates(tls_files: dict[str, Path]) -> None:
    async def scenario() -> None:
        intake = BoundedIntake(100)
        listener = await _listener(
            "tls",
            intake,
            cert=tls_files["cert"],
            key=tls_files["key"],
            client_ca=tls_files["ca"],
        )
        good = ssl.create_default_context(cafile=str(tls_files["ca"]))
        good.load_cert_chain(str(tls_files["client"]))
        reader, writer = await asyncio.open_connection(*listener.bound, ssl=good)
        writer.write(b"%d " % len(MSG) + MSG)
        await writer.drain()
        (frame,) = await _frames(intake, 1)
        assert frame.data == MSG
        writer.close()
        # no client certificate: refused and counted
        anonymous = ssl.create_default_context(cafile=str(tls_files["ca"]))
        with pytest.raises((ssl.SSLError, ConnectionError)):
            reader, writer = await asyncio.open_connection(*listener.bound, ssl=anonymous)
            writer.write(MSG + b"\n")
            await writer.drain()
            assert await reader.read() == b""
            raise ConnectionError("closed")
        # garbage instead of a TLS handshake
        reader, writer = await asyncio.open_connection(*listener.bound)
        writer.write(MSG + b"\n")
        await writer.drain()
        assert await _closed_by_peer(reader)
        await _wait_for(lambda: listener.stats.counts["rejected:tls"] >= 2)
        assert len(intake) == 0
        await listener.close()

    asyncio.run(scenario())


LOGGER = shutil.which("logger")


@pytest.mark.skipif(LOGGER is None, reason="util-linux logger not installed")
@pytest.mark.parametrize(
    "options",
    [["--udp"], ["--tcp"], ["--tcp", "--octet-count"], ["--udp", "--rfc5424"], ["--rfc3164"]],
)
def test_what_logger_sends_is_received_and_parsed(options: list[str]) -> None:
    async def scenario() -> None:
        intake = BoundedIntake(100)
        protocol = "udp" if "--tcp" not in options else "tcp"
        if options == ["--rfc3164"]:
            options.insert(0, "--udp")
        listener = await _listener(protocol, intake)
        host, port = listener.bound
        argv = [LOGGER, "-n", host, "-P", str(port), *options, "-t", "sshd", "-i"]
        argv += ["Failed password for root from 10.0.0.5 port 22 ssh2"]
        proc = await asyncio.create_subprocess_exec(*argv)
        assert await proc.wait() == 0
        (frame,) = await _frames(intake, 1)
        event = frame_event(frame)
        assert event.text.endswith(": Failed password for root from 10.0.0.5 port 22 ssh2")
        assert " sshd[" in event.text
        details = event.extra["syslog"]
        assert details["app_name"] == "sshd"
        assert details["format"] == ("rfc3164" if "--rfc3164" in options else "rfc5424")
        await listener.close()

    asyncio.run(scenario())

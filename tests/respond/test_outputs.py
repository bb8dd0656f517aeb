"""Alert outputs against real servers on loopback: SMTP (aiosmtpd), a syslog receiver, HTTP."""

from __future__ import annotations

import email
import email.policy
import http.server
import json
import socket
import ssl
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from ospatrol.analysis.engine import Engine
from ospatrol.manager.config import EmailOutput, SyslogOutput, WebhookOutput
from ospatrol.model import Alert
from ospatrol.respond.email import email_sink
from ospatrol.respond.files import RotatingFile, alerts_json_sink
from ospatrol.respond.forward import format_cef, forward_sink
from ospatrol.respond.webhook import webhook_sink

LINE = "Dec 10 01:02:03 web1 sshd[123]: Failed password for root from 10.0.0.5 port 22 ssh2"


@pytest.fixture(scope="module")
def alert() -> Alert:
    result = Engine.for_default_ruleset().process_line(LINE)
    assert result.alert is not None
    return replace(result.alert, alert_id="1.1")


class _Controller(Controller):
    """aiosmtpd's controller listening on a port the system picks when it binds (port 0), read
    back before the controller's own first connection: no free port picked and bound later,
    which another process may take in between."""

    async def _listen(self):
        server = await self.loop.create_server(
            self._factory_invoker, host=self.hostname, port=0, ssl=self.ssl_context
        )
        self.port = server.sockets[0].getsockname()[1]
        return server

    def _create_server(self):
        return self._listen()


def _refusing_port() -> socket.socket:
    """A socket bound to a loopback port and not listening: connections to it are refused
    for as long as it is open (a port found free and closed again could be taken)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


def _wait(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


class _Inbox:
    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp():
    inbox = _Inbox()
    controller = _Controller(inbox, hostname="127.0.0.1")
    controller.start()
    yield controller, inbox
    controller.stop()


def test_email_groups_alerts_caps_per_hour_and_filters_by_level(smtp, alert: Alert) -> None:
    controller, inbox = smtp
    settings = EmailOutput(
        smtp=f"127.0.0.1:{controller.port}",
        sender="ospatrol@example.org",
        to=("soc@example.org",),
        min_level=5,
        group_seconds=0.5,
        max_per_hour=2,
    )
    sink = email_sink(settings, "mgr1")
    low = replace(alert, level=3)
    mail_rule = replace(alert, level=2, mail=True)  # the rule's alert_by_email
    evil = replace(alert, description="boom\r\nBcc: victim@example.org", level=9)
    for a in (alert, low, mail_rule, evil):
        sink.emit(a)
    _wait(lambda: len(inbox.messages) == 1)
    message = inbox.messages[0]
    assert message.rcpt_tos == ["soc@example.org"]
    parsed = email.message_from_bytes(message.content, policy=email.policy.default)
    assert (
        parsed["Subject"].strip()
        == "OSPatrol Alert - mgr1 - Level 9 - boom Bcc: victim@example.org (+2 more)"
    )
    assert parsed["Bcc"] is None
    body = parsed.get_content()
    assert body.count("Rule: 80206 fired") == 3
    assert "Src IP: 10.0.0.5" in body and "User: root" in body
    assert LINE in body
    # The first group is delivered (its three alerts counted, its message in the hour's
    # count): the next alert starts a group of its own.
    _wait(lambda: sink.counts["delivered"] == 3)
    sink.emit(alert)
    _wait(lambda: len(inbox.messages) == 2 and sink.counts["delivered"] == 4)
    sink.emit(alert)  # third message within the hour: over max_per_hour
    sink.close()
    assert len(inbox.messages) == 2
    assert sink.counts["dropped:rate"] == 1


def test_email_with_starttls_and_authentication(tmp_path: Path, alert: Alert) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(ca_file)
    logins: list[tuple[bytes, bytes]] = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"s3cret")

    inbox = _Inbox()
    controller = _Controller(
        inbox,
        hostname="127.0.0.1",
        tls_context=server_context,
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
    )
    controller.start()
    try:
        settings = EmailOutput(
            smtp=f"127.0.0.1:{controller.port}",
            sender="ospatrol@example.org",
            to=("soc@example.org",),
            min_level=0,
            starttls=True,
            ca=ca_file,
            username="ospatrol",
            password="s3cret",
        )
        sink = email_sink(settings, "mgr1")
        sink.emit(alert)
        sink.close()
    finally:
        controller.stop()
    assert sink.counts["delivered"] == 1, sink.counts
    assert len(inbox.messages) == 1
    assert logins == [(b"ospatrol", b"s3cret")]


def test_a_dead_smtp_server_counts_failures_and_blocks_nothing(alert: Alert) -> None:
    with _refusing_port() as dead:
        settings = EmailOutput(
            smtp=f"127.0.0.1:{dead.getsockname()[1]}",
            sender="a@b",
            to=("c@d",),
            min_level=0,
            timeout=2,
        )
        sink = email_sink(settings, "mgr1")
        started = time.monotonic()
        for _ in range(5000):
            sink.emit(alert)
        assert time.monotonic() - started < 1.0  # emit never waits for delivery
        sink.close()
    assert sink.counts["failed"] + sink.counts["dropped"] == 5000


def test_syslog_forwarding_udp_json_and_tcp_cef(alert: Alert) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", 0))
        udp.settimeout(10)
        sink = forward_sink(SyslogOutput(target=f"127.0.0.1:{udp.getsockname()[1]}"))
        sink.emit(alert)
        datagram = udp.recv(65536).decode()
        sink.close()
    assert datagram.startswith("<133>1 ")  # local0.notice for level 5
    body = json.loads(datagram.split(" - - - ", 1)[1])
    assert body["rule"]["id"] == "80206" and body["data"]["srcip"] == "10.0.0.5"
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.settimeout(10)
        sink = forward_sink(
            SyslogOutput(
                target=f"127.0.0.1:{server.getsockname()[1]}",
                protocol="tcp",
                format="cef",
            )
        )
        sink.emit(replace(alert, description="a|b=c"))
        conn, _ = server.accept()
        data = conn.recv(65536)
        conn.close()
        sink.close()
    length, message = data.split(b" ", 1)
    assert int(length) == len(message)
    text = message.decode()
    assert "|OSPatrol|OSPatrol|" in text
    assert "|80206|a\\|b=c|3|" in text
    assert "src=10.0.0.5" in text and "duser=root" in text


def test_cef_escapes_extension_values(alert: Alert) -> None:
    crafted = replace(alert, full_log="x=1 \\ y\nforged=2")
    line = format_cef(crafted, "1.0")
    assert "msg=x\\=1 \\\\ y\\nforged\\=2" in line
    assert "\n" not in line


def test_webhook_retries_with_backoff_then_delivers(alert: Alert) -> None:
    received: list[dict] = []
    failures = [2]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if failures[0] > 0:
                failures[0] -= 1
                self.send_response(503)
            else:
                received.append(json.loads(body))
                self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        sink = webhook_sink(WebhookOutput(url=url, min_level=5, backoff=0.05), "mgr1")
        sink.emit(replace(alert, level=2))  # below min_level: not sent
        sink.emit(alert)
        sink.close()
    finally:
        server.shutdown()
    assert [r["rule"]["id"] for r in received] == ["80206"]
    assert sink.counts["retried"] == 2 and sink.counts["posted"] == 1


def test_alerts_json_rotates_by_size_without_losing_a_line(tmp_path: Path, alert: Alert) -> None:
    path = tmp_path / "alerts.json"
    sink = alerts_json_sink(path, max_size=4096, daily=True, maxsize=100_000, manager="m")
    for i in range(500):
        sink.emit(replace(alert, alert_id=f"1.{i}"))
    sink.close()
    files = sorted(tmp_path.glob("alerts*.json"))
    assert len(files) > 3
    ids = [json.loads(line)["id"] for f in files for line in f.read_text().splitlines()]
    assert sorted(ids, key=lambda x: int(x.split(".")[1])) == [f"1.{i}" for i in range(500)]


def test_rotating_file_rotates_when_the_day_changes(tmp_path: Path, monkeypatch) -> None:
    target = RotatingFile(tmp_path / "alerts.log", max_size=1 << 30, daily=True)
    target.write("day one\n")
    days = iter(["20990101"])
    real = time.strftime
    monkeypatch.setattr(
        "ospatrol.respond.files.time.strftime",
        lambda fmt, *a: next(days, "20990101") if fmt == "%Y%m%d" and not a else real(fmt, *a),
    )
    target.write("day two\n")
    target.close()
    texts = sorted(p.read_text() for p in tmp_path.iterdir())
    assert texts == ["day one\n", "day two\n"]

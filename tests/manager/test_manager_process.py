"""A real `ospatrol manager` process fed by real syslog clients (util-linux logger, rsyslog)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
from manager_helpers import write_rule

LOGGER = shutil.which("logger")
pytestmark = pytest.mark.skipif(LOGGER is None, reason="util-linux logger not installed")

BASIC = """
syslog:
  - {protocol: udp, listen: "127.0.0.1:0"}
  - {protocol: tcp, listen: "127.0.0.1:0"}
  - {protocol: udp, listen: "127.0.0.1:0", allowed_ips: ["10.0.0.0/8"]}
analysis: {workers: 2}
"""


def logger(port: int, *options: str, message: str, tag: str = "sshd") -> None:
    argv = [
        LOGGER,
        "-n",
        "127.0.0.1",
        "-P",
        str(port),
        *options,
        "-t",
        tag,
        "-i",
        message,
    ]
    subprocess.run(argv, check=True, timeout=30)


def test_logger_messages_become_alerts_in_every_output(manager_factory) -> None:
    manager = manager_factory(BASIC)
    udp, tcp = manager.port("udp"), manager.port("tcp")
    sent = [
        (udp, ("--udp",), "Failed password for root from 10.0.0.5 port 22 ssh2"),
        (
            udp,
            ("--udp", "--rfc5424"),
            "Failed password for alice from 10.0.0.6 port 22 ssh2",
        ),
        (tcp, ("--tcp",), "Failed password for bob from 10.0.0.7 port 22 ssh2"),
        (
            tcp,
            ("--tcp", "--octet-count"),
            "Failed password for carol from 10.0.0.8 port 22 ssh2",
        ),
        (
            tcp,
            ("--tcp", "--rfc3164"),
            "Failed password for dave from 10.0.0.9 port 22 ssh2",
        ),
    ]
    for port, options, message in sent:
        logger(port, *options, message=message)
    manager.wait_stats(lambda s: s["analysis"].get("alerts", 0) >= 5)
    assert manager.stop() == 0
    alerts = manager.alerts_json()
    assert sorted(a["data"]["srcip"] for a in alerts) == [f"10.0.0.{i}" for i in range(5, 10)]
    for alert in alerts:
        assert alert["rule"]["id"] == "80206"
        assert alert["location"] == "syslog:127.0.0.1"
        assert alert["decoder"]["name"] == "sshd"
    log = (manager.state / "alerts.log").read_text()
    assert log.count("Rule: 80206 (level 5) -> 'sshd: wrong password.'") == 5
    assert "User: carol" in log
    ids = {a["id"] for a in alerts}
    assert len(ids) == 5  # unique across workers
    stored = manager.cli("alerts", "--format", "json", "--rule", "80206")
    assert stored.returncode == 0, stored.stderr
    rows = [json.loads(line) for line in stored.stdout.splitlines()]
    assert len(rows) == 5
    text = manager.cli("alerts", "--level", "6")
    assert text.returncode == 0 and text.stdout == ""


def test_sender_outside_allowed_ips_is_ignored_and_counted(manager_factory) -> None:
    manager = manager_factory(BASIC)
    restricted = manager.port("udp", 1)
    for _ in range(3):
        logger(
            restricted,
            "--udp",
            message="Failed password for root from 10.0.0.5 port 22 ssh2",
        )
    logger(
        manager.port("udp"),
        "--udp",
        message="Failed password for x from 10.0.0.9 port 22 ssh2",
    )
    stats = manager.wait_stats(lambda s: s["analysis"].get("alerts", 0) >= 1)
    assert manager.stop() == 0
    counts = {name: c for name, c in stats["listeners"].items() if name.endswith(f":{restricted}")}
    assert list(counts.values()) == [{"denied": 3}]
    assert len(manager.alerts_json()) == 1


def test_brute_force_correlates_across_workers(manager_factory) -> None:
    """Events of one sender go to one worker, so frequency rules see them all."""
    manager = manager_factory(BASIC)
    port = manager.port("tcp")
    with socket.create_connection(("127.0.0.1", port)) as sock:
        for i in range(10):
            line = f"<38>Dec  6 02:00:{i:02d} web1 sshd[99]: Failed password for root from "
            sock.sendall((line + "192.0.2.50 port 4242 ssh2\n").encode())
    manager.wait_stats(lambda s: s["analysis"].get("analysed", 0) >= 10)
    assert manager.stop() == 0
    rules = [a["rule"]["id"] for a in manager.alerts_json()]
    assert "80240" in rules


def test_sigterm_drains_everything_already_sent(manager_factory) -> None:
    manager = manager_factory(BASIC)
    count = 20_000
    payload = "".join(f"<13>Dec  6 02:00:00 h{i % 50} app: message {i}\n" for i in range(count))
    with socket.create_connection(("127.0.0.1", manager.port("tcp"))) as sock:
        sock.sendall(payload.encode())
        sock.shutdown(socket.SHUT_WR)
        manager.signal(signal.SIGTERM)
    assert manager.stop() == 0
    stats = manager.stats()
    assert stats["analysis"]["analysed"] == count
    assert stats["queue"] == 0


def test_bad_config_names_key_and_line(tmp_path: Path) -> None:
    config = tmp_path / "ospatrol.yml"
    config.write_text(
        "syslog:\n"
        "  - {protocol: udp, listen: '127.0.0.1:514'}\n"
        "  - protocol: tcpp\n"
        "    listen: 'nowhere:x'\n"
        "    allowed_ips: [10.0.0.300]\n"
        "outputs:\n"
        "  email: {smtp: '127.0.0.1:25', to: [a@b]}\n"
        "analysis: {workers: none}\n"
        "metrix: {}\n"
    )
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "ospatrol", "--state-dir", str(tmp_path / "s"), "manager", "-c",
         str(config)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 3
    err = done.stderr
    assert f"{config}:3: syslog[1].protocol: must be one of udp, tcp, tls" in err
    assert f"{config}:4: syslog[1].listen:" in err
    assert f"{config}:5: syslog[1].allowed_ips: not an IP address or CIDR" in err
    assert f"{config}:7: outputs.email.from: is required" in err
    assert f"{config}:8: analysis.workers:" in err
    assert f"{config}:9: metrix: unknown key" in err


def test_sighup_applies_a_changed_rule_without_losing_events(
    manager_factory, ruleset: Path
) -> None:
    config = BASIC.replace("{workers: 2}", f"{{workers: 2, ossec_conf: '{ruleset}'}}")
    manager = manager_factory(config)
    sent = 0
    with socket.create_connection(("127.0.0.1", manager.port("tcp"))) as sock:

        def send(n: int) -> None:
            nonlocal sent
            for _ in range(n):
                sock.sendall(f"<13>Dec  6 02:00:00 h{sent % 7} app: probe-marker {sent}\n".encode())
                sent += 1

        send(200)
        manager.wait_stats(lambda s: s["analysis"].get("alerts", 0) >= 200)
        write_rule(ruleset.parent / "local_rules.xml", level=12, description="probe escalated")
        manager.signal(signal.SIGHUP)
        deadline = time.monotonic() + 120
        while manager.stats()["analysis"].get("reloads", 0) < 1:
            send(20)  # keep sending while the new workers start and take over
            assert time.monotonic() < deadline, manager.log()
            time.sleep(0.05)
        send(200)
    stats = manager.wait_stats(lambda s: s["analysis"].get("analysed", 0) >= sent)
    assert manager.stop() == 0
    assert stats["analysis"]["analysed"] == sent
    alerts = manager.alerts_json()
    assert len(alerts) == sent
    numbers = sorted(int(a["full_log"].rsplit(" ", 1)[1]) for a in alerts)
    assert numbers == list(range(sent))
    assert alerts[0]["rule"]["description"] == "probe seen"
    escalated = [a for a in alerts if a["rule"]["level"] == 12]
    assert len(escalated) >= 200
    assert all(a["rule"]["description"] == "probe escalated" for a in escalated)


def test_sighup_with_a_broken_rule_keeps_the_running_one(manager_factory, ruleset: Path) -> None:
    config = BASIC.replace("{workers: 2}", f"{{workers: 1, ossec_conf: '{ruleset}'}}")
    manager = manager_factory(config)
    (ruleset.parent / "local_rules.xml").write_text("<group name='x,'><rule id='1' level='99'>")
    manager.signal(signal.SIGHUP)
    manager.wait_stats(lambda s: s["analysis"].get("reload_failed", 0) == 1)
    logger(
        manager.port("udp"),
        "--udp",
        message="probe-marker after a bad reload",
        tag="app",
    )
    manager.wait_stats(lambda s: s["analysis"].get("alerts", 0) == 1)
    assert manager.stop() == 0
    assert "reload failed" in manager.log()


def test_prometheus_metrics(manager_factory) -> None:
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    manager = manager_factory(BASIC + 'metrics: {listen: "127.0.0.1:0"}\n')
    for _ in range(3):
        logger(manager.port("udp"), "--udp", message="Failed password for x from 10.0.0.9 port 22")
    logger(manager.port("udp", 1), "--udp", message="from a sender that is not allowed")
    manager.wait_stats(lambda s: s["outputs"]["alerts_json"].get("delivered", 0) >= 3)
    url = f"http://127.0.0.1:{manager.info['metrics_port']}/metrics"
    text = urllib.request.urlopen(url, timeout=10).read().decode()
    assert manager.stop() == 0
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }

    def value(name: str, **labels: str) -> float:
        return samples[(name, tuple(sorted(labels.items())))]

    udp, restricted = manager.port("udp"), manager.port("udp", 1)
    events = "ospatrol_syslog_events_total"
    assert value(events, listener=f"udp:127.0.0.1:{udp}", outcome="received") == 3
    assert value(events, listener=f"udp:127.0.0.1:{restricted}", outcome="denied") == 1
    assert value("ospatrol_analysis_events_total", outcome="alerts") == 3
    assert value("ospatrol_queue_depth", queue="intake") == 0
    delivered = value("ospatrol_output_alerts_total", output="alerts_json", outcome="delivered")
    assert delivered == 3


def test_the_shipped_example_config_is_valid(tmp_path: Path) -> None:
    import trustme

    from ospatrol.manager.config import load_manager_config

    example = Path(__file__).resolve().parents[2] / "deploy" / "ospatrol.yml"
    config_path = tmp_path / "ospatrol.yml"
    config_path.write_text(example.read_text())
    ca = trustme.CA()
    cert = ca.issue_cert("manager.example.org")
    cert.cert_chain_pems[0].write_to_path(tmp_path / "server.pem")
    cert.private_key_pem.write_to_path(tmp_path / "server.key")
    ca.cert_pem.write_to_path(tmp_path / "ca.pem")
    (tmp_path / "inventory.yml").write_text("all: {hosts: {web1: {}}}\n")
    config = load_manager_config(config_path)
    listeners = [(s.protocol, s.port) for s in config.syslog]
    assert listeners == [("udp", 514), ("tcp", 514), ("tls", 6514)]
    assert config.outputs.email is not None and config.outputs.email.min_level == 10
    assert [job.name for job in config.schedules] == ["nightly", "configs"]
    assert config.responses.rules[0].command.name == "firewall-drop"
    assert [str(r.location) for r in config.responses.rules] == ["local", "origin"]
    assert [h.name for h in config.responses.hosts] == ["web1"]
    assert config.alerts.retention_days == 90 and config.outputs.archives is None
    assert config.metrics_listen == ("127.0.0.1", 9108)


def _children(pid: int) -> set[int]:
    return {int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


def test_a_killed_worker_is_restarted_and_analysis_goes_on(manager_factory) -> None:
    manager = manager_factory(BASIC)
    port = manager.port("tcp")

    def send(first: int) -> None:
        # one sender: all of it goes to one worker, and both were killed
        lines = "".join(
            f"<13>Dec  6 02:00:00 h{i} app: message {i}\n" for i in range(first, first + 10)
        )
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(lines.encode())

    send(0)
    manager.wait_stats(lambda s: s["analysis"].get("analysed", 0) >= 10)
    workers = _children(manager.process.pid)
    assert len(workers) == 2
    for pid in workers:
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 120
    while len(_children(manager.process.pid) - workers) < 2:
        assert time.monotonic() < deadline, manager.log()
        time.sleep(0.1)
    send(10)
    stats = manager.wait_stats(lambda s: s["analysis"].get("analysed", 0) >= 20)
    assert stats["analysis"]["analysed"] == 20
    assert manager.stop() == 0
    assert manager.log().count("exited unexpectedly") == 2


def test_a_pattern_that_gives_up_is_counted_logged_and_exported(
    manager_factory, ruleset: Path, tmp_path: Path
) -> None:
    """Without google-re2 (hidden from the manager and its workers) a catastrophic pattern runs
    out of its time budget on a padded line: the manager says at start that linear-time
    matching is missing, and each line given up on is counted, logged by pattern (never by
    line) and exported, so an operator sees the evasion instead of a quiet non-match."""
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    hidden = tmp_path / "hide-re2"
    hidden.mkdir()
    (hidden / "re2.py").write_text('raise ImportError("hidden by the test")\n')
    (ruleset.parent / "local_rules.xml").write_text(
        '<group name="local,">\n  <rule id="100100" level="7">\n'
        "    <pcre2>(a+)+$</pcre2>\n    <description>evil pattern</description>\n"
        "  </rule>\n</group>\n"
    )
    config = BASIC.replace("{workers: 2}", f"{{workers: 1, ossec_conf: '{ruleset}'}}")
    manager = manager_factory(
        config + 'metrics: {listen: "127.0.0.1:0"}\n', env={"PYTHONPATH": str(hidden)}
    )
    with socket.create_connection(("127.0.0.1", manager.port("tcp"))) as sock:
        sock.sendall(b"<13>Dec  6 02:00:00 h1 app: " + b"a" * 5000 + b"!SECRETLINE\n")
    stats = manager.wait_stats(lambda s: s["analysis"].get("regex_timeouts", 0) >= 1)
    url = f"http://127.0.0.1:{manager.info['metrics_port']}/metrics"
    text = urllib.request.urlopen(url, timeout=10).read().decode()
    assert manager.stop() == 0
    assert stats["analysis"]["analysed"] == 1
    log = manager.log()
    assert "google-re2 is not installed" in log
    assert "pattern '(a+)+$' gave up on 1 line(s)" in log
    assert "SECRETLINE" not in log
    samples = {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    assert samples["ospatrol_analysis_regex_timeouts_total"] >= 1
    assert samples["ospatrol_analysis_lost_batches_total"] == 0
    assert not any(
        "regex_timeouts" in name or "lost_batches" in name
        for name in samples
        if name.startswith("ospatrol_analysis_events")
    )

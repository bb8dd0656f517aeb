"""Alert retention (old stored alerts pruned at start and on a timer) and the archives of every
event (archives.json / archives.log, rotated like alerts.json), with a real manager process."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

from ospatrol.model import Alert, Event
from ospatrol.store import Store

DAY = 86400.0


def _stored(rule: int, when: float) -> Alert:
    event = Event(f"old line {rule}", "syslog:192.0.2.1", "fw1", when, "syslog")
    return Alert(rule, 5, "stored before", event, ("syslog",))


def _send(manager, lines: list[str]) -> None:
    with socket.create_connection(("127.0.0.1", manager.port("tcp"))) as sock:
        sock.sendall("".join(line + "\n" for line in lines).encode())


def _rules(manager) -> list[int]:
    shown = manager.cli("alerts", "--format", "json")
    assert shown.returncode == 0, shown.stderr
    return [json.loads(line)["rule_id"] for line in shown.stdout.splitlines()]


def test_alerts_past_retention_are_pruned_at_start_and_on_the_timer(
    manager_factory, tmp_path: Path
) -> None:
    now = time.time()
    with Store.open(tmp_path / "state") as store:
        store.add_alerts([_stored(1, now - 3 * DAY), _stored(2, now - 3600)])
    manager = manager_factory(
        """
syslog:
  - {protocol: tcp, listen: "127.0.0.1:0"}
alerts: {retention_days: 1, prune_interval: 1}
"""
    )
    manager.wait_stats(lambda s: s["analysis"].get("alerts_pruned", 0) == 1)
    assert _rules(manager) == [2]
    with Store.open(manager.state) as store:
        store.add_alert(_stored(3, now - 2 * DAY))
    manager.wait_stats(lambda s: s["analysis"].get("alerts_pruned", 0) == 2)
    _send(manager, ["<38>Dec  6 02:00:00 web1 sshd[9]: Failed password for root from "
                    "192.0.2.50 port 4242 ssh2"])  # fmt: skip
    manager.wait_stats(lambda s: s["analysis"].get("stored", 0) == 1)
    assert _rules(manager) == [2, 80206]
    assert manager.stop() == 0
    assert manager.stats()["analysis"]["alerts_pruned"] == 2


def test_without_retention_nothing_is_pruned(manager_factory, tmp_path: Path) -> None:
    with Store.open(tmp_path / "state") as store:
        store.add_alert(_stored(1, 1.0))
    manager = manager_factory("syslog:\n  - {protocol: tcp, listen: '127.0.0.1:0'}\n")
    manager.wait_stats(lambda s: "analysis" in s)
    assert _rules(manager) == [1]
    assert manager.stop() == 0
    assert "alerts_pruned" not in manager.stats()["analysis"]


def _archived(stats: dict) -> tuple[int, int]:
    outputs = stats["outputs"]
    return tuple(outputs.get(f"archives_{f}", {}).get("delivered", 0) for f in ("json", "log"))


def test_archives_hold_every_event_and_rotate_without_losing_one(manager_factory) -> None:
    manager = manager_factory(
        """
syslog:
  - {protocol: tcp, listen: "127.0.0.1:0"}
analysis: {workers: 2}
outputs:
  archives: {max_size: 2048}
"""
    )
    alerting = (
        "<38>Dec  6 02:00:{n:02d} web1 sshd[9]: Failed password for root from 192.0.2.{n} "
        "port 22 ssh2"
    )
    quiet = "<13>Dec  6 02:00:{n:02d} web1 cron[7]: (root) quiet line number {n}"
    lines = [(alerting if n % 3 == 0 else quiet).format(n=n) for n in range(30)]
    for part in range(3):  # three writes: a file rotates between two writes, never inside one
        _send(manager, lines[part * 10 : part * 10 + 10])
        manager.wait_stats(lambda s, done=10 * (part + 1): _archived(s) == (done, done))
    assert manager.stop() == 0
    state = manager.state
    json_files = sorted(state.glob("archives*.json"))
    log_files = sorted(state.glob("archives*.log"))
    assert len(json_files) > 1 and len(log_files) > 1  # rotated at 2 KiB
    records = [json.loads(line) for f in json_files for line in f.read_text().splitlines()]
    log_lines = [line for f in log_files for line in f.read_text().splitlines()]
    # every event once, alerting or not, in both formats
    assert sorted(r["full_log"] for r in records) == sorted(line[4:] for line in lines)
    assert len(log_lines) == 30
    assert sorted(line.split("->syslog:127.0.0.1 ", 1)[1] for line in log_lines) == sorted(
        line[4:] for line in lines
    )
    sshd = next(r for r in records if "192.0.2.3 " in r["full_log"])
    assert sshd["decoder"] == {"name": "sshd"} and sshd["data"]["srcip"] == "192.0.2.3"
    assert sshd["location"] == "syslog:127.0.0.1" and "rule" not in sshd
    assert sshd["predecoder"]["program_name"] == "sshd"
    assert all(line.startswith(tuple("0123456789")) for line in log_lines)
    # the alerts are where they always were
    assert len(manager.alerts_json()) == 10

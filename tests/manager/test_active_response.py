"""Active response: the stock SSH brute-force rule runs a test action with validated arguments,
the delete follows after the timeout, crafted fields never reach the command."""

from __future__ import annotations

import json
import socket
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from ospatrol.analysis.engine import Engine
from ospatrol.errors import InputErrors
from ospatrol.manager.config import load_manager_config
from ospatrol.respond.actions import main as action_main
from ospatrol.respond.active import Command, Rejected, ResponseRule, validated_arguments

ACTION = """#!{python}
import json, os, sys
with open({record!r}, "a") as out:
    out.write(json.dumps([os.path.basename(sys.argv[0]), *sys.argv[1:]]) + "\\n")
"""


def _actions(tmp_path: Path, *names: str) -> Path:
    """Test actions that record their name and argv, one JSON list a line, in the file returned."""
    record = tmp_path / "calls.jsonl"
    for name in names:
        script = tmp_path / name
        script.write_text(ACTION.format(python=sys.executable, record=str(record)))
        script.chmod(0o755)
    return record


def _calls(record: Path, name: str) -> list[list[str]]:
    if not record.exists():
        return []
    calls = [json.loads(line) for line in record.read_text().splitlines()]
    return [call[1:] for call in calls if call[0] == name]


def _alert(line: str):
    result = Engine.for_default_ruleset().process_line(line)
    assert result.alert is not None
    return result.alert


@pytest.mark.parametrize("value", ["1.2.3.4;rm -rf /", "$(id)", "10.0.0.1 -j ACCEPT", "", "::g"])
def test_crafted_addresses_are_rejected(value: str) -> None:
    alert = _alert(
        "Dec 10 01:02:03 web1 sshd[1]: Failed password for root from 10.0.0.5 port 22 ssh2"
    )
    crafted = replace(alert, fields={**alert.fields, "srcip": value})
    with pytest.raises(Rejected, match="is not an IP address"):
        validated_arguments(Command("x", ("x",), ("srcip",)), crafted)


@pytest.mark.parametrize("value", ["$(id)", "`id`", "root;reboot", "-rf", "a b", "x\ny", "é"])
def test_crafted_users_are_rejected(value: str) -> None:
    alert = _alert(
        "Dec 10 01:02:03 web1 sshd[1]: Failed password for root from 10.0.0.5 port 22 ssh2"
    )
    crafted = replace(alert, fields={**alert.fields, "dstuser": value})
    with pytest.raises(Rejected, match="is not a plain user name"):
        validated_arguments(Command("x", ("x",), ("user",)), crafted)


def test_valid_fields_are_normalised() -> None:
    alert = _alert(
        "Dec 10 01:02:03 web1 sshd[1]: Failed password for bob from 10.0.0.5 port 22 ssh2"
    )
    values = validated_arguments(Command("x", ("x",), ("srcip", "user")), alert)
    assert values == {"srcip": "10.0.0.5", "user": "bob"}


def test_repeated_offenders_get_growing_timeouts() -> None:
    rule = ResponseRule(Command("x", ("x",), ()), level=1, timeout=60, repeated_offenders=(5, 30))
    assert [rule.timeout_for(n) for n in (1, 2, 3, 4)] == [60, 300, 1800, 1800]


def test_config_errors_name_key_and_line(tmp_path: Path) -> None:
    config = tmp_path / "ospatrol.yml"
    config.write_text(
        "commands:\n"
        "  - {name: drop, executable: nftables-drop, expect: [srcip, shell]}\n"
        "  - {name: missing, executable: /nonexistent/prog}\n"
        "active_response:\n"
        "  - {command: nosuch, level: 10}\n"
        "  - {command: drop, rules_id: [x], timeout: -1}\n"
        "allow_list: [10.0.0.0/33]\n"
    )
    with pytest.raises(InputErrors) as caught:
        load_manager_config(config)
    text = str(caught.value)
    assert f"{config}:2: commands[0].expect:" in text
    assert f"{config}:3: commands[1].executable: no such program" in text
    assert f"{config}:5: active_response[0].command: no command named 'nosuch'" in text
    assert f"{config}:6: active_response[1].command: no command named 'drop'" in text
    assert "allow_list: not an IP address or CIDR network: '10.0.0.0/33'" in text


def test_host_deny_action_adds_and_removes_one_line(tmp_path: Path, monkeypatch) -> None:
    deny = tmp_path / "hosts.deny"
    deny.write_text("# keep me\n")
    monkeypatch.setenv("OSPATROL_HOSTS_DENY", str(deny))
    base = ["actions", "host-deny"]
    assert action_main([*base, "add", "-", "192.0.2.7", "1.1", "80240", "syslog:x"]) == 0
    assert action_main([*base, "add", "-", "192.0.2.7", "1.2", "80240", "syslog:x"]) == 0
    assert deny.read_text() == "# keep me\nALL: 192.0.2.7\n"
    assert action_main([*base, "delete", "-", "192.0.2.7", "1.1", "80240", "syslog:x"]) == 0
    assert deny.read_text() == "# keep me\n"
    assert action_main([*base, "add", "-", "1.2.3.4;rm -rf /", "1", "1", "x"]) == 2
    assert deny.read_text() == "# keep me\n"


def test_brute_force_triggers_the_action_then_its_delete(manager_factory, tmp_path: Path) -> None:
    record = _actions(tmp_path, "test-drop", "test-probe", "test-lock")
    manager = manager_factory(
        f"""
syslog:
  - {{protocol: tcp, listen: "127.0.0.1:0"}}
analysis: {{workers: 2}}
commands:
  - {{name: drop, executable: {tmp_path / "test-drop"}, expect: [srcip]}}
  - {{name: probe, executable: {tmp_path / "test-probe"}, expect: [srcip]}}
  - {{name: lock, executable: {tmp_path / "test-lock"}, expect: [user], timeout_allowed: false}}
active_response:
  - {{command: drop, rules_group: [brute_force], timeout: 1}}
  - {{command: probe, rules_id: [80206], level: 5}}
  - {{command: lock, rules_id: [80201]}}
allow_list: [192.0.2.99]
"""
    )
    lines = [
        f"<38>Dec  6 02:00:{i:02d} web1 sshd[9]: Failed password for root from 192.0.2.50 "
        "port 4242 ssh2"
        for i in range(10)
    ]
    lines += [
        "<38>Dec  6 02:01:00 web1 sshd[9]: Failed password for root from "
        "1.2.3.4;rm${IFS}-rf${IFS}/ port 22 ssh2",
        "<38>Dec  6 02:01:01 web1 sshd[9]: Accepted password for $(id) from 10.1.1.1 port 22 ssh2",
        "<38>Dec  6 02:01:02 web1 sshd[9]: Failed password for root from 192.0.2.99 port 22 ssh2",
    ]
    with socket.create_connection(("127.0.0.1", manager.port("tcp"))) as sock:
        sock.sendall("".join(line + "\n" for line in lines).encode())
    deadline = time.monotonic() + 60
    while not _calls(record, "test-drop")[1:]:
        assert time.monotonic() < deadline, manager.log()
        time.sleep(0.1)
    assert manager.stop() == 0
    add, delete = _calls(record, "test-drop")
    # OSSEC's argv: action, user, srcip, alert id, rule id, location
    assert add[:3] == ["add", "-", "192.0.2.50"] and add[4:] == [
        "80240",
        "syslog:127.0.0.1",
    ]
    assert delete[:3] == ["delete", "-", "192.0.2.50"] and delete[3:] == add[3:]
    # the probe ran once for the address (later matches while active are not repeated), never
    # for the crafted address or the allow-listed one; the lock never ran for `$(id)`
    assert [c[:3] for c in _calls(record, "test-probe")] == [["add", "-", "192.0.2.50"]]
    assert _calls(record, "test-lock") == []
    ar_log = (manager.state / "active-responses.log").read_text()
    assert (
        "rejected probe for rule 80206: srcip '1.2.3.4;rm${IFS}-rf${IFS}/' is not an IP address"
        in ar_log
    )
    assert "rejected lock for rule 80201: user '$(id)' is not a plain user name" in ar_log
    assert "skipped probe srcip=192.0.2.99: on the allow list" in ar_log
    assert "add drop srcip=192.0.2.50: ok" in ar_log
    assert "delete drop srcip=192.0.2.50: ok" in ar_log
    # every action and rejection also went through analysis as an event
    stats = manager.stats()
    assert stats["analysis"]["analysed"] >= len(lines) + 5


def test_offender_memory_keeps_the_most_recent(monkeypatch) -> None:
    from ospatrol.respond import active

    monkeypatch.setattr(active, "MAX_OFFENDERS", 3)
    table: dict = {}
    for key in "abcdb":
        active._remember(table, key, key.upper())
    # "a" was seen longest ago and is forgotten; "b" was seen again and is the most recent
    assert list(table.items()) == [("c", "C"), ("d", "D"), ("b", "B")]

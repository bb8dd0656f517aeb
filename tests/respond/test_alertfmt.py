"""alerts.log and alerts.json rendering of constructed alerts (OSSEC's OS_Log and Wazuh's shape)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from ospatrol.analysis.engine import Engine
from ospatrol.analysis.loader import load_ruleset
from ospatrol.model import Alert, Event
from ospatrol.respond.alertfmt import MAX_LOG, format_alert_json, format_alerts_log

REPO = Path(__file__).resolve().parents[2]
WHEN = 1_700_000_000.25
LINE = "Nov 14 22:13:20 myhost sshd[123]: Failed password for root from 10.0.0.5 port 22 ssh2"


def _local_stamp(epoch: float) -> str:
    return time.strftime("%Y %b %d %H:%M:%S", time.localtime(epoch))


def _sshd_alert(**overrides) -> Alert:
    values = {
        "rule_id": 80206,
        "level": 5,
        "description": "sshd: wrong password.",
        "event": Event(
            text=LINE, location="/var/log/auth.log", host="mgr", time=WHEN, source="syslog"
        ),
        "groups": ("syslog", "sshd", "authentication_failed"),
        "fields": {"srcip": "10.0.0.5", "srcport": "22", "dstuser": "root", "method": "password"},
        "decoder": "sshd",
        "firedtimes": 3,
        "mail": True,
        "hostname": "myhost",
        "program_name": "sshd",
        "full_log": LINE,
        "alert_id": "1700000000.42",
    }
    values.update(overrides)
    return Alert(**values)


def test_alerts_log_block_matches_os_log_layout() -> None:
    text = format_alerts_log(_sshd_alert(), "1700000000.1234")
    assert text == (
        "** Alert 1700000000.1234: mail  - syslog,sshd,authentication_failed,\n"
        f"{_local_stamp(WHEN)} myhost->/var/log/auth.log\n"
        "Rule: 80206 (level 5) -> 'sshd: wrong password.'\n"
        "Src IP: 10.0.0.5\n"
        "Src Port: 22\n"
        "User: root\n"
        f"{LINE}\n"
        "\n"
    )


def test_alerts_log_optional_lines_keep_ossec_order_and_skip_missing() -> None:
    alert = _sshd_alert(
        mail=False,
        fields={"dstport": "443", "dstip": "10.0.0.9", "srcip": "198.51.100.7", "srcport": "5000"},
    )
    lines = format_alerts_log(alert, "1.2").splitlines()
    assert lines[0] == "** Alert 1.2: - syslog,sshd,authentication_failed,"
    assert lines[3:7] == [
        "Src IP: 198.51.100.7",
        "Src Port: 5000",
        "Dst IP: 10.0.0.9",
        "Dst Port: 443",
    ]
    assert not any(line.startswith("User: ") for line in lines)


def test_alerts_log_agent_location_stands_alone_and_previous_events_follow() -> None:
    event = Event(
        text=LINE, location="(web01) 10.0.0.7->/var/log/secure", time=WHEN, source="agent"
    )
    alert = _sshd_alert(
        event=event,
        full_log="x" * (MAX_LOG + 50),
        previous_output=("first correlated line", "second correlated line"),
    )
    lines = format_alerts_log(alert, "9.9").split("\n")
    assert lines[1] == f"{_local_stamp(WHEN)} (web01) 10.0.0.7->/var/log/secure"
    assert lines[-5] == "x" * MAX_LOG
    assert lines[-4:] == ["first correlated line", "second correlated line", "", ""]


def test_alerts_log_without_hostname_uses_event_host() -> None:
    event = Event(text="ospatrol: agent started", location="agent:app03", host="mgr", time=WHEN)
    alert = _sshd_alert(event=event, hostname="", full_log="", fields={})
    lines = format_alerts_log(alert, "1.1").splitlines()
    assert lines[1] == f"{_local_stamp(WHEN)} mgr->agent:app03"
    assert lines[3] == "ospatrol: agent started"


def test_alert_json_has_wazuh_shape() -> None:
    doc = format_alert_json(_sshd_alert(), manager="mgr")
    json.dumps(doc)
    assert doc["timestamp"].startswith(time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(WHEN)))
    assert doc["timestamp"][19:23] == ".250"
    assert doc["rule"] == {
        "level": 5,
        "description": "sshd: wrong password.",
        "id": "80206",
        "groups": ["syslog", "sshd", "authentication_failed"],
        "firedtimes": 3,
        "mail": True,
    }
    assert doc["agent"] == {"id": "000", "name": "mgr"}
    assert doc["manager"] == {"name": "mgr"}
    assert doc["id"] == "1700000000.42"
    assert doc["full_log"] == LINE
    assert doc["predecoder"] == {
        "program_name": "sshd",
        "timestamp": "Nov 14 22:13:20",
        "hostname": "myhost",
    }
    assert doc["decoder"] == {"name": "sshd"}
    assert doc["data"] == {
        "srcip": "10.0.0.5",
        "srcport": "22",
        "dstuser": "root",
        "method": "password",
    }
    assert doc["location"] == "/var/log/auth.log"
    assert "previous_output" not in doc


def test_alert_json_leaves_out_empty_keys_and_names_agents() -> None:
    event = Event(
        text="ospatrol: esx: vm removed: 'crm'",
        location="agentless:esx01:esx",
        host="esx01",
        time=WHEN,
        source="agentless",
    )
    alert = Alert(rule_id=80136, level=7, description="vm removed", event=event)
    doc = format_alert_json(alert, manager="mgr")
    assert doc["agent"] == {"name": "esx01"}
    for key in ("data", "decoder", "predecoder", "id", "previous_output"):
        assert key not in doc
    assert doc["rule"] == {
        "level": 7,
        "description": "vm removed",
        "id": "80136",
        "firedtimes": 1,
        "mail": False,
    }
    assert doc["full_log"] == "ospatrol: esx: vm removed: 'crm'"

    agent_event = Event(
        text=LINE, location="(web01) 10.0.0.7->/var/log/secure", time=WHEN, source="agent"
    )
    doc = format_alert_json(
        _sshd_alert(event=agent_event, previous_output=("a", "b")), manager="mgr"
    )
    assert doc["agent"] == {"name": "web01", "ip": "10.0.0.7"}
    assert doc["previous_output"] == "a\nb"


def test_engine_alert_renders_in_both_formats() -> None:
    engine = Engine(load_ruleset(REPO / "rules" / "ospatrol.conf"), hostname="mgr")
    result = engine.process(
        Event(text=LINE, location="/var/log/auth.log", time=WHEN, source="syslog")
    )
    assert result.alert is not None
    text = format_alerts_log(result.alert, result.alert.alert_id)
    assert f"Rule: {result.alert.rule_id} (level {result.alert.level}) -> " in text
    assert "\nSrc IP: 10.0.0.5\nSrc Port: 22\nUser: root\n" in text
    doc = format_alert_json(result.alert, manager="mgr")
    assert doc["data"]["srcip"] == "10.0.0.5"
    assert doc["predecoder"]["program_name"] == "sshd"
    # the header time stamp comes from the engine's own pre-decoding, not a second one
    assert result.alert.header_timestamp == result.header_timestamp == "Nov 14 22:13:20"
    assert doc["predecoder"]["timestamp"] == "Nov 14 22:13:20"
    bare = engine.process(Event(text="sshd[1]: started", location="x", time=WHEN))
    assert bare.header_timestamp == ""

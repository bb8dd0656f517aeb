"""Report renderers on a hand-built run record: JSON schema, HTML escaping, JUnit structure."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from ospatrol.audit.records import CollectorOutcome, HostReport, ReportedFinding, RunRecord
from ospatrol.model import Finding
from ospatrol.report import FORMATS, render

DIFF = "--- a (previous)\n+++ a (current)\n@@ -1 +1 @@\n-old\n+<script>alert(1)</script>"


def _record() -> RunRecord:
    fim = Finding(
        "web1",
        "fim",
        "changed",
        "/etc/<hosts>",
        "size",
        None,
        "Integrity checksum changed for: '/etc/<hosts>'",
    )
    cmd = Finding(
        "web1", "commands", "changed", "ss -tlnH", "1 line(s) added", DIFF, "ospatrol: ..."
    )
    down = Finding(
        "db1",
        "audit",
        "incomplete",
        "",
        "unreachable: connection refused",
        None,
        "ospatrol: scan incomplete: unreachable: connection refused",
    )
    web1 = HostReport(
        "web1",
        "10.0.0.1",
        "ok",
        findings=(ReportedFinding(fim, 550, 7, "Integrity"), ReportedFinding(cmd, 100, 3)),
        collectors=(CollectorOutcome("fim", "ok"), CollectorOutcome("commands", "ok")),
        baseline_changed=True,
    )
    db1 = HostReport(
        "db1",
        "10.0.0.2",
        "unreachable",
        "unreachable: connection refused",
        (ReportedFinding(down, None, 7),),
    )
    return RunRecord(
        7, 1_700_000_000.0, 1_700_000_005.5, (web1, db1), 7, False, ("fim", "commands")
    )


def test_json_follows_documented_schema():
    data = json.loads(render(_record(), "json"))
    assert data["run"] == {
        "id": 7,
        "started": "2023-11-14T22:13:20Z",
        "finished": "2023-11-14T22:13:25Z",
        "dry_run": False,
        "status": "finished",
        "alert_level": 7,
        "collectors": ["fim", "commands"],
    }
    web1, db1 = data["hosts"]
    assert (web1["name"], web1["status"], db1["status"]) == ("web1", "ok", "unreachable")
    fim, cmd = web1["findings"]
    assert fim["path"] == "/etc/<hosts>" and "command" not in fim
    assert cmd["command"] == "ss -tlnH" and cmd["diff"] == DIFF
    assert (fim["rule"], fim["level"], fim["alert"], cmd["alert"]) == (550, 7, True, False)
    assert set(fim) >= {"collector", "kind", "detail", "rule", "level"}
    assert data["summary"]["exit_status"] == 2
    assert data["summary"]["by_status"] == {"ok": 1, "incomplete": 0, "unreachable": 1, "error": 0}


def test_html_is_self_contained_and_escaped():
    page = render(_record(), "html")
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "/etc/&lt;hosts&gt;" in page
    assert "http://" not in page and "https://" not in page and "<link" not in page
    assert "status-unreachable" in page and "connection refused" in page


def test_junit_one_testcase_per_host_and_collector():
    root = ET.fromstring(render(_record(), "junit").encode())
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["web1", "db1"]
    web1 = {c.get("name"): c for c in suites[0].findall("testcase")}
    db1 = {c.get("name"): c for c in suites[1].findall("testcase")}
    assert set(web1) == set(db1) == {"fim", "commands"}
    assert web1["fim"].find("failure") is not None and web1["fim"].find("error") is None
    assert "<hosts>" in web1["fim"].find("failure").text
    assert all(c.find("error") is not None for c in db1.values())


def test_text_report_lists_hosts_and_diffs():
    text = render(_record(), "text")
    assert "web1 (10.0.0.1): ok" in text
    assert "| +<script>alert(1)</script>" in text
    assert "db1 (10.0.0.2): unreachable" in text


def test_text_report_indents_every_line_of_a_multi_line_detail():
    detail = "Size changed from '10' to '12'\nOld sha256sum was: 'aa'\nNew sha256sum is : 'bb'"
    changed = Finding("web1", "fim", "changed", "/etc/hosts", detail, None, "ospatrol: ...")
    host = HostReport("web1", "10.0.0.1", "ok", findings=(ReportedFinding(changed, 550, 7),))
    lines = render(RunRecord(1, 0.0, 1.0, (host,)), "text").splitlines()
    at = lines.index("    Size changed from '10' to '12'")
    assert lines[at + 1 : at + 3] == ["    Old sha256sum was: 'aa'", "    New sha256sum is : 'bb'"]


def test_unknown_format_is_refused():
    assert set(FORMATS) == {"text", "json", "html", "junit"}
    with pytest.raises(ValueError, match="unknown report format"):
        render(_record(), "pdf")

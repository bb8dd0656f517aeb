"""Report renderers on a hand-built run record: JSON schema, HTML content and escaping, JUnit
structure and counts, the text report's order, the three-line summary."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest
from htmlcheck import check_html
from report_sample import DIFF, HASHES, record

from ospatrol.audit.records import HostReport, ReportedFinding, RunRecord
from ospatrol.model import Finding
from ospatrol.report import FORMATS, render


def test_json_follows_documented_schema():
    data = json.loads(render(record(), "json"))
    assert data["run"] == {
        "id": 7,
        "started": "2023-11-14T22:13:20Z",
        "finished": "2023-11-14T22:13:25Z",
        "dry_run": False,
        "status": "finished",
        "alert_level": 7,
        "collectors": ["fim", "commands"],
    }
    app1, web1, db1 = data["hosts"]  # run order: the renderers that sort do so themselves
    assert (web1["name"], web1["status"], db1["status"]) == ("web1", "ok", "unreachable")
    assert (web1["platform"], web1["groups"], web1["worst_level"]) == ("linux", ["web", "prod"], 10)
    assert app1["worst_level"] is None and app1["findings"] == []
    cmd, attrs, fim = web1["findings"]
    assert fim["path"] == "/etc/<passwd>" and "command" not in fim
    assert cmd["command"] == "listening TCP ports" and cmd["diff"] == DIFF
    assert (fim["rule"], fim["level"], fim["alert"], attrs["alert"]) == (80101, 10, True, False)
    assert fim["description"] == "File integrity: the account database changed."
    assert data["summary"]["exit_status"] == 2
    assert data["summary"]["by_status"] == {"ok": 2, "incomplete": 0, "unreachable": 1, "error": 0}
    assert data["summary"]["by_level"] == [
        {"level": 10, "findings": 1, "alert": True},
        {"level": 7, "findings": 1, "alert": True},
        {"level": 5, "findings": 2, "alert": False},
    ]


def test_html_is_self_contained_parses_and_escapes():
    page = render(record(), "html")
    parsed = check_html(page)
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "/etc/&lt;passwd&gt;" in page
    assert not re.search(r"https?://|<link|<script [^>]*src|@import|url\(", page)
    assert len(parsed.scripts) == 1 and 'getElementById("filter")' in parsed.scripts[0]


def _sections(page: str) -> list[str]:
    return re.findall(r'<section class="host[^"]*"[^>]*data-host="([^"]*)"', page)


def test_html_sorts_by_severity_and_shows_descriptions_platform_and_groups():
    page = render(record(), "html")
    assert _sections(page) == ["web1", "db1", "app1"]
    web1 = page[page.index('data-host="web1"') : page.index('data-host="db1"')]
    assert re.findall(r'<article class="finding"[^>]*data-level="(\d+)"', web1) == ["10", "7", "5"]
    assert "File integrity: the account database changed." in web1
    assert "(rule 80101)" in web1
    assert "linux · groups: web, prod" in web1


def test_html_shows_each_detail_once_and_collapses_long_ones():
    page = render(record(), "html")
    for line in HASHES.split("\n")[1:]:
        assert page.count(line.replace("'", "&#39;")) == 1, line
    long = re.search(r"<details><summary>Size changed from &#39;193&#39; to &#39;220&#39;", page)
    assert long is not None, "a three-line detail is collapsed under its first line"
    assert "(+2 more lines)" in page
    assert page.count('<details class="diff" open>') == 1  # a short diff stays open


def test_html_chart_and_filter_offer_what_the_run_holds():
    page = render(record(), "html")
    bars = re.findall(r'<rect class="bar bar-(\w+)"[^>]*width="([\d.]+)"', page)
    assert bars == [("alert", "110.0"), ("alert", "110.0"), ("low", "220.0")]
    assert re.findall(r'<option value="(\d+)">', page) == ["10", "7", "5"]
    assert '<option value="commands">commands</option>' in page
    assert '<option value="db1">db1</option>' in page


def test_junit_counts_on_suites_and_below_threshold_findings_pass_with_a_note():
    root = ET.fromstring(render(record(), "junit").encode())
    assert {k: root.get(k) for k in ("tests", "failures", "errors", "skipped")} == {
        "tests": "6",
        "failures": "2",
        "errors": "2",
        "skipped": "0",
    }
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert list(suites) == ["app1", "web1", "db1"]
    web1 = suites["web1"]
    assert {k: web1.get(k) for k in ("tests", "failures", "errors", "skipped")} == {
        "tests": "2",
        "failures": "2",
        "errors": "0",
        "skipped": "0",
    }
    cases = {c.get("name"): c for c in web1.findall("testcase")}
    fim = cases["fim"]
    assert fim.find("failure").get("message") == "1 finding(s) at or above level 7"
    assert (
        "<passwd>" in fim.find("failure").text and "/usr/bin/tool" not in fim.find("failure").text
    )
    assert "level 5 (below 7): Integrity checksum changed for: '/usr/bin/tool'" in (
        fim.find("system-out").text
    )
    db1 = suites["db1"]
    assert db1.get("errors") == "2" and all(c.find("error") is not None for c in db1)
    assert all(len(c) == 0 for c in suites["app1"])  # passes


def test_junit_finding_below_threshold_alone_is_a_pass():
    low = Finding("h", "fim", "added", "/tmp/x", "type f", None, "New file '/tmp/x' added")
    host = HostReport(
        "h", "10.0.0.9", "ok", findings=(ReportedFinding(low, 554, 5),), platform="linux"
    )
    run = RunRecord(1, 0.0, 1.0, (host,), 7, False, ("fim",))
    root = ET.fromstring(render(run, "junit").encode())
    (case,) = root.iter("testcase")
    assert case.find("failure") is None and case.find("error") is None
    assert root.get("failures") == "0" and root.get("tests") == "1"
    assert case.find("system-out").text.startswith("level 5 (below 7): New file '/tmp/x' added")


def test_text_report_lists_hosts_worst_first_with_descriptions_and_diffs():
    text = render(record(), "text")
    order = [text.index(f"== {name} ") for name in ("web1", "db1", "app1")]
    assert order == sorted(order)
    assert "| +<script>alert(1)</script>" in text
    assert "db1 (10.0.0.2): unreachable" in text
    at = text.index("[fim] changed /etc/<passwd> (rule 80101, level 10)")
    assert text[at:].split("\n")[1:3] == [
        "    File integrity: the account database changed.",
        "    Size changed from '193' to '220'",
    ]


def test_text_report_indents_every_line_of_a_multi_line_detail():
    detail = "Size changed from '10' to '12'\nOld sha256sum was: 'aa'\nNew sha256sum is : 'bb'"
    changed = Finding("web1", "fim", "changed", "/etc/hosts", detail, None, "ospatrol: ...")
    host = HostReport("web1", "10.0.0.1", "ok", findings=(ReportedFinding(changed, 550, 7),))
    lines = render(RunRecord(1, 0.0, 1.0, (host,)), "text").splitlines()
    at = lines.index("    Size changed from '10' to '12'")
    assert lines[at + 1 : at + 3] == ["    Old sha256sum was: 'aa'", "    New sha256sum is : 'bb'"]


def test_summary_is_three_lines():
    assert render(record(), "summary").splitlines() == [
        "hosts: 3 (2 ok, 1 unreachable)",
        "findings: 4 (2 below the alert level 7)",
        "alerts: 2 (level 10: 1, level 7: 1)",
    ]
    empty = RunRecord(2, 0.0, 1.0, (), 7)
    assert render(empty, "summary").splitlines() == [
        "hosts: 0 (none)",
        "findings: 0 (0 below the alert level 7)",
        "alerts: 0",
    ]


def test_unknown_format_is_refused():
    assert set(FORMATS) == {"text", "json", "html", "junit", "summary"}
    with pytest.raises(ValueError, match="unknown report format"):
        render(record(), "pdf")

"""Every renderer on arbitrary bytes: hosts' names, file names, contents, command outputs and
parsed device facts are attacker-controlled (decoded with surrogateescape, as OSPatrol decodes
them). Whatever they hold, no renderer raises, JSON parses back to the same data, JUnit parses
with ElementTree, HTML nests properly, and no control character reaches the text or summary
report (issue 8 items 7, 8)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

from htmlcheck import check_html
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ospatrol.audit.records import (
    HOST_STATUSES,
    CollectorOutcome,
    HostReport,
    ReportedFinding,
    RunRecord,
)
from ospatrol.collect.facts import KNOWN
from ospatrol.model import Finding
from ospatrol.report import render, run_to_dict

CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
"""What must not reach a terminal: C0 but newline, DEL, C1, undecodable bytes."""
TERMINAL_ATTACKS = [
    b"\x1b[2J\x1b[H",  # clear screen, cursor home
    b"\x1b]0;owned\x07",  # window title
    b"\x1b]8;;http://evil.example/\x1b\\link\x1b]8;;\x1b\\",  # OSC 8 hyperlink
    b"\x9b31m",  # C1 CSI as one byte (not UTF-8)
    "\u009b31m".encode(),  # C1 CSI as a character
    b"ok\r\x1b[Kfake line",
    b"]]>\x00\x0c\xef\xbf\xbe\xef\xbf\xbf<![CDATA[",  # XML breakers, U+FFFE/U+FFFF
]


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


texts = (st.binary(max_size=80) | st.sampled_from(TERMINAL_ATTACKS)).map(_text)
collectors = st.sampled_from(["fim", "commands", "audit"]) | texts

findings = st.builds(
    lambda host, collector, kind, subject, detail, diff, event, rule, level, desc: ReportedFinding(
        Finding(host, collector, kind, subject, detail, diff, event), rule, level, desc
    ),
    texts,
    collectors,
    st.sampled_from(["changed", "added", "deleted", "incomplete"]) | texts,
    texts,
    texts,
    st.none() | texts,
    texts,
    st.none() | st.integers(0, 99999),
    st.none() | st.integers(0, 16),
    texts,
)
hosts = st.builds(
    HostReport,
    name=texts,
    address=texts,
    status=st.sampled_from(HOST_STATUSES),
    error=texts,
    findings=st.lists(findings, max_size=4).map(tuple),
    collectors=st.lists(
        st.builds(
            CollectorOutcome, collectors, st.sampled_from(["ok", "incomplete", "error"]), texts
        ),
        max_size=3,
    ).map(tuple),
    platform=texts,
    groups=st.lists(texts, max_size=2).map(tuple),
    facts=st.lists(st.tuples(st.sampled_from(KNOWN), texts), max_size=3).map(tuple),
)
runs = st.builds(
    RunRecord,
    id=st.none() | st.integers(1, 10**6),
    started=st.floats(0, 2e9),
    finished=st.floats(0, 2e9),
    hosts=st.lists(hosts, max_size=3).map(tuple),
    alert_level=st.integers(0, 16),
    dry_run=st.booleans(),
    collectors=st.lists(collectors, max_size=3).map(tuple),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(runs)
def test_every_format_is_well_formed_for_any_input(record: RunRecord) -> None:
    outputs = {fmt: render(record, fmt) for fmt in ("json", "junit", "html", "text", "summary")}
    for fmt, text in outputs.items():
        text.encode("utf-8")  # writable as UTF-8: no lone surrogate left anywhere
        if fmt != "html":  # the page's own script and markup hold no control characters either
            assert not CONTROL.search(text), (fmt, CONTROL.search(text))
    assert not CONTROL.search(outputs["html"])

    assert json.loads(outputs["json"]) == json.loads(json.dumps(run_to_dict(record)))
    root = ET.fromstring(outputs["junit"].encode("utf-8"))
    assert len(root.findall("testsuite")) == len(record.hosts)
    check_html(outputs["html"])
    assert len(outputs["summary"].splitlines()) == 3


def test_terminal_escapes_from_a_host_never_reach_the_text_report() -> None:
    attack = _text(TERMINAL_ATTACKS[0] + TERMINAL_ATTACKS[1] + TERMINAL_ATTACKS[3])
    found = Finding("web1", "commands", "changed", "cat motd", "1 added", f"+{attack}", attack)
    host = HostReport("web1", "10.0.0.1", "ok", findings=(ReportedFinding(found, 80121, 7),))
    text = render(RunRecord(1, 0.0, 1.0, (host,)), "text")
    assert "    | +\\x1b[2J\\x1b[H\\x1b]0;owned\\x07\\x9b31m" in text
    assert "\x1b" not in text and "\x07" not in text

"""The HTML report shows a device's config change readably: each classified block with its kind
and header, its parent lines and coloured +/- lines; and a device's hostile bytes (markup,
control characters) are shown escaped, never as markup or raw control characters. One run is a
real audit of the simulator's ASA through the netdev transport with the analysis engine."""

from __future__ import annotations

import asyncio
import re
from html.parser import HTMLParser
from pathlib import Path

from device_helpers import edited, simulated

from ospatrol.analysis.engine import Engine
from ospatrol.analysis.loader import load_ruleset
from ospatrol.audit.records import CollectorOutcome, HostReport, ReportedFinding, RunRecord
from ospatrol.audit.run import audit
from ospatrol.collect.configs import ConfigsCollector, changed_findings
from ospatrol.profiles import load_profiles
from ospatrol.report import render
from ospatrol.store import Store
from ospatrol.transport import TransportSettings, open_transport

PROFILES = load_profiles()
HOSTILE = "<script>alert(1)</script>\x07\x1b[2J\x00"


class _Spans(HTMLParser):
    """The text of every `<span>` and `<code>` by class, in page order, and every tag seen."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[tuple[str, str]] = []
        self.tags: list[str] = []
        self._open: str | None = None

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append(tag)
        if tag in ("span", "code"):
            self._open = dict(attrs).get("class", "")
            self.lines.append((self._open, ""))

    def handle_endtag(self, tag) -> None:
        if tag in ("span", "code"):
            self._open = None

    def handle_data(self, data) -> None:
        if self._open is not None:
            cls, text = self.lines[-1]
            self.lines[-1] = (cls, text + data)


def _html(findings, levels) -> str:
    reported = tuple(
        ReportedFinding(f, rule, level, "")
        for f, (rule, level) in zip(findings, levels, strict=True)
    )
    host = HostReport(
        "fw<1>",
        "127.0.0.1",
        "ok",
        findings=reported,
        collectors=(CollectorOutcome("config", "ok"),),
    )
    return render(RunRecord(1, 1.0, 2.0, (host,), 7, False, ("config",)), "html")


def test_a_classified_config_diff_renders_with_kind_block_and_coloured_lines() -> None:
    section = PROFILES["cisco_ios"].sections["config"]
    old = (
        "hostname r1\n!\ninterface Gi0/1\n description a\n!\n"
        "line vty 0 4\n transport input ssh\n!\nend\n"
    )
    new = (
        "hostname r1\n!\ninterface Gi0/1\n description " + HOSTILE + "\n!\n"
        "line vty 0 4\n transport input telnet ssh\n!\nend\n"
    )
    findings = changed_findings("r1", section.commands[0], old, new, section)
    html = _html(findings, [(82001, 10), (82007, 3)])
    assert "<script>alert" not in html and not re.search(r"[\x00-\x08\x0b\x1b]", html)
    parser = _Spans()
    parser.feed(html)
    assert parser.tags.count("script") == 1  # the report's own filter script, nothing else
    spans = [(c, t) for c, t in parser.lines if c in ("add", "del", "hunk", "change-kind", "block")]
    assert spans == [
        ("change-kind", "management plane opened"),
        ("block", "line vty 0 4"),
        ("hunk", "@@ line vty 0 4"),
        ("del", "- transport input ssh"),
        ("add", "+ transport input telnet ssh"),
        ("change-kind", "interface/description only"),
        ("block", "interface Gi0/1"),
        ("hunk", "@@ interface Gi0/1"),
        ("del", "- description a"),
        ("add", "+ description <script>alert(1)</script>\\x07\\x1b[2J\\x00"),
    ]


def test_a_real_audit_of_the_simulated_asa_renders_its_classified_change(
    lab_simulator, tmp_path
) -> None:
    host, known_line, config = simulated(lab_simulator, "cisco_asa")
    (tmp_path / "state").mkdir()
    store = Store.open(tmp_path / "state")
    known = tmp_path / "state" / "known_hosts"
    known.write_text(known_line + "\n")
    settings = TransportSettings(known_hosts=known, command_timeout=30)
    ruleset = load_ruleset(Path(__file__).resolve().parents[2] / "rules" / "ospatrol.conf")

    def run():
        opener = lambda h: open_transport(h, settings)  # noqa: E731
        engine = Engine(ruleset, hostname="manager")
        return asyncio.run(
            audit([host], [ConfigsCollector(PROFILES)], store, opener, engine=engine)
        )

    run()
    rule = "access-list outside_access_in extended permit ip any any"

    def change(text: str) -> str:
        described = text.replace(" nameif inside\n", " nameif inside\n description <b>core</b>\n")
        return described + rule + "\n"

    with edited(config, change):
        record = run()
    html = render(record, "html")
    parser = _Spans()
    parser.feed(html)
    spans = [(c, t) for c, t in parser.lines if c in ("add", "hunk", "change-kind", "block")]
    assert spans == [
        ("change-kind", "access rule widened"),
        ("block", "access-list outside_access_in"),
        ("hunk", "@@ (top level)"),
        ("add", "+ " + rule),
        ("change-kind", "interface/description only"),
        ("block", "interface GigabitEthernet1/2"),
        ("hunk", "@@ interface GigabitEthernet1/2"),
        ("add", "+ description <b>core</b>"),
    ]
    assert "<b>core" not in html
    levels = [f.level for f in record.hosts[0].findings]
    assert levels == [10, 3]

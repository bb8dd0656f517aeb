"""Progress observers: rich on a terminal, plain lines otherwise, nothing with --quiet."""

from __future__ import annotations

import io
import re

from ospatrol.audit.records import HostReport, RunRecord
from ospatrol.model import Host
from ospatrol.report.progress import PlainProgress, RichProgress, progress_observer


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _drive(observer) -> None:
    hosts = [Host("web1", "10.0.0.1"), Host("db1", "10.0.0.2")]
    reports = (
        HostReport("web1", "10.0.0.1", "ok"),
        HostReport("db1", "10.0.0.2", "unreachable", "unreachable: connection refused"),
    )
    observer.run_started(hosts, ["fim", "commands"])
    for host, report in zip(hosts, reports, strict=True):
        observer.host_started(host)
        observer.host_finished(report)
    observer.run_finished(RunRecord(1, 0.0, 1.0, reports))


def test_plain_lines_when_not_a_terminal():
    stream = io.StringIO()
    observer = progress_observer(stream)
    assert isinstance(observer, PlainProgress)
    _drive(observer)
    lines = stream.getvalue().splitlines()
    assert re.fullmatch(r"\S+Z auditing 2 host\(s\) with fim, commands", lines[0])
    assert lines[1] == "[1/2] web1: ok"
    assert lines[2].startswith("[2/2] db1: unreachable") and "connection refused" in lines[2]
    assert lines[3].split(" ", 1)[1].startswith("done: 2 host(s), 1 not fully audited")


def test_rich_bar_on_a_terminal_prints_failed_hosts():
    stream = _Terminal()
    observer = progress_observer(stream)
    assert isinstance(observer, RichProgress)
    _drive(observer)
    text = stream.getvalue()
    assert "db1: unreachable" in text and "web1: ok" not in text


def test_quiet_means_no_observer():
    assert progress_observer(_Terminal(), quiet=True) is None


def test_a_hostile_error_text_is_escaped_on_both_observers():
    hostile = "error: unusable output: '\x1b]0;owned\x07\x1b[2J'"
    report = HostReport("db1", "10.0.0.2", "error", hostile)
    for stream in (io.StringIO(), _Terminal()):
        observer = progress_observer(stream)
        observer.run_started([Host("db1", "10.0.0.2")], ["fim"])
        observer.host_started(Host("db1", "10.0.0.2"))
        observer.host_finished(report)
        observer.run_finished(RunRecord(1, 0.0, 1.0, (report,)))
        text = stream.getvalue()
        assert "\\x1b]0;owned\\x07\\x1b[2J" in text
        assert "\x07" not in text and "\x1b]0" not in text and "\x1b[2J" not in text

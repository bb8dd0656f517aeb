"""Audit progress for a person watching: a rich progress bar on a TTY, plain lines otherwise.

Both are `AuditObserver`s writing to stderr (never stdout, which carries the report), so
`ospatrol audit --format json > out.json` stays machine-readable.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TextIO

from rich.console import Console
from rich.markup import escape as markup_escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ospatrol.audit.records import HostReport, RunRecord
from ospatrol.audit.run import AuditObserver
from ospatrol.escape import escape
from ospatrol.model import Host

STATUS_STYLES = {"ok": "green", "incomplete": "yellow", "unreachable": "red", "error": "magenta"}


def _now() -> str:
    """UTC timestamp for the first and last plain line, so cron logs show when runs happened."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _summary(report: HostReport) -> str:
    """One line for a finished host; its name and error shown escaped (`ospatrol.escape`): an
    error may quote what the host sent."""
    text = f"{escape(report.name)}: {report.status}"
    if report.findings:
        text += f", {len(report.findings)} finding(s)"
    if report.error:
        text += f" ({escape(report.error)})"
    return text


class PlainProgress(AuditObserver):
    """One line per finished host, for logs and cron mail."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.total = 0
        self.done = 0

    def run_started(self, hosts: Sequence[Host], collectors: Sequence[str]) -> None:
        self.total = len(hosts)
        names = ", ".join(collectors)
        print(f"{_now()} auditing {self.total} host(s) with {names}", file=self.stream, flush=True)

    def host_finished(self, report: HostReport) -> None:
        self.done += 1
        print(f"[{self.done}/{self.total}] {_summary(report)}", file=self.stream, flush=True)

    def run_finished(self, record: RunRecord) -> None:
        failed = len(record.failed_hosts)
        findings = sum(len(h.findings) for h in record.hosts)
        print(
            f"{_now()} done: {len(record.hosts)} host(s), {failed} not fully audited, "
            f"{findings} finding(s)",
            file=self.stream,
            flush=True,
        )


class RichProgress(AuditObserver):
    """A live progress bar; hosts that fail or have findings are printed above it."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress = Progress(
            TextColumn("[bold]audit"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.description}"),
            console=console,
            transient=True,
        )
        self.task = None

    def run_started(self, hosts: Sequence[Host], collectors: Sequence[str]) -> None:
        self.task = self.progress.add_task("", total=len(hosts))
        self.progress.start()

    def host_started(self, host: Host) -> None:
        self.progress.update(self.task, description=markup_escape(escape(host.name)))

    def host_finished(self, report: HostReport) -> None:
        if report.status != "ok" or report.findings:
            style = STATUS_STYLES.get(report.status, "")
            self.progress.console.print(
                _summary(report), style=style, markup=False, highlight=False
            )
        self.progress.advance(self.task)

    def run_finished(self, record: RunRecord) -> None:
        self.progress.stop()


def progress_observer(stream: TextIO, quiet: bool = False) -> AuditObserver | None:
    """The observer that suits `stream`: rich when it is a terminal, plain lines otherwise."""
    if quiet:
        return None
    if stream.isatty():
        return RichProgress(Console(file=stream, stderr=True))
    return PlainProgress(stream)

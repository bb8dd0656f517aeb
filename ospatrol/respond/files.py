"""alerts.json and alerts.log in the state dir, rotated by size or by day without losing a line.

One writer thread owns each file (see `QueuedSink`), so rotation happens between two writes:
the current file is renamed to `alerts-YYYYMMDD-HHMMSS.json` (`.log`) and a new one opened;
every line is in exactly one file. Undecodable bytes in events were escaped on receipt, so the
files stay valid UTF-8 (and alerts.json valid JSON, one object per line).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from ospatrol.jsontext import dumps
from ospatrol.model import Alert
from ospatrol.respond.alertfmt import format_alert_json, format_alerts_log
from ospatrol.respond.queued import QueuedSink


class RotatingFile:
    """A text file appended to, rotated when it passes `max_size` bytes or the day changes."""

    def __init__(self, path: Path, max_size: int, daily: bool) -> None:
        self.path = path
        self.max_size = max_size
        self.daily = daily
        self._file: TextIO | None = None
        self._day = ""
        self._size = 0

    def _open(self) -> TextIO:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a", encoding="utf-8", errors="backslashreplace")  # noqa: SIM115
        self._size = handle.tell()
        self._day = time.strftime("%Y%m%d")
        if self._size and self.daily:
            self._day = time.strftime("%Y%m%d", time.localtime(self.path.stat().st_mtime))
        return handle

    def write(self, text: str) -> None:
        if self._file is None:
            self._file = self._open()
        elif self._size >= self.max_size or (self.daily and time.strftime("%Y%m%d") != self._day):
            self.rotate()
        assert self._file is not None
        self._file.write(text)
        self._size += len(text)

    def rotate(self) -> Path | None:
        """Close the current file under a dated name and start a new one."""
        if self._file is not None:
            self._file.close()
            self._file = None
        if not self.path.exists() or not self.path.stat().st_size:
            self._file = self._open()
            return None
        stamp = time.strftime("%Y%m%d-%H%M%S")
        target = self.path.with_name(f"{self.path.stem}-{stamp}{self.path.suffix}")
        n = 1
        while target.exists():
            target = self.path.with_name(f"{self.path.stem}-{stamp}.{n}{self.path.suffix}")
            n += 1
        self.path.rename(target)
        self._file = self._open()
        return target

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class FileSink(QueuedSink):
    """A file output. `emit(alert)` renders on the writer thread; `emit_text(text, count)`
    writes `count` alerts rendered elsewhere (the analysis workers render in parallel)."""

    def emit_text(self, text: str, count: int) -> None:
        self.put((text, count), count)


def _weight(item: object) -> int:
    return item[1] if isinstance(item, tuple) else 1


def _file_sink(
    name: str, target: RotatingFile, render: Callable[[Alert], str] | None, maxsize: int
) -> FileSink:
    """`render` None: the file takes only text rendered elsewhere (`emit_text`)."""

    def deliver(items: list) -> None:
        for item in items:
            if isinstance(item, tuple):
                target.write(item[0])
            elif render is not None:
                target.write(render(item))
        target.flush()

    return FileSink(name, deliver, maxsize=maxsize, teardown=target.close, weight=_weight)


def json_line(alert: Alert, manager: str | None) -> str:
    """The alerts.json line of `alert`."""
    return dumps(format_alert_json(alert, manager=manager)) + "\n"


def alerts_json_sink(
    path: Path, *, max_size: int, daily: bool, maxsize: int, manager: str | None = None
) -> FileSink:
    """alerts.json: one OSSEC/Wazuh-shaped JSON object per line."""

    def render(alert: Alert) -> str:
        return json_line(alert, manager)

    return _file_sink("alerts_json", RotatingFile(path, max_size, daily), render, maxsize)


def alerts_log_sink(path: Path, *, max_size: int, daily: bool, maxsize: int) -> FileSink:
    """alerts.log: OSSEC's text blocks."""

    def render(alert: Alert) -> str:
        return format_alerts_log(alert, alert.alert_id)

    return _file_sink("alerts_log", RotatingFile(path, max_size, daily), render, maxsize)


def archives_sink(name: str, path: Path, *, max_size: int, daily: bool, maxsize: int) -> FileSink:
    """archives.json or archives.log: every analysed event, as the analysis workers rendered
    it (`emit_text`); alerts handed to `emit` are not events of their own and are ignored."""
    return _file_sink(name, RotatingFile(path, max_size, daily), None, maxsize)

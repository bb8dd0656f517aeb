"""Helpers for the manager tests: a real `ospatrol manager` process, a local rule file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path


class RunningManager:
    """An `ospatrol manager` child process: its state dir, bound ports and counters."""

    def __init__(self, workdir: Path, config: str, env: dict[str, str] | None = None) -> None:
        self.workdir = workdir
        self.state = workdir / "state"
        self.config_path = workdir / "ospatrol.yml"
        self.config_path.write_text(config)
        self.log_path = workdir / "manager.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ospatrol", "-v", "--state-dir", str(self.state), "manager",
             "-c", str(self.config_path)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=workdir,
            env={**os.environ, **(env or {})},
        )  # fmt: skip
        self.info = self._wait_ready()

    def _wait_ready(self, timeout: float = 120.0) -> dict:
        deadline = time.monotonic() + timeout
        state = self.state / "manager.json"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"manager exited:\n{self.log()}")
            if state.exists():
                info = json.loads(state.read_text())
                if info["pid"] == self.process.pid:
                    return info
            time.sleep(0.05)
        raise AssertionError(f"manager not ready:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def port(self, protocol: str, index: int = 0) -> int:
        return [x["port"] for x in self.info["listeners"] if x["protocol"] == protocol][index]

    def stats(self) -> dict:
        return json.loads((self.state / "manager-stats.json").read_text())

    def wait_stats(self, predicate: Callable[[dict], bool], timeout: float = 180.0) -> dict:
        deadline = time.monotonic() + timeout
        stats: dict = {}
        while time.monotonic() < deadline:
            try:
                stats = self.stats()
            except (FileNotFoundError, json.JSONDecodeError):
                stats = {}
            if stats and predicate(stats):
                return stats
            time.sleep(0.1)
        raise AssertionError(f"stats never matched: {stats}\n{self.log()}")

    def signal(self, sig: int) -> None:
        self.process.send_signal(sig)

    def stop(self, timeout: float = 300.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(f"manager did not stop on SIGTERM:\n{self.log()}") from None
        self._log.close()
        return code

    def alerts_json(self) -> list[dict]:
        path = self.state / "alerts.json"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines()]

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "ospatrol", "--state-dir", str(self.state), *args],
            capture_output=True,
            text=True,
            timeout=120,
        )


def write_rule(path: Path, level: int, description: str, match: str = "probe-marker") -> None:
    """A local rule file: rule 100100 at `level`, matching `match`."""
    path.write_text(
        '<group name="local,">\n'
        f'  <rule id="100100" level="{level}">\n'
        f"    <match>{match}</match>\n"
        f"    <description>{description}</description>\n"
        "  </rule>\n"
        "</group>\n"
    )

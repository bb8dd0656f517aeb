"""OSSEC's own test suites through our engine: ossec-testing .ini cases and logtesting phases."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ospatrol.analysis.engine import Engine
from ospatrol.analysis.logtest import format_phases, read_ini_cases, run_ini_cases

REPO = Path(__file__).resolve().parents[2]

# The OSSEC 4.3 binary passes 255 of 261 (2 msauth lines in archives format, 2 snort cases that
# need first-time-seen state from earlier runs, 2 web_appsec cases where rules and tests drifted).
BAR_43 = 255
BAR_330 = 234


def _run_suite(tests_dir: Path, ruleset) -> tuple[int, int, list[str]]:
    cases = read_ini_cases(tests_dir.glob("*.ini"))
    outcomes = run_ini_cases(cases, lambda: Engine(ruleset, hostname="melancia"))
    failed = [o.describe() for o in outcomes if not o.passed]
    return len(outcomes), len(outcomes) - len(failed), failed


def test_ossec_43_testing_suite(ossec43, ruleset43):
    total, passed, failed = _run_suite(ossec43["tests"], ruleset43)
    assert total == 261
    assert passed >= BAR_43, f"{passed}/{total} passed; failing:\n" + "\n".join(failed)


def test_ossec_330_testing_suite(ossec330, ruleset330):
    total, passed, failed = _run_suite(ossec330["tests"], ruleset330)
    assert passed >= BAR_330, f"{passed}/{total} passed; failing:\n" + "\n".join(failed)


def test_logtesting_phase_output_matches_res_files(ossec43, ruleset43):
    dirs = sorted(ossec43["logtesting"].iterdir(), key=lambda p: int(p.name))
    assert len(dirs) == 44
    mismatched = []
    for case in dirs:
        line = (case / "log").read_bytes().decode("utf-8", errors="replace").rstrip("\n")
        want = (case / "res").read_bytes().decode("utf-8", errors="replace")
        got = format_phases(Engine(ruleset43, hostname="melancia").process_line(line))
        if got != want:
            mismatched.append(f"{case.name}:\n{got}\n--- expected ---\n{want}")
    assert not mismatched, "\n".join(mismatched)


@pytest.mark.parametrize("case", ["5", "17", "30", "33"])
def test_logtest_cli_prints_res_file_byte_for_byte(shared_data, case):
    """The real CLI, with the exact flags of the brief, relative to the repository root."""
    base = shared_data / "ossec" / "tests" / "logtesting" / case
    ossec = os.path.relpath(shared_data / "ossec", REPO)  # ../shared/data/ossec by default
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ospatrol",
            "logtest",
            "--ossec-conf",
            f"{ossec}/etc/ossec-server.conf",
            "--rules-dir",
            f"{ossec}/rules",
            "--decoders",
            f"{ossec}/decoders/decoder.xml",
            "--hostname",
            "melancia",
        ],
        input=(base / "log").read_bytes(),
        capture_output=True,
        cwd=REPO,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout == (base / "res").read_bytes()


def test_ini_case_through_cli_unit_mode(stock):
    """runtests.py's invocation: -q -U rule:level:decoder, exit code 0 on success."""
    line = (
        b"Feb 10 23:21:05 someserver sshd[1234]: Read error from remote host 192.168.1.1: "
        b"Connection reset by peer\n"
    )
    args = [
        sys.executable,
        "-m",
        "ospatrol",
        "logtest",
        *stock,
        "-q",
    ]
    codes = {}
    for expect in ("5740:4:sshd", "5740:5:sshd", "5741:4:sshd", "5740:4:pam"):
        proc = subprocess.run([*args, "-U", expect], input=line, capture_output=True, timeout=60)
        codes[expect] = proc.returncode
        assert proc.stdout == b""
    assert codes == {"5740:4:sshd": 0, "5740:5:sshd": 1, "5741:4:sshd": 2, "5740:4:pam": 3}

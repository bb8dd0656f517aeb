"""Pre-decoding against OSSEC's own expectations: the Phase 1 sections of the 44 logtesting cases,
plus the header layouts those cases do not cover."""

from __future__ import annotations

from pathlib import Path

import pytest

from ospatrol.analysis.predecode import (
    _COMMON_HEADER,
    _SYSLOG,
    _layout_skip,
    _scan_syslog_header,
    predecode,
    sanitize,
)

LOGTESTING = "ossec/tests/logtesting"
# OSSEC 4.3's logtesting cases are the folders 1..44 (test_all_cases_found checks it).
CASES = [str(n) for n in range(1, 45)]
# ossec-logtest's hostname when a line has none (the machine the expectations were recorded on).
RECORDED_ON = "melancia"


def _read(path: Path) -> str:
    # Case 33 holds raw non-UTF-8 bytes; surrogateescape keeps them one character each.
    return path.read_bytes().decode("utf-8", "surrogateescape")


def _phase1(res: str) -> dict[str, str | None]:
    """The quoted fields of the "Phase 1" block of an ossec-logtest output."""
    fields: dict[str, str | None] = {}
    block = res.split("**Phase 1:", 1)[1].split("**Phase 2:", 1)[0]
    for line in block.splitlines():
        name, sep, value = line.strip().partition(": '")
        if sep and value.endswith("'"):
            value = value[:-1]
            fields[name] = None if value == "(null)" else value
    return fields


def test_all_cases_found(shared_data: Path) -> None:
    found = [p.name for p in (shared_data / LOGTESTING).iterdir() if (p / "res").is_file()]
    assert sorted(found, key=int) == CASES


@pytest.mark.parametrize("name", CASES)
def test_logtesting_phase1(name: str, shared_data: Path) -> None:
    case = shared_data / LOGTESTING / name
    line = _read(case / "log").rstrip("\r\n")
    expected = _phase1(_read(case / "res"))
    got = predecode(line, default_hostname=RECORDED_ON)
    assert got.full_log == expected["full event"]
    assert got.hostname == expected["hostname"]
    assert got.program_name == expected["program_name"]
    assert got.log == expected["log"]


HEADERS = [
    # (line, hostname or None for "from default", program_name, log, timestamp)
    (
        "Dec 29 10:00:01 web1 sshd[42]: Accepted publickey",
        "web1",
        "sshd",
        "Accepted publickey",
        "Dec 29 10:00:01",
    ),
    ("Dec 29 10:00:01 web1 kernel[42] no colon", "web1", "kernel", "no colon", "Dec 29 10:00:01"),
    (
        "2015-04-16 21:51:02,805 ftp1 proftpd[7]: login",
        "ftp1",
        "proftpd",
        "login",
        "2015-04-16 21:51:02,805",
    ),
    (
        "2007-06-14T15:48:55-04:00 ng1 cron: job ran",
        "ng1",
        "cron",
        "job ran",
        "2007-06-14T15:48:55-04:00",
    ),
    (
        "2009-05-22T09:36:46.214994-07:00 rs1 su: ok",
        "rs1",
        "su",
        "ok",
        "2009-05-22T09:36:46.214994-07:00",
    ),
    ("2015 Dec 29 10:00:01 h2 ntpd: step", "h2", "ntpd", "step", "2015 Dec 29 10:00:01"),
    ("2019:11:06-00:08:03 utm httpd: GET /", "utm", "httpd", "GET /", "2019:11:06-00:08:03"),
    # Solaris without hostname, and the [ID ...] tag.
    ("Dec 29 10:00:01 sendmail: queue run", None, "sendmail", "queue run", "Dec 29 10:00:01"),
    (
        "Apr 17 22:20:29 hostj named[312]: [ID 295310 daemon.notice] zone loaded",
        "hostj",
        "named",
        "zone loaded",
        "Apr 17 22:20:29",
    ),
    # AIX facility|priority.
    (
        "Dec 29 10:00:01 aix1 auth|security:info sshd[9]: Failed password",
        "aix1",
        "sshd",
        "Failed password",
        "Dec 29 10:00:01",
    ),
    # A hostname with a character OSSEC does not accept: the log starts at it, no program.
    ("Dec 29 10:00:01 bad,host x: y", None, None, "bad,host x: y", "Dec 29 10:00:01"),
    # A bad program name keeps the hostname but leaves the log after it.
    ("Dec 29 10:00:01 h3 prog[12x]: y", "h3", None, "prog[12x]: y", "Dec 29 10:00:01"),
    (
        "Mon Apr 17 18:27:14 2006 1 64.160.42.130 2 /a b _ o r u ftp 0 * c",
        None,
        None,
        " 1 64.160.42.130 2 /a b _ o r u ftp 0 * c",
        "Mon Apr 17 18:27:14 2006",
    ),
    (
        "01/28-09:13:16.240702  [**] [1:2:3] alert",
        None,
        None,
        "[**] [1:2:3] alert",
        "01/28-09:13:16.240702",
    ),
    (
        "01/28/1979-09:13:16.240702  [**] [1:2:3] alert",
        None,
        None,
        "[**] [1:2:3] alert",
        "01/28/1979-09:13:16.240702",
    ),
    (
        "1140804070.368  11623 10.0.0.1 TCP_MISS/200 1 GET http://x/ - DIRECT/1.2.3.4 text/html",
        None,
        None,
        "11623 10.0.0.1 TCP_MISS/200 1 GET http://x/ - DIRECT/1.2.3.4 text/html",
        "1140804070.368",
    ),
    (
        "[Time 2006.12.28 15:53:55 UTC] [Facility auth] [Sender sshd] [PID 483] "
        "[Message error: PAM: Authentication failure for bob] [Level 3] [Host mac1]",
        "mac1",
        "sshd",
        "error: PAM: Authentication failure for bob",
        "2006.12.28 15:53:55 UTC",
    ),
]


@pytest.mark.parametrize(("line", "hostname", "program", "log", "timestamp"), HEADERS)
def test_header_layouts(
    line: str, hostname: str | None, program: str | None, log: str, timestamp: str
) -> None:
    got = predecode(line, default_hostname="manager")
    assert got.hostname == (hostname or "manager")
    assert got.hostname_from_header is (hostname is not None)
    assert got.program_name == program
    assert got.log == log
    assert got.timestamp == timestamp
    assert got.full_log == line


def test_umlaut_month() -> None:
    got = predecode("Mär 02 17:30:52 h4 sshd[1]: hello")
    assert (got.hostname, got.program_name, got.log) == ("h4", "sshd", "hello")


@pytest.mark.parametrize(
    ("line", "hostname", "log"),
    [
        # OSSEC checks byte offsets: a two-byte "é" in the month shifts them, no header.
        ("D\u00e9c 29 10:00:01 h1 sshd: x", None, "D\u00e9c 29 10:00:01 h1 sshd: x"),
        # Non-ASCII is never part of a hostname; after the header it is just text.
        ("Dec 29 10:00:01 h\u00e9 sshd: x", None, "h\u00e9 sshd: x"),
        ("Dec 29 10:00:01 h1 sshd: x\u00e9", "h1", "x\u00e9"),
    ],
)
def test_non_ascii_positions_count_bytes(line: str, hostname: str | None, log: str) -> None:
    got = predecode(line, default_hostname="manager")
    assert (got.hostname_from_header, got.log) == (hostname is not None, log)
    assert got.hostname == (hostname or "manager")


def test_agent_location_names_the_host() -> None:
    got = predecode("no header here", location="(web1) 10.0.0.5->/var/log/app.log")
    assert (got.hostname, got.agent_name, got.hostname_from_header) == ("web1", "web1", False)
    assert got.log == "no header here"


def test_sanitize_deletes_control_characters_as_ossec() -> None:
    """remove_control_characters: bytes 1-31 and 127 go, tab and CR too; NUL ends the line."""
    assert sanitize("a\x1b[31mb\nc\td\x7fe\r\x00ignored") == "a[31mbcde"
    assert sanitize("Failed password for\troot from 10.0.0.1 port 22 ssh2\r") == (
        "Failed password forroot from 10.0.0.1 port 22 ssh2"
    )
    assert len(sanitize("x" * 70000)) == 65536
    assert (sanitize("\r"), sanitize("a\rb\r"), sanitize("a\xa0b\r")) == ("", "ab", "a\xa0b")


def test_one_step_header_agrees_with_the_full_scan_on_real_logs(shared_data: Path) -> None:
    """The regex shortcut for the usual headers gives what OS_CleanMSG's scan gives."""
    files = [*sorted((shared_data / "logs/loghub").glob("*/*.log"))]
    files.append(shared_data / "logs/generated/syslog100k.log")
    shortcut = 0
    for path in files:
        with path.open(encoding="utf-8", errors="surrogateescape") as lines:
            for _, line in zip(range(5000), lines, strict=False):
                line = sanitize(line.rstrip("\n"))
                skip = _layout_skip(line, _SYSLOG)
                if skip and _COMMON_HEADER.match(line, skip):
                    shortcut += 1
                    hostname, program, start, end = _scan_syslog_header(line, skip)
                    got = predecode(line, default_hostname="-")
                    assert (got.hostname, got.program_name, got.log) == (
                        hostname or "-",
                        program,
                        line[start:end],
                    ), line
    assert shortcut > 10_000

"""How much of a long line the rules see, per dialect: OSSEC 4.3's analysisd never looks past
OS_MAXSTR (6,144 bytes, with the "1:location:" header and a NUL), Wazuh's past its OS_MAXSTR
(65,536 bytes, read the same way: a line of two-byte characters is cut at half as many).

Text past OSSEC's limit must not fire a rule with an OSSEC rule set (it does not in OSSEC: an
attacker could otherwise make OSPatrol alone alert, or a test pass here and fail there), and
ossec-logtest reads the rest of a longer line as further events, cut at a byte even inside a
character. test_hostile_ossec.py checks the same lines against the binary (slow).
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from ospatrol.analysis.engine import Engine
from ospatrol.analysis.loader import Ruleset
from ospatrol.analysis.predecode import OSSEC_MAXSTR, WAZUH_MAXSTR, ossec_cut, ossec_room
from ospatrol.cli import cli
from ospatrol.model import Event

SSHD = "Dec 10 06:55:46 LabSZ sshd[24200]: "
FAILED = "Failed password for root from 1.2.3.4 port 22 ssh2"
NO_IDENT = " Did not receive identification string from 1.2.3.4"
# What ossec-logtest reads per event: fgets after "1:stdin:" into the OS_MAXSTR buffer.
PIECE = OSSEC_MAXSTR - len("1:stdin:") - 1


def _padded_to(size: int, tail: str = "") -> str:
    """An sshd line of `size` bytes (ASCII) before `tail`."""
    head = SSHD + "reverse mapping checking getaddrinfo for x "
    return head + "a" * (size - len(head)) + tail


def test_ossecs_room_is_os_maxstr_less_the_header() -> None:
    assert ossec_room("stdin") == PIECE == 6135
    assert ossec_room("10.0.0.1") == 6144 - len("1:10.0.0.1:") - 1
    assert ossec_room("x" * 10000) == 0


@pytest.mark.parametrize("location", ["stdin", "192.0.2.1", "(web) 10.0.0.1->/var/log/secure"])
def test_a_line_is_cut_at_the_byte_ossec_cuts_it(location: str) -> None:
    room = ossec_room(location)
    assert ossec_cut("a" * room, location) == "a" * room
    assert ossec_cut("a" * (room + 1), location) == "a" * room
    # A three-byte character across the edge keeps its first byte (a surrogate escape, which
    # logtest prints back as that byte), as ossec-logtest prints it.
    cut = ossec_cut("a" * (room - 1) + "€" + "b" * 99, location)
    assert cut == "a" * (room - 1) + "\udce2"
    assert len(cut.encode("utf-8", "surrogateescape")) == room
    # Undecodable input bytes count one byte each, characters their UTF-8 length.
    assert ossec_cut("\udcff" * room, location) == "\udcff" * room
    assert ossec_cut("é" * room, location) == "é" * (room // 2) + ("\udcc3" if room % 2 else "")


def test_text_past_os_maxstr_fires_nothing_with_an_ossec_rule_set(ruleset43: Ruleset) -> None:
    engine = Engine(ruleset43, hostname="length")
    # 5706 matches its text anywhere in an sshd log: at the end of a full piece, it fires.
    inside = engine.process_line(_padded_to(PIECE - len(NO_IDENT), NO_IDENT), when=1.0)
    assert inside.rule is not None and inside.rule.id == 5706
    assert engine.counters["truncated"] == 0
    # Further on, so that the last letter of what it matches is past what analysisd sees.
    line = _padded_to(PIECE - len(" Did not receive identification") + 1, NO_IDENT)
    past = engine.process_line(line, when=2.0)
    assert past.rule is not None and past.rule.id != 5706
    assert past.full_log == line[:PIECE] and past.full_log.endswith("identificatio")
    assert engine.counters["truncated"] == 1


def test_a_wazuh_rule_set_sees_up_to_65536(wazuh_ruleset: Ruleset) -> None:
    engine = Engine(wazuh_ruleset, hostname="length")
    result = engine.process_line(_padded_to(20000, " " + FAILED), when=1.0)
    assert result.rule is not None and "Failed password" in result.full_log
    assert engine.counters["truncated"] == 0


def test_a_wazuh_rule_set_sees_65536_bytes_not_characters(wazuh_ruleset: Ruleset) -> None:
    engine = Engine(wazuh_ruleset, hostname="length")
    room = ossec_room("stdin", WAZUH_MAXSTR)
    assert room == 65536 - len("1:stdin:") - 1
    # 5706 fires on its text anywhere in an sshd log; before it, two-byte characters: the
    # line holds fewer than 65,536 characters, but its last letters are past `room` bytes.
    pad = SSHD + "é" * ((room - len(SSHD) - len(NO_IDENT)) // 2)
    inside = engine.process_line(pad + NO_IDENT, when=1.0)
    assert inside.rule is not None and inside.rule.id == 5706
    assert engine.counters["truncated"] == 0
    line = pad + "é" * 6 + NO_IDENT  # 12 bytes more: the edge is in "from"
    assert len(line) < 65536 and len(line.encode()) > room
    past = engine.process_line(line, when=2.0)
    assert past.rule is None or past.rule.id != 5706
    assert past.full_log == line.encode()[:room].decode() and past.full_log.endswith("string f")
    assert engine.counters["truncated"] == 1


def test_own_multiline_findings_are_not_cut(ruleset43: Ruleset) -> None:
    # OSPatrol's agentless findings (a diff after the first line) are no OSSEC log lines.
    engine = Engine(ruleset43, hostname="length")
    text = "Integrity checksum changed for: '/etc/hosts'" + "\n+ 10.0.0.1 host" * 800
    event = Event(text=text, location="agentless:web1:fim", host="web1", time=1.0)
    assert len(text) > 2 * PIECE
    assert engine.process(event).full_log == text
    assert engine.counters["truncated"] == 0


def _logtest(args: list[str], data: bytes, *more: str) -> bytes:
    result = CliRunner().invoke(cli, ["logtest", *args, *more], input=data, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout_bytes


def _rows(args: list[str], data: bytes) -> list[dict]:
    return [json.loads(line) for line in _logtest(args, data, "--format", "jsonl").splitlines()]


def test_logtest_reads_a_long_line_in_ossec_logtests_pieces(stock: list[str]) -> None:
    line = _padded_to(PIECE - 1, "€ " + FAILED).encode()  # the euro sign across the edge
    rows = _rows(stock, line + b"\n")
    assert [row["decoder"] for row in rows] == ["sshd", None]
    # Printed as ossec-logtest prints them: the euro sign's first byte ends the first event,
    # its last two begin the second.
    printed = _logtest(stock, line + b"\n")
    assert b"aaaa\xe2'\n" in printed and b"full event: '\x82\xac Failed password" in printed
    # A line of exactly one piece, and one byte more: the newline, then "b", are pieces of
    # their own (fewer than two bytes: no event).
    assert len(_rows(stock, _padded_to(PIECE).encode() + b"\n")) == 1
    assert len(_rows(stock, _padded_to(PIECE, "b").encode() + b"\n")) == 1
    assert len(_rows(stock, _padded_to(PIECE, "bc").encode() + b"\n")) == 2


def test_logtest_reads_a_long_line_whole_with_a_wazuh_rule_set(wazuh_home) -> None:
    rows = _rows(["-D", str(wazuh_home)], _padded_to(20000, " " + FAILED).encode() + b"\n")
    assert len(rows) == 1 and rows[0]["decoder"] == "sshd"

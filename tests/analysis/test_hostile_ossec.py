"""Hostile lines against the real OSSEC 4.3 binary (slow: the oracle is not in CI).

Lines mutated from every corpus (hostile_lines.py: CR/CRLF, tabs, NULs, control characters,
bytes that are not UTF-8, truncated headers, a header alone, repeated ':' and '[', case-folding
traps) go through ossec-logtest and `ospatrol logtest` with the stock 4.3 rule set; each line
is followed by a sentinel line, so a line that one tool drops or splits shows as that line's
difference instead of shifting every later event. Every printed field of the three phases must
agree (bench/diff_ossec.py's reader), except where OSSEC differs by design (`_BY_DESIGN`).

The case-folding table of hostile_lines.py (what OSSEC answers per dialect) is checked against
the binary here, with the traps as rules in a private copy of the oracle's installation;
test_hostile_casefold.py holds OSPatrol to that table in the normal suite.

    .venv/bin/python -m pytest -m slow tests/analysis/test_hostile_ossec.py
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from hostile_lines import (
    REPO,
    SEED,
    case_fold_traps,
    corpus_lines,
    diff_ossec,
    hostile_set,
    trap_pattern,
    trap_text,
)

ORACLE = Path(os.environ.get("OSSEC_ORACLE", "/tmp/ossec-oracle/ossec"))
SENTINEL = b"zzhardening sentinel %d"
# OSSEC 4.3's OS_MAXSTR is 6144 (src/headers/defs.h; Wazuh's is 65536): ossec-logtest reads a
# line in pieces of OS_MAXSTR - 8 - 1 bytes (fgets after "1:stdin:"), each one event.
OSSEC_LINE = 6144 - 8

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def oracle(request: pytest.FixtureRequest) -> Path:
    if "slow" not in (request.config.option.markexpr or ""):
        pytest.skip("slow: run with -m slow")
    if not os.access(ORACLE / "bin" / "ossec-logtest", os.X_OK) or os.geteuid() != 0:
        pytest.skip(f"no OSSEC oracle at {ORACLE} (../shared/oracle/build-ossec.sh), or not root")
    return ORACLE


def _ossec(home: Path, corpus: Path) -> list[dict]:
    with corpus.open("rb") as stdin:
        proc = subprocess.run(
            [str(home / "bin" / "ossec-logtest"), "-D", str(home)],
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            check=True,
        )
    return diff_ossec().parse_events(proc.stdout)


def _ospatrol(corpus: Path, conf: Path, rules: Path, decoders: Path) -> list[dict]:
    command = [sys.executable, "-m", "ospatrol", "logtest", "--hostname", _hostname()]
    command += ["--ossec-conf", str(conf), "--rules-dir", str(rules), "--decoders", str(decoders)]
    with corpus.open("rb") as stdin:
        proc = subprocess.run(command, stdin=stdin, capture_output=True, cwd=REPO, check=True)
    return diff_ossec().parse_events(proc.stdout)


def _hostname() -> str:
    return socket.gethostname().split(".", 1)[0]


def _by_line(events: list[dict], count: int) -> list[list[dict]]:
    """The events printed for each of `count` lines, cut at the sentinels."""
    out: list[list[dict]] = []
    current: list[dict] = []
    for event in events:
        if (event.get("full event") or "").startswith("zzhardening sentinel "):
            out.append(current)
            current = []
        else:
            current.append(event)
    assert len(out) == count, f"{len(out)} sentinels came back of {count}"
    return out


def _with_sentinels(lines: list[bytes], path: Path) -> Path:
    path.write_bytes(b"".join(line + b"\n" + SENTINEL % i + b"\n" for i, line in enumerate(lines)))
    return path


def _by_design(theirs: list[dict], ours: list[dict]) -> bool:
    """OSSEC runs a line whose log is empty once control characters are deleted (no decoder,
    no rule) and prints its own hostname; OSPatrol's engine rejects it as empty (the manager
    counts it, rejected:empty) and logtest prints an empty hostname. Same verdict."""
    return (
        len(theirs) == len(ours) == 1
        and theirs[0].get("log") == ours[0].get("log") == ""
        and theirs[0].get("rule") is None
        and ours[0].get("rule") is None
        and {k: v for k, v in theirs[0].items() if k != "hostname"}
        == {k: v for k, v in ours[0].items() if k != "hostname"}
    )


def _differences(lines: list[bytes], theirs: list[list[dict]], ours: list[list[dict]]) -> list:
    out = []
    for line, want, got in zip(lines, theirs, ours, strict=True):
        if want == got or _by_design(want, got):
            continue
        if len(want) != len(got):
            out.append(f"{line[:200]!r}: OSSEC printed {len(want)} events, OSPatrol {len(got)}")
            continue
        for a, b in zip(want, got, strict=True):
            wrong = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            out.append(
                f"{line[:200]!r}: "
                + "; ".join(
                    f"{k}: OSSEC {a.get(k)!r:.80} / OSPatrol {b.get(k)!r:.80}" for k in wrong
                )
            )
    return out


def _stock(ossec43: dict[str, Path]) -> tuple[Path, Path, Path]:
    return ossec43["conf"], ossec43["rules"], ossec43["decoders"]


def _compare(oracle: Path, lines: list[bytes], tmp_path: Path, stock: tuple) -> list[str]:
    corpus = _with_sentinels(lines, tmp_path / "hostile.log")
    theirs = _by_line(_ossec(oracle, corpus), len(lines))
    ours = _by_line(_ospatrol(corpus, *stock), len(lines))
    # The comparison is about something: OSSEC analysed most lines, and rules fired on some.
    assert sum(map(len, theirs)) >= len(lines) // 2
    assert any(event.get("rule") for events in theirs for event in events)
    return _differences(lines, theirs, ours)


def test_hostile_lines_get_the_same_three_phases_as_in_ossec(
    oracle: Path, shared_data: Path, ossec43: dict[str, Path], tmp_path: Path
) -> None:
    logs = shared_data / "logs"
    lines = hostile_set(logs)
    lines += [b"\x00abc", b"a\x00", b"\x01\x02", b"\t\t", b"\r", b":", b"[]:", b"\xff\xfe"]
    differing = _compare(oracle, lines, tmp_path, _stock(ossec43))
    assert not differing, f"{len(differing)} of {len(lines)} lines differ:\n" + "\n".join(
        differing[:25]
    )


def test_a_line_longer_than_os_maxstr_is_cut_where_ossec_cuts_it(
    oracle: Path, shared_data: Path, ossec43: dict[str, Path], tmp_path: Path
) -> None:
    # ossec-logtest reads a line in pieces of OSSEC_LINE - 1 bytes (fgets), each one event; a
    # piece of fewer than two bytes is none. At the edge: a multi-byte character cut in two,
    # a rule's text cut in two, a piece of one and of two bytes.
    openssh = corpus_lines(shared_data / "logs")["loghub/OpenSSH/OpenSSH_2k.log"]
    piece = OSSEC_LINE - 1
    no_ident = b" Did not receive identification string from 1.2.3.4"

    def padded(size: int, tail: bytes = b"") -> bytes:
        return openssh[0] + b"a" * (size - len(openssh[0])) + tail

    lines = [
        openssh[0] + b" x" * 4000,  # a real sshd line, padded past 6,144 bytes
        openssh[0] + b" x" * 10000,  # three pieces
        padded(piece - 1, "€ ".encode() + openssh[1]),
        padded(piece - 2, "€ ".encode() + openssh[1]),
        padded(piece - 1, "ſ".encode()),
        padded(piece - len(no_ident), no_ident),
        padded(piece - len(no_ident) + 30, no_ident),
        padded(piece),
        padded(piece, b"b"),
        padded(piece, b"bc"),
        padded(piece - 1, b"\t\x00z\r"),
    ]
    assert not _compare(oracle, lines, tmp_path, _stock(ossec43))


def _private_oracle(oracle: Path, home: Path, local_rules: str) -> Path:
    """A copy of the oracle's installation with `local_rules` added: programs, rules and
    configuration hard-linked (never written), queues and logs its own (ossec-logtest writes
    there: first-time-seen state, its log)."""
    home.mkdir()
    for entry in oracle.iterdir():
        if entry.name in ("bin", "etc", "rules", "active-response", "agentless"):
            shutil.copytree(entry, home / entry.name, symlinks=True, copy_function=os.link)
        elif entry.name == "logs":
            shutil.copytree(entry, home / "logs", ignore=shutil.ignore_patterns("*.log"))
            (home / "logs" / "ossec.log").touch()
        elif entry.is_dir():
            shutil.copytree(entry, home / entry.name, symlinks=True)
    rules = home / "rules" / "local_rules.xml"
    text = rules.read_text()
    rules.unlink()  # a hard link: replace it, do not write through it
    rules.write_text(text.replace("<!-- EOF -->", local_rules + "\n<!-- EOF -->"))
    return home


_ELEMENT = {"osmatch": "match", "osregex": "regex", "pcre2": "pcre2"}
FIRST_TRAP_RULE = 102000


def _trap_rules() -> tuple[str, list[tuple[int, bool]], list[bytes]]:
    """The traps as top-level rules: (rules XML, [(rule id, OSSEC should match)], lines)."""
    rules, expected, lines = [], [], []
    for number, (index, dialect, pat, text, ossec) in enumerate(case_fold_traps()):
        kind, source = trap_pattern(index, dialect, pat)
        rule_id = FIRST_TRAP_RULE + number
        element = _ELEMENT[kind]
        rules.append(
            f'<rule id="{rule_id}" level="3"><{element}>{escape(source)}</{element}>'
            f"<description>case-folding trap {dialect} {pat}~{text}</description></rule>"
        )
        expected.append((rule_id, ossec))
        lines.append(trap_text(index, dialect, text).encode())
    xml = '<group name="hardening_case_folding,">\n' + "\n".join(rules) + "\n</group>"
    return xml, expected, lines


def test_the_case_folding_table_is_what_the_ossec_binary_answers(
    oracle: Path, tmp_path: Path
) -> None:
    xml, expected, lines = _trap_rules()
    home = _private_oracle(oracle, tmp_path / "ossec", xml)
    corpus = _with_sentinels(lines, tmp_path / "traps.log")
    events = _by_line(_ossec(home, corpus), len(lines))
    wrong = [
        f"{line!r}: table says {'match' if ossec else 'no match'}, OSSEC fired {got[0].get('rule')}"
        for line, (rule_id, ossec), got in zip(lines, expected, events, strict=True)
        if (len(got) == 1 and got[0].get("rule") == str(rule_id)) != ossec
    ]
    assert not wrong, "\n".join(wrong)


# Syslog headers pre-decoding parses by hand (predecode.py reads the usual one with str.find
# and set look-ups): timestamps, hostnames, program names and their separators, each in shapes
# a sender may get slightly wrong; sampled from their product, seeded.
_STAMPS = (
    "Dec 29 10:00:01",
    "Dec  9 10:00:01",
    "Dec 9 10:00:01",
    "Dec 29 10:00",
    "Dec 29 10:00:01.123",
    "dec 29 10:00:01",
    "Dez 29 10:00:01",
    "2026 Dec 29 10:00:01",
    "2026-12-29T10:00:01Z",
    "2026-12-29T10:00:01.123456+01:00",
    "Dec 29 2026 10:00:01",
    "Dec 29 10:00:01 2026",
    "",
)
_HOSTS = ("host", "host.example.com", "10.0.0.1", "h_o-s.t", "host@x", "host:", "[host]", "-")
_HOSTS += ("h" * 70, "ho st", "", "host/1", "(host)")
_PROGRAMS = ("sshd", "sshd[123]", "sshd[123", "sshd[]", "sshd[12a]", "sshd[1][2]", "sshd123]")
_PROGRAMS += ("/usr/sbin/cron", "pro gram", "a.b-c_d", "x" * 40, "", "(pam_unix)", "su[", "[1]")
_COLONS = (": ", ":", " : ", "::", ": : ", " ")
_GAPS = (" ", "  ", "\t")
_MESSAGES = ("Failed password for root from 1.2.3.4 port 22 ssh2", "", "x", "[ID 1 auth.err] su")


def _headers(count: int, rng: random.Random) -> list[bytes]:
    out = []
    for _ in range(count):
        gap = rng.choice(_GAPS)
        stamp, host, program = rng.choice(_STAMPS), rng.choice(_HOSTS), rng.choice(_PROGRAMS)
        line = f"{stamp}{gap}{host}{rng.choice(_GAPS)}{program}{rng.choice(_COLONS)}"
        out.append((line + rng.choice(_MESSAGES)).encode())
    return out


def test_generated_syslog_headers_get_ossecs_predecoding(
    oracle: Path, ossec43: dict[str, Path], tmp_path: Path
) -> None:
    lines = _headers(3000, random.Random(SEED))
    differing = _compare(oracle, lines, tmp_path, _stock(ossec43))
    assert not differing, f"{len(differing)} of {len(lines)} lines differ:\n" + "\n".join(
        differing[:25]
    )

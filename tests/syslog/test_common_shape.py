"""The common-shape fast path (`parse_common_3164`) reads exactly what `parse_syslog` reads.

The analysis workers take the fast path for most messages and the general parser for the rest,
so every message the fast path accepts must give the same header fields, and the same Event,
as the general parser would: checked on every syslog vector, the first lines of every log
corpus (behind several PRIs, valid and not) and hand-made near misses of the shape.
"""

from __future__ import annotations

import json
from pathlib import Path

from ospatrol.syslog.event import engine_text, syslog_details, syslog_event
from ospatrol.syslog.message import parse_common_3164, parse_syslog

NOT_LOGS = {"LICENSE", "COMMIT", "CITATION"}
PRIS = ("<13>", "<0>", "<191>", "<013>", "<192>", "<1000>", "")
NEAR_MISSES = [
    "<13>Jul  3 09:18:54 mail1 sshd[79538]: Invalid user ubuntu from 192.68.226.39",
    "<13>Jul 13 09:18:54 mail1 sudo:    alice : TTY=pts/0 ; COMMAND=/bin/ls",
    "<13>Jul 03 09:18:54 mail1 sshd[1]: day written with a zero",
    "<13>Jul  0 09:18:54 mail1 sshd[1]: day zero",
    "<13>Feb 29 09:18:54 host sshd[1]: leap day (no year: 2000)",
    "<13>Feb 30 09:18:54 host sshd[1]: no such day",
    "<13>Apr 31 09:18:54 host sshd[1]: no such day",
    "<13>Jan 31 09:18:54 host sshd[1]: last day",
    "<13>Jan 32 09:18:54 host sshd[1]: no such day",
    "<13>Jul  3 24:18:54 host sshd[1]: hour 24",
    "<13>Jul  3 23:59:60 host sshd[1]: leap second",
    "<13>jul  3 09:18:54 host sshd[1]: month in lower case",
    "<13>Jul  3 09:18:54.123 host sshd[1]: subseconds",
    "<13>Jul  3 09:18:54: host sshd[1]: colon after the time",
    "<13>Jul  3 2024 09:18:54 host sshd[1]: with a year",
    "<13>Jul  3 09:18:54  sshd[1]: no hostname",
    "<13>Jul  3 09:18:54 host postfix/smtpd[1]: program with a slash",
    "<13>Jul  3 09:18:54 host sshd[]: empty pid",
    "<13>Jul  3 09:18:54 host sshd[12a]: pid not a number",
    "<13>Jul  3 09:18:54 host sshd[1] no colon",
    "<13>Jul  3 09:18:54 host sshd[1]:",
    "<13>Jul  3 09:18:54 host sshd:",
    "<13>Jul  3 09:18:54 host 123: 000123: *Jul  3 09:18:54: %SYS-5-CONFIG_I: relay",
    "<13>Jul  3 09:18:54 asa : %ASA-6-302013: Built outbound TCP connection",
    "<13>Jul  3 09:18:54 host sshd[1]: %SEC-6-IPACCESSLOGP: list 101 denied",
    "<13>Jul  3 09:18:54 host sshd[1]: 50% of the disk",
    "<13>Jul  3 09:18:54 host In(38) sshd[1]: ESXi level",
    "<13>Jul  3 09:18:54 fe80::1 sshd[1]: IPv6 host",
    "<13>Jul  3 09:18:54 user@host sshd[1]: at sign",
    "<13>Jul  3 09:18:54 host sshd[1]:\x00nul and \\xff",
    "<13>Jul  3 09:18:54 host sshd[١٢]: non-ASCII digits",
    "<13>1 2003-10-11T22:14:15.003Z host su - ID47 - 5424",
    "<13>Jul  3 09:18:54 host kernel: [12.5] no pid, brackets later",
]


def _inputs(shared_data: Path) -> list[str]:
    texts = list(NEAR_MISSES)
    for name in ("curated_vectors.jsonl", "rsyslog_parser_vectors.jsonl"):
        for line in (shared_data / "syslog" / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                vector = json.loads(line)
                texts.extend([vector["raw"]] if "raw" in vector else vector["inputs"])
    for corpus in sorted((shared_data / "logs").rglob("*")):
        if not corpus.is_file() or corpus.suffix == ".md" or corpus.name in NOT_LOGS:
            continue
        with corpus.open("rb") as handle:
            head = [handle.readline() for _ in range(1000)]
        for i, raw in enumerate(line.rstrip(b"\r\n") for line in head if line.strip()):
            text = raw.decode("utf-8", "backslashreplace")
            texts.append(PRIS[i % len(PRIS)] + text)
    return texts


def test_fast_path_reads_what_the_general_parser_reads(shared_data: Path) -> None:
    taken = 0
    texts = _inputs(shared_data)
    for text in texts:
        common = parse_common_3164(text)
        if common is None:
            continue
        taken += 1
        pri, stamp, hostname, app_name, procid, start = common
        message = parse_syslog(text)
        assert (message.format, message.pri, message.timestamp, message.hostname) == (
            "rfc3164",
            pri,
            stamp,
            hostname,
        ), text
        assert (message.app_name, message.procid, message.msg) == (app_name, procid, text[start:])
        assert message.subseconds is message.esxi_level is message.cisco is message.sd is None
        event = syslog_event("10.0.0.1", text.encode("utf-8", "surrogatepass"), 1.5)
        assert event.text == engine_text(message, text, text.index(">") + 1), text
        assert event.host == hostname
        assert event.extra["syslog"] == syslog_details(message), text
    # the fast path is the common case, yet refuses everything it cannot read alike
    assert 1000 < taken < len(texts)


def test_the_common_shape_takes_the_fast_path_and_quirks_do_not() -> None:
    taken = {t for t in NEAR_MISSES if parse_common_3164(t) is not None}
    assert NEAR_MISSES[0] in taken and NEAR_MISSES[1] in taken
    refused = [t for t in NEAR_MISSES if "sshd[1]: %SEC" in t or "Feb 30" in t or "/smtpd" in t]
    refused += [t for t in NEAR_MISSES if "day written with a zero" in t or "ASA" in t]
    assert len(refused) == 5 and not taken & set(refused)
    assert parse_common_3164("<192>Jul  3 09:18:54 host sshd[1]: PRI out of range") is None

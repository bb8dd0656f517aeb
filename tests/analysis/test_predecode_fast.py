"""Pre-decoding's fast paths against the exact slow paths they stand for, on hostile lines:
control characters (tab, CR, LF, NUL, DEL), surrogate escapes of undecodable bytes, non-ASCII,
and headers that almost fit (OSSEC's pre-decoding deletes bytes 0-31 and 127)."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ospatrol.analysis.predecode import (
    _COMMON_HEADER,
    _SYSLOG,
    _SYSLOG_LINE,
    SYSLOG_LAYOUTS,
    _fits_first_layout,
    _layout_skip,
    _sanitize_all,
    _scan_syslog_header,
    _usual_header,
    predecode,
    sanitize,
)

# Characters that matter to pre-decoding: control characters, header punctuation, hostname
# characters, an undecodable byte's surrogate escape, non-ASCII (two- and four-byte).
_HOSTILE = st.sampled_from(
    [
        *map(chr, range(32)),
        *"\x7f :[]|-.T,()@aZ09_/",
        *("\udc80", "\udcff", "\xe9", "\xa0", "\u2028", "\U0001f600"),
    ]
)
_TEXT = st.lists(_HOSTILE, max_size=60).map("".join) | st.text(max_size=60)


@st.composite
def _headers(draw: st.DrawFn) -> str:
    """A line shaped like one of OSSEC's syslog layouts (its marks in place, the rest digits
    or hostile characters), then a header-like rest."""
    _, marks, skip = draw(st.sampled_from(SYSLOG_LAYOUTS))
    filler = st.sampled_from("0123456789 :-TDec.,") | _HOSTILE
    slots = [draw(filler) for _ in range(skip)]
    for position, allowed in marks:
        if draw(st.integers(0, 30)):  # now and then a mark out of place
            slots[position] = draw(st.sampled_from(allowed))
    host = draw(st.sampled_from(["", " ", " web-1", " h.example.org", " a(b)", " \udc80"]))
    program = draw(st.sampled_from(["", " sshd", " su", " ", " x[", " cron[12", " aix|auth:x"]))
    tail = draw(
        st.sampled_from([": ", "[42]: ", "[42] ", "[4a]: ", ":", ": [ID 1 auth.info] ", ""])
    )
    line = "".join(slots) + host + program + tail + draw(_TEXT)
    return line[: draw(st.integers(skip - 1, len(line)))]  # near the layout's minimum length too


@settings(max_examples=500)
@given(line=_TEXT, keep_lf=st.booleans())
@example(line="a\r", keep_lf=False)
@example(line="\r", keep_lf=False)
@example(line="a\r\r", keep_lf=False)
@example(line="ab\x00c\r", keep_lf=False)
@example(line="é\r", keep_lf=False)
@example(line="a\nb\r", keep_lf=True)
def test_sanitize_is_the_deleting_scan(line: str, keep_lf: bool) -> None:
    assert sanitize(line, keep_lf=keep_lf) == _sanitize_all(line, keep_lf)


def test_sanitize_long_lines() -> None:
    for line in ("x" * 70000, "x" * 65535 + "\r", "x" * 65536 + "\r", "é" * 65537 + "\r"):
        assert sanitize(line) == _sanitize_all(line, False)


def _scanned(s: str) -> tuple[str, str | None, str | None, str] | None:
    """The exact slow path for a sanitised line with an ASCII head: the first fitting syslog
    layout, then OS_CleanMSG's character-by-character header scan."""
    skip = _layout_skip(s, _SYSLOG)
    if not skip:
        return None
    hostname, program, start, end = _scan_syslog_header(s, skip)
    return s[:skip].strip(), hostname, program, s[start:end]


@settings(max_examples=1000)
@given(line=_headers() | _TEXT)
@example(line="Dec 29 10:00:01 host sshd[1]: x")
@example(line="Dec 29 10:00:01 ")  # one short of the layout's minimum length
@example(line="2007-06-14T15:48:55-04:00 h p: x")
@example(line="Dec 29 10:00:01  host sshd: x")
@example(line="Dec 29 10:00:01 sshd: x")
@example(line="Dec 29 10:00:01 host aix|auth: sshd[1]: x")
@example(line="2015-04-16 21:51:02,805 h p: x")
@example(line="2009-05-22T09:36:46.214994-07:00 h p[9] x")
def test_one_match_header_is_the_layout_scan(line: str) -> None:
    s = sanitize(line)
    if not s[:40].isascii():
        return  # the byte-position path, unchanged
    expected = _scanned(s)
    got = predecode(line, default_hostname="-")
    if expected is None:
        assert _SYSLOG_LINE.match(s) is None
        return
    timestamp, hostname, program, log = expected
    assert (got.timestamp, got.hostname, got.hostname_from_header, got.program_name, got.log) == (
        timestamp,
        "-" if hostname is None else hostname,
        hostname is not None,
        program,
        log,
    )


def test_one_match_header_on_real_logs(shared_data) -> None:
    """The same on the real corpora (raw bytes, CRLF and tabs kept)."""
    files = sorted((shared_data / "logs").rglob("*.log"))
    assert files
    checked = 0
    for path in files:
        data = path.read_bytes().decode("utf-8", "surrogateescape")
        for line in data.split("\n")[:3000]:
            s = sanitize(line)
            if not s[:40].isascii() or (expected := _scanned(s)) is None:
                continue
            checked += 1
            got = predecode(line, default_hostname="-")
            assert (got.timestamp, got.program_name, got.log) == (
                expected[0],
                expected[2],
                expected[3],
            ), line
            assert got.hostname == ("-" if expected[1] is None else expected[1]), line
    assert checked > 9_000


@pytest.mark.parametrize("layout", SYSLOG_LAYOUTS)
def test_every_layout_reaches_the_one_match(layout) -> None:
    """Each layout's alternative in the one-match regex fits a line of that layout."""
    min_len, marks, skip = layout
    slots = ["0"] * max(min_len, skip)
    for position, allowed in marks:
        slots[position] = allowed[0]
    line = "".join(slots) + " host prog: message"
    found = _SYSLOG_LINE.match(line)
    assert found is not None and len(found.group(1)) == _layout_skip(line, _SYSLOG) == skip


@settings(max_examples=1000)
@given(text=_TEXT, start=st.integers(0, 3))
@example(text="h p[1]:x", start=0)
@example(text="h p[]: x", start=0)
@example(text="h p[1]", start=0)
@example(text=" h p: x", start=0)
@example(text="  p: x", start=0)
@example(text="h p:[1]: x", start=0)
@example(text="h p[1:] x", start=0)
@example(text="h p[\u0663]: x", start=0)  # a digit, but not [0-9]
def test_usual_header_is_the_common_header_regex(text: str, start: int) -> None:
    found = _COMMON_HEADER.match(text, start)
    expected = None if found is None else (*found.groups(), found.end())
    assert _usual_header(text, start) == expected


@settings(max_examples=500)
@given(line=_headers() | _TEXT)
def test_first_layout_check_is_the_table(line: str) -> None:
    min_len, marks, _ = SYSLOG_LAYOUTS[0]
    fits = len(line) >= min_len and all(line[i] in allowed for i, allowed in marks)
    assert _fits_first_layout(line) == fits

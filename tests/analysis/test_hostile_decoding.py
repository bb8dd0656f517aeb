"""Decoding a hostile line: what the decoder hands a pattern must be the line's own text.

A decoder regex or prematch that starts after the prematch (or the parent's match) searches a
slice of the log, with the slice of the log lowercased once per event. Lowercasing can lengthen
a line ('İ' becomes 'i' and a combining dot): the lowercased slice was then shifted against the
slice, and a plain-literal OS_Regex (`matchers.LiteralAlternatives`, which compares the lowered
text it is handed) missed `^user root` or reported its end one character off.
"""

from __future__ import annotations

import pytest

from ospatrol.analysis import decoding
from ospatrol.analysis.eventinfo import EventInfo
from ospatrol.analysis.patterns import compile_pattern


@pytest.mark.parametrize(
    "head",
    [
        "İ login:",  # lowering lengthens the line
        "İİ login:",
        "ß login:",  # lower() keeps 'ß' (only casefold grows it)
        "ſ login:",
        "plain login:",
    ],
)
@pytest.mark.parametrize(("source", "end"), [("^user root", 9), ("root from", 14)])
def test_a_decoder_pattern_after_the_prematch_sees_its_own_slice(
    head: str, source: str, end: int
) -> None:
    log = f"{head} user root from 10.0.0.1"
    ev = EventInfo(log, log, "host", None, "location", 0.0)
    start = log.index("user")
    hit = decoding._search(compile_pattern("osregex", source), ev, start)
    assert hit is not None and hit[0] == start + end
    assert log[: hit[0]].endswith(source.lstrip("^"))

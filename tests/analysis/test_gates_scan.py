"""The literal scan (`gates.literal_scan`, google-re2's RE2::Set) never changes a verdict.

The engine scans an event's log once for every gate literal of a candidate list with many of
them, instead of searching for each literal in turn. The scan must list exactly the literals
the text contains (overlapping, nested, repeated ones included): checked on generated literals
and texts (Hypothesis), and by running real rule sets over every corpus with the scan and
without it (google-re2 hidden, the fallback a platform without its wheel runs).
"""

from __future__ import annotations

import pytest
from hostile_lines import corpus_lines
from hypothesis import given, settings
from hypothesis import strategies as st

from ospatrol.analysis import gates
from ospatrol.analysis.engine import Engine
from ospatrol.analysis.loader import Ruleset, load_default_ruleset

pytest.importorskip("re2")

# Few letters, so literals overlap, nest and repeat in the texts.
LETTERS = st.text(alphabet="ab c:?", max_size=6)


@settings(max_examples=400)
@given(st.lists(LETTERS, min_size=1, max_size=12, unique=True), st.text("ab c:?x", max_size=40))
def test_the_scan_lists_exactly_the_literals_a_text_contains(literals: list[str], text: str):
    scan = gates.literal_scan(literals)
    assert scan is not None
    found = scan.Match(text.encode())
    assert sorted(found) == [i for i, literal in enumerate(literals) if literal in text]


def test_no_scan_for_non_ascii_literals_or_without_re2(monkeypatch):
    assert gates.literal_scan(["abc", "é"]) is None
    monkeypatch.setattr(gates, "_re2", None)
    assert gates.literal_scan(["abc", "def"]) is None


def _verdicts(ruleset: Ruleset, lines: list[str]) -> tuple[list[str], int]:
    """Each line's EngineResult as text, and how many candidate lists the engine scanned (a
    list is scanned from its SCAN_AFTER-th walk on: the lines are walked twice)."""
    engine = Engine(ruleset, hostname="scan")
    for line in lines * 2:
        engine.process_line(line, when=1_600_000_000.0)
    start = 1_700_000_000.0
    out = [repr(engine.process_line(line, when=start + i)) for i, line in enumerate(lines)]
    return out, sum(walk.scan is not None for walk in engine._walks.values())


@pytest.mark.parametrize("name", ["ossec-4.3", "own"])
def test_scanned_and_searched_gates_give_the_same_results(
    name: str, ruleset43: Ruleset, shared_data, monkeypatch
):
    ruleset = ruleset43 if name == "ossec-4.3" else load_default_ruleset()
    lines = [
        raw.decode("utf-8", "surrogateescape")
        for corpus in corpus_lines(shared_data / "logs", at_most=400).values()
        for raw in corpus
    ]
    scanned, lists = _verdicts(ruleset, lines)
    assert lists  # the scan ran
    monkeypatch.setattr(gates, "_re2", None)
    searched, none = _verdicts(ruleset, lines)
    assert none == 0
    assert scanned == searched

"""Prematches settled by `startswith` alone (`prematch_exact`: only `^`-anchored plain
alternatives) against running them: the same match end for any ASCII text and start, and the
same decoding of real logs with and without the shortcut, for OSSEC's rule sets and ours."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ospatrol.analysis.decoders import Decoder, _exact_prefixes
from ospatrol.analysis.decoding import DecoderPlan, _exact_end
from ospatrol.analysis.engine import Engine
from ospatrol.analysis.gates import prefix_gate
from ospatrol.analysis.loader import Ruleset, load_default_ruleset
from ospatrol.analysis.patterns import compile_pattern


def _plans(ruleset: Ruleset) -> list[DecoderPlan]:
    plans = ruleset.decoder_plans
    tops = [*plans.with_program, *plans.without_program]
    return [*tops, *(kid for top in tops for kid in top.children)]


def _exact(ruleset: Ruleset) -> list[Decoder]:
    return [plan.decoder for plan in _plans(ruleset) if plan.prematch_exact is not None]


@pytest.fixture(scope="module")
def own() -> Ruleset:
    return load_default_ruleset()


@pytest.mark.parametrize(
    ("kind", "source", "exact"),
    [
        ("pcre2", r"^Failed |^Accepted ", ("failed ", "accepted ")),
        ("osregex", r"^reverse mapping checking", ("reverse mapping checking",)),
        ("pcre2", r"^Failed \S+ for ", None),  # a class
        ("pcre2", r"^a\(b", None),  # an escape: the prefix gate's text is not the source
        ("pcre2", r"^ab+", None),  # a quantifier on the last character
        ("pcre2", r"^ab|cd", None),  # an unanchored alternative
        ("pcre2", r"^ab$", None),
    ],
)
def test_exact_only_for_plain_anchored_alternatives(kind, source, exact) -> None:
    pattern = compile_pattern(kind, source)
    assert _exact_prefixes(pattern, prefix_gate(pattern, pcre2=kind == "pcre2")) == exact


def test_rule_sets_have_exact_prematches(own: Ruleset, ruleset43: Ruleset) -> None:
    assert len(_exact(own)) >= 5
    assert len(_exact(ruleset43)) >= 20


_ASCII = st.text(st.characters(min_codepoint=0, max_codepoint=127), max_size=12)


@settings(max_examples=300)
@given(data=st.data())
def test_exact_end_is_the_prematch_search(data, own: Ruleset, ruleset43: Ruleset) -> None:
    decoder = data.draw(st.sampled_from(_exact(own) + _exact(ruleset43)))
    exact = decoder.prematch_exact
    prefix = data.draw(st.sampled_from(exact))
    # One of its prefixes in any casing, cut short or not, between hostile ASCII text.
    spelled = "".join(data.draw(st.sampled_from([c.lower(), c.upper()])) for c in prefix)
    spelled = spelled[: data.draw(st.integers(len(spelled) - 2, len(spelled)))]
    text = data.draw(_ASCII) + spelled + data.draw(_ASCII)
    start = data.draw(st.integers(0, len(text)))
    found = decoder.prematch.search(text[start:], text.lower()[start:])
    assert _exact_end(text.lower(), exact, start) == (None if found is None else start + found.end)


def _decoded(engine: Engine, lines: list[str]) -> list[tuple]:
    out = []
    for line in lines:
        result = engine.process_line(line, when=0.0)
        out.append((result.decoder, result.decoder_trace, result.log))
    return out


def test_decoding_with_and_without_the_shortcut(
    shared_data: Path, own: Ruleset, ruleset43: Ruleset
) -> None:
    """Every corpus line decoded the same when the exact prematches run their regex."""
    lines = []
    for path in sorted((shared_data / "logs").rglob("*.log")):
        text = path.read_bytes().decode("utf-8", "surrogateescape")
        lines.extend(text.split("\n")[:2000])
    for ruleset in (own, ruleset43):
        fast = _decoded(Engine(ruleset, hostname="h"), lines)
        plans = [plan for plan in _plans(ruleset) if plan.prematch_exact is not None]
        try:
            for plan in plans:
                plan.prematch_exact = None
            assert _decoded(Engine(ruleset, hostname="h"), lines) == fast
        finally:
            for plan in plans:
                plan.prematch_exact = plan.decoder.prematch_exact

"""The fast paths never change a verdict: a gate that says "cannot match" is never wrong.

Gates (ospatrol/analysis/gates.py, the patterns' `required_literals`) let the engine skip a
pattern, a decoder or a whole rule subtree without running a regex. They are only sound if, for
every text, "the gate says no" implies "the pattern does not match". Two kinds of tests:

- properties over generated patterns (each dialect's syntax, with letters that case-fold in
  surprising ways: 'ſ', the Kelvin sign, 'İ', 'ı') and generated texts (Hypothesis), and the
  same for the shortcuts inside a regex pattern (literal pre-check, RE2, `re` instead of the
  guarded `regex` program);
- the whole engine with its gates and per-(decoder, program) candidate cache, against the same
  engine walking every rule without them (`trace_rules=True`, what `logtest -v` runs), on real
  rule sets over every corpus, the hostile lines and Hypothesis-mutated corpus lines.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hostile_lines import corpus_lines, hostile_set
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pcre2_lib import Pcre2, load, ossec_os_match, ossec_os_regex, ossec_pcre2

from ospatrol.analysis import pcre2bytes
from ospatrol.analysis.engine import Engine, EngineResult
from ospatrol.analysis.gates import (
    exact_literals,
    first_chars,
    gated_out,
    literal_gate,
    prefix_gate,
)
from ospatrol.analysis.loader import Ruleset, load_default_ruleset
from ospatrol.analysis.logtest import read_wazuh_cases
from ospatrol.analysis.osmatch import translate_osmatch
from ospatrol.analysis.osregex import translate_osregex
from ospatrol.analysis.patterns import Pattern, PatternError, compile_pattern
from ospatrol.analysis.pcre import RegexPattern

# Letters, their other cases, and characters that fold onto ASCII ones in some engines (and,
# for the non-ASCII texts, onto each other: 'µ' and 'μ', 'ς' and 'σ').
TRAPS = ["ſ", "\u212a", "İ", "ı", "é", "É", "µ", "μ", "ς", "σ"]
TEXT_CHARS = list("abcksSKiI :-_1[]().") + TRAPS
LITERAL = st.text(st.sampled_from(list("abcksSKiI :-_1") + TRAPS), min_size=1, max_size=6)
TAILS = {
    "osmatch": [""],
    "osregex": ["", "\\d+", "\\w+", "(\\S+)", "\\.*", "\\s", "(\\w+) x", "\\p"],
    "pcre2": ["", "\\d+", "\\w+", "(\\S+)", ".*", "\\s", "[a-z]+", "(?:x|y)"],
}


@st.composite
def patterns(draw) -> tuple[str, str]:
    """(dialect, source): one to three alternatives, each optionally anchored."""
    kind = draw(st.sampled_from(sorted(TAILS)))
    alternatives = []
    for _ in range(draw(st.integers(1, 3))):
        start = "^" if draw(st.booleans()) else ""
        end = "$" if draw(st.booleans()) else ""
        alternatives.append(start + draw(LITERAL) + draw(st.sampled_from(TAILS[kind])) + end)
    return kind, "|".join(alternatives)


def _compiled(kind: str, source: str) -> Pattern:
    try:
        return compile_pattern(kind, source)
    except PatternError:
        assume(False)
        raise


texts = st.text(st.sampled_from(TEXT_CHARS), max_size=14)
ascii_texts = st.text(st.sampled_from([c for c in TEXT_CHARS if c.isascii()]), max_size=14)
PROPERTY = settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(patterns(), ascii_texts)
def test_a_literal_gate_never_excludes_a_match(pattern: tuple[str, str], text: str) -> None:
    compiled = _compiled(*pattern)
    lowered = text.lower()
    if gated_out(literal_gate(compiled), lowered):
        assert not compiled.test(text), f"literal gate {literal_gate(compiled)}"
    required = compiled.required_literals
    if required and not any(literal in lowered for literal in required):
        assert not compiled.test(text), f"required literals {required}"


@pytest.fixture(scope="module")
def pcre2() -> Pcre2:
    library = load()
    if library is None:
        pytest.skip("libpcre2-8 (the PCRE2 library OSSEC links) is not installed")
    return library


def _ossec_verdict(pcre2: Pcre2, kind: str, source: str, text: str) -> bool:
    if kind == "osmatch":
        return ossec_os_match(pcre2, source, translate_osmatch(source), text)
    if kind == "osregex":
        return ossec_os_regex(pcre2, source, translate_osregex(source), text)
    return ossec_pcre2(pcre2, source, text)


# ASCII texts that may match: a pattern's literal with its letters in either case, 'ſ' as 's'
# and the Kelvin sign as 'k' (what PCRE2 folds them with), the other characters as 'x'.
_AS_ASCII = {"ſ": "sS", "\u212a": "kK", "İ": "x", "ı": "x", "é": "x", "É": "x"}


@st.composite
def ascii_look_alikes(draw, source: str) -> str:
    literal = source.removeprefix("!").split("|")[0].lstrip("^").split("\\")[0]
    chars = [_AS_ASCII.get(c, c.lower() + c.upper() if c.isascii() else "x") for c in literal]
    body = "".join(draw(st.sampled_from(options)) for options in chars)
    return draw(st.sampled_from(["", "x", ":"])) + body + draw(st.sampled_from(["", " 1", "a"]))


@PROPERTY
@given(patterns(), st.data(), st.integers(0, 4))
def test_no_gate_excludes_what_ossec_matches(
    pcre2: Pcre2, pattern: tuple[str, str], data: st.DataObject, start: int
) -> None:
    # The gates against OSSEC's own verdict (the PCRE2 library it links, `pcre2_lib`), not only
    # against the pattern they were derived from: a pattern holding 'ſ' or the Kelvin sign
    # matches an ASCII 's' or 'k' in OSSEC, so its gate must let that text through.
    kind, source = pattern
    compiled = _compiled(kind, source)
    text = data.draw(st.one_of(ascii_texts, ascii_look_alikes(source)))
    tail = text[min(start, len(text)) :]
    want = _ossec_verdict(pcre2, kind, source, tail)
    assert compiled.test(tail) is want, "the pattern itself"
    if not want:
        return
    lowered = tail.lower()
    pcre2_kind = kind == "pcre2"
    assert not gated_out(literal_gate(compiled), lowered), f"literal gate {literal_gate(compiled)}"
    prefixes = prefix_gate(compiled, pcre2=pcre2_kind)
    assert prefixes is None or lowered.startswith(prefixes), f"prefixes {prefixes}"
    first = first_chars(compiled, pcre2=pcre2_kind)
    assert first is None or lowered[:1] in first, f"first characters {sorted(first)}"
    exact = exact_literals(compiled)
    assert exact is None or any(literal in lowered for literal in exact), f"exact {exact}"


@pytest.mark.parametrize(
    ("kind", "source"),
    [("osregex", r"^\d*x"), ("pcre2", r"^\d*x"), ("pcre2", r"^\d?x"), ("pcre2", r"^\d{0,2}x")],
)
def test_a_leading_digit_that_may_be_absent_excludes_no_first_character(
    kind: str, source: str
) -> None:
    pattern = compile_pattern(kind, source)  # type: ignore[arg-type]
    assert pattern.test("x1")
    first = first_chars(pattern, pcre2=kind == "pcre2")
    assert first is None or "x" in first, sorted(first)


def test_a_wazuh_decoder_with_an_optional_leading_number_still_decodes(
    wazuh_ruleset: Ruleset,
) -> None:
    # checkpoint-smart1's prematch begins '^\d* ': a line without the number is its too.
    line = (
        ' 2019-05-15T16:27:08Z HOSTNAME CheckPoint 19710 - [action:"Key Install"; '
        'src:"11.22.33.99"; ]'
    )
    for text in (line, "1" + line):
        result = Engine(wazuh_ruleset, hostname="gates").process_line(text, when=1.0)
        assert result.decoder == "checkpoint-smart1", repr(text[:12])


@PROPERTY
@given(patterns(), ascii_texts)
def test_exact_literals_are_the_whole_test(pattern: tuple[str, str], text: str) -> None:
    # The engine does not run a rule's pattern when its gate settles it (`exact_literals`).
    compiled = _compiled(*pattern)
    exact = exact_literals(compiled)
    if exact is not None:
        lowered = text.lower()
        assert compiled.test(text) == any(literal in lowered for literal in exact), exact


@PROPERTY
@given(patterns(), ascii_texts, st.integers(0, 4))
def test_a_prefix_gate_never_excludes_a_match(
    pattern: tuple[str, str], text: str, start: int
) -> None:
    kind, source = pattern
    compiled = _compiled(kind, source)
    pcre2 = kind == "pcre2"
    lowered = text.lower()
    start = min(start, len(text))
    # As decoders use them: the pattern runs on the text after an offset (`after_prematch`).
    prefixes = prefix_gate(compiled, pcre2=pcre2)
    if prefixes is not None and not lowered.startswith(prefixes, start):
        assert compiled.search(text[start:]) is None, f"prefixes {prefixes}"
    first = first_chars(compiled, pcre2=pcre2)
    if first is not None and lowered[start : start + 1] not in first:
        assert compiled.search(text[start:]) is None, f"first characters {sorted(first)}"


@PROPERTY
@given(patterns(), texts, st.integers(0, 4))
def test_the_engines_lowered_text_gives_the_patterns_own_verdict(
    pattern: tuple[str, str], text: str, start: int
) -> None:
    # The engine lowercases each event once and hands that (or, for a decoder's offset, a slice
    # of it: decoding._search, only where lowercasing kept the length, which 'İ' does not) to
    # every pattern.
    compiled = _compiled(*pattern)
    lowered = text.lower()
    assert compiled.test(text, lowered) == compiled.test(text)
    start = min(start, len(text))
    tail = text[start:]
    sliced = lowered[start:] if len(lowered) == len(text) else None
    assert compiled.search(tail, sliced) == compiled.search(tail)


# PCRE2 pieces for the fast-path property: classes, anchors, escapes RE2 and `re` read alike
# or not (\v, \h, \z, \Z, \b), nested and lazy repeats.
PCRE2_ATOMS = ["a", "s", "K", "\\s", "\\S", "\\w", "\\d", ".", "x", " ", ":", "(a|b)", "[a-c]"]
PCRE2_ATOMS += ["\\v", "\\h", "\\x0b", "\\n", "(?i:k)", "a{2,}", "(a+)+"]
PCRE2_EDGES = ["", "^", "$", "\\b", "\\z", "\\Z"]
PCRE2_TEXT = [*list("abskK xyz:1"), "\x0b", "\n", "\r", "\t", "\x1c", "\x85", "ſ", "\u212a"]


@st.composite
def pcre2_patterns(draw) -> str:
    body = "".join(
        draw(st.sampled_from(PCRE2_ATOMS)) + draw(st.sampled_from(["", "+", "*", "?", "+?"]))
        for _ in range(draw(st.integers(1, 5)))
    )
    return draw(st.sampled_from(PCRE2_EDGES[:3])) + body + draw(st.sampled_from(PCRE2_EDGES))


@PROPERTY
@given(pcre2_patterns(), st.text(st.sampled_from(PCRE2_TEXT), max_size=16))
def test_the_fast_paths_give_the_guarded_regex_verdict(source: str, text: str) -> None:
    # A RegexPattern answers from its literal pre-check, RE2's linear-time pre-check or a fast
    # `re` program when it can; the guarded `regex` program, run without a budget, is the judge.
    # On a text that is not ASCII, `<pcre2>` matches bytes (pcre2bytes): the judge is the guarded
    # program of its bytes spelling.
    compiled = _compiled("pcre2", source)
    assert isinstance(compiled, RegexPattern)
    try:
        if text.isascii():
            reference = compiled.guarded.search(text)
        else:
            data = text.encode()
            programs = pcre2bytes._programs(compiled)
            on_bytes = programs.guarded_program(True).search(data)
            reference = on_bytes and pcre2bytes.ByteMatch(text, data, on_bytes.regs)
    except PatternError:  # `regex` refuses what `re` took: `re` is the pattern's only program
        return
    found = compiled.search(text)
    assert (found is None) == (reference is None), f"reference {reference}"
    if found is not None and reference is not None:
        assert found.end == reference.end()


def _verdict(result: EngineResult) -> tuple:
    return (
        result.decoder,
        result.rule.id if result.rule else None,
        result.rule.level if result.rule else None,
        dict(result.fields),
        result.alert is not None,
    )


def _gated_and_exhaustive_agree(ruleset: Ruleset, lines: list[str]) -> list[str]:
    gated = Engine(ruleset, hostname="gates")
    exhaustive = Engine(ruleset, hostname="gates", trace_rules=True)
    out = []
    for line in lines:
        want = _verdict(exhaustive.process_line(line, when=1700000000.0))
        got = _verdict(gated.process_line(line, when=1700000000.0))
        if want != got:
            out.append(f"{line!r}:\n  every rule {want}\n  gated      {got}")
    return out


@pytest.fixture(scope="module")
def rule_sets(ruleset43: Ruleset, wazuh_ruleset: Ruleset) -> dict[str, Ruleset]:
    return {
        "ossec-4.3": ruleset43,
        "ospatrol": load_default_ruleset(cache=True),
        "wazuh": wazuh_ruleset,
    }


@pytest.fixture(scope="module")
def lines(shared_data: Path) -> list[str]:
    logs = shared_data / "logs"
    raw = [line for corpus in corpus_lines(logs, at_most=300).values() for line in corpus]
    raw += hostile_set(logs, 6)
    return [line.decode("utf-8", "surrogateescape") for line in raw]


@pytest.mark.parametrize("name", ["ossec-4.3", "ospatrol", "wazuh"])
def test_the_gated_engine_agrees_with_walking_every_rule(
    name: str, rule_sets: dict[str, Ruleset], lines: list[str], shared_data: Path
) -> None:
    extra = []
    if name == "wazuh":
        tests = shared_data / "wazuh" / "ruleset" / "testing" / "tests"
        extra = [case.log for case in read_wazuh_cases(tests.glob("*"))]
    differing = _gated_and_exhaustive_agree(rule_sets[name], extra + lines)
    assert not differing, f"{len(differing)} differ:\n" + "\n".join(differing[:10])


def _mutate(line: str, edits: list[tuple[int, int, str]]) -> str:
    for at, cut, insert in edits:
        at %= len(line) + 1
        line = line[:at] + insert + line[at + cut :]
    return line


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    edits=st.lists(
        st.tuples(
            st.integers(0, 400),
            st.integers(0, 3),
            st.text(st.sampled_from([*TEXT_CHARS, "\t", "\r", "\x00", "\udcff", "'"]), max_size=4),
        ),
        max_size=4,
    ),
)
def test_the_gated_engine_agrees_on_mutated_corpus_lines(
    data: st.DataObject, edits: list, rule_sets: dict[str, Ruleset], lines: list[str]
) -> None:
    name = data.draw(st.sampled_from(sorted(rule_sets)))
    line = _mutate(data.draw(st.sampled_from(lines)), edits)
    assert not _gated_and_exhaustive_agree(rule_sets[name], [line])

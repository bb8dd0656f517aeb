"""The lowered programs: a caseless regex run case-sensitively on the engine's lowercased text.

`pcre.lowered_program` rewrites a caseless pattern so that, on `text.lower()` of an ASCII text,
it matches exactly where the original matches `text`, with the same spans; `RegexPattern` then
takes its verdicts and its end offsets from it, and its groups from `text`. These tests prove
the equivalence on generated patterns (every construct the rewrite knows, in both cases, with
letters in classes and ranges) and generated texts, and on every stock pattern against the
OSSEC test lines; and that the rewrite refuses what it cannot prove.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ospatrol.analysis import matchers
from ospatrol.analysis.patterns import Captured, compile_pattern
from ospatrol.analysis.pcre import RegexPattern, lowered_program, translate_pcre2

# Pieces of patterns: letters of both cases (k and s, whose Unicode folds are traps elsewhere),
# classes with letters, ranges across the case boundary, negations, escapes, anchors.
ATOMS = [
    "a",
    "A",
    "k",
    "K",
    "s",
    "S",
    "z",
    "Z",
    "0",
    " ",
    "-",
    "_",
    ":",
    ".",
    "\\.",
    "[a-c]",
    "[A-C]",
    "[^aB]",
    "[^A-Z]",
    "[A-z]",
    "[Z-a]",
    "[0-9a-fA-F]",
    "[kS_]",
    "[^ ]",
    "\\w",
    "\\W",
    "\\d",
    "\\D",
    "\\s",
    "\\S",
    "\\b",
    "\\B",
    "^",
    "$",
    "\\Z",
    "\\A",
]
QUANTIFIERS = ["", "", "*", "+", "?", "*?", "+?", "{1,2}", "{2}?"]
TEXT = st.text(st.sampled_from(list("aAbBcCkKsSzZ09 _-:.[]\t\n")), max_size=18)


@st.composite
def regexes(draw, depth: int = 0) -> str:
    """A pattern made of atoms, groups, alternations and look-arounds."""
    parts = []
    for _ in range(draw(st.integers(1, 4))):
        choice = draw(st.integers(0, 9 if depth < 2 else 0))
        if choice <= 5:
            part = draw(st.sampled_from(ATOMS))
        elif choice == 6:
            part = "(" + draw(regexes(depth + 1)) + ")"
        elif choice == 7:
            part = "(?:" + draw(regexes(depth + 1)) + "|" + draw(regexes(depth + 1)) + ")"
        elif choice == 8:
            part = (
                draw(st.sampled_from(["(?=", "(?!", "(?<=", "(?<!"]))
                + draw(st.sampled_from(["a", "K", "[a-c]", "\\d", "s:"]))
                + ")"
            )
        else:
            part = "(" + draw(st.sampled_from(ATOMS)) + ")\\1" if depth == 0 else "(?>a|ab)"
        if part not in ("^", "$", "\\b", "\\B", "\\Z", "\\A") and not part.startswith("(?<"):
            part += draw(st.sampled_from(QUANTIFIERS))
        parts.append(part)
    if depth == 0 and draw(st.booleans()):
        return "|".join(parts)
    return "".join(parts)


@pytest.fixture(autouse=True)
def _lowered_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Patterns use their lowered program from the first call here, not after LOWER_AFTER."""
    monkeypatch.setattr(matchers, "LOWER_AFTER", 1)


def test_a_pattern_gets_its_lowered_program_after_lower_after_calls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Making one costs about as much as a thousand calls gain: rarely run patterns keep the
    caseless program; an anchored one (nothing to gain) never gets one."""
    monkeypatch.setattr(matchers, "LOWER_AFTER", 3)
    unanchored = compile_pattern("pcre2", r"user (\S+) from")
    anchored = compile_pattern("pcre2", r"^user (\S+) from")
    text = "USER Admin from 1.2.3.4"
    for call in range(1, 5):
        for pattern in (unanchored, anchored):
            assert pattern.search(text, text.lower()) == Captured(("Admin",), 15)
        assert bool(unanchored._lowered_search) is (call >= 3)
        assert anchored._lowered_search is False


def _spans(found: re.Match[str] | None) -> tuple | None:
    return None if found is None else found.regs


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(regexes(), st.lists(TEXT, min_size=1, max_size=6), st.booleans())
def test_a_lowered_program_matches_the_lowered_text_where_the_pattern_matches_the_text(
    source: str, texts: list[str], ascii_only: bool
) -> None:
    try:
        original = re.compile(source, re.IGNORECASE | (re.ASCII if ascii_only else 0))
    except re.error:
        assume(False)
        return
    lowered = lowered_program(source, ascii_only)
    assert lowered is not None, source  # every construct generated here is one it knows
    for text in texts:
        assert _spans(lowered.search(text.lower())) == _spans(original.search(text)), (
            source,
            text,
        )


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(regexes(), st.lists(TEXT, min_size=1, max_size=6))
def test_a_pattern_answers_as_its_caseless_program_with_or_without_lowered_text(
    source: str, texts: list[str]
) -> None:
    """Through the pattern object, as the engine calls it: verdict, groups from the original
    text (unset ones left out, as OSSEC does) and end offset."""
    try:  # PCRE2 syntax (its \Z is not Python's)
        original = re.compile(translate_pcre2(source), re.IGNORECASE | re.ASCII)
    except re.error:
        assume(False)
        return
    pattern = compile_pattern("pcre2", source)
    assert isinstance(pattern, RegexPattern)
    assume(not pattern.guarded_only)
    for text in texts:
        found = original.search(text)
        expected = found and Captured(
            tuple(g for g in found.groups() if g is not None), found.end()
        )
        for lowered in (None, text.lower()):
            assert pattern.search(text, lowered) == expected, (source, text)
            assert pattern.test(text, lowered) is (found is not None), (source, text)


@pytest.mark.parametrize(
    ("source", "ascii_only"),
    [
        ("\u017fx", False),  # long s: Unicode caseless matching takes it for an 's'
        ("[\u212a]", False),  # Kelvin sign, in a class
        ("\\u212a", True),  # spelled as an escape: still not ASCII once parsed
        ("[\\x00-\\xff]", True),  # a range reaching past ASCII
        ("(?i)abc", True),  # the pattern sets case-insensitivity itself
        ("a(?-i:B)c", True),  # ... or turns it off for a part
        ("(?i:a)b", True),
    ],
)
def test_a_lowered_program_is_refused_where_it_is_not_certain(
    source: str, ascii_only: bool
) -> None:
    assert lowered_program(source, ascii_only) is None


def test_the_lowered_text_keeps_case_sensitive_parts_and_groups_from_the_original_text() -> None:
    """Wazuh's case-sensitive pcre2 keeps its own program; groups come from the text as it is."""
    pattern = compile_pattern("pcre2", r"user=(\S+) from (\S+)")
    text = "Accepted USER=Root from Host-A"
    assert pattern.search(text, text.lower()) == Captured(("Root", "Host-A"), len(text))
    wazuh = compile_pattern("pcre2", r"user=(\S+)", wazuh=True)
    assert wazuh.search("USER=Root", "user=root") is None
    assert wazuh.search("user=Root", "user=root") == Captured(("Root",), 9)


def _stock_patterns(shared_data: Path) -> list[RegexPattern]:
    compiled = []
    for kind, sources in _stock_sources(shared_data).items():
        for source in sources:
            pattern = compile_pattern(kind, source)  # type: ignore[arg-type]
            if isinstance(pattern, RegexPattern) and not pattern.guarded_only:
                compiled.append(pattern)
    return compiled


def _stock_sources(shared_data: Path) -> dict[str, set[str]]:
    """The pcre2, osregex and osmatch sources of OSSEC 4.3's and 3.3.0's files."""
    out: dict[str, set[str]] = {"pcre2": set(), "osregex": set(), "osmatch": set()}
    element = re.compile(r"<(\w+)(?:\s+type=\"(\w+)\")?[^>]*>([^<]+)</\1>")
    tags = {"regex": "osregex", "prematch": "osregex", "match": "osmatch", "pcre2": "pcre2"}
    files = [*(shared_data / "ossec").rglob("*.xml")]
    for path in files:
        for tag, kind, source in element.findall(path.read_text(errors="replace")):
            if tag in tags:
                text = source.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
                out[kind or tags[tag]].add(text)
    return out


def test_every_stock_pattern_matches_alike_on_the_lowered_test_lines(shared_data: Path) -> None:
    lines = []
    for ini in sorted((shared_data / "ossec").rglob("*.ini")):
        for line in ini.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("log ") and " = " in line:
                log = line.split(" = ", 1)[1].replace("%%", "%")
                if log.isascii():
                    lines += [log, log.upper(), log.swapcase()]
    assert len(lines) > 600
    checked = 0
    for pattern in _stock_patterns(shared_data):
        program = lowered_program(pattern._translated, pattern._ascii_only)
        if program is None:
            continue
        original = pattern._fast
        assert original is not None
        for line in lines:
            assert _spans(program.search(line.lower())) == _spans(original.search(line)), (
                pattern.source,
                line,
            )
        checked += 1
    assert checked > 1000


def test_a_lowered_text_that_is_not_the_texts_own_is_not_trusted() -> None:
    """A decoder searches the rest of a log after its prematch, with the same slice of the
    log's lowered text: where lowercasing the log grew it ('İ' gives two characters), that
    slice is shifted against the text. The verdict and the offsets stay the text's own."""
    log = "pam_unİx: rhost=Host-A user=root"
    start = log.index("rhost")
    rest, shifted = log[start:], log.lower()[start:]
    assert rest.isascii() and shifted != rest.lower()
    pattern = compile_pattern("pcre2", r"rhost=(\S+) user=(\S+)")
    assert pattern.search(rest, shifted) == Captured(("Host-A", "root"), len(rest))
    assert pattern.test(rest, shifted)


def test_prepare_makes_a_lowered_program_only_where_one_is_due() -> None:
    """The loader's `prepare` on a fresh rule set: the unanchored caseless pattern gets its
    lowered program at once; anchored and case-sensitive ones get none."""
    unanchored = compile_pattern("pcre2", r"user (\S+) from")
    anchored = compile_pattern("pcre2", r"^user (\S+) from")
    wazuh = compile_pattern("pcre2", r"user (\S+) from", wazuh=True)
    for pattern in (unanchored, anchored, wazuh):
        assert isinstance(pattern, RegexPattern)
        pattern.prepare()
    assert unanchored._lowered_search
    assert anchored._lowered_search is False and wazuh._lowered_search is False

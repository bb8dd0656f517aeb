"""Case-insensitive matching on Unicode, as OSSEC 4.3 does it, dialect by dialect.

OSSEC compares the three dialects caselessly in three different ways (hostile_lines.py says
which); OSPatrol's fast paths (literal alternatives as `str` operations on `text.lower()`, the
`re` programs) must give the same verdicts, or a log line crafted with 'ſ' or 'K' (Kelvin sign)
slips past a rule that OSSEC fires, or fires one OSSEC does not. Each row is a pattern and a
text that differ in one case-folding trap; the expected verdicts were recorded from the real
ossec-logtest (test_hostile_ossec.py checks them against it again where the oracle is built).

Where the PCRE2 library OSSEC links is installed (libpcre2-8), the folding itself is checked
against it: `casefold.fold`'s caseless sets are PCRE2's on every cased character, Python's
engines differ from it only on `PYTHON_ONLY_FOLDS`, and generated patterns and texts (non-ASCII
traps included) get OSSEC's verdict as `pcre2_lib` computes it from the library.
"""

from __future__ import annotations

import re

import pytest
import regex
from hostile_lines import case_fold_traps, trap_pattern, trap_text
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pcre2_lib import Pcre2, load, ossec_os_match, ossec_os_regex

from ospatrol.analysis import matchers
from ospatrol.analysis.casefold import PYTHON_ONLY_FOLDS, fold
from ospatrol.analysis.osmatch import translate_osmatch
from ospatrol.analysis.osregex import translate_osregex
from ospatrol.analysis.patterns import PatternError, compile_pattern


def _rows():
    for index, dialect, pat, text, ossec in case_fold_traps():
        yield pytest.param(index, dialect, pat, text, ossec, id=f"{dialect}:{pat}~{text}")


@pytest.mark.parametrize(("index", "dialect", "pat", "text", "ossec"), list(_rows()))
def test_a_case_folding_trap_matches_as_in_ossec(
    index: int, dialect: str, pat: str, text: str, ossec: bool
) -> None:
    kind, source = trap_pattern(index, dialect, pat)
    pattern = compile_pattern(kind, source)
    subject = trap_text(index, dialect, text)
    assert pattern.test(subject) is ossec, f"{kind} {source!r} on {subject!r}"
    # `lowered` is the engine's once-per-event lowercasing: it must not change the verdict.
    assert pattern.test(subject, subject.lower()) is ossec, "with the engine's lowered text"
    found = pattern.search(subject, subject.lower())
    assert (found is not None) is ossec, "search"


@pytest.fixture(scope="module")
def pcre2() -> Pcre2:
    library = load()
    if library is None:
        pytest.skip("libpcre2-8 (the PCRE2 library OSSEC links) is not installed")
    return library


def _cased() -> list[str]:
    """Every character with a case mapping, and the single characters it maps to."""
    out = set()
    for code in range(0x110000):
        char = chr(code)
        mapped = {char.lower(), char.upper(), char.casefold(), char.title()}
        if mapped != {char} and not 0xD800 <= code < 0xE000:
            out |= {char} | {m for m in mapped if len(m) == 1}
    return sorted(out)


@pytest.fixture(scope="module")
def pcre2_sets(pcre2: Pcre2) -> dict[str, frozenset[str]]:
    """Per cased character, the cased characters PCRE2 (UTF|CASELESS) takes for it."""
    cased = _cased()
    subject = "\n".join(cased)
    return {c: frozenset(pcre2.spans(f"\\x{{{ord(c):x}}}", subject)) for c in cased}


def test_fold_is_pcre2s_case_folding_on_every_cased_character(
    pcre2_sets: dict[str, frozenset[str]],
) -> None:
    assert len(pcre2_sets) > 2500
    by_fold: dict[str, set[str]] = {}
    for char in pcre2_sets:
        by_fold.setdefault(fold(char), set()).add(char)
    wrong = [c for c, same in pcre2_sets.items() if by_fold[fold(c)] != same]
    assert not wrong, [(c, sorted(pcre2_sets[c]), sorted(by_fold[fold(c)])) for c in wrong[:9]]
    # The sets that matter most: 'ſ' is an s, the Kelvin sign a k; 'İ' and 'ı' are alone.
    assert pcre2_sets["s"] == {"s", "S", "ſ"} and pcre2_sets["k"] == {"k", "K", "\u212a"}
    assert pcre2_sets["İ"] == {"İ"} and pcre2_sets["ı"] == {"ı"} and pcre2_sets["i"] == {"i", "I"}


@pytest.mark.parametrize("engine", ["re", "regex"])
def test_pythons_engines_fold_as_pcre2_except_the_python_only_folds(
    pcre2_sets: dict[str, frozenset[str]], engine: str
) -> None:
    # What `RegexPattern._match_shielded` rests on: outside PYTHON_ONLY_FOLDS (and the ASCII
    # letters they join), `re` and `regex` with IGNORECASE take for a character what PCRE2 does.
    subject = "\n".join(pcre2_sets)
    module, flags = (re, re.IGNORECASE) if engine == "re" else (regex, regex.I | regex.V0)
    differing = {
        c
        for c in pcre2_sets
        if set(module.findall(module.escape(c), subject, flags)) != pcre2_sets[c]
    }
    assert differing == set(PYTHON_ONLY_FOLDS) | {"i", "I"}


def test_the_characters_python_folds_alone_are_kept_apart_in_every_engine() -> None:
    # 'İ' and 'ı' are not 'i' (PCRE2); a text holding the private-use characters the shield
    # would stand in for them still matches only what it holds. Short texts run on `re`, long
    # ones on RE2 or `regex` (`pcre.FAST_TEXT_LIMITS`): the verdicts must not depend on it.
    pad = "x" * 5000
    first_stand_in = chr(matchers._STAND_INS[0])
    for tail in ("", pad):
        pattern = compile_pattern("osregex", r"^(\S+) user (\S+)\s")
        assert pattern.search(f"İ user ı {tail}").groups == ("İ", "ı")  # type: ignore[union-attr]
        assert compile_pattern("osregex", r"admin\d").test(f"admİn1 {tail}") is False
        assert compile_pattern("osregex", r"admin\d").test(f"ADMIN1 İ{tail}") is True
        assert compile_pattern("osregex", r"adm\wn\d").test(f"admın1 {tail}") is False
        assert compile_pattern("osregex", r"adm\wn\d").test(f"admſn1 İ{tail}") is True
        assert compile_pattern("osregex", r"adm\Wn\d").test(f"admİn1 {tail}") is True
        dotted = compile_pattern("osregex", r"(\w+)İ(\S+)")
        assert dotted.test(f"xi1 {tail}") is False
        found = dotted.search(f"{first_stand_in}abİ{first_stand_in}ı {tail}")
        assert found is not None and found.groups == ("ab", f"{first_stand_in}ı")
        assert dotted.test(f"ab{first_stand_in}x{tail}") is False
        assert compile_pattern("osmatch", "İ.").test(f"i. {tail}") is False
        assert compile_pattern("osmatch", "İ.").test(f"i.İ. {tail}") is True


# Generated patterns and texts: literals with characters that fold (or not) in every way
# PCRE2, Python and strncasecmp disagree on, and OS_Regex tails that reach the regex engines.
# The texts are mostly the pattern's literal with its characters swapped for look-alikes.
LOOK_ALIKES = ["sSſ", "kK\u212a", "iIİı", "µμΜ", "ςσΣ", "ϑθΘ", "ßẞ", "\u212båÅ", "éÉ"]
LOOK_ALIKES += ["\u0390\u1fd3", "\ufb05\ufb06", "1 ", "\ue000x"]
FOLDING = sorted(set("".join(LOOK_ALIKES)))
TAILS = {
    "osmatch": ["", ".", "|^x", "|y$"],
    "osregex": ["", "\\d", "\\w+", "(\\S+)", "\\W", "\\.", "|x", "(\\w)\\s"],
}


@st.composite
def folding_cases(draw) -> tuple[str, str, str]:
    """(dialect, pattern, text)."""
    kind = draw(st.sampled_from(sorted(TAILS)))
    start = "^" if draw(st.booleans()) else ""
    end = "$" if draw(st.booleans()) else ""
    look_alike = st.sampled_from(LOOK_ALIKES).flatmap(st.sampled_from)
    body = draw(st.text(look_alike, min_size=1, max_size=4))
    tail = draw(st.one_of(st.just(""), st.sampled_from(TAILS[kind])))
    if draw(st.booleans()):
        text = draw(st.text(st.sampled_from([*FOLDING, "y"]), max_size=10))
    else:
        groups = {c: group for group in LOOK_ALIKES for c in group}
        swapped = "".join(draw(st.sampled_from(groups[c])) for c in body)
        text = draw(st.sampled_from(["", "x", "1"])) + swapped + draw(st.sampled_from(["", " 1"]))
    return kind, start + body + tail + end, text


@settings(max_examples=800, suppress_health_check=[HealthCheck.too_slow])
@given(folding_cases())
def test_generated_patterns_get_ossecs_verdict_from_the_pcre2_library(
    pcre2: Pcre2, case: tuple[str, str, str]
) -> None:
    kind, source, text = case
    try:
        compiled = compile_pattern(kind, source)  # type: ignore[arg-type]
    except PatternError:
        assume(False)
    if kind == "osmatch":
        want = ossec_os_match(pcre2, source, translate_osmatch(source), text)
    else:
        want = ossec_os_regex(pcre2, source, translate_osregex(source), text)
    assert compiled.test(text) is want, f"{type(compiled).__name__}"
    assert compiled.test(text, text.lower()) is want, "with the engine's lowered text"
    assert (compiled.search(text) is not None) is want, "search"

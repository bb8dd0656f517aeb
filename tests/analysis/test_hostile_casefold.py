"""Case-insensitive matching on Unicode, as OSSEC 4.3 does it, dialect by dialect.

OSSEC compares the three dialects caselessly in three different ways (hostile_lines.py says
which); OSPatrol's fast paths (literal alternatives as `str` operations on `text.lower()`, the
`re` programs) must give the same verdicts, or a log line crafted with 'ſ' or 'K' (Kelvin sign)
slips past a rule that OSSEC fires, or fires one OSSEC does not. Each row is a pattern and a
text that differ in one case-folding trap; the expected verdicts were recorded from the real
ossec-logtest (test_hostile_ossec.py checks them against it again where the oracle is built).

Rows OSPatrol gets wrong today are strict xfails, one reason per mechanism, so a fix shows up
as an unexpected pass and its marker goes.
"""

from __future__ import annotations

import pytest
from hostile_lines import case_fold_traps, trap_pattern, trap_text

from ospatrol.analysis.patterns import compile_pattern

LITERAL_DIALECTS = ("match", "match^|", "regex", "regex^")
# What OSSEC's "could be optimized" check lets through to strncasecmp when anchored: ASCII, plus
# the two characters its own caseless UTF check takes for [A-Za-z] (Kelvin sign, long s).
OPTIMIZABLE = frozenset(map(chr, range(128))) | {"\u212a", "ſ"}


def _reason(dialect: str, pat: str, text: str, ossec: bool) -> str | None:
    """Why OSPatrol's verdict on this row differs from OSSEC's, or None when it should not."""
    lower_equal = pat.lower() == text.lower()
    if ossec and dialect in LITERAL_DIALECTS and not lower_equal:
        return (
            "literal patterns compare text.lower() with the lowercased literal; OSSEC runs "
            "unanchored ones (and anchored ones outside its strncasecmp fast path) through PCRE2 "
            "with UTF|CASELESS, which applies Unicode simple case folding: 'ſ' matches 's', 'ς' "
            "matches 'σ', 'µ' matches 'μ' (osmatch.py LiteralAlternatives; owner wazuh)"
        )
    anchored_bytes = dialect == "match^" or (dialect == "regex^" and set(pat) <= OPTIMIZABLE)
    if not ossec and anchored_bytes and lower_equal:
        return (
            "an anchored literal ('^x', one alternative) is compared by OSSEC with strncasecmp: "
            "bytes, ASCII-only case folding, so 'k' and 'K' (Kelvin sign) or 'é' and 'É' differ; "
            "ours lowercases both with str.lower (osmatch.py; owner wazuh)"
        )
    if not ossec and dialect in ("regex\\d", "regex\\w") and set(pat + text) & {"İ", "ı"}:
        return (
            "Python's re folds 'İ' and 'ı' with 'i'/'I' under IGNORECASE; PCRE2's Unicode case "
            "folding does not (no simple folding for U+0130/U+0131), so OSSEC does not match "
            "them (osregex.py/pcre.py RegexPattern; owner wazuh)"
        )
    return None


def _rows():
    for index, dialect, pat, text, ossec in case_fold_traps():
        reason = _reason(dialect, pat, text, ossec)
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        yield pytest.param(
            index, dialect, pat, text, ossec, id=f"{dialect}:{pat}~{text}", marks=marks
        )


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

"""Gates that decide a pattern on their own, or skip it on one rare character, never change a
verdict.

- `required_char`: a rare character every match of a regex contains (`%` of Cisco's
  `%FAC-SEV-MNEMONIC: `), the gate of a pattern whose required literals are all too short;
- `refused_prefixes`: a caseless PCRE2 prematch `^(?!pam_)` is exactly "the log does not start
  with pam_", settled with `startswith`;
- `exact_prefixes`: a plain anchored `<match>^Failed password|^Accepted</match>` is exactly
  "the log starts with one of these", settled by the rule's prefix gate.

Properties over generated patterns and texts (Hypothesis), the real patterns of every rule set
over every corpus line, and the decoder walk with its gates against the same walk without any.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import pytest
from hostile_lines import corpus_lines
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ospatrol.analysis import decoding
from ospatrol.analysis.decoders import Decoder, DecoderNode, DecoderSet
from ospatrol.analysis.decoding import _fits_head
from ospatrol.analysis.eventinfo import EventInfo
from ospatrol.analysis.gates import (
    exact_prefixes,
    first_chars,
    head_gate,
    literal_gate,
    prefix_gate,
    refused_prefixes,
    regex_implies_prematch,
    required_char,
)
from ospatrol.analysis.loader import Ruleset, load_default_ruleset
from ospatrol.analysis.patterns import Pattern, PatternError, compile_pattern
from ospatrol.analysis.predecode import predecode

REPO = Path(__file__).resolve().parents[2]
PROPERTY = settings(max_examples=250, suppress_health_check=[HealthCheck.too_slow])
# Letters in both cases, the rare characters the gate looks for, and common punctuation.
ALPHABET = list("abAB %_;#@|:- ")
ATOMS = ["a", "B", "%", "_", ";", "#", "@", " ", "-", ":", "\\d", "\\w", "\\S", "[%_]", "."]


@st.composite
def regexes(draw) -> str:
    """PCRE2 sources built from literals, classes, groups, repeats and alternations."""

    def sequence(depth: int) -> str:
        out = []
        for _ in range(draw(st.integers(1, 4))):
            choice = draw(st.integers(0, 9 if depth < 2 else 5))
            if choice <= 5:
                out.append(draw(st.sampled_from(ATOMS)))
            elif choice <= 7:
                inner = "|".join(sequence(depth + 1) for _ in range(draw(st.integers(1, 3))))
                out.append(draw(st.sampled_from(["(", "(?:", "(?-i:"])) + inner + ")")
            else:
                out.append(sequence(depth + 1))
            if draw(st.booleans()) and not out[-1].endswith(("*", "+", "?", "}")):
                out[-1] += draw(st.sampled_from(["*", "+", "?", "{2}", "{0,2}", "+?"]))
        return "".join(out)

    anchor = draw(st.sampled_from(["", "^"]))
    return anchor + "|".join(sequence(0) for _ in range(draw(st.integers(1, 2))))


def _compiled(kind: str, source: str) -> Pattern:
    try:
        return compile_pattern(kind, source)
    except PatternError:
        assume(False)
        raise


@PROPERTY
@given(regexes(), st.text(st.sampled_from(ALPHABET), max_size=12))
def test_a_required_character_is_in_every_match(source: str, text: str) -> None:
    pattern = _compiled("pcre2", source)
    char = required_char(pattern)
    if char is not None and pattern.test(text):
        assert char in text.lower(), (source, text, char)


@PROPERTY
@given(regexes(), st.text(st.sampled_from(ALPHABET), max_size=12))
def test_anchored_gates_read_through_groups_and_never_exclude_a_match(source: str, text: str):
    pattern = _compiled("pcre2", source)
    low = text.lower()
    if not pattern.test(text):
        return
    head = head_gate(pattern)
    assert head is None or _fits_head(low, head), (source, text, head)
    prefixes = prefix_gate(pattern, pcre2=True)
    assert prefixes is None or low.startswith(prefixes), (source, text, prefixes)
    first = first_chars(pattern, pcre2=True)
    assert first is None or low[:1] in first, (source, text, first)


def test_alternatives_split_outside_groups_only() -> None:
    two = compile_pattern("pcre2", r"^ab(?:c|d)e|^x(y)")
    assert prefix_gate(two, pcre2=True) == ("ab", "x")
    assert first_chars(two, pcre2=True) == frozenset("ax")
    # A leading digit that may be absent is no first-character gate.
    for source in (r"^\d*:", r"^\d?x", r"^\d{0,2}x"):
        assert first_chars(compile_pattern("pcre2", source), pcre2=True) is None, source
    for source in (r"^\d+:", r"^\d{4}-"):
        digits = first_chars(compile_pattern("pcre2", source), pcre2=True)
        assert digits == frozenset("0123456789"), source
    # A PCRE2 class may hold '|' or a parenthesis: no split, no gate.
    assert prefix_gate(compile_pattern("pcre2", r"^a[|(]b|^c"), pcre2=True) is None
    # OS_Regex reads '[' as itself: '^a[' and the unanchored 'b]' are its alternatives.
    osregex = compile_pattern("osregex", r"^a[|b]")
    assert prefix_gate(osregex) is None
    assert head_gate(osregex) is None
    assert osregex.test("xb]")


@PROPERTY
@given(regexes(), regexes(), st.booleans(), st.text(st.sampled_from(ALPHABET), max_size=12))
def test_a_regex_that_implies_its_prematch_never_matches_without_it(
    head: str, tail: str, wrap: bool, text: str
) -> None:
    tail = tail.removeprefix("^")
    prematch = _compiled("pcre2", head)
    regex = _compiled("pcre2", ("(" + head + ")" if wrap else head) + tail)
    if regex_implies_prematch(prematch, regex, pcre2=True) and regex.search(text) is not None:
        assert prematch.search(text) is not None, (head, tail, text)


def test_regex_implies_prematch_on_the_usual_shapes() -> None:
    def implies(kind: str, prematch: str, regex: str) -> bool:
        return regex_implies_prematch(
            compile_pattern(kind, prematch), compile_pattern(kind, regex), pcre2=kind == "pcre2"
        )

    assert implies("pcre2", r"^Failed \S+ for ", r"^Failed (\S+) for (?:invalid user )?(\S+)")
    assert implies("osregex", r"^Failed \S+ for ", r"^Failed (\S+) for (\S+) from")
    assert implies("pcre2", r"%(?:LINK|UP)-\d: ", r"%((?:LINK|UP)-\d): (\w+)")
    # A quantifier on the prematch's last token, a quantified or alternating group, a
    # top-level alternation, a back-reference: no.
    assert not implies("pcre2", r"^ab", r"^ab+c")
    assert not implies("pcre2", r"^a(b)", r"^a(b)?c")
    assert not implies("pcre2", r"^ab", r"^a(bx)?")
    assert not implies("osregex", r"^ab", r"^a(b|x)c")
    assert not implies("pcre2", r"^ab", r"^a(b|c)")
    assert not implies("pcre2", r"^a", r"^a|^b")
    assert not implies("pcre2", r"^(a)\1", r"^(a)\1(b)")
    assert not implies("pcre2", r"^a[(]b", r"^a[(]")


def test_the_character_gate_covers_what_the_literals_miss() -> None:
    cisco = compile_pattern(
        "pcre2",
        r"^(?:[*.]?\w{3} +\d+ (?:\d{4} )?\d\d:\d\d:\d\d(?:\.\d+)?(?: \w{3,4})?: )?"
        r"%(?-i:[A-Z][A-Z0-9_]*(?:-[A-Z][A-Z0-9_]*)?-\d-[A-Z0-9_]+): ",
    )
    assert literal_gate(cisco) == ("%",)
    junos = compile_pattern("pcre2", r"^(?-i:[A-Z][A-Z0-9]*_[A-Z0-9_]+)(?:: | \[junos@)")
    assert literal_gate(junos) == ("_",)
    # A character only some alternatives need, or only an optional part, is no gate.
    assert required_char(compile_pattern("pcre2", r"a%b|c;d")) is None
    assert required_char(compile_pattern("pcre2", r"x(?:%y)?z")) is None
    assert required_char(compile_pattern("pcre2", r"^(?!pam_)")) is None
    # OS_Regex: `\p` is a class, not a required character; `(` a group there.
    assert required_char(compile_pattern("osregex", r"^\S+ \p(\d+)")) is None
    assert required_char(compile_pattern("osregex", r"^\w+;(\d+)")) == ";"


@PROPERTY
@given(
    st.lists(st.text(st.sampled_from(list("pamPAM_ x-")), min_size=1, max_size=5), min_size=1),
    st.text(st.sampled_from(list("pamPAM_ x-é")), max_size=8),
)
def test_a_refused_prefix_is_the_whole_negative_prematch(words: list[str], text: str) -> None:
    assume(all(w.strip() == w and w for w in words))
    pattern = _compiled("pcre2", "^(?!" + "|".join(words) + ")")
    refused = refused_prefixes(pattern)
    assert refused == tuple(w.lower() for w in words)
    found = pattern.search(text)
    if text.isascii():
        assert (found is not None) == (not text.lower().startswith(refused)), (words, text)
    if found is not None:
        assert (found.end, found.groups) == (0, ())


def test_only_a_plain_negative_lookahead_is_refused_prefixes() -> None:
    for source in (r"^(?!pam_)\w", r"^(?!pam_\w)", r"(?!pam_)", r"^(?=pam_)", r"^(?!a)|b"):
        assert refused_prefixes(compile_pattern("pcre2", source)) is None, source


@PROPERTY
@given(
    st.lists(st.text(st.sampled_from(list("abAB -:.")), max_size=4), min_size=1, max_size=3),
    st.sampled_from(["osmatch", "osregex"]),
    st.text(st.sampled_from(list("abAB -:.")), max_size=8),
)
def test_exact_prefixes_are_the_whole_anchored_match(words: list[str], kind: str, text: str):
    source = "|".join("^" + w for w in words)
    pattern = _compiled(kind, source)
    prefixes = exact_prefixes(pattern)
    if prefixes is None:
        return  # OS_Regex read some of it as syntax: not a literal pattern
    assert pattern.test(text) == text.lower().startswith(prefixes), (source, text)


def test_exact_prefixes_only_for_anchored_plain_alternatives() -> None:
    for source in ("^a|b", "^a$", "!^a", "a"):
        assert exact_prefixes(compile_pattern("osmatch", source)) is None, source
    assert exact_prefixes(compile_pattern("osmatch", "^Failed |^Accepted")) == (
        "failed ",
        "accepted",
    )


# ---------------------------------------------------------------- the real rule sets


def _patterns(ruleset: Ruleset) -> list[Pattern]:
    """Every decoder prematch/regex and every rule match/regex of a rule set."""
    found: dict[int, Pattern] = {}
    nodes = [*ruleset.decoders.with_program, *ruleset.decoders.without_program]
    for node in nodes:
        for dec in (node.decoder, *node.children):
            for pattern in (dec.prematch, dec.regex):
                if pattern is not None:
                    found[id(pattern)] = pattern
    stack = list(ruleset.top)
    while stack:
        node = stack.pop()
        stack.extend(node.children)
        for pattern in (node.rule.match, node.rule.regex):
            if pattern is not None:
                found[id(pattern)] = pattern
    return list(found.values())


@pytest.fixture(scope="module")
def logs(shared_data: Path) -> list[str]:
    """The log part (after pre-decoding) of lines spread over every corpus."""
    out = []
    for lines in corpus_lines(shared_data / "logs", at_most=1000).values():
        for raw in lines:
            text = raw.decode("utf-8", "surrogateescape")
            if text.strip():
                out.append(predecode(text).log)
    return out


def _rulesets(ruleset43: Ruleset, ruleset330: Ruleset) -> list[Ruleset]:
    return [load_default_ruleset(), ruleset43, ruleset330]


def test_real_character_gates_never_exclude_a_real_match(ruleset43, ruleset330, logs):
    gated = 0
    for ruleset in _rulesets(ruleset43, ruleset330):
        for pattern in _patterns(ruleset):
            char = required_char(pattern)
            if char is None:
                continue
            gated += 1
            for log in logs:
                if log.isascii() and char not in log.lower():
                    assert not pattern.test(log), (pattern.source, log, char)
    assert gated >= 10  # cisco-ios, junos and the like in every rule set


def _ungated(dset: DecoderSet) -> DecoderSet:
    """The same decoders without any pre-computed gate."""
    plain = {
        "pname_gate": None,
        "prematch_gate": None,
        "prematch_prefix": None,
        "prematch_first": None,
        "prematch_refused": None,
        "regex_prefix": None,
        "regex_implies_prematch": False,
    }

    def strip(dec: Decoder) -> Decoder:
        return dataclasses.replace(dec, **plain)

    def nodes(items: list[DecoderNode]) -> list[DecoderNode]:
        return [DecoderNode(strip(n.decoder), [strip(k) for k in n.children]) for n in items]

    return dataclasses.replace(
        dset,
        with_program=nodes(dset.with_program),
        without_program=nodes(dset.without_program),
    )


def _decoded(plans: decoding.DecoderPlans, line: str) -> tuple[object, ...]:
    pre = predecode(line)
    ev = EventInfo(
        full_log=pre.full_log,
        log=pre.log,
        hostname=pre.hostname,
        program_name=pre.program_name,
        location="stdin",
        time=0.0,
    )
    ran = decoding.decode(plans, ev)
    return ran, ev.decoder_name, tuple(ev.decoder_trace)


def test_the_gated_decoder_walk_equals_the_walk_without_gates(
    ruleset43, ruleset330, shared_data: Path, monkeypatch: pytest.MonkeyPatch
):
    lines = [
        raw.decode("utf-8", "surrogateescape")
        for corpus in corpus_lines(shared_data / "logs", at_most=600).values()
        for raw in corpus
        if raw.strip()
    ]
    for ruleset in _rulesets(ruleset43, ruleset330):
        gated = [_decoded(ruleset.decoder_plans, line) for line in lines]
        with monkeypatch.context() as patch:
            patch.setattr(decoding, "head_gate", lambda pattern: None)
            plain = decoding.DecoderPlans(_ungated(ruleset.decoders))
        assert all(plan.prematch_head is None for plan in plain.without_program)
        walked = [_decoded(plain, line) for line in lines]
        differ = [(line, a, b) for line, a, b in zip(lines, gated, walked, strict=True) if a != b]
        assert not differ, differ[:3]
        assert sum(1 for ran, name, _ in gated if name) > len(lines) // 4


# ---------------------------------------------------------------- our own decoders

# Our Cisco ACL patterns as they were written first (a nested repeat, run under the regex time
# budget), and now (possessive, rules/decoders/network.xml): the same matches and captures. Each
# regex begins with its prematch, so the engine may run the regex alone.
ACL_BACKTRACKING = (
    r"%\w+-\d-\w*ACCESSLOG\w*: +(?:[\w/]+: +)*list \S+ \w+ \S+ [^\s(]+\(\d+\) -> ",
    r"%(\w+-\d-\w*ACCESSLOG\w*): +(?:[\w/]+: +)*list (\S+) (\w+) (\S+) ([^\s(]+)\((\d+)\) -> "
    r"([^\s(,]+)\((\d+)\)",
    r"%\w+-\d-\w*ACCESSLOG\w*: +(?:[\w/]+: +)*list ",
    r"%(\w+-\d-\w*ACCESSLOG\w*): +(?:[\w/]+: +)*list (\S+) (\w+) (\S+) ([^\s(]+) -> ([^\s(,]+)",
)
ACL_WORDS = ["list", "LIST", "Gi0/1", "vrf", ":", ": ", " ", "  ", "177", "denied", "udp", "->"]
ACL_WORDS += ["10.0.0.1(22)", "10.0.0.2", "(", ")", ",", "x"]


def test_our_acl_patterns_are_possessive_where_the_original_was_not() -> None:
    text = (REPO / "rules" / "decoders" / "network.xml").read_text()
    for source in ACL_BACKTRACKING:
        assert source not in text
        assert source.replace("+)*list", "+)*+list") in text
    prematch, regex, short_prematch, short_regex = (_acl_pair(s)[1] for s in ACL_BACKTRACKING)
    assert regex_implies_prematch(prematch, regex, pcre2=True)
    assert regex_implies_prematch(short_prematch, short_regex, pcre2=True)


@PROPERTY
@given(
    st.sampled_from(ACL_BACKTRACKING),
    st.sampled_from(["%SEC-6-IPACCESSLOGP: ", "%SEC-6-IPACCESSLOGNP:  ", "%X-1-Y: "]),
    st.lists(st.sampled_from(ACL_WORDS), max_size=14),
)
def test_the_possessive_acl_patterns_match_as_the_backtracking_ones(
    source: str, head: str, words: list[str]
) -> None:
    text = head + "".join(words)
    before, after = _acl_pair(source)
    assert before.search(text) == after.search(text), text


@functools.cache
def _acl_pair(source: str) -> tuple[Pattern, Pattern]:
    possessive = source.replace("+)*list", "+)*+list")
    return compile_pattern("pcre2", source), compile_pattern("pcre2", possessive)

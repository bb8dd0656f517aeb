"""The three OSSEC pattern dialects: feature table, OSSEC's quirks, bounded cost, and every pattern
of the stock rule sets (3.3.0 OS_Regex/OS_Match, 4.3 PCRE2) compiling."""

from __future__ import annotations

import re
from pathlib import Path
from xml.sax.saxutils import unescape

import pytest

from ospatrol.analysis import matchers, pcre
from ospatrol.analysis.casefold import ascii_lower
from ospatrol.analysis.osregex import translate_osregex
from ospatrol.analysis.patterns import Captured, PatternError, compile_pattern
from ospatrol.analysis.pcre import RegexPattern

# (kind, pattern, text, expected): expected is False (no match), True (matches) or a Captured.
CASES = [
    # --- OS_Match: plain strings, |, ^, $, case-insensitive, everything else literal.
    ("osmatch", "Failed password", "sshd: Failed password for x", True),
    ("osmatch", "Failed password", "sshd: failed PASSWORD for x", True),
    ("osmatch", "Failed password", "sshd: Failed  password", False),
    ("osmatch", "nope|Failed", "Failed password", True),
    ("osmatch", "^sshd", "sshd: x", True),
    ("osmatch", "^sshd", "x sshd", False),
    ("osmatch", "for x$", "failed for x", True),
    ("osmatch", "for$", "failed for x", False),
    ("osmatch", "^abc$", "ABC", True),
    ("osmatch", "^abc$", "abcd", False),
    ("osmatch", "a.b", "axb", False),
    ("osmatch", "a.b", "a.b", True),
    ("osmatch", "a+b", "aab", False),
    ("osmatch", "a+b", "a+b", True),
    ("osmatch", "(x)*?[y]{2}\\", "(X)*?[Y]{2}\\", True),
    ("osmatch", "", "anything", True),
    ("osmatch", "pass", "Failed password", Captured((), 11)),
    ("osmatch", "^fail|x$", "Failed password", Captured((), 4)),
    ("osmatch", "word$", "a word", Captured((), 6)),
    # Lowercasing "\u0130" gives two characters: offsets still refer to the original text.
    ("osmatch", "^\u0130x", "\u0130x tail", Captured((), 2)),
    # OSSEC hands '^' and '$' to PCRE2 wherever they are: in the middle they are anchors.
    ("osmatch", "a^b", "a^b", False),
    ("osmatch", "a$|^b", "b", True),
    # --- OS_Regex classes.
    ("osregex", r"^\w+$", "user@host_x-y", True),
    ("osregex", r"^\w+$", "a.b", False),
    ("osregex", r"^\W$", ".", True),
    ("osregex", r"^\d\d$", "42", True),
    ("osregex", r"^\D$", "4", False),
    ("osregex", r"a\sb", "a b", True),
    ("osregex", r"a\sb", "a\tb", False),  # \s is one space only
    ("osregex", r"a\Sb", "a\tb", True),
    ("osregex", r"^\p+$", "()*+,-.:;<=>?[]!\"'#$%&|{}", True),
    ("osregex", r"\p", "/", False),
    ("osregex", r"\p", "@", False),
    ("osregex", r"a\.c", "a c", True),  # \. is any character
    ("osregex", r"a\.c", "a\nc", True),
    ("osregex", r"a\tb", "a\tb", True),
    ("osregex", r"\(x\) \$5 \| \\ \< \[y\] \{z\}", "(x) $5 | \\ < [y] {z}", True),
    # Plain characters: '.', '+', '*', '?', '[', ']' are literals.
    ("osregex", r"a.c", "abc", False),
    ("osregex", r"a+b", "aab", False),
    ("osregex", r"a+b", "a+b", True),
    ("osregex", r"1*2?", "1*2?", True),
    ("osregex", r"^[x]$", "[x]", True),
    # Anchors, alternation, case.
    ("osregex", r"abc$", "xabc", True),
    ("osregex", r"abc$", "abcx", False),
    ("osregex", r"^abc", "xabc", False),
    ("osregex", r"^x|^abc", "abcd", True),
    ("osregex", r"FAILED \w+", "failed password", True),
    # Captures: quantifiers are lazy inside an alternative, greedy at its end.
    ("osregex", r"^(\d+)", "12345 x", Captured(("12345",), 5)),
    ("osregex", r"(\d+)\.", "12345", Captured(("1",), 2)),
    ("osregex", r"a(\.+)c", "abcbc", Captured(("b",), 3)),
    ("osregex", r"a(\.+)c(\.+)", "abcbcd", Captured(("b", "bcd"), 6)),
    ("osregex", r"^(\S+) (\S+)$|^(\d+)", "42 x", Captured(("42", "x"), 4)),
    ("osregex", r"^(\d+)|x", "12 x", Captured(("12",), 2)),
    (
        "osregex",
        r"user (\S+) from (\S+) port (\d+)",
        "user ROOT from 1.2.3.4 port 22 ssh2",
        Captured(("ROOT", "1.2.3.4", "22"), 30),
    ),
    ("osregex", r"x\d*y", "xy", True),
    ("osregex", r"(\w*)\s", "a b", Captured(("a",), 2)),
    # Groups that did not take part are left out, the others keep their order.
    ("osregex", r"^(a)x|^(b)", "b", Captured(("b",), 1)),
    # Literal-only OS_Regex run as string operations, with the same end offsets.
    ("osregex", "^Accepted", "Accepted password", Captured((), 8)),
    ("osregex", "password$", "Accepted password", Captured((), 17)),
    ("osregex", "pass", "Accepted password", Captured((), 13)),
    # --- PCRE2: caseless, ASCII classes (no UTF), PCRE2's own escapes.
    ("pcre2", r"failed \w+", "FAILED Password", True),
    ("pcre2", r"^\w+$", "caf\u00e9", False),
    ("pcre2", r"^(?<user>\w+) from (\S+)$", "root from 1.2.3.4", Captured(("root", "1.2.3.4"), 17)),
    ("pcre2", r"(a)?(b)", "b", Captured(("b",), 1)),
    ("pcre2", r"a\z", "a", True),
    ("pcre2", r"a\z", "a\n", False),
    ("pcre2", r"a\Z", "a\n", True),
    ("pcre2", r"a$", "a\n", True),
    ("pcre2", r"\Qa.b\E", "a.b", True),
    ("pcre2", r"\Qa.b\E", "axb", False),
    ("pcre2", r"a\x{20}b\hc", "a b\tc", True),
    ("pcre2", r"a++b|(?>c+)d", "aab", True),
    ("pcre2", r"[]x]+", "]x]", Captured((), 3)),
    ("pcre2", r"[[:digit:]]+", "abc 42", Captured((), 6)),
]


def _case_id(case: tuple[object, ...]) -> str:
    return f"{case[0]}:{case[1]!s}:{case[2]!s}"[:60]


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_dialect_table(case: tuple[str, str, str, object]) -> None:
    kind, source, text, expected = case
    pattern = compile_pattern(kind, source)  # type: ignore[arg-type]
    found = pattern.search(text)
    if isinstance(expected, Captured):
        assert found == expected
        assert pattern.test(text)
    else:
        assert pattern.test(text) is expected
        assert (found is not None) is expected
    assert pattern.test(text, text.lower()) is pattern.test(text)
    assert pattern.search(text, text.lower()) == found
    assert pattern.negate is False


@pytest.mark.parametrize(
    ("kind", "source", "literals"),
    [
        ("osmatch", "^Accepted|Failed password$", ("accepted", "failed password")),
        ("osmatch", "a|", None),  # the empty alternative matches everything
        ("osregex", r"^Failed \S+ for (\S+) from", ("failed ",)),
        ("osregex", r"\d+ bytes|\w+ denied", (" bytes", " denied")),
        ("pcre2", r"user=(\S+) session (opened|closed)", (" session ",)),
        ("pcre2", r"^\d+$", None),
        # Alternations inside a sequence (sre factors a common "^" out of every alternative).
        ("osregex", r"^%PIX-|^\w\w\w \d\d: %PIX-", ("%pix-",)),
        ("osregex", r"^[\w+] [imp] |^[\w+] [horde] ", ("] [imp] ", "] [horde] ")),
        ("pcre2", r"(?:foo|bar)+x", ("foo", "bar")),
        ("pcre2", r"^pam_unix|^\(pam_unix\)", ("pam_unix",)),  # one holds the other
        ("pcre2", r"(?:ab|x)yz|(?:c|d)?e", None),
    ],
)
def test_required_literals(kind: str, source: str, literals: tuple[str, ...] | None) -> None:
    assert compile_pattern(kind, source).required_literals == literals  # type: ignore[arg-type]


def test_osmatch_negation_prefix() -> None:
    pattern = compile_pattern("osmatch", "!^root$|admin")
    assert pattern.negate is True
    assert pattern.test("root")  # negation is the caller's job
    assert pattern.test("ADMIN user")
    assert not pattern.test("bob")


@pytest.mark.parametrize(
    ("source", "translated"),
    [
        (r"^Failed \S+ for (\S+)$", r"^Failed [^ ]+? for ([^ ]+?)(?!\n)$"),
        (r"^(\d+)|x(\w*)", r"^([0-9]+)|x([A-Za-z0-9@_-]*)"),
        (r"\.+x", r"(?s:.)+?x"),
        (r"a.b+c*?", r"a\.b\+c\*\?"),
        (r"\d+\.\d+", r"[0-9]+?(?s:.)[0-9]+"),
    ],
)
def test_osregex_translation(source: str, translated: str) -> None:
    assert translate_osregex(source) == translated


@pytest.mark.parametrize(
    ("kind", "source"),
    [
        ("osregex", r"\k"),  # unknown escape
        ("osregex", r"a\>"),  # OSSEC lets only '<' be escaped
        ("osregex", r"\Z"),
        ("osregex", "abc\\"),  # trailing backslash
        ("osregex", r"(abc"),
        ("osregex", r"abc)"),
        ("osregex", ""),
        ("pcre2", r"(abc"),
        ("pcre2", r"a{2,1}"),
        ("pcre2", ""),
    ],
)
def test_bad_patterns_raise(kind: str, source: str) -> None:
    with pytest.raises(PatternError):
        compile_pattern(kind, source)  # type: ignore[arg-type]


def test_unknown_kind() -> None:
    with pytest.raises(PatternError, match="unknown pattern kind"):
        compile_pattern("glob", "x")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "source", "text"),
    [
        ("pcre2", r"(a+)+$", "a" * 5000 + "b"),
        ("pcre2", r"(a|aa)+$", "a" * 60 + "b"),
        ("pcre2", r"^(\d|\d\d)+$", "1" * 60 + "a"),
    ],
)
def test_catastrophic_backtracking_is_bounded(
    kind: str, source: str, text: str, linear: bool
) -> None:
    """Without RE2 the time budget gives up on a hostile pattern (no match, counted); with it
    RE2 answers in linear time and the budget is never needed."""
    pattern = compile_pattern(kind, source, timeout=0.02)  # type: ignore[arg-type]
    assert isinstance(pattern, RegexPattern) and pattern.guarded_only
    assert pattern.test(text) is False
    assert pattern.search(text) is None
    assert pattern.timeouts == (0 if linear else 2)
    assert pattern.test("") is False


def test_linear_precheck_keeps_matches_and_groups(linear: bool) -> None:
    """A text RE2 finds a match in still gets the guarded engine's groups and end; a text RE2
    must not judge (non-ASCII, control characters) is left to the guarded engine."""
    pattern = compile_pattern("pcre2", r"(\w+)+ (\d+)$")
    assert isinstance(pattern, RegexPattern) and pattern.guarded_only
    assert pattern.search("abc 42") == Captured(("abc", "42"), 6)
    assert pattern.search("abc 42\n") == Captured(("abc", "42"), 6)  # `$` before a final \n
    assert pattern.search("abc x") is None
    assert pattern.search("ab\u00e9 42") is None  # ASCII classes: "\u00e9" is no \\w
    assert pattern.search("\u00e9 ab 42") == Captured(("ab", "42"), 7)
    tab = compile_pattern("osregex", r"\w+\s+\d+:\d+:\d+\s+%|x")
    assert tab.test("z" * 2000 + " 1 12:00:01 %")
    assert not tab.test("z" * 2000 + " 1 12:00:01 \t%")


def test_long_text_runs_guarded_and_is_cut_at_os_maxstr() -> None:
    pattern = compile_pattern("osregex", r"(\S+)x$")
    assert isinstance(pattern, RegexPattern) and not pattern.guarded_only
    assert pattern.search("a" * 10_000 + "x") == Captured(("a" * 10_000,), 10_001)
    assert not compile_pattern("osmatch", "needle").test("x" * 70_000 + "needle")
    assert not pattern.test("a" * 70_000 + "x")  # the 'x' lies past OS_MAXSTR


# --- Every pattern of the stock rule sets compiles ------------------------------------------------

_LEAF = re.compile(r"<(?P<tag>[a-z_0-9]+)(?:\s[^>]*)?>(?P<body>[^<]*)</(?P=tag)>")
_VAR = re.compile(r'<var\s+name\s*=\s*"([^"]+)"\s*>([^<]*)</var>')
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_ENTITIES = {"&quot;": '"', "&apos;": "'"}
_OSMATCH_TAGS = {"match", "program_name", "hostname", "url", "user", "id", "status", "extra_data"}
_OSMATCH_TAGS |= {"srcgeoip", "dstgeoip", "srcport", "dstport", "location", "system_name"}


def _kind(tag: str) -> str | None:
    if tag == "pcre2" or tag.endswith("_pcre2"):
        return "pcre2"
    if tag in ("regex", "prematch"):
        return "osregex"
    return "osmatch" if tag in _OSMATCH_TAGS else None


def _collect(paths: list[Path]) -> list[tuple[str, str, str]]:
    """(where, kind, pattern) for every pattern element, with `$VAR`s expanded."""
    found = []
    for path in paths:
        text = _COMMENT.sub("", path.read_text(encoding="utf-8", errors="surrogateescape"))
        variables = {name: unescape(value, _ENTITIES) for name, value in _VAR.findall(text)}
        for match in _LEAF.finditer(text):
            kind = _kind(match["tag"])
            if kind is None:
                continue
            body = unescape(match["body"], _ENTITIES)
            for name in sorted(variables, key=len, reverse=True):
                body = body.replace("$" + name, variables[name])
            found.append((f"{path.name}:<{match['tag']}>", kind, body))
    return found


SETS = {
    "legacy-3.3.0": lambda ossec: _collect(sorted((ossec / "legacy-3.3.0/etc").rglob("*.xml"))),
    "4.3": lambda ossec: _collect(
        [*sorted((ossec / "rules").glob("*.xml")), ossec / "decoders/decoder.xml"]
    ),
}
KINDS = {"legacy-3.3.0": {"osmatch", "osregex"}, "4.3": {"pcre2"}}
# How many regexes of each set take the fast path (and so get compared with the guarded one).
FAST_AT_LEAST = {"legacy-3.3.0": 400, "4.3": 1500}


@pytest.fixture(scope="module", params=sorted(SETS))
def stock(
    request: pytest.FixtureRequest, shared_data: Path
) -> tuple[str, list[tuple[str, str, str]], list, list[str]]:
    """(set name, its patterns, the compiled ones, compile failures), compiled once per module."""
    patterns = SETS[request.param](shared_data / "ossec")
    compiled, failures = [], []
    for where, kind, source in patterns:
        try:
            compiled.append(compile_pattern(kind, source))  # type: ignore[arg-type]
        except PatternError as exc:
            failures.append(f"{where} {exc}")
    return request.param, patterns, compiled, failures


def test_stock_rule_sets_compile(stock: tuple[str, list, list, list[str]]) -> None:
    name, patterns, compiled, failures = stock
    assert len(patterns) >= 1500
    assert KINDS[name] <= {kind for _, kind, _ in patterns}
    assert failures == []
    # Both engines accept every regex (the `regex` one is otherwise compiled on first use).
    for pattern in compiled:
        if isinstance(pattern, RegexPattern):
            assert pattern.guarded is not None


def _sample_lines(ossec: Path) -> list[str]:
    lines = []
    for ini in sorted((ossec / "tests/ossec-testing/tests").glob("*.ini")):
        for line in ini.read_text(encoding="utf-8", errors="surrogateescape").splitlines():
            if line.startswith("log ") and " = " in line:
                lines.append(line.split(" = ", 1)[1].replace("%%", "%"))
    return lines


def test_fast_path_and_prefilter_agree_with_guarded_engine_on_real_logs(
    stock: tuple[str, list, list, list[str]], shared_data: Path
) -> None:
    """The `re` fast path and the required-literal pre-check change speed, never results."""
    lines = _sample_lines(shared_data / "ossec")
    assert len(lines) > 200
    checked = 0
    for pattern in stock[2]:
        if not isinstance(pattern, RegexPattern) or pattern.guarded_only:
            continue
        for line in lines:
            fast, guarded = pattern._fast.search(line), pattern.guarded.search(line)
            assert (fast and (fast.groups(), fast.end())) == (
                guarded and (guarded.groups(), guarded.end())
            ), (pattern.source, line)
            expected = guarded and Captured(
                tuple(g for g in guarded.groups() if g is not None), guarded.end()
            )
            assert pattern.search(line, line.lower()) == expected, (pattern.source, line)
            gate = pattern.required_literals
            if expected is not None and gate is not None and line.isascii():
                assert any(lit in line.lower() for lit in gate), (pattern.source, line)
        checked += 1
    assert checked >= FAST_AT_LEAST[stock[0]]


# Non-ASCII characters put into sample lines: RE2 reads UTF-8 and gives byte offsets; the
# Kelvin sign and the long s fold to ASCII letters in RE2 and in Python's Unicode mode only.
_NON_ASCII = ("\ufeff", "\u00e9", "\u20ac", "\U0001f600", "\u212a", "\u017f", "\u00df")


def _non_ascii_variants(lines: list[str]) -> list[str]:
    out = []
    for index, line in enumerate(lines):
        char = _NON_ASCII[index % len(_NON_ASCII)]
        middle = len(line) // 2
        out += [char + line, line[:middle] + char + line[middle + 1 :]]
    return out


def _re2_answer(program: object, text: str, data: bytes) -> tuple[tuple, int] | None:
    spans = program.Match(matchers._UNANCHORED, data, 0, len(data))  # type: ignore[attr-defined]
    if spans[0][0] < 0:
        return None
    if len(data) != len(text):
        spans = matchers._char_spans(data, spans)
    return tuple(None if a < 0 else text[a:b] for a, b in spans[1:]), spans[0][1]


def test_linear_engine_agrees_with_guarded_engine_on_real_logs(
    stock: tuple[str, list, list, list[str]], shared_data: Path, linear: bool
) -> None:
    """RE2 finds the same match, span and groups as the guarded engine, for every stock pattern
    RE2 takes, on every sample line it may judge, ASCII or not; without RE2 there is none."""
    compiled = [p for p in stock[2] if isinstance(p, RegexPattern)]
    if not linear:
        assert not any(p._re2_program(True) or p._re2_program(False) for p in compiled)
        return
    lines = _sample_lines(shared_data / "ossec")
    lines += _non_ascii_variants(lines[::3])
    checked = judged = 0
    for pattern in compiled:
        capturing, plain = pattern._re2_program(True), pattern._re2_program(False)
        if not capturing:
            continue
        assert plain
        for line in lines:
            data = matchers._linear_input(line, pattern._refused)
            if data is None:
                continue
            found = pattern.guarded.search(line)
            expected = found and (found.groups(), found.end())
            assert _re2_answer(capturing, line, data) == expected, (pattern.source, line)
            assert (_re2_answer(plain, line, data) is not None) is (found is not None)
            judged += not line.isascii()
        checked += 1
    assert checked >= FAST_AT_LEAST[stock[0]]
    assert judged > 1000


def test_linear_input_keeps_what_re2_reads_otherwise_from_it() -> None:
    """Texts RE2 may judge: control characters, lone surrogates and the letters the two fold
    differently stay with the guarded engine."""
    ascii_caseless = pcre._refused_by_linear("x", True, True)
    unicode_caseless = pcre._refused_by_linear("x", False, True)
    assert matchers._linear_input("abc\tdef", ascii_caseless) == b"abc\tdef"
    assert matchers._linear_input("abc\n", ()) is None
    assert matchers._linear_input("caf\u00e9", ascii_caseless) == "caf\u00e9".encode()
    assert matchers._linear_input("\udcff", ()) is None
    assert matchers._linear_input("\u212a", ascii_caseless) is None  # Python's re.ASCII: no k
    assert matchers._linear_input("\u212a", pcre._refused_by_linear("x", True, False)) is not None
    assert matchers._linear_input("\u212a", pcre._refused_by_linear("(?i)x", True, False)) is None
    assert matchers._linear_input("\u212a", unicode_caseless) is not None  # k in both
    assert matchers._linear_input("\u0131", unicode_caseless) is None  # Python: an i, RE2: not
    assert matchers._linear_input("\u0131", ascii_caseless) is not None
    assert matchers._char_spans("\u00e9ab".encode(), [(0, 4), (2, 3), (-1, -1)]) == [
        (0, 3),
        (1, 2),
        (-1, -1),
    ]


def test_ascii_lower_lowers_ascii_letters_only_on_every_code_point() -> None:
    """strncasecmp's folding (anchored literals on non-ASCII texts), done through bytes for
    speed: exactly ASCII A-Z lowered, every other code point kept, lone surrogates included."""
    everything = "".join(map(chr, range(0x110000)))
    upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    reference = everything.translate(str.maketrans(upper, upper.lower()))
    assert ascii_lower(everything) == reference
    assert ascii_lower("\udcffK\u212aİ") == "\udcffk\u212aİ"

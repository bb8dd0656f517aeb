"""Cheap necessary conditions ("gates") that let the engine skip a regex that cannot match.

Derived once per pattern at load: the literals of which a text must contain one (from the
compiled pattern's own analysis, or plain `a|b` alternatives), the plain-text prefixes of an
anchored pattern, and the characters it can start with. They are only valid on ASCII texts,
compared lowercased (every pattern is caseless); a pattern without a gate is simply run.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from ospatrol.analysis.osmatch import LiteralAlternatives
from ospatrol.analysis.patterns import Pattern
from ospatrol.analysis.pcre import RegexPattern

try:  # Optional (pip install google-re2): one linear scan tells which of many literals occur.
    import re2 as _re2
except ImportError:  # pragma: no cover - exercised by the tests that hide it
    _re2 = None

try:  # The stdlib's own parser reads the translated regex (as pcre.py does).
    from re import _constants as _sre_c
    from re import _parser as _sre_parse
except ImportError:  # pragma: no cover - a future Python without them: no character gates
    _sre_parse = None


def literal_gate(pattern: Pattern | None) -> tuple[str, ...] | None:
    """Lowercase literals of which a text must contain one for `pattern` to match, or None.

    Read from the compiled pattern's own required-literal analysis when it exposes one (an
    optional fast path: without it the pattern is simply run). Only valid on ASCII texts.
    """
    if pattern is None or pattern.negate:
        return None
    literals = getattr(pattern, "required_literals", None)
    if literals:
        return tuple(literals)
    # `a b|c d|^e`: alternatives of plain text (the compiled form may not report them).
    alternatives = [a.removeprefix("^").removesuffix("$") for a in pattern.source.split("|")]
    if all(a and _PLAIN.issuperset(a) for a in alternatives):
        return tuple(a.lower() for a in alternatives)
    char = required_char(pattern)
    return (char,) if char is not None else None


# Characters worth a one-character gate, rarest in log lines first (measured on the corpora of
# ../shared/data/logs: each of the first group is in at most a few percent of the lines of most
# corpora, "%" in nearly every Cisco line and no other; the second group in 10-70 %). Letters,
# digits, blanks and ":.-/[]" are in nearly every line: not worth a test.
_RARE_ORDER = "`^~\\$?!{}|&#*+%@<>;_=\"',()"


def required_char(pattern: Pattern | None) -> str | None:
    """A rare character (lowercase ASCII, see `_RARE_ORDER`) that every match of a regex
    pattern contains, for patterns whose required literals are all too short to be reported
    (`%` and `: ` in `%\\w+-\\d-\\w+: `), or None. Only valid on ASCII texts, lowercased."""
    if not isinstance(pattern, RegexPattern) or pattern.negate or _sre_parse is None:
        return None
    # The translated (Python) regex: the same for both dialects that compile to RegexPattern.
    return _required_char(pattern._translated)


@lru_cache(maxsize=4096)
def _required_char(translated: str) -> str | None:
    try:
        items = _sre_parse.parse(translated)
        chars = _required_chars(list(items))
    except (re.error, RecursionError, OverflowError, ValueError):
        return None
    lowered = {c.lower() for c in chars if c.isascii()}
    for char in _RARE_ORDER:
        if char in lowered:
            return char
    return None


def _required_chars(items: list) -> set[str]:
    """The characters every match of the parsed regex `items` contains, as written (a literal,
    or one inside a group, a repeat of at least one, or every alternative of a branch)."""
    c = _sre_c
    out: set[str] = set()
    for op, av in items:
        if op is c.LITERAL:
            out.add(chr(av))
        elif op is c.IN and len(av) == 1 and av[0][0] is c.LITERAL:
            out.add(chr(av[0][1]))
        elif op is c.SUBPATTERN:
            out |= _required_chars(list(av[-1]))
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT) and av[0] >= 1:
            out |= _required_chars(list(av[2]))
        elif op is c.ATOMIC_GROUP:
            out |= _required_chars(list(av))
        elif op is c.BRANCH:
            branches = [_required_chars(list(alternative)) for alternative in av[1]]
            out |= set.intersection(*branches) if branches else set()
    return out


def exact_literals(pattern: Pattern | None) -> tuple[str, ...] | None:
    """Lowercase literals such that, on an ASCII text, `pattern` matches exactly when the
    lowercased text contains one of them (plain unanchored alternatives, always caseless, not
    negated); else None. Such a pattern's literal gate is the whole test."""
    if not isinstance(pattern, LiteralAlternatives) or pattern.negate:
        return None
    if any(a.startswith("^") or a.endswith("$") for a in pattern.source.split("|")):
        return None
    return pattern.required_literals


def exact_prefixes(pattern: Pattern | None) -> tuple[str, ...] | None:
    """Lowercase prefixes such that, on an ASCII text, `pattern` matches exactly when the
    lowercased text starts with one of them (plain alternatives all anchored with `^` only,
    always caseless, not negated: `^Failed password|^Accepted`); else None."""
    if not isinstance(pattern, LiteralAlternatives) or pattern.negate:
        return None
    alternatives = pattern.source.split("|")
    if not all(a.startswith("^") and not a.endswith("$") for a in alternatives):
        return None
    return tuple(a[1:].lower() for a in alternatives)


# Characters that mean themselves in both regex dialects (outside classes).
_PLAIN = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _:=/,'\"<>@#%&~`;!-"
)
_QUANTIFIERS = frozenset("?*+{")
# In PCRE2 a backslash before punctuation makes it literal.
_ESCAPED_PUNCT = frozenset("[](){}.*+?^$|/\\-:%#<>=!,'\" ")


# OS_Regex escapes that stand for the character itself (`\\(` is "(").
_OSREGEX_LITERAL_ESCAPES = frozenset("$(){}[]\\|<")


def _alternatives(pattern: Pattern | None, pcre2: bool) -> list[str] | None:
    """The top-level `|` alternatives of a regex source (escapes kept): split outside
    parentheses only, which both dialects read as groups. None when a split is uncertain: an
    unbalanced parenthesis, or in PCRE2 an unescaped bracket (a class may hold `|` or a
    parenthesis), quoting, a comment or extended mode."""
    if pattern is None or pattern.negate:
        return None
    source = pattern.source
    parts: list[str] = []
    depth = 0
    bracket = False
    start = i = 0
    size = len(source)
    while i < size:
        char = source[i]
        if char == "\\":
            i += 2
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                return None
        elif char in "[]":
            bracket = True
        elif char == "|" and depth == 0:
            parts.append(source[start:i])
            start = i + 1
        i += 1
    if depth:
        return None
    if parts and pcre2 and (bracket or _PCRE2_OPAQUE.search(source)):
        return None
    parts.append(source[start:])
    return parts


# PCRE2 syntax under which a `|` or a parenthesis may be plain text: \Q..\E quoting, (?#...)
# comments, extended mode's # comments.
_PCRE2_OPAQUE = re.compile(r"\\Q|\(\?#|\(\?[A-Za-z^-]*x")


def _literal_run(alternative: str, pcre2: bool) -> str:
    """The plain text an anchored alternative starts with (after `^`), lowercased. Escaped
    punctuation counts as the character itself (PCRE2's, and OS_Regex's `\\( \\[ \\$ ...`)."""
    out: list[str] = []
    i = 1
    size = len(alternative)
    escapes = _ESCAPED_PUNCT if pcre2 else _OSREGEX_LITERAL_ESCAPES
    while i < size:
        ch = alternative[i]
        if ch in _PLAIN:
            out.append(ch)
            i += 1
        elif ch == "\\" and i + 1 < size and alternative[i + 1] in escapes:
            out.append(alternative[i + 1])
            i += 2
        else:
            break
    if i < size and alternative[i] in _QUANTIFIERS and out:
        out.pop()
    return "".join(out).lower()


def prefix_gate(pattern: Pattern | None, *, pcre2: bool = False) -> tuple[str, ...] | None:
    """Lowercase prefixes of which the searched text must start with one, when every top-level
    alternative of the regex is anchored with `^` and begins with plain characters; else None.
    """
    alternatives = _alternatives(pattern, pcre2)
    if alternatives is None:
        return None
    prefixes = []
    for alternative in alternatives:
        if not alternative.startswith("^"):
            return None
        run = _literal_run(alternative, pcre2)
        if not run:
            return None
        prefixes.append(run)
    return tuple(prefixes)


def refused_prefixes(pattern: Pattern | None) -> tuple[str, ...] | None:
    """For a caseless PCRE2 prematch of the form `^(?!a|b)` (plain alternatives): the lowercase
    prefixes whose absence is the whole match (an empty match at the start, no groups), so
    the engine settles it with `startswith`; else None. Only valid on ASCII texts."""
    if pattern is None or pattern.negate:
        return None
    source = pattern.source
    if not (source.startswith("^(?!") and source.endswith(")")):
        return None
    alternatives = source[4:-1].split("|")
    if not all(a and _PLAIN.issuperset(a) for a in alternatives):
        return None
    return tuple(a.lower() for a in alternatives)


def regex_implies_prematch(prematch: Pattern | None, regex: Pattern | None, *, pcre2: bool) -> bool:
    """Whether every match of `regex` (searched from the log's start) holds a match of
    `prematch` (same dialect, same start): the regex with its plain capture groups taken out
    begins with the prematch so taken out, at a point where nothing attaches to the prematch's
    last token (`^Failed \\S+ for ` and `^Failed (\\S+) for (\\S+) from`). Then a decoder may try
    the regex first and skip its prematch when the regex matches."""
    if prematch is None or regex is None or prematch.negate or regex.negate:
        return False
    head = _without_captures(prematch.source, pcre2)
    whole = _without_captures(regex.source, pcre2)
    if not head or whole is None or not whole.startswith(head):
        return False
    return whole[len(head) : len(head) + 1] not in ("?", "*", "+", "{")


# PCRE2 back-references: numbering changes when capture groups are taken out.
_BACKREFERENCE = re.compile(r"\\[1-9gk]|\(\?P=")


def _without_captures(source: str, pcre2: bool) -> str | None:
    """`source` with the parentheses of each capture group that has no quantifier and no `|`
    of its own taken out (the same language); None when it has a top-level `|`, a
    back-reference, or does not parse (unbalanced, a dangling escape or class)."""
    if pcre2 and (_BACKREFERENCE.search(source) or _PCRE2_OPAQUE.search(source)):
        return None
    out: list[str] = []
    # Per open group: its index in `out`, whether it captures, whether it holds a `|`.
    groups: list[list] = []
    i, size = 0, len(source)
    while i < size:
        char = source[i]
        if char == "\\":
            if i + 1 >= size:
                return None
            out.append(source[i : i + 2])
            i += 2
            continue
        if pcre2 and char == "[":
            end = _class_end(source, i)
            if end is None:
                return None
            out.append(source[i:end])
            i = end
            continue
        if char == "(":
            groups.append([len(out), not source.startswith(("(?", "(*"), i), False])
        elif char == ")":
            if not groups:
                return None
            start, capture, alternation = groups.pop()
            if capture and not alternation and source[i + 1 : i + 2] not in ("?", "*", "+", "{"):
                out[start] = ""
                i += 1
                continue
        elif char == "|":
            if not groups:
                return None
            groups[-1][2] = True
        out.append(char)
        i += 1
    return None if groups else "".join(out)


def _class_end(source: str, start: int) -> int | None:
    """The index after the `]` that closes the PCRE2 class opened at `start`, or None."""
    i = start + 1
    if source.startswith("^", i):
        i += 1
    if source.startswith("]", i):
        i += 1
    while i < len(source):
        char = source[i]
        if char == "\\":
            i += 2
            continue
        if source.startswith("[:", i):
            close = source.find(":]", i + 2)
            if close < 0:
                return None
            i = close + 2
            continue
        if char == "]":
            return i + 1
        i += 1
    return None


# What may follow `^\\d` when the digit may be absent.
_MAYBE_NO_DIGIT = ("*", "?", "{0", "{,")


def first_chars(pattern: Pattern | None, *, pcre2: bool = False) -> frozenset[str] | None:
    """The lowercase characters an anchored regex's match can start with, or None if unknown."""
    alternatives = _alternatives(pattern, pcre2)
    if alternatives is None:
        return None
    chars: set[str] = set()
    for alternative in alternatives:
        if not alternative.startswith("^") or len(alternative) < 2:
            return None
        run = _literal_run(alternative, pcre2)
        if run:
            chars.add(run[0])
        elif alternative.startswith("^\\d") and not alternative.startswith(_MAYBE_NO_DIGIT, 3):
            # (a digit that may be absent, as in `^\d*:`, is no gate; `^\d{4}-` is one)
            chars.update("0123456789")
        else:
            return None
    return frozenset(chars)


def gated_out(gate: tuple[str, ...] | None, lowered: str | None) -> bool:
    """True when a literal gate proves the pattern cannot match (lowered is None: unknown)."""
    if gate is None or lowered is None:
        return False
    return all(literal not in lowered for literal in gate)


# What `head_gate` knows of an escape in either dialect (OS_Regex or PCRE2): `\d` digits,
# `\w` and `\s` as the union of both dialects' classes (lowercase).
_DIGIT_SET = frozenset("0123456789")
_HEAD_CLASSES = {
    "d": _DIGIT_SET,
    "w": frozenset("abcdefghijklmnopqrstuvwxyz_@-") | _DIGIT_SET,
    "s": frozenset(" \t\n\r\f\v"),
}
# Escaped characters that are themselves in both dialects (OS_Regex refuses the others, or,
# like `\.`, gives them another meaning).
_BOTH_LITERAL_ESCAPES = frozenset("$(){}[]\\|<")
_PCRE2_ONLY_ESCAPES = _ESCAPED_PUNCT - {"."} - _BOTH_LITERAL_ESCAPES
# How many leading characters a head gate looks at.
HEAD_SIZE = 6


def head_gate(pattern: Pattern | None) -> tuple[tuple[frozenset[str], ...], ...] | None:
    """For a regex whose every alternative is anchored (`^`): per alternative, the lowercase
    characters each of its first positions can hold (at most HEAD_SIZE), read the same for
    OS_Regex and PCRE2 sources (whatever reads otherwise in one of them ends the head). A
    text (lowercased, ASCII) that fits no alternative's head cannot match; None when unknown.
    """
    alternatives = _alternatives(pattern, True)
    if alternatives is None:
        return None
    heads = []
    for alternative in alternatives:
        if not alternative.startswith("^"):
            return None
        head = _head(alternative)
        if not head:
            return None
        heads.append(head)
    return tuple(heads)


def _head(alternative: str) -> tuple[frozenset[str], ...]:
    sets: list[frozenset[str]] = []
    i, size = 1, len(alternative)
    while i < size and len(sets) < HEAD_SIZE:
        ch = alternative[i]
        if ch == "\\" and i + 1 < size:
            escaped = alternative[i + 1]
            if escaped in _HEAD_CLASSES:
                chars = _HEAD_CLASSES[escaped]
            elif escaped in _BOTH_LITERAL_ESCAPES or escaped in _PCRE2_ONLY_ESCAPES:
                chars = frozenset(escaped.lower())
            else:
                break
            i += 2
        elif ch in _PLAIN:
            chars = frozenset(ch.lower())
            i += 1
        else:
            break
        following = alternative[i : i + 2]
        if following[:1] in ("*", "?") or following == "{0":
            break  # the element may be absent
        sets.append(chars)
        if following[:1] in ("+", "{"):
            break  # repeated: what follows is not at a fixed position
    return tuple(sets)


def literal_scan(literals: Sequence[str]) -> Any | None:
    """A compiled RE2 set of the plain strings `literals` whose `Match(text.encode())` lists
    the index (position in `literals`) of every one an ASCII `text` contains, in any order: one
    linear scan instead of a substring search per literal. None without google-re2, or when a
    literal is not ASCII (the engine then searches for each literal)."""
    if _re2 is None or not all(literal.isascii() for literal in literals):
        return None
    options = _re2.Options()
    options.literal = True
    try:
        scan = _re2._re2.Set(_re2._re2.RE2.Anchor.UNANCHORED, options)
        for index, literal in enumerate(literals):
            if scan.Add(literal.encode()) != index:
                return None
        if not scan.Compile():
            return None
    except (_re2.error, ValueError, TypeError, AttributeError):
        return None
    return scan

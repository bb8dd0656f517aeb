"""Cheap necessary conditions ("gates") that let the engine skip a regex that cannot match.

Derived once per pattern at load: the literals of which a text must contain one (from the
compiled pattern's own analysis, or plain `a|b` alternatives), the plain-text prefixes of an
anchored pattern, and the characters it can start with. They are only valid on ASCII texts,
compared lowercased (every pattern is caseless); a pattern without a gate is simply run.
"""

from __future__ import annotations

from ospatrol.analysis.osmatch import LiteralAlternatives
from ospatrol.analysis.patterns import Pattern


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
    return None


def exact_literals(pattern: Pattern | None) -> tuple[str, ...] | None:
    """Lowercase literals such that, on an ASCII text, `pattern` matches exactly when the
    lowercased text contains one of them (plain unanchored alternatives, always caseless, not
    negated); else None. Such a pattern's literal gate is the whole test."""
    if not isinstance(pattern, LiteralAlternatives) or pattern.negate:
        return None
    if any(a.startswith("^") or a.endswith("$") for a in pattern.source.split("|")):
        return None
    return pattern.required_literals


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
    """The top-level `|` alternatives of a regex source (escapes kept), or None when a group
    (or, in PCRE2, a class) could hide an alternation."""
    if pattern is None or pattern.negate:
        return None
    source = pattern.source
    parts: list[str] = []
    grouped = False
    start = i = 0
    size = len(source)
    while i < size:
        char = source[i]
        if char == "\\":
            i += 2
            continue
        if char == "(" or (pcre2 and char == "["):
            grouped = True
        elif char == "|":
            parts.append(source[start:i])
            start = i + 1
        i += 1
    if parts and grouped:
        return None
    parts.append(source[start:])
    return parts


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
        elif alternative.startswith("^\\d"):
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

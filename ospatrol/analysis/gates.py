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


def _alternatives(pattern: Pattern | None) -> list[str] | None:
    """The top-level `|` alternatives of a regex source, when they can be split safely."""
    if pattern is None or pattern.negate:
        return None
    source = pattern.source
    if "|" in source and ("(" in source or "[" in source or "\\|" in source):
        return None
    return source.split("|")


def _literal_run(alternative: str, pcre2: bool) -> str:
    """The plain text an anchored alternative starts with (after `^`), lowercased."""
    out: list[str] = []
    i = 1
    size = len(alternative)
    while i < size:
        ch = alternative[i]
        if ch in _PLAIN:
            out.append(ch)
            i += 1
        elif pcre2 and ch == "\\" and i + 1 < size and alternative[i + 1] in _ESCAPED_PUNCT:
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
    alternatives = _alternatives(pattern)
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
    alternatives = _alternatives(pattern)
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

"""OS_Match: OSSEC's plain-string matcher (`<match>`, `<program_name>`, `<hostname>`, `<user>` ...).

Semantics are those of OSSEC 4.x (``os_regex/os_match_compile.c``), which turns an OS_Match
expression into a caseless PCRE2 by escaping ``. [ ] { } + ? * ( ) \\`` and leaving the rest:

- ``|`` separates alternatives; ``^`` and ``$`` are anchors (also, as in OSSEC, in the middle of
  an alternative, where they make it unmatchable except at the text's edges);
- an empty expression matches everything; matching is case-insensitive;
- a ``!`` at the very start of the whole expression is taken off and sets ``negate`` (the caller
  applies it: ``test`` always answers "does the expression match").

Alternatives that are plain strings (the common case) run as ``str`` operations on the lowercased
text (``in``, ``startswith``, ``endswith``, ``==``); anything else goes through the shared regex
runner of :mod:`ospatrol.analysis.pcre`. Case folding is OSSEC's (see
:mod:`ospatrol.analysis.casefold`): PCRE2's Unicode simple folding, except for one anchored
literal (``^x``, ``x$``, ``^x$``), which OSSEC compares with strncasecmp & co., folding ASCII
letters only.
"""

from __future__ import annotations

import re

from ospatrol.analysis.casefold import ascii_lower, fold
from ospatrol.analysis.patterns import DEFAULT_TIMEOUT, MAX_INPUT, Captured
from ospatrol.analysis.pcre import RegexPattern

_MATCH_SPECIALS = re.compile(r"[.\[\]{}+?*()\\]")


class LiteralAlternatives:
    """Case-insensitive plain strings, each optionally anchored at the start and/or the end.

    Compared as OSSEC compares them: through PCRE2 with Unicode simple case folding
    (`casefold.fold`), or, for the one anchored literal that OSSEC's "could be optimized" check
    hands to strncasecmp & co (`bytewise`), with ASCII-only folding (`casefold.ascii_lower`).
    On ASCII texts both are `text.lower()`, which the caller may pass as `lowered`."""

    __slots__ = (
        "_alternatives",
        "_bytewise",
        "_contains",
        "negate",
        "required_literals",
        "source",
        "timeouts",
    )

    def __init__(
        self,
        source: str,
        alternatives: list[tuple[str, bool, bool]],
        negate: bool = False,
        *,
        bytewise: bool = False,
    ) -> None:
        self.source = source
        self.negate = negate
        self.timeouts = 0
        self._bytewise = bytewise
        key = ascii_lower if bytewise else fold
        # (folded literal, anchored at start, anchored at end)
        self._alternatives = tuple((key(lit), start, end) for lit, start, end in alternatives)
        # The literals when none is anchored (the common `<match>a|b</match>`): `test` then
        # needs only `in`, in a loop (`any()` over a generator costs more than the tests).
        self._contains = (
            None
            if any(start or end for _, start, end in self._alternatives)
            else tuple(lit for lit, _, _ in self._alternatives)
        )
        # The folded literals, of which a matching ASCII text's lowercase form contains one
        # (a non-ASCII literal folds to ASCII only when it matches ASCII: 'ſ' to 's'); None
        # when one is empty (it matches every text).
        literals = tuple(lit for lit, _, _ in self._alternatives)
        self.required_literals = None if "" in literals else literals

    def _folded(self, text: str) -> str:
        """`text` (cut to MAX_INPUT) folded as this pattern compares it (same length)."""
        text = text[:MAX_INPUT]
        return ascii_lower(text) if self._bytewise else fold(text)

    def test(self, text: str, lowered: str | None = None) -> bool:
        # `lowered` (text.lower()) is the fold only of an ASCII text.
        if lowered is None or not text.isascii():
            lowered = self._folded(text)
        elif len(lowered) > MAX_INPUT:
            lowered = lowered[:MAX_INPUT]
        contains = self._contains
        if contains is not None:
            for literal in contains:  # noqa: SIM110 - see _contains
                if literal in lowered:
                    return True
            return False
        for literal, at_start, at_end in self._alternatives:
            if at_start:
                if at_end:
                    if lowered == literal:
                        return True
                elif lowered.startswith(literal):
                    return True
            elif at_end:
                if lowered.endswith(literal):
                    return True
            elif literal in lowered:
                return True
        return False

    def search(self, text: str, lowered: str | None = None) -> Captured | None:
        # The fold keeps every character one character long: its offsets are the text's.
        if lowered is None or not text.isascii():
            lowered = self._folded(text)
        else:
            lowered = lowered[:MAX_INPUT]
        for literal, at_start, at_end in self._alternatives:
            if at_start:
                if at_end:
                    if lowered == literal:
                        return Captured((), len(literal))
                elif lowered.startswith(literal):
                    return Captured((), len(literal))
            elif at_end:
                if lowered.endswith(literal):
                    return Captured((), len(lowered))
            else:
                index = lowered.find(literal)
                if index >= 0:
                    return Captured((), index + len(literal))
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.source!r})"


def split_literal(alternative: str) -> tuple[str, bool, bool] | None:
    """(literal, ^, $) when `alternative` is a plain string with optional edge anchors."""
    at_start = alternative.startswith("^")
    body = alternative[1:] if at_start else alternative
    at_end = body.endswith("$")
    if at_end:
        body = body[:-1]
    if "^" in body or "$" in body:
        return None
    return body, at_start, at_end


def translate_osmatch(source: str) -> str:
    """The Python regex OSSEC's converter would build (PCRE2 and Python agree on it)."""
    return _MATCH_SPECIALS.sub(lambda m: "\\" + m.group(0), source)


def compile_osmatch(
    source: str, *, timeout: float = DEFAULT_TIMEOUT
) -> LiteralAlternatives | RegexPattern:
    """Compile an OS_Match expression; never fails (every string is a valid OS_Match)."""
    negate = source.startswith("!")
    expression = source[1:] if negate else source
    literals = [split_literal(alternative) for alternative in expression.split("|")]
    if all(lit is not None for lit in literals):
        # OSSEC hands one anchored literal to strncasecmp & co. (OSMatch_CouldBeOptimized:
        # no '|', no inner '^' or '$', not empty); everything else to PCRE2.
        (body, at_start, at_end), *more = literals  # type: ignore[misc]
        bytewise = not more and bool(body) and (at_start or at_end)
        return LiteralAlternatives(source, literals, negate, bytewise=bytewise)  # type: ignore[arg-type]
    return RegexPattern(
        source, translate_osmatch(expression), ascii_only=False, timeout=timeout, negate=negate
    )

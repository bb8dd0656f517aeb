"""OS_Match: OSSEC's plain-string matcher (`<match>`, `<program_name>`, `<hostname>`, `<user>` ...).

Semantics are those of OSSEC 4.x (``os_regex/os_match_compile.c``), which turns an OS_Match
expression into a caseless PCRE2 by escaping ``. [ ] { } + ? * ( ) \\`` and leaving the rest:

- ``|`` separates alternatives; ``^`` and ``$`` are anchors (also, as in OSSEC, in the middle of
  an alternative, where they make it unmatchable except at the text's edges);
- an empty expression matches everything; matching is case-insensitive;
- a ``!`` at the very start of the whole expression is taken off and sets ``negate`` (the caller
  applies it: ``test`` always answers "does the expression match").

Alternatives that are plain strings (the common case) run as ``str`` operations on the lowercased
text (``in``, ``startswith``, ``endswith``, ``==``: `matchers.LiteralAlternatives`); anything
else goes through the shared regex runner of :mod:`ospatrol.analysis.pcre`. Case folding is
OSSEC's (see :mod:`ospatrol.analysis.casefold`): PCRE2's Unicode simple folding, except for one
anchored literal (``^x``, ``x$``, ``^x$``), which OSSEC compares with strncasecmp & co., folding
ASCII letters only.
"""

from __future__ import annotations

import re

from ospatrol.analysis.matchers import LiteralAlternatives, RegexPattern
from ospatrol.analysis.patterns import DEFAULT_TIMEOUT

_MATCH_SPECIALS = re.compile(r"[.\[\]{}+?*()\\]")


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

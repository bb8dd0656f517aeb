"""OS_Regex: OSSEC's own regex dialect (`<regex>`, `<prematch>`), as OSSEC 4.x runs it.

OSSEC 4.x no longer runs the 2005 hand-written matcher: ``os_regex/os_converter.c`` rewrites an
OS_Regex into PCRE2 and analysisd runs that (caseless). We apply the same rewrite, character by
character, to Python regex syntax:

- ``\\w`` = ``[A-Za-z0-9@_-]``, ``\\W`` its complement, ``\\d``/``\\D`` digits, ``\\s`` = one
  space (only ``' '``), ``\\S`` anything else, ``\\p`` = ``[()*+,.:;<=>?[]!"'#%&$|{}-]``,
  ``\\.`` = any character (newline included);
- ``\\t`` tab, and ``\\$ \\( \\) \\{ \\} \\[ \\] \\\\ \\| \\<`` literal; any other escape is a
  PatternError (``\\>`` included: OSSEC only lets ``<`` be escaped);
- ``+`` and ``*`` quantify only right after a backslash escape (``\\d+``, also ``\\(+``); after a
  plain character they are literals, as are ``. ? [ ] { }``;
- quantifiers are lazy (``+?``), except at the end of an alternative -- optionally followed by
  closing parentheses -- where OSSEC makes them greedy (its ``OSREGEX_TO_PCRE2_FIX``);
- ``^``, ``$``, ``|`` and ``( )`` are regex syntax wherever they appear; ``$`` also refuses to
  match before a final newline (``(?!\\n)$``).

Case-insensitive, with OSSEC's case folding (:mod:`ospatrol.analysis.casefold`). Patterns without
any of that syntax (plain strings with ``^``/``$`` at the edges, ``|`` between them) run as ``str``
operations; of those, one anchored at an edge and made only of the characters OSSEC's
``OSRegex_CouldBeOptimized`` accepts is compared as OSSEC's strncasecmp does (ASCII folding).
"""

from __future__ import annotations

import re

from ospatrol.analysis.matchers import LiteralAlternatives, RegexPattern
from ospatrol.analysis.osmatch import split_literal
from ospatrol.analysis.patterns import DEFAULT_TIMEOUT, PatternError

# Backslash classes and their expansion (os_converter.c's replacement map).
_CLASSES = {
    "p": "[()*+,.:;\\<=>?\\[\\]!\"'#%&$|{}-]",
    "s": "[ ]",
    "W": "[^A-Za-z0-9@_-]",
    "w": "[A-Za-z0-9@_-]",
    "d": "[0-9]",
    "D": "[^0-9]",
    "S": "[^ ]",
    ".": "(?s:.)",
}
# Characters allowed after a backslash as literals; copied with their backslash.
_ESCAPED_LITERALS = frozenset("t$(){}[]\\|<")
# Plain characters that are literals in OS_Regex but syntax in PCRE2/Python.
_PLAIN = {
    "$": "(?!\\n)$",
    ".": "\\.",
    "[": "\\[",
    "]": "\\]",
    "{": "\\{",
    "}": "\\}",
    "+": "\\+",
    "?": "\\?",
    "*": "\\*",
}
# A lazy quantifier at the end of an alternative (before `|` or the end, after any `)`) becomes
# greedy again: OSSEC's OSREGEX_TO_PCRE2_FIX, replaced by "$1$2".
_GREEDY_AT_END = re.compile(r"(?<!\\)([+*])\?(\)*(?:[|$]|$))")
# What OSRegex_CouldBeOptimized lets OSSEC compare with strncasecmp & co. when anchored (bytes,
# ASCII letters folded): its class, read by PCRE2 with UTF|CASELESS, so that its letters also
# take the Kelvin sign and the long s. Anything else goes to PCRE2 (Unicode case folding).
_STRNCASECMP = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 !\"#%&',/:;<=>@_`~-\u212a\u017f"
)
# Anything that makes an OS_Regex more than plain strings.
_SYNTAX = re.compile(r"[\\()]")


def translate_osregex(source: str) -> str:
    """The Python regex equivalent of OS_Regex `source`; PatternError on a bad escape."""
    out: list[str] = []
    i = 0
    size = len(source)
    while i < size:
        char = source[i]
        # A '+' or '*' two positions after a backslash quantifies that escape, lazily.
        if i >= 2 and source[i - 2] == "\\" and char in "+*":
            out.append(char + "?")
            i += 1
            continue
        if char == "\\":
            if i + 1 >= size:
                raise PatternError(f"invalid OS_Regex {source!r}: trailing backslash")
            escaped = source[i + 1]
            if escaped in _CLASSES:
                out.append(_CLASSES[escaped])
            elif escaped in _ESCAPED_LITERALS:
                out.append("\\" + escaped)
            else:
                raise PatternError(f"invalid OS_Regex {source!r}: unknown escape \\{escaped}")
            i += 2
            continue
        out.append(_PLAIN.get(char, char))
        i += 1
    return _GREEDY_AT_END.sub(r"\1\2", "".join(out))


def compile_osregex(
    source: str, *, timeout: float = DEFAULT_TIMEOUT
) -> LiteralAlternatives | RegexPattern:
    """Compile an OS_Regex; PatternError when OSSEC would refuse it."""
    if not source:
        raise PatternError("empty OS_Regex")
    if _SYNTAX.search(source) is None:
        literals = [split_literal(alternative) for alternative in source.split("|")]
        if all(lit is not None for lit in literals):
            body = source.removeprefix("^").removesuffix("$")
            bytewise = body != source and _STRNCASECMP.issuperset(body)
            return LiteralAlternatives(source, literals, bytewise=bytewise)  # type: ignore[arg-type]
    return RegexPattern(source, translate_osregex(source), ascii_only=False, timeout=timeout)

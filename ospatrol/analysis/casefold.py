"""Caseless comparison of non-ASCII text exactly as OSSEC 4.3 compares it.

OSSEC compares caselessly in two ways (the dialect modules say which applies where):

- PCRE2 compiled with ``UTF | CASELESS``: Unicode *simple* case folding, one character for one,
  so 'ſ' (long s) matches 's', the Kelvin sign 'K' matches 'k', 'ς' matches 'σ', 'ϑ' matches
  'θ'; but 'ß' never matches "ss", and 'İ' (dotted capital I) and 'ı' (dotless i) match only
  themselves. `fold` maps every character to one representative of its PCRE2 caseless set, so
  two texts match caselessly exactly when their folds are equal; the representative of a set
  holding an ASCII letter is that lowercase letter, so `fold(text) == text.lower()` on ASCII.
- ``strncasecmp`` and its siblings on the bytes: ASCII letters folded, every other byte compared
  as it is (`ascii_lower`).

Python's own caseless matching (``re``/``regex`` with IGNORECASE, and RE2) is PCRE2's except
for `PYTHON_ONLY_FOLDS`: the dotted and dotless i, which Python folds with 'i'/'I', and four
Greek letters and ligatures that later Unicode versions (15) pair up. The sets are checked
against the PCRE2 library OSSEC links (tests/analysis/test_hostile_casefold.py).

Both functions keep the length: an offset in the folded text is the same offset in the text.
"""

from __future__ import annotations

# Characters Python's caseless regex engines fold with another that PCRE2 10.42 (Unicode 14,
# the library OSSEC 4.3 links) keeps apart: U+0130/U+0131 (Turkic i, folded with 'i'/'I'),
# U+0390/U+1FD3 and U+03B0/U+1FE3 (Greek with dialytika and tonos/oxia), U+FB05/U+FB06 (st).
PYTHON_ONLY_FOLDS = "\u0130\u0131\u0390\u03b0\u1fd3\u1fe3\ufb05\ufb06"
# No character at or above this code point has a case mapping (Unicode 14: Adlam ends below).
_CASED_LIMIT = 0x1E950
# ord(character) -> its set's representative, for characters that are not their own; built on
# first use (about 20 ms), since ASCII texts and patterns never need it, or read back with a
# rule set from the rule cache (`adopt_table`).
_table: dict[int, str] | None = None
# The last non-ASCII text folded and its fold: one event's text meets many patterns in a row.
_last: tuple[str, str] = ("", "")


def _cased_characters() -> list[str]:
    """Every character with a case mapping (lower, upper or casefold differs from it)."""
    out = []
    for base in range(0, _CASED_LIMIT, 256):
        chunk = "".join(chr(c) for c in range(base, base + 256) if not 0xD800 <= c < 0xE000)
        if chunk.lower() == chunk and chunk.upper() == chunk and chunk.casefold() == chunk:
            continue
        out += [c for c in chunk if c.lower() != c or c.upper() != c or c.casefold() != c]
    return out


def _build_table() -> dict[int, str]:
    """The caseless sets: characters joined with their one-character lower, upper and casefold
    mappings (simple case folding), except `PYTHON_ONLY_FOLDS`, which PCRE2 leaves alone."""
    parent: dict[str, str] = {}

    def root(char: str) -> str:
        while parent.get(char, char) != char:
            char = parent[char]
        return char

    for char in _cased_characters():
        if char in PYTHON_ONLY_FOLDS:
            continue
        for mapped in (char.lower(), char.upper(), char.casefold()):
            if len(mapped) == 1 and mapped != char and mapped not in PYTHON_ONLY_FOLDS:
                a, b = root(char), root(mapped)
                if a != b:
                    parent[a] = b
    sets: dict[str, set[str]] = {}
    for char in list(parent):
        sets.setdefault(root(char), {root(char)}).add(char)
    # Every ASCII character too, itself or its lowercase letter: `str.translate` raises and
    # clears a KeyError inside for each character it does not find, which tripled its cost
    # on the mostly ASCII texts of real logs.
    table: dict[int, str] = {code: chr(code).lower() for code in range(128)}
    for members in sets.values():
        ascii_members = [c for c in members if c.isascii()]
        representative = min(ascii_members).lower() if ascii_members else min(members)
        table.update((ord(c), representative) for c in members if c != representative)
    return table


def table() -> dict[int, str]:
    """`fold`'s table (built now if not yet): the rule cache keeps it beside a rule set."""
    global _table
    if _table is None:
        _table = _build_table()
    return _table


def adopt_table(built: dict[int, str]) -> None:
    """Take `table()`'s result from the rule cache (made by this same code and Python), so
    that the first non-ASCII text folded does not build it."""
    global _table
    if _table is None:
        _table = built


def fold(text: str) -> str:
    """`text` with every character replaced by its PCRE2 caseless set's representative (same
    length; `text.lower()` on ASCII)."""
    global _last
    if text.isascii():
        return text.lower()
    last = _last
    if last[0] == text:
        return last[1]
    folded = text.translate(_table or table())
    _last = (text, folded)
    return folded


def ascii_lower(text: str) -> str:
    """`text` with ASCII letters lowercased and every other character kept (what strcasecmp
    and strncasecmp compare; same length)."""
    if text.isascii():
        return text.lower()
    # `bytes.lower` lowers ASCII letters only, and every byte of a non-ASCII character's UTF-8
    # is above 127 (lone surrogates of undecodable log bytes pass as their own 3 bytes): some
    # 30 times faster than `str.translate`, which looks every character up in its table.
    return text.encode("utf-8", "surrogatepass").lower().decode("utf-8", "surrogatepass")

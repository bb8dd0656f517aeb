"""`<pcre2>` on the bytes of a non-ASCII text, as analysisd matches it.

wazuh-analysisd (shared/expression.c: ``pcre2_compile(pattern, ..., 0, ...)``) and OSSEC 4.3's
analysisd (PCRE2_CASELESS only) compile `<pcre2>` without PCRE2_UTF, and Wazuh's SCA goes through
the same code: the subject is a string of bytes. A ``.``, a class or a counted repeat takes one
byte of a multi-byte character (``^a..b$`` matches "aéb", ``^a.b$`` does not), ``\\w``, ``\\d``,
``\\s`` and caseless folding know ASCII only, ``\\h`` takes the byte 0xA0, and a capture may end
inside a character (analysisd copies its bytes as they are).

On an ASCII text bytes and characters are the same and `matchers.RegexPattern` answers as it
always did; on any other text its general path asks `match` here, which runs the same translated
pattern compiled for bytes on the text's UTF-8 (undecodable bytes of the log, which the engine
holds as surrogate escapes, become those bytes again) and decodes what it captured the same
way. The running time is bounded as on the character path (`pcre`): the `re` program where the
pattern has a fast one and the bytes are within its length limit, else RE2 reading Latin-1 (one
character a byte: linear time) where it judges the pattern alike, else `regex` under the
pattern's time budget (a give-up counts in its ``timeouts``, as a non-match).

A pattern starting with ``(*UTF)`` (Wazuh's sysmon rules) puts PCRE2 in UTF mode: it is matched
as characters (`match` says so with False), except on a text that is not UTF-8, on which PCRE2
fails and so matches nothing.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

import regex

from ospatrol.analysis.patterns import PatternError

try:  # Optional, as in pcre.py: linear-time matching of long texts.
    import re2 as _re2

    _UNANCHORED = _re2._re2.RE2.Anchor.UNANCHORED
except (ImportError, AttributeError):  # pragma: no cover - exercised where it is missing
    _re2 = None
    _UNANCHORED = None

if TYPE_CHECKING:
    from ospatrol.analysis.matchers import RegexPattern

# PCRE2 option verbs that put the pattern in UTF mode, at its very start.
_UTF_VERB = re.compile(r"^(?:\(\*[A-Z_]+\))*?\(\*UTF8?\)")
# Lone surrogates: a text holding one is not UTF-8 (undecodable bytes of the log).
_SURROGATE = re.compile("[\ud800-\udfff]")
# Python-only escapes in a translated pattern that name a code point: \uXXXX and \UXXXXXXXX
# (translate_pcre2 spells PCRE2's \x{..} that way).
_WIDE_ESCAPE = {"u": 4, "U": 8}
# A byte over 0x7F in a bytes pattern (`byte_pattern` spells them all as escapes).
_HIGH_BYTE = re.compile(rb"\\x[89a-f]")
_LINEAR_UNSAFE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")


class ByteMatch:
    """A match on the bytes of `text`, read back as `text`'s characters: `end` (where the match
    ends, rounded down to the character it ends in) and `groups` (each as analysisd copies it:
    its bytes, decoded with surrogate escapes where it cuts a character)."""

    __slots__ = ("_data", "_found", "_text")

    def __init__(self, text: str, data: bytes, found: tuple[tuple[int, int], ...]) -> None:
        self._text = text
        self._data = data
        self._found = found  # byte spans: the match's, then each group's ((-1, -1): unset)

    def end(self) -> int:
        stop = self._found[0][1]
        text = self._text
        prefix = self._data[:stop].decode("utf-8", "surrogateescape")
        if text.startswith(prefix):
            return len(prefix)
        # The match ends inside a character: the characters whose bytes all come before `stop`.
        low, high = 0, min(len(text), stop)
        while low < high:
            middle = (low + high + 1) // 2
            if len(text[:middle].encode("utf-8", "surrogateescape")) <= stop:
                low = middle
            else:
                high = middle - 1
        return low

    def groups(self) -> tuple[str | None, ...]:
        data = self._data
        return tuple(
            None if start < 0 else data[start:stop].decode("utf-8", "surrogateescape")
            for start, stop in self._found[1:]
        )


def byte_pattern(translated: str) -> bytes | None:
    """`translated` (a pattern as `pcre.translate_pcre2` writes it for `re`) spelled for bytes:
    every non-ASCII character as its UTF-8 bytes (PCRE2 without UTF reads the pattern's bytes:
    in a class each byte is a member, a quantifier repeats the last one), a code point escape
    as that byte; None where PCRE2 without UTF has no such byte (a code point over 0xFF, a
    Python-only ``\\N{name}``)."""
    out: list[str] = []
    i, size = 0, len(translated)
    while i < size:
        char = translated[i]
        if char == "\\" and i + 1 < size:
            escaped = translated[i + 1]
            width = _WIDE_ESCAPE.get(escaped)
            if width is not None:
                digits = translated[i + 2 : i + 2 + width]
                if len(digits) != width or int(digits, 16) > 0xFF:
                    return None
                out.append(f"\\x{int(digits, 16):02x}")
                i += 2 + width
                continue
            if escaped == "N":
                return None
            char = translated[i : i + 2]
            i += 1
        i += 1
        out.append(char if char.isascii() else "".join(f"\\x{b:02x}" for b in char[-1].encode()))
    return "".join(out).encode()


class _Programs:
    """What `match` needs of one pattern: whether it is matched as characters (UTF mode, or
    no byte spelling), its bytes programs (the `re` one and RE2's compiled on first use), its
    ASCII required literals as bytes."""

    __slots__ = ("fast", "guarded", "linear", "literals", "pattern", "utf")

    def __init__(self, pattern: RegexPattern) -> None:
        self.utf = _UTF_VERB.match(pattern.source) is not None
        translated = pattern._translated
        self.pattern = None if self.utf else byte_pattern(translated)
        literals = pattern.required_literals
        self.literals = (
            tuple(lit.encode() for lit in literals)
            if literals and all(lit.isascii() for lit in literals)
            else None
        )
        self.fast: re.Pattern[bytes] | None = None
        self.guarded: regex.Pattern[bytes] | None = None
        self.linear: object | None = None  # RE2's program; False: RE2 does not judge it
        if self.pattern is not None and not pattern.guarded_only:
            try:
                self.fast = re.compile(self.pattern, re.IGNORECASE if pattern._caseless else 0)
            except (re.error, RecursionError, OverflowError):
                self.pattern = None

    def guarded_program(self, caseless: bool) -> regex.Pattern[bytes]:
        if self.guarded is None:
            flags = regex.VERSION0 | (regex.IGNORECASE if caseless else 0)
            try:
                self.guarded = regex.compile(self.pattern, flags)  # type: ignore[arg-type]
            except (regex.error, RecursionError, OverflowError, ValueError) as exc:
                raise PatternError(str(exc)) from None
        return self.guarded

    def linear_program(self, pattern: RegexPattern) -> object:
        """RE2 reading bytes as Latin-1 characters, or False: RE2 missing or refusing the
        pattern, one `re` did not compile cleanly (pcre.py's `_clean`: syntax RE2 and `re`
        may read otherwise), a caseless pattern with a byte over 0x7F (RE2 would fold
        Latin-1 letters, which PCRE2's tables do not), or `{,n}`, which RE2 reads otherwise."""
        if self.linear is None:
            self.linear = False
            source = self.pattern
            caseless = pattern._caseless
            if (
                _re2 is not None
                and source is not None
                and pattern._clean
                and b"{," not in source
                and not (caseless and _HIGH_BYTE.search(source))
            ):
                options = _re2.Options()
                options.log_errors = False
                options.encoding = _re2.Options.Encoding.LATIN1
                options.case_sensitive = not caseless
                try:
                    program = _re2._re2.RE2(source, options)
                except (_re2.error, ValueError, TypeError, AttributeError):
                    program = None
                if program is not None and program.ok():
                    self.linear = program
        return self.linear


@lru_cache(maxsize=8192)
def _programs(pattern: RegexPattern) -> _Programs:
    return _Programs(pattern)


def match(pattern: RegexPattern, text: str) -> ByteMatch | bool | None:
    """`pattern` (a `<pcre2>` RegexPattern) on the bytes of `text` (not ASCII): the match, or
    None; False when it is matched as characters instead (``(*UTF)``, a pattern with no byte
    spelling, a text with a surrogate that is no escaped byte)."""
    programs = _programs(pattern)
    try:
        data = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return False
    if programs.utf:
        # PCRE2 in UTF mode refuses a subject that is not UTF-8: no match.
        if _SURROGATE.search(text) is None:
            return False
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return None
        return False
    source = programs.pattern
    if source is None:
        return False
    literals = programs.literals
    if literals is not None:
        lowered = data.lower()
        if not any(lit in lowered for lit in literals):
            return None
    fast = programs.fast
    if fast is not None and len(data) <= pattern._limit:
        found = fast.search(data)
        return None if found is None else ByteMatch(text, data, found.regs)
    # RE2 reads `$`, `\s` and `\v` otherwise than PCRE2 on control characters (tab aside).
    linear = programs.linear_program(pattern) if _LINEAR_UNSAFE.search(data) is None else False
    if linear:
        spans = linear.Match(_UNANCHORED, data, 0, len(data))  # type: ignore[attr-defined]
        return None if spans[0][0] < 0 else ByteMatch(text, data, tuple(spans))
    try:
        guarded = programs.guarded_program(pattern._caseless)
    except PatternError:
        return False
    try:
        found = guarded.search(data, timeout=pattern._timeout)
    except TimeoutError:
        pattern.timeouts += 1
        return None
    return None if found is None else ByteMatch(text, data, found.regs)

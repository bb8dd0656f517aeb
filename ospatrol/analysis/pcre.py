"""PCRE2 patterns (`<pcre2>` and friends) and the bounded regex runner every dialect shares.

analysisd compiles `<pcre2>` with PCRE2_CASELESS and nothing else: no UTF, so ``\\w``, ``\\d``,
``\\s`` and case folding are ASCII-only. We compile with ``IGNORECASE | ASCII``.

Each pattern is compiled twice, once:

- a *fast* ``re`` program, used when the pattern cannot backtrack catastrophically and the text
  is short enough that its polynomial worst case stays small (see ``_fast_limit``);
- a *guarded* ``regex`` program, run with a per-call ``timeout``: PCRE2 syntax ``re`` lacks, and
  the fallback for risky patterns or long texts. A timeout counts as "no match" and increments the
  pattern's ``timeouts`` counter.

Both engines agree on the syntax ``re`` accepts, so which one runs never changes a result.
"""

from __future__ import annotations

import re
import warnings

import regex

from ospatrol.analysis.patterns import DEFAULT_TIMEOUT, MAX_INPUT, Captured, PatternError

try:  # The stdlib's own parser tells us the shape of a pattern (nesting of repeats).
    from re import _constants as _sre_c
    from re import _parser as _sre_parse
except ImportError:  # pragma: no cover - a future Python without them: everything is guarded
    _sre_parse = None

# Texts longer than this never take the fast path, whatever the pattern.
FAST_TEXT_LIMIT = 4096
# With two unbounded repeats in sequence the worst case grows like len**3: keep texts short.
FAST_TEXT_LIMIT_TWO_REPEATS = 1024


def _shape(items: object, inside_repeat: bool = False) -> tuple[bool, int]:
    """(risky, repeats): risky when a repeat nests another repeat or an alternation, or the
    pattern uses back-references; repeats counts the unbounded repeats."""
    c = _sre_c
    risky = False
    repeats = 0
    for op, av in items:  # type: ignore[attr-defined]
        subs: list[object] = []
        nested = inside_repeat
        if op in (c.MAX_REPEAT, c.MIN_REPEAT):
            _low, high, sub = av
            many = high is c.MAXREPEAT or high > 1
            if many and inside_repeat:
                risky = True
            if high is c.MAXREPEAT:
                repeats += 1
            subs, nested = [sub], inside_repeat or many
        elif op is c.POSSESSIVE_REPEAT:
            subs, nested = [av[2]], False
        elif op is c.SUBPATTERN:
            subs = [av[-1]]
        elif op is c.ATOMIC_GROUP:
            subs, nested = [av], False
        elif op is c.BRANCH:
            subs = list(av[1])
            risky = risky or inside_repeat
        elif op in (c.ASSERT, c.ASSERT_NOT):
            subs = [av[1]]
        elif op in (c.GROUPREF, c.GROUPREF_EXISTS, c.GROUPREF_IGNORE):
            risky = True
            if op is c.GROUPREF_EXISTS:
                subs = [s for s in av[1:] if s is not None]
        for sub in subs:
            sub_risky, sub_repeats = _shape(sub, nested)
            risky = risky or sub_risky
            repeats += sub_repeats
    return risky, repeats


def _fast_limit(translated: str, flags: int) -> tuple[re.Pattern[str] | None, int]:
    """The ``re`` program and the longest text it may run on (0: never)."""
    if _sre_parse is None:
        return None, 0
    try:
        # A warning (e.g. "possible nested set" for POSIX `[[:alpha:]]`) means `re` reads the
        # pattern differently from PCRE2 and `regex`: leave it to `regex`.
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            program = re.compile(translated, flags)
            parsed = _sre_parse.parse(translated, flags)
    except (re.error, RecursionError, OverflowError, Warning):
        return None, 0  # PCRE2 syntax only `regex` knows
    risky, repeats = _shape(parsed)
    if risky or repeats > 2:
        return None, 0
    if repeats == 2:
        return program, FAST_TEXT_LIMIT_TWO_REPEATS
    return program, FAST_TEXT_LIMIT


class RegexPattern:
    """A compiled regex with OSSEC's capture rules and a bounded running time."""

    __slots__ = ("_fast", "_guarded", "_limit", "_timeout", "negate", "source", "timeouts")

    def __init__(
        self,
        source: str,
        translated: str,
        *,
        ascii_only: bool,
        timeout: float = DEFAULT_TIMEOUT,
        negate: bool = False,
    ) -> None:
        self.source = source
        self.negate = negate
        self.timeouts = 0
        self._timeout = timeout
        flags = regex.IGNORECASE | (regex.ASCII if ascii_only else 0)
        try:
            self._guarded = regex.compile(translated, flags | regex.VERSION0)
        except (regex.error, RecursionError, OverflowError, ValueError) as exc:
            raise PatternError(f"invalid pattern {source!r}: {exc}") from None
        re_flags = re.IGNORECASE | (re.ASCII if ascii_only else 0)
        self._fast, self._limit = _fast_limit(translated, re_flags)

    @property
    def guarded_only(self) -> bool:
        """True when every call runs under the time budget (risky or `regex`-only syntax)."""
        return self._fast is None

    def _match(self, text: str) -> re.Match[str] | regex.Match[str] | None:
        if len(text) > MAX_INPUT:
            text = text[:MAX_INPUT]
        if self._fast is not None and len(text) <= self._limit:
            return self._fast.search(text)
        try:
            return self._guarded.search(text, timeout=self._timeout)
        except TimeoutError:
            self.timeouts += 1
            return None

    def test(self, text: str, lowered: str | None = None) -> bool:
        return self._match(text) is not None

    def search(self, text: str) -> Captured | None:
        found = self._match(text)
        if found is None:
            return None
        # OSSEC copies only the groups that took part in the match (PCRE2_UNSET skipped).
        return Captured(tuple(g for g in found.groups() if g is not None), found.end())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.source!r})"


def compile_pcre2(source: str, *, timeout: float = DEFAULT_TIMEOUT) -> RegexPattern:
    """Compile a `<pcre2>`-family pattern (caseless, ASCII classes)."""
    if not source:
        # OSSEC refuses empty PCRE2 patterns (OS_REGEX_PATTERN_EMPTY).
        raise PatternError("empty pcre2 pattern")
    return RegexPattern(source, source, ascii_only=True, timeout=timeout)

"""The compiled patterns the engine holds and calls on every event: the per-call path.

Two classes implement `patterns.Pattern`: `LiteralAlternatives` (plain strings, from OS_Match
and OS_Regex: see :mod:`ospatrol.analysis.osmatch`) and `RegexPattern` (a regex with OSSEC's
capture rules and a bounded running time, from every dialect: see :mod:`ospatrol.analysis.pcre`,
which explains its programs). This module holds only what runs when a pattern is called; what
runs when one is compiled (translating a dialect, judging a regex's shape, finding its required
literals, making its lowered and RE2 programs) stays in the dialect modules, which the calls
here reach only the first time a pattern needs a program.

It is one of the engine's hot modules (`native.HOT_MODULES`): compiled by mypyc with the engine,
decoding and `patterns`, whose `Pattern` these classes extend, so the engine's `pattern.test(..)`
is a native method call instead of a Python call into an interpreted frame. Patterns are stored
in the rule cache (`__reduce__`): a cache written by the pure build is read by the compiled one
and back, as both pickle the same names and arguments.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final, NamedTuple

import regex

from ospatrol.analysis import pcre2bytes
from ospatrol.analysis.casefold import PYTHON_ONLY_FOLDS, ascii_lower, fold
from ospatrol.analysis.patterns import DEFAULT_TIMEOUT, MAX_INPUT, Captured, Pattern, PatternError

try:  # Optional (google-re2): the anchor of the RE2 programs `pcre._linear_program` makes.
    from re2 import _re2 as _re2_binding

    _UNANCHORED: object = _re2_binding.RE2.Anchor.UNANCHORED
except (ImportError, AttributeError):  # pragma: no cover - then no pattern has an RE2 program
    _UNANCHORED = None

# Captured's own constructor is a Python function around this call: calling it directly saves
# a frame on every successful search.
_new_tuple: Final = tuple.__new__
# `str.isascii` itself: compiled, `text.isascii()` looks the method up on every call.
_isascii: Final = str.isascii

# Calls after which a pattern gets its lowered program (see RegexPattern._prepare).
LOWER_AFTER = 512

# Control characters, where RE2 and Python differ (Python's `$` also matches before a final
# newline, its `\s` takes \x1c-\x1f, ...): a text holding one (tab aside) is not given to RE2.
_LINEAR_UNSAFE: Final = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# Python's engines fold these with other characters, PCRE2 does not (`casefold`): found in a
# text, they go to `RegexPattern._match_shielded`.
_PYTHON_ONLY_FOLDS: Final = re.compile(f"[{PYTHON_ONLY_FOLDS}]")
# Where `_match_shielded` takes its stand-ins from: private-use characters, caseless, matched by
# no class an OS_Regex or OS_Match translation spells (all ASCII) but the negated ones.
_STAND_INS: Final = range(0xE000, 0xF900)


class LiteralAlternatives(Pattern):
    """Case-insensitive plain strings, each optionally anchored at the start and/or the end.

    Compared as OSSEC compares them: through PCRE2 with Unicode simple case folding
    (`casefold.fold`), or, for the one anchored literal that OSSEC's "could be optimized" check
    hands to strncasecmp & co (`bytewise`), with ASCII-only folding (`casefold.ascii_lower`).
    On ASCII texts both are `text.lower()`, which the caller may pass as `lowered`."""

    __slots__ = ("_alternatives", "_bytewise", "_contains")

    _alternatives: tuple[tuple[str, bool, bool], ...]
    _bytewise: bool
    _contains: tuple[str, ...] | None

    def __init__(
        self,
        source: str,
        alternatives: list[tuple[str, bool, bool]],
        negate: bool = False,
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
        # needs only `in`, in a loop.
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

    def __reduce__(self) -> tuple[Any, ...]:
        # Folding is idempotent: the folded alternatives fold to themselves.
        return (
            LiteralAlternatives,
            (self.source, list(self._alternatives), self.negate, self._bytewise),
        )

    def _folded(self, text: str) -> str:
        """`text` (cut to MAX_INPUT) folded as this pattern compares it (same length)."""
        text = text[:MAX_INPUT]
        # Both folds are `lower()` on ASCII: done here, it spares a call into the interpreted
        # casefold module on every `<id>`/field test (~1k instructions each).
        if _isascii(text):
            return text.lower()
        return ascii_lower(text) if self._bytewise else fold(text)

    def test(self, text: str, lowered: str | None = None) -> bool:
        # `lowered` (text.lower()) is the fold only of an ASCII text.
        if lowered is None or not _isascii(text):
            lowered = self._folded(text)
        elif len(lowered) > MAX_INPUT:
            lowered = lowered[:MAX_INPUT]
        contains = self._contains
        if contains is not None:
            for literal in contains:  # noqa: SIM110 - a loop compiles to the plainest C
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
        if lowered is None or not _isascii(text):
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


class RegexFacts(NamedTuple):
    """What `pcre.regex_facts` finds out about a translated regex when it is compiled."""

    translated: str  # the regex as the programs compile it
    fast: re.Pattern[str] | None  # the `re` program, where the pattern may run on `re`
    limit: int  # the longest text the `re` program runs on; -1: never (guarded only)
    required_literals: tuple[str, ...] | None  # one of them is in every match (lowercased)
    anchored: bool  # at the text's start: no required-literal check, no lowered program
    clean: bool  # `re` compiles it without a warning: RE2 may judge it
    refused: tuple[str, ...]  # characters a text must not hold to go to RE2
    lowered: bool  # a lowered program may be made (caseless, unanchored, not looked for yet)
    groups: int  # capturing groups of the `re` program (0 without one)


def _linear_input(text: str, refused: tuple[str, ...]) -> bytes | None:
    """`text` as UTF-8 for RE2 when RE2's answer on it is Python's, else None: no control
    character but tab, none of the `refused` characters (`pcre._refused_by_linear`), no lone
    surrogate. (RE2's classes are ASCII: so are Python's under `re.ASCII`, and OS_Regex/OS_Match
    translations spell theirs out as ASCII sets.)"""
    if text.isascii():
        if text.isprintable() or _LINEAR_UNSAFE.search(text) is None:
            return text.encode()
        return None
    if _LINEAR_UNSAFE.search(text) is not None:
        return None
    for char in refused:
        if char in text:
            return None
    try:
        return text.encode()
    except UnicodeEncodeError:  # surrogate-escaped bytes of a log that is not UTF-8
        return None


def _char_spans(data: bytes, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """RE2's byte offsets in the UTF-8 `data` as character offsets (RE2 matches whole code
    points, so each offset ends a character)."""
    return [
        (start, stop) if start < 0 else (len(data[:start].decode()), len(data[:stop].decode()))
        for start, stop in spans
    ]


def _holds_one(lowered: str, literals: tuple[str, ...]) -> bool:
    """Whether `lowered` contains one of a regex's required `literals` (a native call in the
    compiled build, shared by the fast and the general path)."""
    for literal in literals:  # noqa: SIM110 - a loop compiles to the plainest C
        if literal in lowered:
            return True
    return False


class RegexPattern(Pattern):
    """A compiled regex with OSSEC's capture rules and a bounded running time (the programs it
    holds and when each runs: :mod:`ospatrol.analysis.pcre`)."""

    __slots__ = (
        "_anchored",
        "_ascii_only",
        "_calls",
        "_caseless",
        "_clean",
        "_fast",
        "_groups",
        "_guarded",
        "_limit",
        "_linear",
        "_linear_groups",
        "_literals",
        "_lowered_search",
        "_refused",
        "_search",
        "_shield",
        "_timeout",
        "_translated",
    )

    _anchored: bool
    _ascii_only: bool
    _calls: int
    _caseless: bool
    _clean: bool
    _fast: re.Pattern[str] | None
    _groups: int
    _guarded: regex.Pattern[str] | None
    _limit: int
    _linear: object | None
    _linear_groups: object | None
    _literals: tuple[str, ...] | None
    _lowered_search: Callable[[str], re.Match[str] | None] | bool | None
    _refused: tuple[str, ...]
    _search: Callable[[str], re.Match[str] | None] | None
    _shield: tuple[str, RegexPattern] | None
    _timeout: float
    _translated: str

    def __init__(
        self,
        source: str,
        translated: str,
        *,
        ascii_only: bool,
        timeout: float = DEFAULT_TIMEOUT,
        negate: bool = False,
        caseless: bool = True,
        facts: RegexFacts | None = None,
    ) -> None:
        """Compile `translated` (the Python regex of `source`); PatternError when neither `re`
        nor `regex` takes it. `facts`: what `pcre.regex_facts` found out when it was compiled
        before (a pattern read from the rule cache: then no program is compiled until used)."""
        self.source = source
        self.negate = negate
        self.timeouts = 0
        self._timeout = timeout
        self._ascii_only = ascii_only
        self._caseless = caseless
        fresh = facts is None
        if facts is None:
            from ospatrol.analysis.pcre import regex_facts

            facts = regex_facts(translated, ascii_only=ascii_only, caseless=caseless)
        self._translated = facts.translated
        self._fast = facts.fast
        self._groups = facts.groups
        self._limit = facts.limit
        self._clean = facts.clean
        self._refused = facts.refused
        self.required_literals = facts.required_literals
        self._anchored = facts.anchored
        # An anchored regex fails at its first characters, faster than any substring test.
        self._literals = None if facts.anchored else facts.required_literals
        # The `regex` program: where `re` takes the pattern, needed only for long texts and
        # compiled on first use, which keeps loading a rule set quick; otherwise compiled now,
        # which validates the pattern (not again when read from the rule cache).
        self._guarded = None
        # The fast program's bound `search`, which `test` and `search` call (None: not compiled).
        self._search = None if self._fast is None else self._fast.search
        # The bound `search` of the `lowered_program` that `test` and `search` run on the
        # lowercased ASCII text; False where there is none (an anchored pattern gains nothing
        # from one) or not yet: it costs about 100 us to make and saves 0.1-0.3 us a call, so
        # `_prepare` makes it once the pattern has run `LOWER_AFTER` times (`_calls`).
        self._lowered_search = None if facts.lowered else False
        self._calls = 0
        # RE2 programs for long texts and risky patterns, without and with groups: compiled on
        # first use (False: none).
        self._linear = None
        self._linear_groups = None
        # (stand-ins, the pattern with them) for `_match_shielded`; made on first use.
        self._shield = None
        if fresh and self._limit < 0:
            self._guarded = self._compile_guarded()

    def __reduce__(self) -> tuple[Any, ...]:
        # For the rule cache: the facts without the programs (compiled on first use).
        facts = RegexFacts(
            self._translated,
            None,
            self._limit,
            self.required_literals,
            self._anchored,
            self._clean,
            self._refused,
            self._lowered_search is not False,
            self._groups,
        )
        args = (self.source, self._ascii_only, self._timeout, self.negate, self._caseless, facts)
        return (_unpickled_regex, args)

    def _compile_fast(self) -> re.Pattern[str]:
        """The `re` program of an unpickled pattern, compiled on its first search: a cached rule
        set loads without compiling patterns an event never reaches."""
        flags = (re.IGNORECASE if self._caseless else 0) | (re.ASCII if self._ascii_only else 0)
        program = self._fast = re.compile(self._translated, flags)
        self._search = program.search
        return program

    def prepare(self) -> None:
        """Make the lowered program now, if the pattern is to have one, instead of on its
        `LOWER_AFTER`th call. The loader calls it on a freshly compiled rule set, whose fast
        programs exist already, so its first events do not pay for it; an unpickled pattern
        (the rule cache) stays lazy, as compiling every program would cost start-up more
        than the few an event reaches."""
        if self._fast is not None and self._lowered_search is None:
            self._prepare()

    def programs(self) -> tuple[re.Pattern[str] | None, re.Pattern[str] | None]:
        """The fast and the lowered `re` program, where made: the rule cache keeps them
        beside the pickled pattern and gives them back to `restore` (`reprograms`)."""
        lowered = self._lowered_search
        return self._fast, getattr(lowered, "__self__", None) if lowered else None

    def restore(self, fast: re.Pattern[str] | None, lowered: re.Pattern[str] | None) -> None:
        """Take back an unpickled pattern's programs from the rule cache, equal to those
        `programs()` gave, instead of compiling them on first use."""
        if fast is not None and self._limit >= 0:
            self._fast = fast
            self._search = fast.search
        if lowered is not None and self._lowered_search is None:
            self._lowered_search = lowered.search

    def _prepare(self) -> Callable[[str], re.Match[str] | None] | bool:
        """Make the lowered program (on the pattern's `LOWER_AFTER`th call); its `search`, or
        False where there is none."""
        from ospatrol.analysis.pcre import lowered_program

        program = lowered_program(self._translated, self._ascii_only)
        lowered = self._lowered_search = False if program is None else program.search
        return lowered

    def _compile_guarded(self) -> regex.Pattern[str]:
        flags = regex.VERSION0 | (regex.ASCII if self._ascii_only else 0)
        if self._caseless:
            flags |= regex.IGNORECASE
        try:
            return regex.compile(self._translated, flags)
        except (regex.error, RecursionError, OverflowError, ValueError) as exc:
            raise PatternError(f"invalid pattern {self.source!r}: {exc}") from None

    @property
    def guarded(self) -> regex.Pattern[str]:
        """The `regex` program (compiled on first use when the fast path exists)."""
        if self._guarded is None:
            self._guarded = self._compile_guarded()
        return self._guarded

    @property
    def guarded_only(self) -> bool:
        """True when every call runs under the time budget (risky or `regex`-only syntax)."""
        return self._limit < 0

    def _re2_program(self, capture: bool) -> object:
        """The RE2 program for `test` (no groups) or, with `capture`, for `search`, or False
        where RE2 does not take this pattern (see `pcre._linear_program`). Compiled on first
        use: a pattern usually serves only one of them (decoders search, rules test)."""
        from ospatrol.analysis.pcre import linear_program

        program = linear_program(
            self._translated, self._ascii_only, self._caseless, self._clean, capture
        )
        if capture:
            self._linear_groups = program
        else:
            self._linear = program
        return program

    def _quick(self, text: str, lowered: str | None) -> re.Match[str] | None:
        """`test`'s and `search`'s common case, a short ASCII text and a pattern with a fast
        program: the match of the fast program on `text`, or of the lowered program on its
        lowercase form (same spans, groups of the lowered text), or None."""
        literals = self._literals
        if literals is not None:
            # A required literal missing from the text rules the regex out at the cost of `in`.
            if lowered is None:
                lowered = text.lower()
            if not _holds_one(lowered, literals):
                return None
        search = self._lowered_search
        if search is None:  # not yet decided: count this call (see _prepare)
            calls = self._calls = self._calls + 1
            search = self._prepare() if calls >= LOWER_AFTER else False
        if search:
            # The caller's lowered text must be this text's, position for position: a
            # decoder's slice of a log whose lowercasing grew ('İ') is not.
            if lowered is None or len(lowered) != len(text):
                lowered = text.lower()
            return search(lowered)  # type: ignore[operator,no-any-return]
        fast = self._search
        if fast is None:
            fast = self._compile_fast().search
        return fast(text)

    def _match(
        self, text: str, lowered: str | None, capture: bool
    ) -> re.Match[str] | regex.Match[str] | list[tuple[int, int]] | pcre2bytes.ByteMatch | None:
        """The match: a `re`/`regex` match object, a match on bytes, or RE2's spans (the whole
        match's, then each group's, (-1, -1) when unset), or None. The general path, for what
        `_quick` does not answer: non-ASCII and long texts, risky patterns."""
        if len(text) > MAX_INPUT:
            text = text[:MAX_INPUT]
        if self._ascii_only and not text.isascii():  # `<pcre2>` counts bytes (pcre2bytes)
            on_bytes = pcre2bytes.match(self, text)
            if on_bytes is None or isinstance(on_bytes, pcre2bytes.ByteMatch):
                return on_bytes  # else False: as characters
        if not (self._ascii_only or text.isascii()):
            # Unicode case folding, as PCRE2 with UTF|CASELESS does it (`casefold`).
            if self._caseless and _PYTHON_ONLY_FOLDS.search(text) is not None:
                return self._match_shielded(text, capture)
            lowered = fold(text)
        literals = self._literals
        # A required literal missing from the text rules the regex out at the cost of `in`.
        if literals is not None:
            if lowered is None:
                lowered = text.lower()
            if not _holds_one(lowered, literals):
                return None
        if len(text) <= self._limit:
            fast = self._fast
            if fast is None:
                fast = self._compile_fast()
            return fast.search(text)
        # A longer text, or a pattern `re` may backtrack on badly: RE2 answers in linear time,
        # with the same match and groups; the `regex` program is then not even compiled.
        linear: Any = self._linear_groups if capture else self._linear
        if linear is None:
            linear = self._re2_program(capture)
        if linear:
            data = _linear_input(text, self._refused)
            if data is not None:
                spans: list[tuple[int, int]] = linear.Match(_UNANCHORED, data, 0, len(data))
                if spans[0][0] < 0:
                    return None
                return spans if len(data) == len(text) else _char_spans(data, spans)
        guarded = self._guarded
        if guarded is None:
            try:
                guarded = self.guarded
            except PatternError:  # `re` takes it, `regex` does not: `re` it is, for any length
                self._limit = MAX_INPUT
                return (self._fast or self._compile_fast()).search(text)
        try:
            return guarded.search(text, timeout=self._timeout)
        except TimeoutError:
            self.timeouts += 1
            return None

    def _match_shielded(self, text: str, capture: bool) -> list[tuple[int, int]] | None:
        """`_match` on a text holding characters Python folds with others and PCRE2 does not
        (`PYTHON_ONLY_FOLDS`: 'İ' and 'ı' with 'i'): run on the text and the pattern with each
        of them replaced by a private-use stand-in that neither holds, which only itself
        matches caselessly. Only OS_Regex/OS_Match translations get here (Unicode patterns):
        they hold those characters only as literals. The spans are the text's (same length)."""
        shield = self._shield
        if shield is None or any(char in text for char in shield[0]):
            taken = set(text) | set(self._translated)
            stand_ins = "".join(
                [c for c in map(chr, _STAND_INS) if c not in taken][: len(PYTHON_ONLY_FOLDS)]
            )
            table = str.maketrans(PYTHON_ONLY_FOLDS, stand_ins)
            shielded = RegexPattern(
                self.source,
                self._translated.translate(table),
                ascii_only=False,
                timeout=self._timeout,
                negate=self.negate,
                caseless=self._caseless,
            )
            shield = self._shield = (stand_ins, shielded)
        stand_ins, shielded = shield
        timeouts = shielded.timeouts
        found: Any = shielded._match(
            text.translate(str.maketrans(PYTHON_ONLY_FOLDS, stand_ins)), None, capture
        )
        self.timeouts += shielded.timeouts - timeouts
        if found is None or type(found) is list:
            return found  # type: ignore[no-any-return]
        return [found.span(group) for group in range(found.re.groups + 1)]

    def test(self, text: str, lowered: str | None = None) -> bool:
        if len(text) <= self._limit and _isascii(text):
            return self._quick(text, lowered) is not None
        return self._match(text, lowered, False) is not None

    def search(self, text: str, lowered: str | None = None) -> Captured | None:
        found: Any
        if len(text) <= self._limit and _isascii(text):
            found = self._quick(text, lowered)
            if found is None:
                return None
            if not self._groups:
                return _new_tuple(Captured, ((), found.end()))  # type: ignore[no-any-return]
            if found.re is self._fast:
                groups = found.groups()
                end = found.end()
            else:
                # The lowered program's match, on the lowercase text: its spans are `text`'s
                # (see `pcre.lowered_program`), its groups are not.
                spans: tuple[tuple[int, int], ...] = found.regs
                end = spans[0][1]
                groups = tuple([None if a < 0 else text[a:b] for a, b in spans[1:]])
        else:
            found = self._match(text, lowered, True)
            if found is None:
                return None
            if type(found) is list:
                end = found[0][1]
                groups = tuple([None if a < 0 else text[a:b] for a, b in found[1:]])
            else:
                end = found.end()
                groups = found.groups()
        if None in groups:
            groups = self._taken(groups)
        return _new_tuple(Captured, (groups, end))  # type: ignore[no-any-return]

    def _taken(self, groups: tuple[str | None, ...]) -> tuple[str, ...]:
        """The groups OSSEC copies when some did not take part in the match: only the set
        ones (PCRE2_UNSET skipped). Wazuh (the case-sensitive flavour) copies every group up
        to the last one set, unset ones as "" (w_expression_PCRE2_fill_regex_match), so fields
        keep their positions."""
        if self._caseless:
            return tuple(g for g in groups if g is not None)
        last = max((i for i, g in enumerate(groups) if g is not None), default=-1)
        return tuple(g or "" for g in groups[: last + 1])

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.source!r})"


def _unpickled_regex(
    source: str, ascii_only: bool, timeout: float, negate: bool, caseless: bool, facts: RegexFacts
) -> RegexPattern:
    """A RegexPattern read from the rule cache (see `RegexPattern.__reduce__`)."""
    return RegexPattern(
        source,
        facts.translated,
        ascii_only=ascii_only,
        timeout=timeout,
        negate=negate,
        caseless=caseless,
        facts=facts,
    )

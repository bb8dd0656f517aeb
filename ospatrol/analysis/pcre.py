"""PCRE2 patterns (`<pcre2>` and friends) and the bounded regex runner every dialect shares.

analysisd compiles `<pcre2>` with PCRE2_CASELESS and nothing else: no UTF, so ``\\w``, ``\\d``,
``\\s`` and case folding are ASCII-only. We compile with ``IGNORECASE | ASCII``, after rewriting
the few PCRE2 spellings Python lacks (``translate_pcre2``).

A ``RegexPattern`` (the class lives in :mod:`ospatrol.analysis.matchers` with the rest of the
per-call path, compiled with the engine; this module compiles patterns) holds up to three
programs for the same pattern:

- a *fast* ``re`` program, used when the pattern cannot backtrack catastrophically (no nested
  repeats, repeated alternations or back-references) and the text is short enough that its
  polynomial worst case stays small (``FAST_TEXT_LIMITS``);
- where Google's RE2 is installed (the optional `google-re2` package) and takes the pattern,
  *linear* RE2 programs (one without groups for ``test``, one with them for ``search``) for
  longer texts and for risky patterns: RE2's running time is linear in the text, and it gives
  the match, span and groups ``re`` gives (both follow Perl's leftmost-first rule). RE2 only
  judges a pattern ``re`` compiles cleanly and a text the two read alike (see
  `_linear_program`, `matchers._linear_input`); the tests compare the two on real logs, ASCII
  or not, for every stock pattern;
- a *guarded* ``regex`` program, run with a per-call ``timeout``, for the rest: PCRE2 syntax
  ``re`` and RE2 lack, or RE2 missing. A timeout counts as "no match" and increments the
  pattern's ``timeouts`` counter. Compiled on first use when the fast program exists.

Before any of them runs, an unanchored pattern checks that one of the literals every match
contains occurs in the lowercased text (on a non-ASCII text, folded as PCRE2 folds it:
`casefold.fold`). On an ASCII text, an unanchored caseless pattern runs as its *lowered*
program (`lowered_program`: literals lowered, classes with both cases) without ``IGNORECASE``
on the lowercased text the engine computes once per event: same matches, same spans, but `re`
can skip ahead to a literal instead of folding every character. None of this changes a result.

OS_Regex and OS_Match translations are caseless in Unicode (PCRE2's UTF|CASELESS): Python's
engines fold as PCRE2 does except for a few characters (`casefold.PYTHON_ONLY_FOLDS`: 'İ' and
'ı' with 'i'), which `RegexPattern._match_shielded` keeps apart.
"""

from __future__ import annotations

import re
import warnings

try:  # Optional: linear-time matching for long texts and risky patterns (pip install google-re2).
    import re2 as _re2
except ImportError:  # pragma: no cover - exercised by the tests that hide it
    _re2 = None

from ospatrol.analysis.matchers import _PYTHON_ONLY_FOLDS, RegexFacts, RegexPattern
from ospatrol.analysis.patterns import DEFAULT_TIMEOUT, PatternError

try:  # The stdlib's own parser tells us the shape of a pattern (nesting of repeats).
    from re import _compiler as _sre_compile
    from re import _constants as _sre_c
    from re import _parser as _sre_parse
except ImportError:  # pragma: no cover - a future Python without them: everything is guarded
    _sre_parse = None

# The longest text the fast path may see, by the number of *ambiguous* unbounded repeats: those
# whose characters overlap what may follow them, so that backtracking tries every split. Each one
# multiplies the worst case by the text length; unambiguous repeats (``\S+ `` then a space) fail
# at once when they backtrack and cost only linear time.
FAST_TEXT_LIMITS = {0: 4096, 1: 1024, 2: 256}
# A bounded repeat wider than this counts as unbounded.
_WIDE = 16

# Character sets over ASCII; 128 stands for every other character.
_OTHER = 128
_ALL = frozenset(range(129))
_DIGIT = frozenset(range(48, 58))
_SPACE = frozenset((9, 10, 11, 12, 13, 28, 29, 30, 31, 32, _OTHER))
_WORD = frozenset((*range(48, 58), *range(65, 91), *range(97, 123), 95, _OTHER))


def _fold(chars: set[int]) -> frozenset[int]:
    """`chars` with both cases of every ASCII letter (patterns are caseless)."""
    folded = set(chars)
    for c in chars:
        if c < 128 and chr(c).isalpha():
            folded.add(ord(chr(c).swapcase()))
    return frozenset(folded)


def _category(cat: object) -> frozenset[int]:
    c = _sre_c
    table = {
        c.CATEGORY_DIGIT: _DIGIT,
        c.CATEGORY_NOT_DIGIT: (_ALL - _DIGIT) | {_OTHER},
        c.CATEGORY_SPACE: _SPACE,
        c.CATEGORY_NOT_SPACE: (_ALL - _SPACE) | {_OTHER},
        c.CATEGORY_WORD: _WORD,
        c.CATEGORY_NOT_WORD: (_ALL - _WORD) | {_OTHER},
    }
    return table.get(cat, _ALL)


def _char_set(op: object, av: object) -> frozenset[int] | None:
    """The characters one single-character item matches (a superset), or None if not one."""
    c = _sre_c
    if op is c.LITERAL:
        return _fold({av if av < 128 else _OTHER})  # type: ignore[operator]
    if op is c.NOT_LITERAL:
        return _ALL - _fold({av}) if av < 128 else _ALL  # type: ignore[operator]
    if op is c.ANY:
        return _ALL
    if op is c.IN:
        chars: set[int] = set()
        negate = False
        for item_op, item_av in av:  # type: ignore[attr-defined]
            if item_op is c.NEGATE:
                negate = True
            elif item_op is c.LITERAL:
                chars.add(item_av if item_av < 128 else _OTHER)
            elif item_op is c.RANGE:
                low, high = item_av
                chars.update(range(low, min(high, 127) + 1))
                if high >= 128:
                    chars.add(_OTHER)
            elif item_op is c.CATEGORY:
                chars |= _category(item_av)
            else:
                return _ALL
        folded = _fold(chars)
        return (_ALL - folded) | {_OTHER} if negate else folded
    return None


def _first(items: list, start: int, follow: frozenset[int]) -> frozenset[int]:
    """Characters that may begin a match of ``items[start:]`` followed by `follow`."""
    chars: set[int] = set()
    for op, av in items[start:]:
        item_chars, nullable = _first_item(op, av)
        chars |= item_chars
        if not nullable:
            return frozenset(chars)
    return frozenset(chars) | follow


def _first_item(op: object, av: object) -> tuple[frozenset[int], bool]:
    """(characters that may begin the item, whether it may match the empty string)."""
    c = _sre_c
    single = _char_set(op, av)
    if single is not None:
        return single, False
    if op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
        low, _high, sub = av  # type: ignore[misc]
        chars = _first(sub, 0, frozenset({-1}))
        return chars - {-1}, low == 0 or -1 in chars
    if op is c.SUBPATTERN or op is c.ATOMIC_GROUP:
        sub = av[-1] if op is c.SUBPATTERN else av  # type: ignore[index]
        chars = _first(sub, 0, frozenset({-1}))
        return chars - {-1}, -1 in chars
    if op is c.BRANCH:
        chars = frozenset().union(*(_first(alt, 0, frozenset({-1})) for alt in av[1]))  # type: ignore[index]
        return chars - {-1}, -1 in chars
    if op in (c.AT, c.ASSERT, c.ASSERT_NOT):
        return frozenset(), True
    return _ALL, True


def _shape(items: list, follow: frozenset[int], inside_repeat: bool = False) -> tuple[bool, int]:
    """(risky, ambiguous): risky when a repeat nests another repeat or an alternation, or the
    pattern uses back-references; ambiguous counts unbounded repeats that overlap what follows."""
    c = _sre_c
    risky = False
    ambiguous = 0
    for index, (op, av) in enumerate(items):
        after = _first(items, index + 1, follow)
        subs: list[tuple[list, frozenset[int]]] = []
        nested = inside_repeat
        if op in (c.MAX_REPEAT, c.MIN_REPEAT):
            _low, high, sub = av
            many = high is c.MAXREPEAT or high > 1
            risky = risky or (many and inside_repeat)
            body = _first(sub, 0, frozenset())
            if (high is c.MAXREPEAT or high > _WIDE) and body & after:
                ambiguous += 1
            subs, nested = [(sub, body | after)], inside_repeat or many
        elif op is c.POSSESSIVE_REPEAT:
            subs, nested = [(av[2], after)], False
        elif op is c.SUBPATTERN:
            subs = [(av[-1], after)]
        elif op is c.ATOMIC_GROUP:
            subs, nested = [(av, after)], False
        elif op is c.BRANCH:
            subs = [(alt, after) for alt in av[1]]
            risky = risky or inside_repeat
        elif op in (c.ASSERT, c.ASSERT_NOT):
            subs = [(av[1], _ALL)]
        elif op in (c.GROUPREF, c.GROUPREF_EXISTS, c.GROUPREF_IGNORE):
            risky = True
        # Alternatives are tried one after the other: the worst one sets the cost.
        worst = 0
        for sub, sub_follow in subs:
            sub_risky, sub_ambiguous = _shape(sub, sub_follow, nested)
            risky = risky or sub_risky
            worst = max(worst, sub_ambiguous)
        ambiguous += worst
    return risky, ambiguous


# Required literals shorter than this are not worth a substring test before a `re` search,
# unless they hold a rare character (see `_strength`); a search under the time budget (a risky
# pattern, `regex`-only syntax) costs far more than one `in`, so there any literal is worth it.
_MIN_LITERAL = 3
# Characters frequent in log lines: on literals of equal length, one made only of these is the
# weaker pre-check (every line has a ":", few have a "%").
_COMMON = frozenset(" :.-/,=_[]()\"'0123456789abcdefghijklmnopqrstuvwxyz")


def _strength(literal: str) -> tuple[int, bool]:
    """How good a pre-check `literal` is: longer first, then one with a rare character."""
    return len(literal), not _COMMON.issuperset(literal)


def _quality(literals: tuple[str, ...]) -> tuple[tuple[int, bool], int]:
    """How good a set of literals is as a pre-check: by its weakest member (`_strength`), then
    the fewer the better."""
    return min(_strength(lit) for lit in literals), -len(literals)


def _needed(items: list) -> tuple[str, ...]:
    """The best set of lowercased literals one of which every match of `items` contains (see
    `_quality`), or () when none is known: a run of literal characters, what a group or a
    repeat of at least one holds, or for an alternation the literals of each alternative."""
    c = _sre_c
    best: tuple[str, ...] = ()
    run: list[str] = []
    for op, av in [*items, (None, None)]:
        char = None
        if op is c.LITERAL:
            char = av
        elif op is c.IN and len(av) == 1 and av[0][0] is c.LITERAL:
            char = av[0][1]
        if char is not None:
            run.append(chr(char).lower())
            continue
        candidates = [("".join(run),)] if run else []
        run = []
        if op is c.SUBPATTERN:
            candidates.append(_needed(av[-1]))
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT) and av[0] >= 1:
            candidates.append(_needed(av[2]))
        elif op is c.ATOMIC_GROUP:
            candidates.append(_needed(av))
        elif op is c.BRANCH:
            alternatives = [_needed(alt) for alt in av[1]]
            if all(alternatives):
                merged = dict.fromkeys(lit for alt in alternatives for lit in alt)
                # A literal that holds another one adds nothing ("(pam_unix)" and "pam_unix").
                candidates.append(
                    tuple(a for a in merged if not any(b != a and b in a for b in merged))
                )
        for candidate in candidates:
            if candidate and (not best or _quality(candidate) > _quality(best)):
                best = candidate
    return best


def _required_literals(
    items: list, ascii_only: bool, shortest: int = _MIN_LITERAL
) -> tuple[str, ...] | None:
    """Lowercased strings one of which any match must contain (a cheap pre-check), or None
    when one of them would be shorter than `shortest` characters without a rare one."""
    literals = _needed(items)
    if not literals or not all(len(lit) >= shortest or _strength(lit)[1] for lit in literals):
        return None
    # Under Unicode case folding a non-ASCII literal may match ASCII text ('ſ' and 's').
    if not ascii_only and not all(lit.isascii() for lit in literals):
        return None
    return literals


# ASCII letters by case: (first, last, what to add to reach the other case).
_LETTER_RANGES = ((65, 90, 32), (97, 122, -32))


def _folded_members(members: list) -> list | None:
    """The members of a character class with the other case of every ASCII letter added, or
    None when one is not ASCII (Unicode caseless folding might take it for an ASCII letter)."""
    c = _sre_c
    out = []
    for op, av in members:
        if op is c.LITERAL:
            if av >= 128:
                return None
            out.append((op, av))
            if chr(av).isalpha():
                out.append((op, ord(chr(av).swapcase())))
        elif op is c.RANGE:
            low, high = av
            if high >= 128:
                return None
            out.append((op, av))
            for first, last, shift in _LETTER_RANGES:
                if max(low, first) <= min(high, last):
                    out.append((op, (max(low, first) + shift, min(high, last) + shift)))
        elif op is c.NEGATE or op is c.CATEGORY:  # \d \s \w and their complements: caseless
            out.append((op, av))
        else:
            return None
    return out


def _lowered_items(items: list) -> object | None:
    """`items` (a parsed pattern) rewritten to match case-sensitively in ``text.lower()``
    exactly where, and with the same spans, it matches caselessly in an ASCII `text`; None
    when that is not certain (a non-ASCII character, a flag that changes case sensitivity,
    an item not known here). Literals are lowered, classes get both cases of their letters:
    each position then accepts the same characters, so the searches go the same way."""
    c = _sre_c
    out: list[tuple[object, object]] = []
    for op, av in items:
        if op is c.LITERAL or op is c.NOT_LITERAL:
            if av >= 128:
                return None
            out.append((op, ord(chr(av).lower())))
            continue
        if op is c.ANY or op is c.AT or op is c.GROUPREF:
            out.append((op, av))
            continue
        new: object = None
        if op is c.IN:
            new = _folded_members(av)
        elif op is c.BRANCH:
            alternatives = [_lowered_items(alt) for alt in av[1]]
            if None not in alternatives:
                new = (av[0], alternatives)
        elif op is c.SUBPATTERN:
            group, add, delete, sub = av
            lowered = None if (add | delete) & re.IGNORECASE else _lowered_items(sub)
            if lowered is not None:
                new = (group, add, delete, lowered)
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
            lowered = _lowered_items(av[2])
            if lowered is not None:
                new = (av[0], av[1], lowered)
        elif op is c.ATOMIC_GROUP:
            new = _lowered_items(av)
        elif op is c.ASSERT or op is c.ASSERT_NOT:
            lowered = _lowered_items(av[1])
            if lowered is not None:
                new = (av[0], lowered)
        elif op is c.GROUPREF_EXISTS:
            yes = _lowered_items(av[1])
            no = None if av[2] is None else _lowered_items(av[2])
            if yes is not None and (av[2] is None or no is not None):
                new = (av[0], yes, no)
        if new is None:
            return None
        out.append((op, new))
    return _sre_parse.SubPattern(items.state, out)  # type: ignore[attr-defined]


def lowered_program(translated: str, ascii_only: bool) -> re.Pattern[str] | None:
    """A case-sensitive program that matches ``text.lower()`` where the caseless
    `translated` (``IGNORECASE``, plus ``ASCII`` with `ascii_only`) matches an ASCII `text`,
    at the same spans (`_lowered_items`); None where that is not certain. Faster: `re`
    searches a caseless pattern character by character, a case-sensitive one skips to its
    first literal or class."""
    if _sre_parse is None or not translated.isascii():
        return None
    flags = re.ASCII if ascii_only else 0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            parsed = _sre_parse.parse(translated, flags)
        if parsed.state.flags & re.IGNORECASE:  # a leading (?i): the pattern sets it itself
            return None
        lowered = _lowered_items(parsed)
        return None if lowered is None else _sre_compile.compile(lowered, flags)
    except (re.error, RecursionError, OverflowError, Warning):
        return None


# What `re` reads otherwise than PCRE2 and `regex` without a warning: a POSIX class after the
# first member of a set (`[_[:alnum:]]`: `re` takes "[:alnum:" as characters and the "]" after
# it as a literal), and `\B` (never true on an empty text in `re`, true in PCRE2).
_RE_READS_OTHERWISE = re.compile(r"\[:\^?[a-z]+:\]|(?<!\\)(?:\\\\)*\\B")


def _analyse(
    translated: str, flags: int, ascii_only: bool
) -> tuple[re.Pattern[str] | None, int, tuple[str, ...] | None, bool, bool]:
    """(fast ``re`` program or None, longest text it may run on, required literals, anchored,
    whether ``re`` compiled the pattern without a warning)."""
    if _sre_parse is None or _RE_READS_OTHERWISE.search(translated) is not None:
        return None, 0, None, False, False
    try:
        # A warning (e.g. "possible nested set" for POSIX `[[:alpha:]]`) means `re` reads the
        # pattern differently from PCRE2 and `regex`: leave it to `regex`.
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            program = re.compile(translated, flags)
            parsed = list(_sre_parse.parse(translated, flags))
    except (re.error, RecursionError, OverflowError, Warning):
        return None, 0, None, False, False  # PCRE2 syntax only `regex` knows
    anchored = bool(parsed) and parsed[0] == (_sre_c.AT, _sre_c.AT_BEGINNING)
    try:
        risky, ambiguous = _shape(parsed, frozenset())
        guarded = risky or ambiguous not in FAST_TEXT_LIMITS
        literals = _required_literals(parsed, ascii_only, 1 if guarded else _MIN_LITERAL)
    except RecursionError:  # absurdly nested: no shortcuts, always guarded
        return None, 0, None, anchored, True
    if guarded:
        return None, 0, literals, anchored, True
    return program, FAST_TEXT_LIMITS[ambiguous], literals, anchored, True


# Non-ASCII characters the two fold differently against ASCII letters (the only ones: patterns
# given to RE2 are ASCII): under `re.ASCII` Python folds none, RE2 takes the Kelvin sign for k
# and the long s for s; in Unicode mode Python also takes the dotted and dotless i for i.
_FOLDED_BY_RE2_ONLY = ("\u212a", "\u017f")
_FOLDED_BY_PYTHON_ONLY = ("\u0130", "\u0131")


def _refused_by_linear(translated: str, ascii_only: bool, caseless: bool) -> tuple[str, ...]:
    """The characters a text must not hold for RE2 to judge `translated` (see
    `_FOLDED_BY_RE2_ONLY`): those it folds otherwise when the pattern is caseless, by flag
    or perhaps by an inline `(?i)` (any `(?` counts)."""
    if not (caseless or "(?" in translated):
        return ()
    return _FOLDED_BY_RE2_ONLY if ascii_only else _FOLDED_BY_PYTHON_ONLY


def _linear_program(translated: str, caseless: bool, *, capture: bool = False) -> object | None:
    """An RE2 program that matches exactly where `translated` (a pattern `re` compiles without
    a warning: `_analyse`) does on `matchers._linear_input` texts, with the same span and, with
    `capture`, the same groups (both follow Perl's leftmost-first rule); or None: RE2 missing,
    or a pattern RE2 refuses (look-arounds, back-references, possessive repeats, ...) or might
    read otherwise (non-ASCII, `{,n}` which RE2 takes literally).

    The program is the binding's own object (`re2._re2.RE2`): its `Match(anchor, bytes, pos,
    endpos)` gives byte spans, which are character offsets on ASCII texts; the `re2` module's
    wrapper would convert offsets in Python on every call, which costs more than the match."""
    if _re2 is None or not translated.isascii() or "{," in translated:
        return None
    options = _re2.Options()
    options.log_errors = False
    options.never_capture = not capture
    options.case_sensitive = not caseless
    try:
        program = _re2._re2.RE2(translated.encode(), options)
    except (_re2.error, ValueError, TypeError, AttributeError):
        return None
    return program if program.ok() else None


# OS_Regex's end anchor as `ospatrol.analysis.osregex` writes it (not after a backslash).
_OSREGEX_END = re.compile(r"(?<!\\)\(\?!\\n\)\$")


def linear_program(
    translated: str, ascii_only: bool, caseless: bool, clean: bool, capture: bool
) -> object:
    """`RegexPattern._re2_program`: the RE2 program of a pattern (`clean`: `re` compiled it
    without a warning), or False where RE2 does not take it (see `_linear_program`)."""
    if not clean:
        return False
    if not ascii_only:
        # OS_Regex's `$` ("(?!\\n)$", a look-ahead RE2 refuses) is RE2's own `$` on the texts
        # it sees (no newline). Only OS_Regex/OS_Match translations get here, and their classes
        # never hold a parenthesis.
        translated = _OSREGEX_END.sub("$", translated)
    return _linear_program(translated, caseless, capture=capture) or False


def regex_facts(translated: str, *, ascii_only: bool, caseless: bool) -> RegexFacts:
    """What a RegexPattern needs to know about `translated` (see `RegexFacts`), with its fast
    `re` program where it has one."""
    if caseless and not ascii_only and _PYTHON_ONLY_FOLDS.search(translated) is not None:
        # A Unicode pattern's own 'İ' matches only 'İ' in PCRE2 (they are only literals).
        translated = _PYTHON_ONLY_FOLDS.sub(r"(?-i:\g<0>)", translated)
    flags = (re.IGNORECASE if caseless else 0) | (re.ASCII if ascii_only else 0)
    fast, limit, literals, anchored, clean = _analyse(translated, flags, ascii_only)
    return RegexFacts(
        translated,
        fast,
        limit if fast is not None else -1,
        literals,
        anchored,
        clean,
        _refused_by_linear(translated, ascii_only, caseless),
        caseless and not anchored,
        0 if fast is None else fast.groups,
    )


# PCRE2 escapes Python spells differently, outside and inside a character class.
_PCRE2_ESCAPES = {
    "z": ("\\Z", None),  # PCRE2 \z: the very end; Python's \Z
    "Z": ("(?=\\n?\\Z)", None),  # PCRE2 \Z: the end or before a final newline
    "h": ("[ \\t\\xa0]", " \\t\\xa0"),  # 0xA0: no-break space (a byte or a character)
    "H": ("[^ \\t\\xa0]", None),
    "e": ("\\x1b", "\\x1b"),
    # Vertical white space (Python's \v is \x0b alone) and any line break sequence.
    "v": ("[\\n\\x0b\\f\\r\\x85]", "\\n\\x0b\\f\\r\\x85"),
    "V": ("[^\\n\\x0b\\f\\r\\x85]", None),
    "R": ("(?>\\r\\n|[\\n\\x0b\\f\\r\\x85])", None),  # atomic, as PCRE2's
}
_HEX_BRACED = re.compile(r"\\(?:x\{|N\{U\+)([0-9A-Fa-f]{1,6})\}")
# Leading PCRE2 option verbs ("(*UTF)", "(*UCP)", ...): Python strings are Unicode already.
_VERBS = re.compile(r"^(?:\(\*(?:UTF8?|UCP|NO_START_OPT|NO_AUTO_POSSESS)\))+")


_UNGREEDY = re.compile(r"^\(\?([a-zA-Z]*)U([a-zA-Z]*)\)")
_BRACES = re.compile(r"\{\d+(?:,\d*)?\}")


def _swap_greed(source: str) -> str:
    """PCRE2's `(?U)` (ungreedy by default) spelled without it: lazy and greedy swapped."""
    out: list[str] = []
    i, size, in_class = 0, len(source), False
    while i < size:
        char = source[i]
        if char == "\\":
            out.append(source[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = char != "]"
            out.append(char)
            i += 1
            continue
        if char == "[":
            in_class = True
            if source.startswith("]", i + 1) or source.startswith("^]", i + 1):
                out.append(source[i : i + (2 if source[i + 1] == "]" else 3)])
                i += 2 if source[i + 1] == "]" else 3
                continue
        quantifier = None
        if char in "*+?" and not (char == "?" and out and out[-1].endswith("(")):
            quantifier = char
        elif char == "{":
            braces = _BRACES.match(source, i)
            quantifier = braces.group(0) if braces else None
        if quantifier is None:
            out.append(char)
            i += 1
            continue
        out.append(quantifier)
        i += len(quantifier)
        if source.startswith("?", i):
            i += 1  # lazy under (?U) is greedy
        elif source.startswith("+", i):
            out.append("+")
            i += 1
        else:
            out.append("?")
    return "".join(out)


def translate_pcre2(source: str) -> str:
    """Rewrite the PCRE2 syntax that Python's engines spell differently (``\\z``, ``\\Z``,
    ``\\h``, ``\\e``, ``\\x{..}``, ``\\N{U+..}``, ``\\Q..\\E``, ``(?<name>``, leading
    ``(*UTF)``-style verbs, a leading ``(?U)``); the rest is left as is."""
    source = _VERBS.sub("", source)
    ungreedy = _UNGREEDY.match(source)
    if ungreedy:
        flags = ungreedy.group(1) + ungreedy.group(2)
        rest = _swap_greed(source[ungreedy.end() :])
        source = (f"(?{flags})" if flags else "") + rest
    out: list[str] = []
    i, size, in_class = 0, len(source), False
    while i < size:
        char = source[i]
        if char == "\\" and i + 1 < size:
            escaped = source[i + 1]
            if escaped == "Q":
                close = source.find("\\E", i + 2)
                literal = source[i + 2 : close if close >= 0 else size]
                out.append(re.escape(literal) if not in_class else literal.replace("]", "\\]"))
                i = close + 2 if close >= 0 else size
                continue
            braced = _HEX_BRACED.match(source, i)
            if braced:
                out.append(f"\\U{int(braced.group(1), 16):08x}")
                i = braced.end()
                continue
            outside, inside = _PCRE2_ESCAPES.get(escaped, (None, None))
            replacement = inside if in_class else outside
            out.append(replacement if replacement is not None else source[i : i + 2])
            i += 2
            continue
        if char == "[" and not in_class:
            in_class = True
            out.append(char)
            # A ']' right after '[' or '[^' is a literal member in PCRE2.
            for lead in ("^", "]"):
                if source.startswith(lead, i + 1):
                    out.append("\\]" if lead == "]" else lead)
                    i += 1
            i += 1
            continue
        if char == "]" and in_class:
            in_class = False
        elif (
            char == "("
            and not in_class
            and source.startswith("?<", i + 1)
            and source[i + 3 : i + 4].isidentifier()
        ):
            out.append("(?P<")  # named group; `re` only knows the (?P<name>...) spelling
            i += 3
            continue
        out.append(char)
        i += 1
    return "".join(out)


def compile_pcre2(
    source: str, *, timeout: float = DEFAULT_TIMEOUT, caseless: bool = True
) -> RegexPattern:
    """Compile a `<pcre2>`-family pattern (ASCII classes; caseless as OSSEC compiles it;
    `caseless=False` is Wazuh's flavour: case-sensitive, unset groups captured as "")."""
    if not source:
        # OSSEC refuses empty PCRE2 patterns (OS_REGEX_PATTERN_EMPTY).
        raise PatternError("empty pcre2 pattern")
    return RegexPattern(
        source, translate_pcre2(source), ascii_only=True, timeout=timeout, caseless=caseless
    )


LINEAR_TIME_MISSING = (
    "google-re2 is not installed (pip install 'ospatrol[fast]'): a regex that runs out of its "
    "time budget on a long line counts as not matching, so a sender who pads lines can move "
    "them to another rule"
)


def linear_time_available() -> bool:
    """True when google-re2 is installed and usable. Without it a regex that exhausts its time
    budget on a padded line counts as not matching, which a sender can use to move a line to
    another rule; the manager and `rules check` warn."""
    return _re2 is not None

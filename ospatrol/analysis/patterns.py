r"""The common face of OSSEC's three pattern dialects: one protocol, one factory.

Decoders and rules hold compiled patterns and never care which dialect they came from:

```python
log = "Failed password for root from 1.2.3.4 port 22"
pattern = compile_pattern("osregex", r"^Failed \S+ for (\S+) from (\S+)")
pattern.test(log)                    # bool; `negate` is NOT applied
found = pattern.search(log)          # Captured(groups=("root", "1.2.3.4"), end=37) or None
if found is not None:
    rest = log[found.end :]          # decoders continue after a prematch from here
```

Dialects (`kind`):

- ``"osmatch"`` -- OS_Match (`<match>`, `<program_name>`, `<hostname>`, `<url>`, `<user>`, ...):
  plain strings, ``|`` between alternatives, ``^`` and ``$`` anchors, case-insensitive. A leading
  ``!`` on the whole expression sets ``pattern.negate`` (the caller applies it). Literal
  alternatives run as ``str`` operations on the lowercased text; pass ``lowered=text.lower()`` to
  ``test`` when one event is tested against many patterns, so it is lowercased once.
- ``"osregex"`` -- OS_Regex (`<regex>`, `<prematch>`): translated to a Python regex exactly as
  OSSEC 4.x translates it to PCRE2 (``os_regex/os_converter.c``): quantifiers are lazy except at
  the end of an alternative, ``\.`` is any character, ``+``/``*`` after a plain character are
  literals, case-insensitive. Unknown escapes raise PatternError.
- ``"pcre2"`` -- `<pcre2>`, `<prematch_pcre2>`, `<match_pcre2>`, ...: PCRE2 syntax through the
  ``regex`` module, caseless, ASCII classes (analysisd compiles with PCRE2_CASELESS only, no UTF).

Captures follow OSSEC's PCRE2 path: groups that did not take part in the match are left out, so
``groups`` holds only the captured strings, in order (``(a)?(b)`` on "b" gives ``("b",)``).

Speed: literal patterns never reach a regex engine; a regex pattern first checks that a literal
every match must contain is in the lowercased text (passing ``lowered`` saves that lowercasing);
regexes that cannot backtrack badly run on ``re`` (on short texts; on an ASCII text, an
unanchored one as a case-sensitive program on the lowercased text), the rest on Google's RE2
where it is installed and takes them, else on ``regex`` with a time budget.
``pattern.required_literals`` exposes those literals so the engine can skip whole rule subtrees.

Bounded cost: texts are cut to Wazuh's OS_MAXSTR (65,536) characters (with an OSSEC rule set the
engine has cut a line to OSSEC's 6,144 bytes before: `predecode.ossec_cut`); regex patterns
that could backtrack badly (nested or many unbounded repeats), and any regex on a long text, run
on RE2 (linear time) or under a time budget.
A pattern that runs out of it counts as not matching and increments its ``timeouts`` counter,
which the engine reads to report. See :mod:`ospatrol.analysis.pcre`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, NamedTuple

if TYPE_CHECKING:
    from ospatrol.analysis.xmlload import Node
    from ospatrol.errors import InputError

PatternKind = Literal["osmatch", "osregex", "pcre2"]

# Wazuh's OS_MAXSTR: wazuh-analysisd never looks past this many bytes of a log (OSSEC 4.3's is
# 6,144: `predecode.OSSEC_MAXSTR`); here the most characters any pattern looks at.
MAX_INPUT = 65536
# Seconds one regex search may take before it is abandoned as "no match".
DEFAULT_TIMEOUT = 0.05


class PatternError(ValueError):
    """A pattern that does not compile: the message says what is wrong; the loader adds
    file and line."""


class Captured(NamedTuple):
    """A successful search: the captured groups and the offset in the text after the match.
    (A named tuple: one is built per successful search, and a frozen dataclass's
    `object.__setattr__` per field cost the engine a third of a microsecond each time.)"""

    groups: tuple[str, ...]
    end: int


class Pattern:
    """A compiled pattern of any dialect: `matchers.LiteralAlternatives` or
    `matchers.RegexPattern`. A class, not a protocol: the compiled engine knows it statically,
    so its calls of `test` and `search` are native method calls."""

    __slots__ = ("negate", "required_literals", "source", "timeouts")

    source: str
    negate: bool
    timeouts: int
    # Lowercased strings of which `text.lower()` contains at least one whenever the pattern
    # matches an ASCII text (None: no such guarantee). Lets a caller skip whole rule subtrees.
    required_literals: tuple[str, ...] | None

    def test(self, text: str, lowered: str | None = None) -> bool:
        """Whether the pattern matches `text` (negation not applied). `lowered` may carry
        `text.lower()` computed once per event: matchers use it where they can."""
        raise NotImplementedError

    def search(self, text: str, lowered: str | None = None) -> Captured | None:
        """The first match's captures and end offset, or None. `lowered` as for `test`."""
        raise NotImplementedError


def compile_pattern(
    kind: PatternKind, source: str, *, timeout: float = DEFAULT_TIMEOUT, wazuh: bool = False
) -> Pattern:
    """Compile `source` in dialect `kind`; raises PatternError when it is invalid. `wazuh`:
    as wazuh-analysisd compiles it (PCRE2 without PCRE2_CASELESS)."""
    # Imported here: the dialect modules import PatternError and Captured from this one.
    from ospatrol.analysis import osmatch, osregex, pcre

    if kind == "osmatch":
        return osmatch.compile_osmatch(source, timeout=timeout)
    if kind == "osregex":
        return osregex.compile_osregex(source, timeout=timeout)
    if kind == "pcre2":
        return pcre.compile_pcre2(source, timeout=timeout, caseless=not wazuh)
    raise PatternError(f"unknown pattern kind {kind!r} (expected osmatch, osregex or pcre2)")


def compile_element(
    kind: str, source: str, node: Node, errors: list[InputError], *, wazuh: bool = False
) -> Pattern | None:
    """`compile_pattern` for the text of a decoder or rule element: an invalid pattern is
    appended to `errors` as an InputError at the element's line, and gives None."""
    try:
        return compile_pattern(kind, source, wazuh=wazuh)  # type: ignore[arg-type]
    except PatternError as exc:
        errors.append(node.error(f"<{node.tag}>: bad pattern {source!r}: {exc}"))
        return None

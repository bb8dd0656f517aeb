"""The one secret scrubber: credentials masked before anything is stored, diffed, logged or shown.

Rules are regex data. The base rules (`checks/secrets.yml`, shipped with the package) always
run, whatever checks folder is in use, so a custom folder without `mask:` still never stores a
shadow hash in clear; a profile's own `mask:` rules (for FIM contents of the paths they name) run
after them. FIM content diffs, command outputs and the event texts built from them all go
through `Scrubber.text`; nothing else masks.

Cost: the base rules are written to be linear in the length of a line (possessive and atomic
repeats, lazy scans only from a line start; checks/secrets.yml says how) and are tested on 1 MB
lines. A profile's rules are the operator's regexes, so each application is bounded by a time-out;
a text a rule cannot finish on is replaced whole by a notice (never shown unmasked). Large texts
are scrubbed on a worker thread (`off_loop`) so one host's output never stalls the event loop.
"""

from __future__ import annotations

import asyncio
import fnmatch
import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import regex

from ospatrol.errors import InputError, InputErrors
from ospatrol.yamlfile import LineDict, load_yaml_file

T = TypeVar("T")
MASK = "***"
SECRETS_FILE = "secrets.yml"
"""The base rules' file in the shipped checks folder (not a platform profile)."""
SECRET_GROUP = "s"
"""A rule without `replace` masks this named group (the whole match if it has none)."""
RULE_TIMEOUT = 1.0
"""Seconds a profile's rule may take on one text before the text is withheld."""
THREAD_THRESHOLD = 64 * 1024
"""Characters from which `off_loop` moves the work off the event loop."""


@dataclass(frozen=True)
class ScrubRule:
    """Mask what `pattern` finds: the `s` group by `***`, or the match by the `replace` template.

    `words` (lowercase ASCII) are what every match holds: the rule then runs only on the lines
    that hold one (`to_end`: from the first such line to the end of the text, for a match that
    spans lines), which keeps a clean output's cost at a few substring searches. `paths` (globs)
    limits a profile rule to FIM contents of those files; empty: every text. `origin`
    (file:line) names the rule in notices and errors."""

    pattern: regex.Pattern[str]
    origin: str
    replace: str | None = None
    paths: tuple[str, ...] = ()
    words: tuple[str, ...] = ()
    to_end: bool = False
    bounded: bool = False
    """Base rules are linear by construction; others run under `RULE_TIMEOUT`."""

    def applies_to(self, path: str | None) -> bool:
        if not self.paths:
            return True
        return path is not None and any(fnmatch.fnmatchcase(path, g) for g in self.paths)

    def apply(self, text: str, lowered: str) -> str:
        """`text` with this rule applied; `lowered` is `text.lower()` (the same length)."""
        if not self.words:
            return self._sub(text)
        spans = self._spans(lowered)
        if not spans:
            return text
        pieces, done = [], 0
        for start, end in spans:
            pieces += (text[done:start], self._sub(text[start:end]))
            done = end
        pieces.append(text[done:])
        return "".join(pieces)

    def _spans(self, lowered: str) -> list[tuple[int, int]]:
        """The lines holding one of `words`, merged into (start, end) spans of whole lines."""
        lines: list[tuple[int, int]] = []
        size = len(lowered)
        for word in self.words:
            at = lowered.find(word)
            while at >= 0:
                start = lowered.rfind("\n", 0, at) + 1
                if self.to_end:
                    lines.append((start, size))
                    break
                end = lowered.find("\n", at)
                end = size if end < 0 else end
                lines.append((start, end))
                at = lowered.find(word, end)
        lines.sort()
        spans: list[tuple[int, int]] = []
        for start, end in lines:
            if spans and start <= spans[-1][1] + 1:
                spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
            else:
                spans.append((start, end))
        return spans

    def _sub(self, text: str) -> str:
        timeout = None if self.bounded else RULE_TIMEOUT
        if self.replace is not None:
            return self.pattern.sub(self.replace, text, timeout=timeout)
        return self.pattern.sub(self._mask, text, timeout=timeout)

    @staticmethod
    def _mask(match: regex.Match[str]) -> str:
        whole = match.group()
        if SECRET_GROUP not in match.re.groupindex:
            return MASK
        start = match.start(SECRET_GROUP)
        if start < 0:
            return whole
        offset = match.start()
        return whole[: start - offset] + MASK + whole[match.end(SECRET_GROUP) - offset :]


@dataclass(frozen=True)
class Scrubber:
    """An ordered set of rules; `text` and `data` apply those that apply to a path."""

    rules: tuple[ScrubRule, ...]

    def with_rules(self, rules: Iterable[ScrubRule]) -> Scrubber:
        """This scrubber followed by `rules` (a profile's `mask:`)."""
        return Scrubber((*self.rules, *rules))

    def text(self, text: str, path: str | None = None) -> str:
        """`text` with every secret masked; `path` selects the profile rules of a FIM file."""
        lowered = _lower(text)
        for rule in self.rules:
            if rule.applies_to(path):
                try:
                    masked = rule.apply(text, lowered)
                except TimeoutError:
                    return f"{MASK} (not shown: the mask rule at {rule.origin} took too long)"
                if masked != text:
                    text, lowered = masked, _lower(masked)
        return text

    def data(self, data: bytes, path: str | None = None) -> bytes:
        """`text` over bytes: undecodable bytes kept as they were (surrogateescape)."""
        text = data.decode("utf-8", "surrogateescape")
        return self.text(text, path).encode("utf-8", "surrogateescape")


def _lower(text: str) -> str:
    """`text.lower()` where that keeps every offset (a few characters lower to two: İ), else
    ASCII letters lowered one for one (the rules' words are ASCII)."""
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    return text.translate(_ASCII_LOWER)


_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}


async def off_loop(size: int, func: Callable[..., T], *args: Any) -> T:
    """`func(*args)`, on a worker thread when it works on `size` characters or more (scrubbing,
    normalising, diffing a large output), so other hosts' audits and time-outs keep running."""
    if size < THREAD_THRESHOLD:
        return func(*args)
    return await asyncio.to_thread(func, *args)


def parse_rules(
    value: Any,
    path: str,
    line: int | None,
    errors: list[InputError],
    *,
    section: str = "mask",
    base: bool = False,
) -> tuple[ScrubRule, ...]:
    """Rules from a YAML list of `{regex, replace?, paths?}` (base rules: `{name, regex}`);
    every error is appended to `errors` with its file and line."""
    if not isinstance(value, list):
        errors.append(InputError(f"{section}: expected a list", path, line))
        return ()
    allowed = {"name", "regex", "words", "to_end"} if base else {"paths", "regex", "replace"}
    rules: list[ScrubRule] = []
    for item in value:
        item_line = item.line if isinstance(item, LineDict) else line
        if not isinstance(item, dict) or set(item) - allowed or "regex" not in item:
            keys = ", ".join(sorted(allowed))
            errors.append(InputError(f"{section}: entries are {{{keys}}}", path, item_line))
            continue
        globs = item.get("paths", ["*"] if not base else [])
        text, replace = item.get("regex"), item.get("replace")
        if (
            not isinstance(text, str)
            or not isinstance(replace, str | None)
            or not isinstance(globs, list)
            or not all(isinstance(g, str) for g in globs)
        ):
            errors.append(
                InputError(
                    f"{section}: regex and replace are strings, paths a list of globs",
                    path,
                    item_line,
                )
            )
            continue
        try:
            pattern = regex.compile(text, regex.MULTILINE)
            if replace is not None:
                pattern.sub(replace, "")
        except (regex.error, IndexError) as exc:
            errors.append(
                InputError(f"{section}: bad regex or replacement: {exc}", path, item_line)
            )
            continue
        words = item.get("words", [])
        if not isinstance(words, list) or not all(
            isinstance(w, str) and w and w.isascii() and w == w.lower() for w in words
        ):
            errors.append(InputError(f"{section}: words are lowercase ASCII", path, item_line))
            continue
        origin = f"{path}:{item_line}" if item_line else path
        rules.append(
            ScrubRule(
                pattern,
                origin,
                replace,
                tuple(globs),
                tuple(words),
                to_end=item.get("to_end") is True,
                bounded=base,
            )
        )
    return tuple(rules)


def load_rules(file: Path) -> tuple[ScrubRule, ...]:
    """The base rules of a secrets file (`rules:`); raises `InputErrors` naming file and lines."""
    data = load_yaml_file(file)
    where = str(file)
    if not isinstance(data, LineDict) or set(data) != {"rules"}:
        raise InputError("a secrets file is a mapping with one key, rules", where, 1)
    errors: list[InputError] = []
    rules = parse_rules(
        data["rules"], where, data.line_of("rules"), errors, section="rules", base=True
    )
    if errors:
        raise InputErrors(errors)
    return rules


@functools.cache
def base_scrubber() -> Scrubber:
    """The always-on rules shipped in `checks/secrets.yml` (read once; they never change)."""
    from ospatrol.paths import data_dir

    return Scrubber(load_rules(data_dir("checks") / SECRETS_FILE))


def scrubber_for(rules: Sequence[ScrubRule]) -> Scrubber:
    """The base scrubber followed by a profile's `mask:` rules."""
    return base_scrubber().with_rules(rules) if rules else base_scrubber()

"""Host patterns as Ansible resolves `--limit`: names, globs, `~regex`, subscripts, `!`, `&`.

A pattern is split on `,` (or, when it has no comma and is not itself one address, on `:`
outside brackets). Each part is a group or host name, a shell glob or a `~regex` (matched from
the start of the name), optionally with a subscript `[0]`, `[-1]` or `[1:3]` (inclusive)
selecting from the hosts it matched; `&part` intersects and `!part` excludes. Plain parts are
applied first, then intersections, then exclusions, whatever order they were written in; with
none plain, `all` is implied. `@file` (only in `--limit`) reads one pattern a line from a file.

The resolver works on names through `PatternSource` so it can be tested without files.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from ospatrol.errors import InputError
from ospatrol.inventory.ranges import parse_address

_SUBSCRIPT = re.compile(r"(.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]")
_COLON_PARTS = re.compile(r"(?:[^\s:\[\]]|\[[^\]]*\])+")
_GLOB_CHARS = (".", "?", "*", "[")


class PatternSource(Protocol):
    """What pattern matching needs to know about an inventory, by name."""

    def group_names(self) -> Sequence[str]: ...
    def host_names(self) -> Sequence[str]: ...
    def hosts_of(self, group: str) -> list[str]:
        """The hosts of `group` and its descendants, in Ansible's order."""
        ...


def split_pattern(pattern: str) -> list[str]:
    """Split a host pattern into its parts, as Ansible does."""
    if "," in pattern:
        parts = pattern.split(",")
    elif parse_address(pattern) is not None:
        parts = [pattern]
    else:
        parts = _COLON_PARTS.findall(pattern)
    return [p.strip() for p in parts if p.strip()]


def limit_parts(pattern: str) -> list[str]:
    """The parts of a `--limit` value, with `@file` entries replaced by the file's lines."""
    parts: list[str] = []
    for part in split_pattern(pattern):
        if not part.startswith("@"):
            parts.append(part)
            continue
        path = Path(part[1:])
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read limit file: {exc}", str(path)) from None
        parts.extend(line.strip() for line in text.split("\n"))
    return parts


def order_parts(parts: list[str]) -> list[str]:
    plain = [p for p in parts if p and p[0] not in "!&"]
    intersect = [p for p in parts if p and p[0] == "&"]
    exclude = [p for p in parts if p and p[0] == "!"]
    return (plain or ["all"]) + intersect + exclude


def evaluate(parts: list[str], source: PatternSource) -> list[str]:
    """The host names the pattern parts select (in match order, without duplicates)."""
    hosts: list[str] = []
    known = set(source.host_names())
    cache: dict[str, list[str]] = {}
    for part in order_parts(parts):
        if part in known:
            hosts.append(part)
            continue
        body = part[1:] if part[0] in "!&" else part
        if body not in cache:
            cache[body] = _match_one(body, source)
        matched = cache[body]
        if part[0] == "!":
            drop = set(matched)
            hosts = [h for h in hosts if h not in drop]
        elif part[0] == "&":
            keep = set(matched)
            hosts = [h for h in hosts if h in keep]
        else:
            present = set(hosts)
            hosts.extend(h for h in matched if h not in present)
    return list(dict.fromkeys(hosts))


def _match_one(part: str, source: PatternSource) -> list[str]:
    expr, subscript = _split_subscript(part)
    regex = _compile(expr)
    hosts: list[str] = []
    groups = [g for g in source.group_names() if regex.match(g)]
    for group in groups:
        hosts.extend(source.hosts_of(group))
    if not groups or expr.startswith("~") or any(c in expr for c in _GLOB_CHARS):
        hosts.extend(h for h in source.host_names() if regex.match(h))
    if subscript is None or not hosts:
        return hosts
    start, end = subscript
    # As in Ansible, `[x:0]` is read like `[x]`.
    if not end:
        try:
            return [hosts[start]]
        except IndexError:
            raise InputError(f"no hosts matched the subscripted pattern {part!r}") from None
    if end == -1:
        end = len(hosts) - 1
    return hosts[start : end + 1]


def _split_subscript(part: str) -> tuple[str, tuple[int, int | None] | None]:
    if part.startswith("~"):
        return part, None
    m = _SUBSCRIPT.fullmatch(part)
    if not m:
        return part, None
    expr, index, start, _sep, end = m.groups()
    if index is not None:
        return expr, (int(index), None)
    return expr, (int(start), int(end) if end else -1)


def _compile(expr: str) -> re.Pattern[str]:
    try:
        if expr.startswith("~"):
            return re.compile(expr[1:])
        return re.compile(fnmatch.translate(expr))
    except re.error as exc:
        raise InputError(f"invalid host pattern {expr!r}: {exc}") from None

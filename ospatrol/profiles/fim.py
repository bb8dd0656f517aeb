"""The `fim:` section of a `checks/<platform>.yml` profile, typed.

`parse_fim` turns the section into a `FimProfile` (paths, excludes, watched attributes, hashes,
`report_changes` globs, masking rules, which remote tools to use); every error names file and
line, and all of a section's errors are reported together. Host vars (`ospatrol_fim_paths`,
`ospatrol_fim_exclude`, `ospatrol_fim_report_changes`) adjust a profile for one host with
`FimProfile.for_host`.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import PurePosixPath
from typing import Any

from ospatrol.errors import InputError, InputErrors
from ospatrol.model import Host
from ospatrol.scrub import ScrubRule, parse_rules
from ospatrol.yamlfile import LineDict

ATTRIBUTES = ("size", "mode", "owner", "group", "mtime", "inode", "link")
DEFAULT_ATTRIBUTES = ("size", "mode", "owner", "group", "link")
HASHES = ("sha256", "sha1", "md5")
TOOLS = ("gnu", "busybox", "bsd")
"""Which remote tools list and hash: GNU find/coreutils, busybox (ESXi), BSD find/stat/sha256."""
DEFAULT_MAX_CONTENT = 65536

_FIM_KEYS = (
    "paths",
    "exclude",
    "attributes",
    "hashes",
    "report_changes",
    "max_content",
    "mask",
    "tools",
)


@dataclass(frozen=True)
class FimPath:
    """A watched path; `recurse` False lists only the path and its direct children."""

    path: str
    recurse: bool = True


@dataclass(frozen=True)
class Exclude:
    """A path to skip: a glob (on the full path if it has a `/`, else on the name) or a regex."""

    pattern: str
    regex: bool = False

    def matches(self, path: str) -> bool:
        if self.regex:
            return re.search(self.pattern, path) is not None
        if "/" in self.pattern:
            return fnmatch.fnmatchcase(path, self.pattern)
        return fnmatch.fnmatchcase(PurePosixPath(path).name, self.pattern)


@dataclass(frozen=True)
class FimProfile:
    """What FIM watches on one platform (or, after `for_host`, on one host)."""

    paths: tuple[FimPath, ...]
    exclude: tuple[Exclude, ...] = ()
    attributes: tuple[str, ...] = DEFAULT_ATTRIBUTES
    hashes: tuple[str, ...] = ("sha256",)
    report_changes: tuple[str, ...] = ()
    max_content: int = DEFAULT_MAX_CONTENT
    mask: tuple[ScrubRule, ...] = ()
    """The profile's own rules, run after the base rules of checks/secrets.yml (ospatrol.scrub)."""
    tools: str = "gnu"

    @cached_property
    def _exclude_res(self) -> tuple[re.Pattern[str] | None, re.Pattern[str] | None]:
        """(on the full path, on the name): every exclude compiled into two regexes."""
        full = [
            e.pattern if e.regex else fnmatch.translate(e.pattern)
            for e in self.exclude
            if e.regex or "/" in e.pattern
        ]
        names = [
            fnmatch.translate(e.pattern)
            for e in self.exclude
            if not e.regex and "/" not in e.pattern
        ]
        return (
            re.compile("|".join(f"(?:{r})" for r in full)) if full else None,
            re.compile("|".join(f"(?:{r})" for r in names)) if names else None,
        )

    def excluded(self, path: str) -> bool:
        full, names = self._exclude_res
        if full is not None and full.search(path):
            return True
        return names is not None and names.match(path.rpartition("/")[2]) is not None

    def keeps_content(self, path: str) -> bool:
        return any(fnmatch.fnmatchcase(path, glob) for glob in self.report_changes)

    def for_host(self, host: Host) -> FimProfile:
        """This profile with the host's `ospatrol_fim_*` vars applied (paths replace, rest add)."""
        where = f"host {host.name}"
        errors: list[InputError] = []
        changes: dict[str, Any] = {}
        if "ospatrol_fim_paths" in host.vars:
            changes["paths"] = _paths(host.vars["ospatrol_fim_paths"], where, None, errors)
        if "ospatrol_fim_exclude" in host.vars:
            extra = _excludes(host.vars["ospatrol_fim_exclude"], where, None, errors)
            changes["exclude"] = self.exclude + extra
        if "ospatrol_fim_report_changes" in host.vars:
            globs = _strings(host.vars["ospatrol_fim_report_changes"], where, None, errors)
            changes["report_changes"] = self.report_changes + globs
        if errors:
            raise InputErrors([_name_var(e) for e in errors])
        return replace(self, **changes)


def _name_var(error: InputError) -> InputError:
    return InputError(f"{error.path}: {error.message}") if error.line is None else error


def _strings(value: Any, path: str, line: int | None, errors: list[InputError]) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        errors.append(InputError("expected a list of non-empty strings", path, line))
        return ()
    return tuple(value)


def _paths(
    value: Any, path: str, line: int | None, errors: list[InputError]
) -> tuple[FimPath, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        errors.append(InputError("paths: expected a non-empty list", path, line))
        return ()
    result: list[FimPath] = []
    for item in value:
        item_line = item.line if isinstance(item, LineDict) else line
        if isinstance(item, str):
            item = {"path": item}
        if not isinstance(item, dict) or not isinstance(item.get("path"), str):
            errors.append(
                InputError(
                    "paths: each entry is a path or {path: ..., recurse: ...}",
                    path,
                    item_line,
                )
            )
            continue
        unknown = set(item) - {"path", "recurse"}
        recurse = item.get("recurse", True)
        if unknown or not isinstance(recurse, bool):
            what = f"unknown key {sorted(unknown)[0]!r}" if unknown else "recurse must be a boolean"
            errors.append(InputError(f"paths: {what}", path, item_line))
            continue
        if not item["path"].startswith("/"):
            errors.append(InputError(f"paths: {item['path']!r} is not absolute", path, item_line))
            continue
        result.append(FimPath(item["path"].rstrip("/") or "/", recurse))
    return tuple(result)


def _excludes(
    value: Any, path: str, line: int | None, errors: list[InputError]
) -> tuple[Exclude, ...]:
    if isinstance(value, str | dict):
        value = [value]
    if not isinstance(value, list):
        errors.append(InputError("exclude: expected a list", path, line))
        return ()
    result: list[Exclude] = []
    for item in value:
        item_line = item.line if isinstance(item, LineDict) else line
        if isinstance(item, str) and item:
            result.append(Exclude(item))
        elif isinstance(item, dict) and set(item) == {"regex"} and isinstance(item["regex"], str):
            try:
                re.compile(item["regex"])
            except re.error as exc:
                errors.append(
                    InputError(f"exclude: bad regex {item['regex']!r}: {exc}", path, item_line)
                )
                continue
            result.append(Exclude(item["regex"], regex=True))
        else:
            errors.append(
                InputError("exclude: each entry is a glob or {regex: ...}", path, item_line)
            )
    return tuple(result)


def _choices(
    value: Any, allowed: Iterable[str], key: str, path: str, line: int | None, errors: list
) -> tuple[str, ...]:
    names = _strings(value, path, line, errors)
    bad = [n for n in names if n not in allowed]
    if bad:
        errors.append(
            InputError(f"{key}: unknown {bad[0]!r}; known: {', '.join(allowed)}", path, line)
        )
        return ()
    return names


def parse_fim(data: Any, path: str, line: int | None = None) -> FimProfile:
    """The `fim:` section of a profile file; raises `InputErrors` naming file and lines."""
    errors: list[InputError] = []
    if not isinstance(data, LineDict):
        raise InputErrors([InputError("fim: expected a mapping", path, line)])
    for key in data:
        if key not in _FIM_KEYS:
            errors.append(
                InputError(
                    f"fim: unknown key {key!r}; known: {', '.join(_FIM_KEYS)}",
                    path,
                    data.line_of(key),
                )
            )
    if "paths" not in data:
        errors.append(InputError("fim: 'paths' is required", path, data.line))
    values: dict[str, Any] = {}
    if "paths" in data:
        values["paths"] = _paths(data["paths"], path, data.line_of("paths"), errors)
    if "exclude" in data:
        values["exclude"] = _excludes(data["exclude"], path, data.line_of("exclude"), errors)
    if "attributes" in data:
        values["attributes"] = _choices(
            data["attributes"], ATTRIBUTES, "attributes", path, data.line_of("attributes"), errors
        )
    if "hashes" in data:
        hashes = _choices(data["hashes"], HASHES, "hashes", path, data.line_of("hashes"), errors)
        values["hashes"] = ("sha256", *(h for h in hashes if h != "sha256"))
    if "report_changes" in data:
        values["report_changes"] = _strings(
            data["report_changes"], path, data.line_of("report_changes"), errors
        )
    if "max_content" in data:
        cap = data["max_content"]
        if not isinstance(cap, int) or isinstance(cap, bool) or cap <= 0:
            errors.append(
                InputError(
                    "max_content: expected a positive integer", path, data.line_of("max_content")
                )
            )
        else:
            values["max_content"] = cap
    if "mask" in data:
        values["mask"] = parse_rules(data["mask"], path, data.line_of("mask"), errors)
    if "tools" in data:
        if data["tools"] not in TOOLS:
            errors.append(
                InputError(f"tools: must be one of {', '.join(TOOLS)}", path, data.line_of("tools"))
            )
        else:
            values["tools"] = data["tools"]
    if errors:
        raise InputErrors(errors)
    return FimProfile(**values)

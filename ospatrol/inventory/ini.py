"""Read Ansible INI inventories: `[group]`, `[group:vars]`, `[group:children]`, inline host vars.

Follows ansible-core's INI plugin line by line, so an inventory means the same to both tools:

- Lines before the first section are hosts of `ungrouped`; `;` and `#` start comment lines.
- A host line is split like a shell line (quotes, trailing comments); its first word is a host
  name, address with `:port`, or range; every further word must be `key=value`.
- Values, both inline and in `[g:vars]` (one `key=value` a line, everything after the first `=`),
  go through Python's `ast.literal_eval` when they parse as a literal (`22` is an int, `True` a
  bool, `[1, 2]` a list) and otherwise stay strings. ansible-core does this for `[g:vars]` too,
  whatever its documentation says; we match the program, not the prose.
- `[g:children]` and `[g:vars]` may name a group declared further down; a name still undeclared
  at the end is an error reported at the line that used it.
"""

from __future__ import annotations

import ast
import re
import shlex
import warnings
from typing import Any

from ospatrol.inventory.data import InventoryData, Origin
from ospatrol.inventory.ranges import RangeError, expand_range, split_host_port

_SECTION = re.compile(r"\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?")
_GROUP_NAME = re.compile(r"([^:\]\s]+)\s*(?:#.*)?")
_COMMENT = (";", "#")


def decode_lines(raw: bytes) -> list[str]:
    """The file's lines; undecodable comment lines become blank so line numbers stay right."""
    try:
        return raw.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        pass
    lines = []
    for line in raw.splitlines():
        if line[:1] in (b";", b"#"):
            lines.append("")
        else:
            lines.append(line.decode("utf-8", errors="replace"))
    return lines


def parse_ini(lines: list[str], path: str, data: InventoryData) -> None:
    """Add the INI inventory `lines` (read from `path`) to `data`; errors name the line."""
    pending: dict[str, dict[str, Any]] = {}
    group, state = "ungrouped", "hosts"
    for number, raw in enumerate(lines, start=1):
        origin = Origin(path, number)
        line = raw.strip()
        if not line or line.startswith(_COMMENT):
            continue
        section = _SECTION.fullmatch(line)
        if section:
            group, state = section.group(1), section.group(2) or "hosts"
            _enter_section(data, pending, group, state, origin)
            continue
        if line.startswith("[") and line.endswith("]"):
            raise origin.error(
                f"invalid section entry {line!r}: no spaces or other invalid characters allowed"
            )
        if state == "hosts":
            _parse_host_line(data, line, group, origin)
        elif state == "vars":
            key, sep, value = line.partition("=")
            if not sep:
                raise origin.error(f"expected key=value, got {line!r}")
            data.set_group_var(group, key.strip(), parse_value(value.strip()), origin)
        else:
            _parse_child_line(data, pending, line, group, origin)
    for name, decl in pending.items():
        where = Origin(path, decl["line"])
        if decl["state"] == "vars":
            raise where.error(f"section [{name}:vars] is not valid for undefined group {name!r}")
        raise where.error(
            f"section [{decl['parents'][-1]}:children] includes undefined group {name!r}"
        )


def _enter_section(
    data: InventoryData, pending: dict[str, dict[str, Any]], group: str, state: str, origin: Origin
) -> None:
    if state not in ("hosts", "children", "vars"):
        raise origin.error(f"section [{group}:{state}] has unknown type {state!r}")
    if group not in data.groups:
        # [g] and [g:children] declare a group; [g:vars] needs a declaration somewhere.
        if state == "vars" and group not in pending:
            pending[group] = {"line": origin.line, "state": state}
        data.add_group(group, origin)
    if group in pending and state != "vars":
        if pending[group]["state"] == "children":
            _resolve_children(data, pending, group, origin)
        else:
            del pending[group]


def _resolve_children(
    data: InventoryData, pending: dict[str, dict[str, Any]], group: str, origin: Origin
) -> None:
    for parent in pending[group]["parents"]:
        data.add_child(parent, group, Origin(origin.path, pending[group]["line"]))
        if parent in pending and pending[parent]["state"] == "children":
            _resolve_children(data, pending, parent, origin)
    del pending[group]


def _parse_child_line(
    data: InventoryData, pending: dict[str, dict[str, Any]], line: str, group: str, origin: Origin
) -> None:
    m = _GROUP_NAME.fullmatch(line)
    if not m:
        raise origin.error(f"expected a group name, got {line!r}")
    child = m.group(1)
    if child in data.groups:
        data.add_child(group, child, origin)
    elif child in pending:
        pending[child]["parents"].append(group)
    else:
        pending[child] = {"line": origin.line, "state": "children", "parents": [group]}


def _parse_host_line(data: InventoryData, line: str, group: str, origin: Origin) -> None:
    try:
        tokens = shlex.split(line, comments=True)
    except ValueError as exc:
        raise origin.error(f"cannot parse host line {line!r}: {exc}") from None
    if not tokens:
        return
    entries = expand_host_entry(tokens[0], origin)
    for name, port in entries:
        data.add_host(name, origin, group=group, port=port)
    variables = {}
    for token in tokens[1:]:
        key, sep, value = token.partition("=")
        if not sep:
            raise origin.error(f"expected key=value host variable, got {token!r}")
        variables[key] = parse_value(value)
    for name, _port in entries:
        for key, value in variables.items():
            data.set_host_var(name, key, value, origin)


def expand_host_entry(entry: str, origin: Origin) -> list[tuple[str, int | None]]:
    """The (name, port) pairs a host entry such as `web[01:03]:2222` stands for."""
    pattern, port = split_host_port(entry)
    if entry.strip().endswith(":") and port is None:
        raise origin.error(f"invalid host {entry!r}: a trailing ':' must be followed by a port")
    try:
        names = expand_range(pattern)
    except RangeError as exc:
        raise origin.error(f"invalid host range {entry!r}: {exc}") from None
    if "---" in (n.strip() for n in names):
        raise origin.error(f"invalid host {entry!r}: '---' is normally a sign of a YAML file")
    return [(name, port) for name in names]


def parse_value(text: str) -> Any:
    """An INI value as Ansible reads it: a Python literal when it is one, else the string."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)
            value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text
    return _plain(value)


def _plain(value: Any) -> Any:
    """Only types a YAML inventory could also hold: tuples and sets become lists, and so on."""
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if value is ...:
        return "..."
    if isinstance(value, complex):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="surrogateescape")
    return value

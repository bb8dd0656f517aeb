"""`load_inventory`: read Ansible inventory sources and resolve every host's variables.

Sources are what `ansible -i` accepts: an INI or YAML file, the JSON of `ansible-inventory
--list`, a directory of such files (read in name order, skipping hidden files, `group_vars`,
`host_vars` and Ansible's ignored extensions), or a comma-separated host list (`a,b,`).

Variable precedence is Ansible's (lowest first): the `all` group's inventory vars; the inventory
vars of the host's other groups, ordered by depth, then `ansible_group_priority`, then name;
`group_vars/all`; `group_vars/<group>` in the same group order; the host's inventory vars;
`host_vars/<host>`. Vars files are looked up beside each source (for a directory, inside it).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ospatrol.errors import InputError, InputErrors
from ospatrol.inventory.data import InventoryData, Origin, Var
from ospatrol.inventory.ini import decode_lines, parse_ini
from ospatrol.inventory.inventory import Group, Inventory
from ospatrol.inventory.platforms import build_host
from ospatrol.inventory.ranges import split_host_port
from ospatrol.inventory.varsfiles import VarsFiles
from ospatrol.inventory.yamlinv import (
    is_list_json,
    load_yaml,
    parse_list_json,
    parse_yaml_inventory,
)

log = logging.getLogger(__name__)

Source = Path | str

_YAML_SUFFIXES = (".yml", ".yaml", ".json")
# ansible-core's INVENTORY_IGNORE_EXTS and always-ignored names for files inside a directory.
_IGNORED = re.compile(
    r"^\.|^host_vars$|^group_vars$|^vars_plugins$"
    r"|(\.pyc|\.pyo|\.swp|\.bak|~|\.rpm|\.md|\.txt|\.rst|\.orig|\.cfg|\.retry)$"
)


def load_inventory(path: Source | Sequence[Source]) -> Inventory:
    """Load one inventory source or several (later sources add to earlier ones)."""
    sources = [path] if isinstance(path, (str, Path)) else list(path)
    if not sources:
        raise InputError("no inventory source given")
    data = InventoryData()
    basedirs: list[Path] = []
    for source in sources:
        basedir = _read_source(source, data)
        if basedir is not None:
            basedirs.append(basedir)
    data.reconcile()
    return _resolve(data, [VarsFiles(d) for d in basedirs])


def _read_source(source: Source, data: InventoryData) -> Path | None:
    """Read one source into `data`; return the folder its group_vars/host_vars live in."""
    path = Path(source)
    if isinstance(source, str) and "," in source and not path.exists():
        _read_host_list(source, data)
        return None
    if path.is_dir():
        _read_dir(path, data)
        return path
    if not path.exists():
        raise InputError("inventory source not found", str(path))
    _read_file(path, data)
    return path.parent


def _read_host_list(text: str, data: InventoryData) -> None:
    origin = Origin(f"<host list {text!r}>")
    for entry in text.split(","):
        entry = entry.strip()
        if entry:
            name, port = split_host_port(entry)
            data.add_host(name, origin, group="ungrouped", port=port)


def _read_dir(folder: Path, data: InventoryData) -> None:
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if _IGNORED.search(entry.name):
            continue
        if entry.is_dir():
            _read_dir(entry, data)
        else:
            _read_file(entry, data)


def _read_file(path: Path, data: InventoryData) -> None:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read: {exc}", str(path)) from None
    name, suffix = str(path), path.suffix.lower()
    if suffix == ".toml" or raw.startswith(b"#!"):
        log.warning("%s: skipped (TOML inventories and inventory scripts are not supported)", name)
        return
    yaml_error = None
    if suffix in _YAML_SUFFIXES or not suffix:
        parsed, yaml_error = _try_yaml(raw, name, suffix)
        if isinstance(parsed, dict) and parsed:
            _read_yaml(parsed, name, data)
            return
        if suffix in _YAML_SUFFIXES:
            if yaml_error is not None:
                raise yaml_error
            if parsed:
                raise InputError("a YAML inventory must be a mapping of group names", name, 1)
            return
    try:
        parse_ini(decode_lines(raw), name, data)
    except InputError:
        if yaml_error is not None and _looks_like_yaml(raw):
            raise yaml_error from None
        raise


def _try_yaml(raw: bytes, name: str, suffix: str) -> tuple[Any, InputError | None]:
    """Parse as YAML (JSON included); return the data or the error, to try INI next."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, InputError(f"not UTF-8 text: {exc}", name)
    try:
        return load_yaml(text, name), None
    except InputError as exc:
        if suffix != ".json":
            return None, exc
        # A few JSON spellings (tabs, `\/`) are not YAML 1.1; lines are lost, data is not.
        try:
            return json.loads(text), None
        except ValueError:
            return None, exc


def _read_yaml(parsed: dict, name: str, data: InventoryData) -> None:
    if "plugin" in parsed:
        log.warning("%s: skipped (inventory plugin configs are not supported)", name)
    elif is_list_json(parsed):
        parse_list_json(parsed, name, data)
    else:
        parse_yaml_inventory(parsed, name, data)


def _looks_like_yaml(raw: bytes) -> bool:
    for line in raw.decode("utf-8", errors="replace").splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";")):
            return line == "---" or line.endswith(":")
    return False


def _resolve(data: InventoryData, files: list[VarsFiles]) -> Inventory:
    def from_files(kind: str, names: Sequence[str]) -> list[dict[str, Var]]:
        """The `kind` (group_vars/host_vars) layers of `names`, source by source as Ansible."""
        return [layer for vf in files for name in names for layer in vf.vars_for(kind, name)]

    depth = data.depths()
    groups: dict[str, Group] = {}
    for name, node in data.groups.items():
        own = [node.vars, *from_files("group_vars", [name])]
        groups[name] = Group(
            name=name,
            hosts=tuple(node.hosts),
            children=tuple(node.children),
            parents=tuple(node.parents),
            vars=MappingProxyType({k: v.value for k, v in _merge(own).items()}),
            depth=depth[name],
            priority=node.priority,
        )

    all_files = from_files("group_vars", ["all"])
    hosts = {}
    origins: dict[str, dict[str, Origin]] = {}
    errors: list[InputError] = []
    for name, node in data.hosts.items():
        member_of = sorted(
            data.host_groups(name) - {"all"},
            key=lambda g: (depth[g], data.groups[g].priority, g),
        )
        layers = [
            data.groups["all"].vars,
            *(data.groups[g].vars for g in member_of),
            *all_files,
            *from_files("group_vars", member_of),
            node.vars,
            *from_files("host_vars", [name]),
        ]
        merged = _merge(layers)
        origins[name] = {k: v.origin for k, v in merged.items()}
        try:
            hosts[name] = build_host(
                name,
                tuple(sorted(member_of)),
                {k: v.value for k, v in merged.items()},
                lambda var, where=origins[name], host=node: where.get(var, host.origin),
            )
        except InputError as exc:
            errors.append(exc)
    if errors:
        raise errors[0] if len(errors) == 1 else InputErrors(errors)
    return Inventory(hosts, groups, origins)


def _merge(layers: list[dict[str, Var]]) -> dict[str, Var]:
    """Later layers win; variable names become strings (YAML allows others, JSON output not)."""
    merged: dict[str, Var] = {}
    for layer in layers:
        for key, var in layer.items():
            merged[str(key)] = var
    return merged

"""Read YAML inventories and the JSON that `ansible-inventory --list` or inventory scripts print.

YAML follows ansible-core's YAML plugin: top-level keys are groups, each a mapping of `hosts`,
`vars` and `children` nested to any depth. A host may have an empty body, a bare string stands
for a one-entry mapping, host keys may be ranges (`web[01:20]`) or carry a port, and unknown
keys in a group give a warning, not an error. Ansible's `!unsafe` tag is read as a plain string;
`!vault` values cannot be decrypted here and are refused with their line.

The `--list` JSON is recognised by its `_meta` key or by group entries whose `hosts` or
`children` are lists; groups list their hosts and children by name and `_meta.hostvars` holds
each host's variables.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import yaml

from ospatrol.errors import InputError
from ospatrol.inventory.data import InventoryData, Origin
from ospatrol.inventory.ini import expand_host_entry
from ospatrol.yamlfile import LineDict, SafeLoader, construct_line_mapping, load_yaml_text

log = logging.getLogger(__name__)

_SECTIONS = ("vars", "children", "hosts")


class VaultValue:
    """A `!vault` scalar, kept only to be refused with its line once we know where it is."""

    def __init__(self, line: int) -> None:
        self.line = line


class _InventoryLoader(SafeLoader):
    """A safe loader (libyaml's when installed: inventories get large) that keeps key lines in
    `LineDict`s, as `ospatrol.yamlfile` does, and knows the tags Ansible inventories use."""


def _unsafe(loader: _InventoryLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_mapping(node, deep=True)


def _vault(loader: _InventoryLoader, node: yaml.Node) -> VaultValue:
    return VaultValue(node.start_mark.line + 1)


_InventoryLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_line_mapping
)
_InventoryLoader.add_constructor("!unsafe", _unsafe)
_InventoryLoader.add_constructor("!vault", _vault)


def load_yaml(text: str, path: str) -> Any:
    """Parse inventory YAML; syntax errors become InputError with the line."""
    if text.lstrip().startswith("$ANSIBLE_VAULT"):
        raise InputError("vault-encrypted files are not supported; decrypt it first", path, 1)
    data = load_yaml_text(text, path, _InventoryLoader)
    _refuse_vault(data, path)
    return data


def _refuse_vault(value: Any, path: str) -> None:
    if isinstance(value, VaultValue):
        raise InputError(
            "!vault values are not supported; use a plain or !unsafe value", path, value.line
        )
    if isinstance(value, Mapping):
        for item in value.values():
            _refuse_vault(item, path)
    elif isinstance(value, list):
        for item in value:
            _refuse_vault(item, path)


def is_list_json(data: Mapping) -> bool:
    """True for the output of `ansible-inventory --list` rather than a YAML-style inventory."""
    if "_meta" in data:
        return True
    for body in data.values():
        if isinstance(body, list):
            return True
        if isinstance(body, Mapping) and any(
            isinstance(body.get(section), list) for section in ("hosts", "children")
        ):
            return True
    return False


def key_line(mapping: Any, key: Any) -> int | None:
    """The line `key` was written on in `mapping`; None when the mapping carries no lines (JSON
    that only `json` could read, an `!unsafe` mapping)."""
    return mapping.line_of(key) if isinstance(mapping, LineDict) else None


def parse_yaml_inventory(data: Mapping, path: str, inv: InventoryData) -> None:
    """Add a YAML inventory (already parsed, a mapping of groups) to `inv`."""
    for group, body in data.items():
        origin = Origin(path, key_line(data, group))
        if not isinstance(body, (Mapping, type(None))):
            log.warning("%s: skipping %r as it is not a valid group definition", origin, group)
            continue
        _parse_group(group, body, origin, inv)


def _parse_group(group: Any, body: Any, origin: Origin, inv: InventoryData) -> str:
    if not isinstance(body, (Mapping, type(None))):
        raise origin.error(f"group {group!r} must be a mapping of hosts, vars and children")
    group = inv.add_group(group, origin)
    if body is None:
        return group
    path = origin.path
    for key, section in body.items():
        where = Origin(path, key_line(body, key))
        if key in _SECTIONS and isinstance(section, str):
            section = {section: None}
        if section is None:
            continue
        if not isinstance(section, Mapping):
            if key in _SECTIONS:
                raise where.error(
                    f"{key!r} of group {group!r} must be a mapping, not {type(section).__name__}"
                )
            log.warning("%s: skipping key %r in group %r: it is not a mapping", where, key, group)
            continue
        if key == "vars":
            for var, value in section.items():
                inv.set_group_var(group, var, value, Origin(path, key_line(section, var)))
        elif key == "children":
            for child, child_body in section.items():
                child_origin = Origin(path, key_line(section, child))
                child = _parse_group(child, child_body, child_origin, inv)
                inv.add_child(group, child, child_origin)
        elif key == "hosts":
            for entry, host_vars in section.items():
                _parse_host(entry, host_vars, group, Origin(path, key_line(section, entry)), inv)
        else:
            log.warning(
                "%s: skipping unexpected key %r in group %r (only vars, children, hosts are valid)",
                where,
                key,
                group,
            )
    return group


def _parse_host(entry: Any, host_vars: Any, group: str, origin: Origin, inv: InventoryData) -> None:
    if not isinstance(entry, str):
        raise origin.error(f"host {entry!r} must be a string; quote numbers")
    host_vars = host_vars or {}
    if not isinstance(host_vars, Mapping):
        raise origin.error(f"variables of host {entry!r} must be a mapping, got {host_vars!r}")
    for name, port in expand_host_entry(entry, origin):
        inv.add_host(name, origin, group=group, port=port)
        for key, value in host_vars.items():
            inv.set_host_var(name, key, value, Origin(origin.path, key_line(host_vars, key)))


def parse_list_json(data: Mapping, path: str, inv: InventoryData) -> None:
    """Add the output of `ansible-inventory --list` (an inventory script's format) to `inv`."""
    listed: list[str] = []
    hostvars: Any = {}
    for group, body in data.items():
        origin = Origin(path, key_line(data, group))
        if group == "_meta":
            hostvars = body.get("hostvars", {}) if isinstance(body, Mapping) else None
            if not isinstance(hostvars, Mapping):
                raise origin.error("_meta.hostvars must be a mapping of host names to variables")
            continue
        _parse_list_group(group, body, origin, inv, listed)
    for host in listed:
        host_vars = hostvars.get(host) or {}
        where = Origin(path, key_line(hostvars, host))
        if not isinstance(host_vars, Mapping):
            raise where.error(f"variables of host {host!r} must be a mapping")
        for key, value in host_vars.items():
            inv.set_host_var(host, key, value, Origin(path, key_line(host_vars, key)))


def _parse_list_group(
    group: Any, body: Any, origin: Origin, inv: InventoryData, listed: list[str]
) -> None:
    group = inv.add_group(group, origin)
    if not isinstance(body, Mapping):
        body = {"hosts": body}
    elif not any(section in body for section in _SECTIONS):
        body = {"hosts": [group], "vars": body}
    hosts, group_vars, children = (
        body.get("hosts", []),
        body.get("vars", {}),
        body.get("children", []),
    )
    if not isinstance(hosts, list):
        raise origin.error(f"{group}.hosts must be a list of host names")
    if not isinstance(group_vars, Mapping):
        raise origin.error(f"{group}.vars must be a mapping")
    if not isinstance(children, list):
        raise origin.error(f"{group}.children must be a list of group names")
    for host in hosts:
        inv.add_host(host, origin, group=group)
        if host not in listed:
            listed.append(host)
    for key, value in group_vars.items():
        inv.set_group_var(group, key, value, Origin(origin.path, key_line(group_vars, key)))
    for child in children:
        inv.add_group(child, origin)
        inv.add_child(group, child, origin)

"""The inventory as the readers build it: groups, hosts, memberships and vars with their origin.

Readers (INI, YAML, `ansible-inventory --list` JSON, host lists) call the same few methods that
ansible-core's `InventoryData` offers, so membership rules are the same whatever the format:
`all` and `ungrouped` always exist, a group without parents becomes a child of `all`, a host in
no group but `all` lands in `ungrouped`, and a group may not become its own ancestor. Every
variable keeps the `Origin` (file and line) that set it, for error messages.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from ospatrol.errors import InputError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Origin:
    """Where something was written: a file (or source string) and, when known, a 1-based line."""

    path: str
    line: int | None = None

    def __str__(self) -> str:
        return self.path if self.line is None else f"{self.path}:{self.line}"

    def error(self, message: str) -> InputError:
        return InputError(message, self.path, self.line)


BUILTIN = Origin("<builtin>")
"""Origin of what Ansible's membership rules add: `all`, `ungrouped` and their links."""


@dataclass
class Var:
    value: Any
    origin: Origin


@dataclass
class GroupNode:
    name: str
    origin: Origin
    hosts: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    parents: list[str] = field(default_factory=list)
    vars: dict[str, Var] = field(default_factory=dict)
    priority: int = 1


@dataclass
class HostNode:
    name: str
    origin: Origin
    groups: list[str] = field(default_factory=list)
    vars: dict[str, Var] = field(default_factory=dict)


class InventoryData:
    """Mutable inventory under construction; `reconcile()` once every source has been read."""

    def __init__(self) -> None:
        self.groups: dict[str, GroupNode] = {}
        self.hosts: dict[str, HostNode] = {}
        self.add_group("all", BUILTIN)
        self.add_group("ungrouped", BUILTIN)
        self.add_child("all", "ungrouped", BUILTIN)

    def add_group(self, name: Any, origin: Origin) -> str:
        if not isinstance(name, str) or not name:
            raise origin.error(f"invalid group name {name!r}: expected a non-empty string")
        if name not in self.groups:
            self.groups[name] = GroupNode(name, origin)
        return name

    def add_host(
        self, name: Any, origin: Origin, group: str | None = None, port: int | None = None
    ) -> None:
        """Add host `name` (once; later mentions only add memberships) and put it in `group`.

        As in Ansible, a port written in the host entry (`web1:2222`) only counts where the
        host is first defined.
        """
        if not isinstance(name, str) or not name:
            raise origin.error(f"invalid host name {name!r}: expected a non-empty string")
        host = self.hosts.get(name)
        if host is None:
            host = self.hosts[name] = HostNode(name, origin)
            if port is not None:
                host.vars["ansible_port"] = Var(port, origin)
        if group is not None:
            node = self.groups[group]
            if name not in node.hosts:
                node.hosts.append(name)
                host.groups.append(group)

    def set_group_var(self, group: str, key: Any, value: Any, origin: Origin) -> None:
        if key == "ansible_group_priority":
            try:
                self.groups[group].priority = int(value)
            except (TypeError, ValueError):
                raise origin.error(
                    f"ansible_group_priority of group {group!r} must be an integer, got {value!r}"
                ) from None
            return
        self.groups[group].vars[key] = Var(value, origin)

    def set_host_var(self, host: str, key: Any, value: Any, origin: Origin) -> None:
        self.hosts[host].vars[key] = Var(value, origin)

    def add_child(self, parent: str, child: str, origin: Origin) -> None:
        """Make group `child` a child of group `parent`, refusing loops."""
        if child == parent:
            raise origin.error(f"group {child!r} cannot be a child of itself")
        node = self.groups[parent]
        if child in node.children:
            return
        if child in self.ancestors(parent):
            raise origin.error(
                f"adding group {child!r} as child to {parent!r} creates a dependency loop"
            )
        node.children.append(child)
        self.groups[child].parents.append(parent)

    def ancestors(self, group: str) -> set[str]:
        seen: set[str] = set()
        todo = list(self.groups[group].parents)
        while todo:
            name = todo.pop()
            if name not in seen:
                seen.add(name)
                todo.extend(self.groups[name].parents)
        return seen

    def host_groups(self, host: str) -> set[str]:
        """Every group `host` belongs to, directly or through a child group (`all` included)."""
        direct = self.hosts[host].groups
        result = set(direct)
        for group in direct:
            result |= self.ancestors(group)
        return result

    def reconcile(self) -> None:
        """Apply Ansible's membership rules once every source is read."""
        for name, node in self.groups.items():
            if name != "all" and not node.parents:
                self.add_child("all", name, BUILTIN)
        for name in self.hosts:
            groups = self.host_groups(name) - {"all"}
            if "ungrouped" in groups and groups != {"ungrouped"}:
                self._remove_from_group(name, "ungrouped")
            elif not groups:
                self.add_host(name, BUILTIN, group="ungrouped")
        for conflict in self.groups.keys() & self.hosts.keys():
            log.warning("found both a group and a host named %s", conflict)

    def _remove_from_group(self, host: str, group: str) -> None:
        self.groups[group].hosts.remove(host)
        self.hosts[host].groups.remove(group)

    def depths(self) -> dict[str, int]:
        """Each group's depth: the longest chain of parents from `all` (which is 0)."""
        depth: dict[str, int] = {}

        def visit(name: str) -> int:
            if name not in depth:
                parents = self.groups[name].parents
                depth[name] = max((visit(p) + 1 for p in parents), default=0)
            return depth[name]

        for name in self.groups:
            visit(name)
        return depth

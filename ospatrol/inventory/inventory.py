"""The loaded inventory: typed `Host` records, groups, where each variable came from, `select()`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ospatrol.inventory.data import Origin
from ospatrol.inventory.patterns import evaluate, limit_parts
from ospatrol.model import Host


@dataclass(frozen=True)
class Group:
    """One inventory group. `hosts` are its direct members in file order; `vars` are its own
    variables (inventory file, then `group_vars/` files), before any host-level resolution."""

    name: str
    hosts: tuple[str, ...] = ()
    children: tuple[str, ...] = ()
    parents: tuple[str, ...] = ()
    vars: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}), repr=False)
    depth: int = 0
    priority: int = 1


class Inventory:
    """Hosts (in the order the sources first name them) and groups (in creation order)."""

    def __init__(
        self,
        hosts: dict[str, Host],
        groups: dict[str, Group],
        origins: dict[str, dict[str, Origin]],
    ) -> None:
        self.hosts = hosts
        self.groups = groups
        self._origins = origins

    def origin(self, host: str, var: str) -> Origin | None:
        """The file and line that set the value `host` has for `var` (None if unset)."""
        return self._origins.get(host, {}).get(var)

    def select(self, pattern: str | None) -> list[Host]:
        """The hosts `--limit pattern` selects, in Ansible's order; None selects every host."""
        ordered = self.hosts_of("all")
        if pattern is not None:
            chosen = set(evaluate(limit_parts(pattern), self))
            ordered = [name for name in ordered if name in chosen]
        return [self.hosts[name] for name in ordered]

    def group_names(self) -> list[str]:
        return list(self.groups)

    def host_names(self) -> list[str]:
        return list(self.hosts)

    def hosts_of(self, group: str) -> list[str]:
        """Hosts of `group` and of its descendants, breadth first, each once.

        Ansible walks the group, then its children in order, then deeper levels; it orders
        levels below the children by set iteration, which we replace with definition order.
        """
        ordered = [group, *self.groups[group].children]
        seen = set(ordered)
        level = list(self.groups[group].children)
        while level:
            following = []
            for name in level:
                for child in self.groups[name].children:
                    if child not in seen:
                        seen.add(child)
                        ordered.append(child)
                        following.append(child)
            level = following
        hosts = (h for name in ordered for h in self.groups[name].hosts)
        return list(dict.fromkeys(hosts))

"""Ansible-compatible inventories: load YAML/INI/`--list` JSON into `ospatrol.model.Host` records.

`load_inventory(path)` reads the sources and returns an `Inventory` whose `hosts` are typed
`Host`s (address, port, platform, connection and credentials resolved once, here) and whose
`select(pattern)` applies Ansible `--limit` semantics. Modules: `ranges` (host names and
ranges), `data` (the inventory under construction), `ini` and `yamlinv` (readers),
`varsfiles` (group_vars/host_vars), `platforms` (vars to typed fields), `options` (typed
connection options), `patterns` (limit patterns), `loader` (sources and variable precedence),
`inventory` (the result).
"""

from ospatrol.inventory.data import Origin
from ospatrol.inventory.inventory import Group, Inventory
from ospatrol.inventory.loader import load_inventory
from ospatrol.inventory.platforms import CONNECTIONS, NETWORK_OS, NETWORK_PLATFORMS, PLATFORMS

__all__ = [
    "CONNECTIONS",
    "NETWORK_OS",
    "NETWORK_PLATFORMS",
    "PLATFORMS",
    "Group",
    "Inventory",
    "Origin",
    "load_inventory",
]

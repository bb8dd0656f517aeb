"""The transport table: one row per connection kind, the only place connection names are spelled.

`ospatrol.inventory.platforms` turns `ansible_connection` values into a row's key through the
row's aliases, and `open_transport` picks the class from the same row, so a connection the
inventory accepts is always one the transport layer knows. A row whose `target` is None is
accepted in inventories but has no transport yet: opening it raises `Unsupported`. The module
imports nothing heavy (no asyncssh), so loading an inventory stays cheap; classes are imported
only when a host is opened.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from ospatrol.platforms import TABLE
from ospatrol.transport.errors import Unsupported


@dataclass(frozen=True)
class Capabilities:
    """What a transport can do, so collectors choose how to batch by capability.

    `posix_shell`: commands run in a POSIX sh (scripts, `$?`, `timeout`); `files`: `read()` gives
    file bytes; `exit_status`: a command's exit status is known; `max_parallel`: commands that may
    run at once on the one connection.
    """

    posix_shell: bool
    files: bool
    exit_status: bool
    max_parallel: int


@dataclass(frozen=True)
class TransportEntry:
    """One connection kind: its `ansible_connection` spellings and its class (`module:Class`)."""

    connection: str
    aliases: tuple[str, ...]
    target: str | None


TRANSPORTS: Mapping[str, TransportEntry] = MappingProxyType(
    {
        "local": TransportEntry(
            "local", ("ansible.builtin.local",), "ospatrol.transport.local:LocalTransport"
        ),
        "ssh": TransportEntry(
            "ssh",
            (
                "ansible.builtin.ssh",
                "smart",
                "paramiko",
                "paramiko_ssh",
                "ansible.builtin.paramiko_ssh",
            ),
            "ospatrol.transport.ssh:SshTransport",
        ),
        # Network devices through their CLI (netmiko).
        "network_cli": TransportEntry(
            "network_cli",
            (
                "ansible.netcommon.network_cli",
                "netconf",
                "ansible.netcommon.netconf",
                "httpapi",
                "ansible.netcommon.httpapi",
            ),
            "ospatrol.transport.netdev:NetdevTransport",
        ),
    }
)
"""Connection kind -> its row. Read-only: a new transport is a new row here, not a runtime call."""

POSIX_SHELL_PLATFORMS = frozenset(p.name for p in TABLE if p.posix_shell)
"""Platforms whose SSH login runs a full POSIX sh (ESXi's busybox and appliances do not count)."""


def connection_spellings() -> dict[str, str]:
    """Every accepted `ansible_connection` value -> its connection kind."""
    return {
        spelling: entry.connection
        for entry in TRANSPORTS.values()
        for spelling in (entry.connection, *entry.aliases)
    }


def transport_class(connection: str, host: str) -> type:
    """The class serving `connection`; `Unsupported` when no transport serves it (yet)."""
    entry = TRANSPORTS.get(connection)
    if entry is None:
        raise Unsupported(
            f"host {host}: connection {connection!r} is not one of {', '.join(TRANSPORTS)}"
        )
    if entry.target is None:
        raise Unsupported(f"host {host}: connection {connection!r} has no transport yet")
    module, _, name = entry.target.partition(":")
    return getattr(importlib.import_module(module), name)

"""Reach a host: `open_transport(host, settings)` gives a connected `local` or `ssh` transport.

    async with open_transport(host, settings) as t:      # or: t = await open_transport(...)
        result = await t.run("uname -a", timeout=5)
        data = await t.read("/etc/hosts")

Failures are `TransportError` subclasses (`Unreachable`, `ConnectTimeout`, `CommandTimeout`,
`AuthenticationFailed`, `HostKeyChanged`, `HostKeyUnknown`), each with a `reason` ready for the
"scan incomplete" event.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from ospatrol.model import Host
from ospatrol.transport.base import CommandResult, Transport, TransportSettings
from ospatrol.transport.errors import (
    AuthenticationFailed,
    CommandTimeout,
    ConnectTimeout,
    HostKeyChanged,
    HostKeyError,
    HostKeyUnknown,
    RemoteCommandError,
    TransportError,
    Unreachable,
)
from ospatrol.transport.hostkeys import KnownHosts

__all__ = [
    "AuthenticationFailed",
    "CommandResult",
    "CommandTimeout",
    "ConnectTimeout",
    "HostKeyChanged",
    "HostKeyError",
    "HostKeyUnknown",
    "KnownHosts",
    "RemoteCommandError",
    "Transport",
    "TransportError",
    "TransportSettings",
    "Unreachable",
    "open_transport",
]

CONNECTIONS = ("ssh", "local")


class _Opening:
    """Awaitable (gives the connected transport) and async context manager (closes it)."""

    def __init__(self, host: Host, settings: TransportSettings) -> None:
        self.host = host
        self.settings = settings
        self._transport: Any = None

    async def _connect(self) -> Transport:
        if self.host.connection == "local":
            from ospatrol.transport.local import LocalTransport

            transport: Any = LocalTransport(self.host, self.settings)
        elif self.host.connection == "ssh":
            # Imported here so commands that never reach a host do not import asyncssh.
            from ospatrol.transport.ssh import SshTransport

            transport = SshTransport(self.host, self.settings)
        else:
            raise TransportError(
                f"host {self.host.name}: connection {self.host.connection!r} is not one of "
                f"{', '.join(CONNECTIONS)}"
            )
        self._transport = await transport.connect()
        return self._transport

    def __await__(self) -> Generator[Any, None, Transport]:
        return self._connect().__await__()

    async def __aenter__(self) -> Transport:
        return await self._connect()

    async def __aexit__(self, *exc: object) -> None:
        if self._transport is not None:
            await self._transport.close()


def open_transport(host: Host, settings: TransportSettings) -> _Opening:
    """Connect to `host` by its `connection` (`ssh` or `local`)."""
    return _Opening(host, settings)

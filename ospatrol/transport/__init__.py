"""Reach a host: `open_transport(host, settings)` gives a connected transport for its connection.

    async with open_transport(host, settings) as t:      # or: t = await open_transport(...)
        result = await t.run("uname -a", timeout=5)
        data = await t.read("/etc/hosts")

The class comes from the transport table (`registry.TRANSPORTS`, keyed by `Host.connection`);
a transport's `capabilities` say what it can do. Failures are `TransportError` subclasses
(`Unreachable`, `ConnectTimeout`, `CommandTimeout`, `AuthenticationFailed`, `HostKeyChanged`,
`HostKeyUnknown`, `ConfigurationError`, `Unsupported`), each with a `reason` ready for the
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
    ConfigurationError,
    ConnectTimeout,
    HostKeyChanged,
    HostKeyError,
    HostKeyUnknown,
    RemoteCommandError,
    TransportError,
    Unreachable,
    Unsupported,
)
from ospatrol.transport.registry import Capabilities, transport_class

__all__ = [
    "AuthenticationFailed",
    "Capabilities",
    "CommandResult",
    "CommandTimeout",
    "ConfigurationError",
    "ConnectTimeout",
    "HostKeyChanged",
    "HostKeyError",
    "HostKeyUnknown",
    "RemoteCommandError",
    "Transport",
    "TransportError",
    "TransportSettings",
    "Unreachable",
    "Unsupported",
    "open_transport",
]


class _Opening:
    """Awaitable (gives the connected transport) and async context manager (closes it)."""

    def __init__(self, host: Host, settings: TransportSettings) -> None:
        self.host = host
        self.settings = settings
        self._transport: Any = None

    async def _connect(self) -> Transport:
        # The class is imported only now, so commands that never reach a host skip asyncssh.
        cls = transport_class(self.host.connection, self.host.name)
        self._transport = await cls(self.host, self.settings).connect()
        return self._transport

    def __await__(self) -> Generator[Any, None, Transport]:
        return self._connect().__await__()

    async def __aenter__(self) -> Transport:
        return await self._connect()

    async def __aexit__(self, *exc: object) -> None:
        if self._transport is not None:
            await self._transport.close()


def open_transport(host: Host, settings: TransportSettings) -> _Opening:
    """Connect to `host` by its `connection`; `Unsupported` when no transport serves it yet."""
    return _Opening(host, settings)

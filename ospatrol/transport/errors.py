"""Why a host could not be reached or a command not finished: one exception type per reason.

Each carries a `kind` that starts the reason of a "scan incomplete" event (`unreachable`, `timeout`,
`authentication failed`, `configuration error`, `unsupported`, `error`). Messages name the address
and port (or the file at fault), never a credential.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ospatrol.errors import OSPatrolError

if TYPE_CHECKING:
    from ospatrol.transport.base import CommandResult


class TransportError(OSPatrolError):
    """A host could not be reached or did not complete a command."""

    kind = "error"

    @property
    def reason(self) -> str:
        """`<kind>: <detail>`, the text after `ospatrol: scan incomplete: `."""
        return f"{self.kind}: {self}"


class Unreachable(TransportError):
    """No connection: refused, no route, name does not resolve, connection lost."""

    kind = "unreachable"


class ConnectTimeout(TransportError):
    """The connection or login did not finish within the connect time-out."""

    kind = "timeout"


class CommandTimeout(TransportError):
    """A command did not finish in time; `result` holds the output received until then."""

    kind = "timeout"

    def __init__(self, message: str, result: CommandResult) -> None:
        super().__init__(message)
        self.result = result


class AuthenticationFailed(TransportError):
    """The host refused our credentials (login or become)."""

    kind = "authentication failed"


class HostKeyError(TransportError):
    """The host's key could not be verified; no credential was sent."""

    def __init__(self, message: str, address: str, port: int) -> None:
        super().__init__(message)
        self.address = address
        self.port = port


class HostKeyUnknown(HostKeyError):
    """Policy `strict` (or `system`) and no key is known for this host: not even connected."""


class HostKeyChanged(HostKeyError):
    """The host presented a key other than the pinned one; stopped during key exchange."""

    def __init__(
        self,
        address: str,
        port: int,
        expected: tuple[str, str],
        presented: tuple[str, str] | None,
    ) -> None:
        self.expected = expected
        """(algorithm, SHA256 fingerprint) of the pinned key."""
        self.presented = presented
        """(algorithm, SHA256 fingerprint) of the key the host showed (None if unseen)."""
        super().__init__(self._text(address, port), address, port)

    def _text(self, address: str, port: int) -> str:
        got = " ".join(self.presented) if self.presented else "an unverifiable key"
        return (
            f"host key changed for {address}:{port}: expected {' '.join(self.expected)}, got {got}"
        )

    @property
    def event_text(self) -> str:
        """The documented event line (docs/events.md), for the `audit` collector's finding."""
        return f"ospatrol: {self}"


class ConfigurationError(TransportError):
    """The host's settings cannot work (a missing or undecryptable key file): fix the inventory."""

    kind = "configuration error"


class Unsupported(TransportError):
    """No transport serves this host's connection (yet): one clear incomplete result."""

    kind = "unsupported"


class RemoteCommandError(TransportError):
    """A transport operation's command failed on the host (e.g. `read` of a missing file)."""

"""The `ssh` transport (asyncssh): one connection per host, commands multiplexed as sessions.

Host keys are checked before any credential leaves: asyncssh gets the pinned keys as its
`known_hosts`, so a different key aborts the key exchange (before user authentication starts),
and our client callback records the key that was presented for the `HostKeyChanged` event. With
policy `tofu` and nothing pinned, the first key seen is accepted and pinned after login;
`strict` refuses a host with no pinned key before opening a socket; `system` checks against
`~/.ssh/known_hosts` and never pins. asyncssh's exceptions are caught only here and re-raised as
ours (`from` the original); messages carry address and port, never a credential.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from pathlib import Path
from typing import Any

import asyncssh

from ospatrol.model import Host
from ospatrol.transport.base import (
    CommandResult,
    Process,
    TransportBase,
    TransportSettings,
    number_var,
)
from ospatrol.transport.errors import (
    AuthenticationFailed,
    ConnectTimeout,
    HostKeyChanged,
    HostKeyUnknown,
    TransportError,
    Unreachable,
)
from ospatrol.transport.hostkeys import POLICIES, KnownHosts, fingerprint

log = logging.getLogger(__name__)

DEFAULT_MAX_SESSIONS = 8
"""Sessions open at once on one connection (OpenSSH's MaxSessions defaults to 10)."""

# Per-host vars that override asyncssh's algorithm lists, for old devices.
ALGORITHM_VARS = {
    "ospatrol_ssh_kex_algs": "kex_algs",
    "ospatrol_ssh_encryption_algs": "encryption_algs",
    "ospatrol_ssh_mac_algs": "mac_algs",
    "ospatrol_ssh_host_key_algs": "server_host_key_algs",
}


# First contact (tofu): ask for the strongest key type first, so the key pinned is ed25519 or
# ECDSA where the host has one (asyncssh's default order starts with RSA).
FIRST_CONTACT_HOST_KEY_ALGS = (
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "rsa-sha2-512",
    "rsa-sha2-256",
    "ssh-rsa",
)


class _Client(asyncssh.SSHClient):
    """Remembers the host key presented when it was not among the pinned ones."""

    def __init__(self, accept_unknown: bool) -> None:
        self.accept_unknown = accept_unknown
        self.presented: asyncssh.SSHKey | None = None

    def validate_host_public_key(
        self, host: str, addr: str, port: int, key: asyncssh.SSHKey
    ) -> bool:
        self.presented = key
        return self.accept_unknown


# AES-GCM first (OpenSSH's `^` syntax: these, then asyncssh's defaults): with AES-NI it costs
# the controller a fraction of asyncssh's ChaCha20-Poly1305, which builds two cipher contexts per
# packet. A host's `ospatrol_ssh_encryption_algs` replaces the whole list.
DEFAULT_ENCRYPTION_ALGS = "^aes128-gcm@openssh.com,aes256-gcm@openssh.com"


def _algorithms(host: Host) -> dict[str, list[str] | str]:
    options: dict[str, list[str] | str] = {"encryption_algs": DEFAULT_ENCRYPTION_ALGS}
    for var, option in ALGORITHM_VARS.items():
        value = host.vars.get(var)
        if value is None:
            continue
        names = value.split(",") if isinstance(value, str) else list(value)
        options[option] = [str(n).strip() for n in names if str(n).strip()]
    return options


async def _nothing() -> None:
    return None


class SshTransport(TransportBase):
    """An SSH connection to one host. Use `await SshTransport(host, settings).connect()`."""

    def __init__(self, host: Host, settings: TransportSettings) -> None:
        if settings.host_key_policy_for(host) not in POLICIES:
            raise TransportError(
                f"host {host.name}: host key policy must be one of {', '.join(POLICIES)}"
            )
        super().__init__(host, settings)
        self._conn: asyncssh.SSHClientConnection | None = None
        self._sessions = asyncio.Semaphore(
            number_var(host, "ospatrol_ssh_max_sessions", DEFAULT_MAX_SESSIONS, int)
        )

    @property
    def where(self) -> str:
        return f"{self.host.address}:{self.host.port}"

    @property
    def cipher(self) -> str | None:
        """The encryption algorithm negotiated for this connection (None before `connect`)."""
        return self._conn.get_extra_info("send_cipher") if self._conn else None

    def _pinned(self, policy: str) -> list[asyncssh.SSHKey]:
        system = Path.home() / ".ssh" / "known_hosts"
        path = system if policy == "system" else self.settings.known_hosts
        return KnownHosts(path).keys_for(self.host.address, self.host.port)

    def _options(self, known: Any) -> dict[str, Any]:
        creds = self.host.credentials
        options: dict[str, Any] = {
            "known_hosts": known,
            "connect_timeout": self.settings.connect_timeout_for(self.host),
            "ignore_encrypted": True,
            **_algorithms(self.host),
        }
        if not known[0] and "server_host_key_algs" not in options:
            options["server_host_key_algs"] = list(FIRST_CONTACT_HOST_KEY_ALGS)
        if creds.user:
            options["username"] = creds.user
        if creds.password is not None:
            options["password"] = creds.password
        if creds.private_key_file:
            options["client_keys"] = [os.path.expanduser(creds.private_key_file)]
        return options

    async def connect(self) -> SshTransport:
        """Verify the host key, log in, and hold one slot of the global limit until `close`."""
        policy = self.settings.host_key_policy_for(self.host)
        pinned = self._pinned(policy)
        if not pinned and policy != "tofu":
            where = "~/.ssh/known_hosts" if policy == "system" else "the pinned keys"
            raise HostKeyUnknown(
                f"no host key for {self.where} in {where} (policy {policy}): not connecting",
                self.host.address,
                self.host.port,
            )
        client = _Client(accept_unknown=not pinned)
        await self._take_slot()
        try:
            self._conn = await self._open(client, (pinned, [], []))
        except BaseException:
            self._release_slot()
            raise
        if not pinned:
            key = self._conn.get_server_host_key()
            if key is not None:
                KnownHosts(self.settings.known_hosts).add(self.host.address, self.host.port, key)
                alg, fp = fingerprint(key)
                log.info("pinned first host key of %s: %s %s", self.where, alg, fp)
        return self

    async def _open(self, client: _Client, known: Any) -> asyncssh.SSHClientConnection:
        timeout = self.settings.connect_timeout_for(self.host)
        try:
            async with asyncio.timeout(timeout + 1):
                conn, _ = await asyncssh.create_connection(
                    lambda: client, self.host.address, self.host.port, **self._options(known)
                )
                return conn
        except asyncssh.HostKeyNotVerifiable as exc:
            expected = fingerprint(known[0][0])
            presented = fingerprint(client.presented) if client.presented else None
            raise HostKeyChanged(self.host.address, self.host.port, expected, presented) from exc
        except asyncssh.PermissionDenied as exc:
            raise AuthenticationFailed(
                f"{self.host.user or '(default user)'}@{self.where}: permission denied"
            ) from exc
        except TimeoutError as exc:
            raise ConnectTimeout(f"no login within {timeout:g} s ({self.where})") from exc
        except ConnectionRefusedError as exc:
            raise Unreachable(f"connection refused ({self.where})") from exc
        except socket.gaierror as exc:
            raise Unreachable(f"cannot resolve {self.host.address!r}: {exc.strerror}") from exc
        except OSError as exc:
            raise Unreachable(f"{exc.strerror or exc} ({self.where})") from exc
        except asyncssh.KeyExchangeFailed as exc:
            raise TransportError(f"key exchange failed with {self.where}: {exc.reason}") from exc
        except asyncssh.ConnectionLost as exc:
            raise Unreachable(f"connection closed during login ({self.where})") from exc
        except asyncssh.DisconnectError as exc:
            raise TransportError(f"{self.where} disconnected during login: {exc.reason}") from exc
        except asyncssh.Error as exc:
            raise TransportError(f"ssh error with {self.where}: {exc}") from exc

    async def _start(self, command: str) -> Process:
        assert self._conn is not None
        # Bytes, so file names that are not UTF-8 (kept as surrogates) reach the host unchanged.
        raw = command.encode("utf-8", "surrogateescape")
        proc = await self._conn.create_process(raw, encoding=None)  # type: ignore[arg-type]

        async def wait() -> tuple[int | None, str | None]:
            done = await proc.wait(check=False)
            signal_name = done.exit_signal[0] if done.exit_signal else None
            status = done.exit_status if done.exit_status is not None else None
            return (None if signal_name else status), signal_name

        def kill() -> None:
            # A signal request reaches the remote shell where sshd supports it; closing our end
            # stops the output. sshd keeps the channel until the remote process exits, so there
            # is nothing to wait for: closing the connection ends what is left.
            with contextlib.suppress(OSError, asyncssh.Error):
                proc.kill()
            proc.close()

        return Process(proc.stdin, proc.stdout, proc.stderr, wait, kill, _nothing)

    async def run(
        self, command: str, *, timeout: float | None = None, input: bytes | str | None = None
    ) -> CommandResult:
        if self._conn is None:
            raise TransportError(f"not connected to {self.where}")
        try:
            async with self._sessions:
                return await super().run(command, timeout=timeout, input=input)
        except asyncssh.ChannelOpenError as exc:
            raise TransportError(f"{self.where} refused a session: {exc.reason}") from exc
        except (asyncssh.ConnectionLost, asyncssh.DisconnectError, BrokenPipeError) as exc:
            raise Unreachable(f"connection lost ({self.where})") from exc

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
            # Closing is best effort: the peer may already be gone.
            with contextlib.suppress(TimeoutError, OSError, asyncssh.Error):
                await asyncio.wait_for(conn.wait_closed(), 5)
        await super().close()

"""The `ssh` transport (asyncssh): one connection per host, commands multiplexed as sessions.

Host keys are checked before any credential leaves: asyncssh gets the trusted keys (OSPatrol's
pins plus the host's `UserKnownHostsFile`s) as its `known_hosts` and is offered only their
algorithms, so a different key aborts the key exchange before user authentication starts; our
client callback records the key that was presented for the `HostKeyChanged` event. When the key
exchange fails against a pinned host (a server that no longer has a key of the pinned type), a
second handshake that trusts nothing learns which key it now presents: another key is a
host-key change, not an outage. With policy `tofu` and nothing known, the first key seen is
accepted and pinned after login (unless `settings.pin_host_keys` is off: a dry run); `strict`
refuses a host with no known key before opening a socket; `system` checks against
`~/.ssh/known_hosts` and never pins. Everything host-specific comes from `host.options`
(`ospatrol.inventory.options`). asyncssh's exceptions are caught only here and re-raised as ours
(`from` the original); messages carry address and port, never a credential.
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
from asyncssh.public_key import decode_ssh_public_key

from ospatrol.model import Host
from ospatrol.transport.base import (
    CommandResult,
    Process,
    TransportBase,
    TransportSettings,
)
from ospatrol.transport.errors import (
    AuthenticationFailed,
    ConfigurationError,
    ConnectTimeout,
    HostKeyChanged,
    HostKeyUnknown,
    TransportError,
    Unreachable,
)
from ospatrol.transport.hostkeys import POLICIES, KnownHosts, PinnedKey
from ospatrol.transport.registry import POSIX_SHELL_PLATFORMS, Capabilities

log = logging.getLogger(__name__)


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
    """Remembers the host key presented when it was not among the trusted ones."""

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
# packet. A host's encryption algorithms replace the whole list.
DEFAULT_ENCRYPTION_ALGS = "^aes128-gcm@openssh.com,aes256-gcm@openssh.com"

# `ospatrol_ssh_legacy_algorithms`: what old devices (IOS 12, old ASA, ScreenOS) still need,
# appended to asyncssh's defaults (`+`); an explicit list for one kind replaces this.
LEGACY_ALGORITHMS = {
    "kex_algs": "+diffie-hellman-group-exchange-sha1,diffie-hellman-group1-sha1",
    "encryption_algs": (
        "aes128-gcm@openssh.com,aes256-gcm@openssh.com,chacha20-poly1305@openssh.com,"
        "aes256-ctr,aes192-ctr,aes128-ctr,aes256-cbc,aes192-cbc,aes128-cbc,3des-cbc"
    ),
    "mac_algs": "+hmac-sha1-96,hmac-md5",
    "server_host_key_algs": "+ssh-dss",
}

# ConnectionOptions field -> asyncssh option.
_ALGORITHM_OPTIONS = {
    "kex_algs": "kex_algs",
    "encryption_algs": "encryption_algs",
    "mac_algs": "mac_algs",
    "host_key_algs": "server_host_key_algs",
}


def _algorithms(host: Host) -> dict[str, str]:
    chosen: dict[str, str] = {"encryption_algs": DEFAULT_ENCRYPTION_ALGS}
    if host.options.legacy_algorithms:
        chosen.update(LEGACY_ALGORITHMS)
    for field_name, option in _ALGORITHM_OPTIONS.items():
        names = getattr(host.options, field_name)
        if names:
            chosen[option] = ",".join(names)
    return chosen


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
        self._sessions = asyncio.Semaphore(host.options.max_sessions)
        self.capabilities = Capabilities(
            posix_shell=host.platform in POSIX_SHELL_PLATFORMS,
            files=True,
            exit_status=True,
            max_parallel=host.options.max_sessions,
        )
        self.host_guard = self.capabilities.posix_shell

    @property
    def where(self) -> str:
        return f"{self.host.address}:{self.host.port}"

    @property
    def cipher(self) -> str | None:
        """The encryption algorithm negotiated for this connection (None before `connect`)."""
        return self._conn.get_extra_info("send_cipher") if self._conn else None

    def _trusted(self, policy: str) -> list[PinnedKey]:
        """OSPatrol's pins (or `~/.ssh/known_hosts` for `system`), then the host's own
        known-hosts files (`UserKnownHostsFile`)."""
        system = Path.home() / ".ssh" / "known_hosts"
        files = [system if policy == "system" else self.settings.known_hosts]
        files += [Path(os.path.expanduser(f)) for f in self.host.options.known_hosts_files]
        address, port = self.host.address, self.host.port
        return list(
            {p.blob: p for f in files for p in KnownHosts(f).pins_for(address, port)}.values()
        )

    def _key_files(self) -> list[str]:
        """The host's key files (checked to exist, so a missing one names itself); empty lets
        asyncssh use `~/.ssh`'s defaults. asyncssh loads them (off the event loop)."""
        files = [self.host.credentials.private_key_file, *self.host.options.identity_files]
        paths = [os.path.expanduser(f) for f in files if f]
        for path in paths:
            if not os.path.exists(path):
                raise ConfigurationError(f"private key file {path} not found")
        return paths

    def _key_error(self, exc: Exception) -> ConfigurationError:
        """A key file asyncssh could not load, named, with what to fix."""
        said = str(exc).lower()
        if "passphrase" in said and self.host.options.key_passphrase is None:
            why = "it is encrypted and ansible_ssh_private_key_passphrase is not set"
        elif "passphrase" in said:
            why = "cannot decrypt it (wrong ansible_ssh_private_key_passphrase?)"
        else:
            why = f"cannot read it: {exc}"
        files = ", ".join(self._key_files())
        return ConfigurationError(f"private key file {files}: {why}")

    def _options(self, trusted: list[PinnedKey], key_files: list[str]) -> dict[str, Any]:
        creds = self.host.credentials
        known = [decode_ssh_public_key(p.blob) for p in trusted]
        options: dict[str, Any] = {
            "known_hosts": (known, [], []),
            "connect_timeout": self.settings.connect_timeout_for(self.host),
            # Our key files must load (or say why); ~/.ssh's defaults may be encrypted ones.
            "ignore_encrypted": not key_files,
            **_algorithms(self.host),
        }
        if trusted:
            # Only the known keys' types: a server without one fails the key exchange, and the
            # probe in `connect` tells a changed key from an outage.
            algs = dict.fromkeys(a for p in trusted for a in p.signature_algs)
            options["server_host_key_algs"] = list(algs)
        elif not self.host.options.host_key_algs:
            options["server_host_key_algs"] = list(FIRST_CONTACT_HOST_KEY_ALGS)
        if self.host.options.proxy_jump:
            options["tunnel"] = self.host.options.proxy_jump
        if creds.user:
            options["username"] = creds.user
        if creds.password is not None:
            options["password"] = creds.password
        if key_files:
            options["client_keys"] = key_files
            options["passphrase"] = self.host.options.key_passphrase
        return options

    async def connect(self) -> SshTransport:
        """Verify the host key, log in, and hold one slot of the global limit until `close`."""
        policy = self.settings.host_key_policy_for(self.host)
        trusted = self._trusted(policy)
        if not trusted and policy != "tofu":
            where = "~/.ssh/known_hosts" if policy == "system" else "the pinned keys"
            raise HostKeyUnknown(
                f"no host key for {self.where} in {where} (policy {policy}): not connecting",
                self.host.address,
                self.host.port,
            )
        options = self._options(trusted, self._key_files())
        client = _Client(accept_unknown=not trusted)
        await self._take_slot()
        try:
            self._conn = await self._open(client, options, trusted)
        except BaseException:
            self._release_slot()
            raise
        if not trusted:
            key = self._conn.get_server_host_key()
            if key is not None:
                pin = PinnedKey.from_blob(key.public_data)
                if self.settings.pin_host_keys:
                    KnownHosts(self.settings.known_hosts).add(
                        self.host.address, self.host.port, pin
                    )
                    log.info(
                        "pinned first host key of %s: %s %s",
                        self.where,
                        pin.algorithm,
                        pin.fingerprint,
                    )
                else:
                    log.info(
                        "first host key of %s (not pinned: dry run): %s %s",
                        self.where,
                        pin.algorithm,
                        pin.fingerprint,
                    )
        return self

    async def _open(
        self, client: _Client, options: dict[str, Any], trusted: list[PinnedKey]
    ) -> asyncssh.SSHClientConnection:
        timeout = self.settings.connect_timeout_for(self.host)
        try:
            async with asyncio.timeout(timeout + 1):
                conn, _ = await asyncssh.create_connection(
                    lambda: client, self.host.address, self.host.port, **options
                )
                return conn
        except asyncssh.HostKeyNotVerifiable as exc:
            raise self._changed(trusted, client.presented) from exc
        except asyncssh.KeyImportError as exc:
            raise self._key_error(exc) from None
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
        except ValueError as exc:
            # A wrong passphrase surfaces as cryptography's ValueError; an unknown algorithm
            # name (an inventory typo) as asyncssh's.
            if "passphrase" in str(exc).lower():
                raise self._key_error(exc) from None
            raise ConfigurationError(f"{self.where}: {exc}") from exc
        except (OSError, asyncssh.KeyExchangeFailed, asyncssh.DisconnectError) as exc:
            if trusted and client.presented is None:
                presented = await self._probe_key()
                if presented is not None and all(p.blob != presented.public_data for p in trusted):
                    raise self._changed(trusted, presented) from exc
            raise self._failed(exc) from exc
        except asyncssh.Error as exc:
            raise TransportError(f"ssh error with {self.where}: {exc}") from exc

    def _changed(
        self, trusted: list[PinnedKey], presented: asyncssh.SSHKey | None
    ) -> HostKeyChanged:
        expected = (trusted[0].algorithm, trusted[0].fingerprint)
        shown = None
        if presented is not None:
            pin = PinnedKey.from_blob(presented.public_data)
            shown = (pin.algorithm, pin.fingerprint)
        return HostKeyChanged(self.host.address, self.host.port, expected, shown)

    def _failed(self, exc: BaseException) -> TransportError:
        if isinstance(exc, asyncssh.KeyExchangeFailed):
            return TransportError(f"key exchange failed with {self.where}: {exc.reason}")
        if isinstance(exc, asyncssh.ConnectionLost):
            return Unreachable(f"connection closed during login ({self.where})")
        if isinstance(exc, asyncssh.DisconnectError):
            return TransportError(f"{self.where} disconnected during login: {exc.reason}")
        assert isinstance(exc, OSError)
        return Unreachable(f"{exc.strerror or exc} ({self.where})")

    async def _probe_key(self) -> asyncssh.SSHKey | None:
        """The host key the server presents when offered every type, trusting none (so the
        handshake stops at the key, before authentication); None if it cannot be learnt."""
        probe = _Client(accept_unknown=False)
        options = {
            "known_hosts": ([], [], []),
            "server_host_key_algs": list(FIRST_CONTACT_HOST_KEY_ALGS),
            "connect_timeout": self.settings.connect_timeout_for(self.host),
            **{k: v for k, v in _algorithms(self.host).items() if k != "server_host_key_algs"},
        }
        if self.host.options.proxy_jump:
            options["tunnel"] = self.host.options.proxy_jump
        with contextlib.suppress(OSError, asyncssh.Error, TimeoutError, ValueError):
            async with asyncio.timeout(self.settings.connect_timeout_for(self.host) + 1):
                conn, _ = await asyncssh.create_connection(
                    lambda: probe, self.host.address, self.host.port, **options
                )
                conn.close()
        return probe.presented

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

    async def open_shell(self, term_size: tuple[int, int]) -> asyncssh.SSHClientProcess:
        """An interactive shell with a PTY, text in and out (undecodable bytes kept as
        surrogates): a network device's CLI (`ospatrol.transport.devcli`)."""
        if self._conn is None:
            raise TransportError(f"not connected to {self.where}")
        try:
            return await self._conn.create_process(
                term_type="vt100", term_size=term_size, encoding="utf-8", errors="surrogateescape"
            )
        except asyncssh.ChannelOpenError as exc:
            raise TransportError(f"{self.where} refused a shell: {exc.reason}") from exc

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

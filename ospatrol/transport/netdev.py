"""Network devices (`ansible_connection: network_cli`): a CLI session per device, two drivers.

The default driver is `ospatrol.transport.devcli` (one PTY shell on the Unix hosts' asyncssh
connection, no thread, no sleep); `ospatrol_netdev_driver: netmiko` uses netmiko instead, for a
device whose quirks only netmiko's platform driver knows. This class keeps the contract (no
configuration mode, rejected commands, refused `read`) for both drivers.

With netmiko: one session per device for the transport's life: login, enable (when the inventory
asks for it, as Ansible's `ansible_become` does for network_cli), paging off (netmiko's session
preparation), then `run` sends one CLI command at a time and returns its output. The transport
never enters configuration mode: a command that would is refused before it is sent. `read` and
become are refused: a device has no files to read and no sudo.

Host keys follow the Unix path: a pinned device whose key changed stops during the key exchange,
before any credential is sent (paramiko compares the key with the pin before authenticating); a
first contact is pinned under `tofu` (unless the run is a dry run) and refused under `strict`.

netmiko blocks (its session preparation sleeps), so every call runs on `_POOL`, a thread pool
shared by the process and bounded, with netmiko's own time-outs set and an asyncio time-out
around each call. Endless output is bounded: more than `MAX_OUTPUT` bytes (or the device's
`ospatrol_netdev_max_output`) stops the command, as does the time-out, and a session the device
closed mid-output is reported as such at once, not after the time-out.
"""

from __future__ import annotations

import asyncio
import logging
import re
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from ospatrol.model import Host
from ospatrol.platforms import BY_NAME
from ospatrol.transport.base import CommandResult, TransportSettings
from ospatrol.transport.errors import (
    AuthenticationFailed,
    CommandTimeout,
    ConnectTimeout,
    HostKeyChanged,
    HostKeyUnknown,
    TransportError,
    Unreachable,
    Unsupported,
)
from ospatrol.transport.hostkeys import KnownHosts, PinnedKey
from ospatrol.transport.registry import Capabilities

log = logging.getLogger(__name__)

POOL_SIZE = 64
"""netmiko sessions driven at once by one process (above ~50 the GIL, not the devices, limits)."""
_POOL = ThreadPoolExecutor(max_workers=POOL_SIZE, thread_name_prefix="netdev")

CONFIG_MODE = re.compile(r"^\s*(conf(igure?)?(\s|$)|config\s+t|edit(\s|$))", re.IGNORECASE)
"""Commands that enter configuration mode (IOS/ASA `configure terminal`, Junos `configure`/
`edit`): never sent."""

REJECTED = re.compile(r"^(% ?Invalid input|% ?Unknown command|% ?Incomplete command|ERROR: )", re.M)
"""How devices say a command was not accepted; such output gives exit status 1."""

DELAY_FACTOR = 0.1
"""netmiko's `global_delay_factor` under `fast_cli` unless the device sets
`ospatrol_netdev_delay_factor` (scales netmiko's sleeps while it looks for prompts)."""

MAX_OUTPUT = 16 * 1024 * 1024
"""Bytes one device command may print (`ospatrol_netdev_max_output` overrides): the largest
firewall configs are a few MB; a device paging or printing without end is stopped here."""

T = TypeVar("T")
E = TypeVar("E", bound=BaseException)


class NetdevTransport:
    """Runs device CLI commands through one netmiko session."""

    capabilities = Capabilities(posix_shell=False, files=False, exit_status=False, max_parallel=1)

    def __init__(self, host: Host, settings: TransportSettings) -> None:
        platform = BY_NAME.get(host.platform)
        if platform is None or platform.netmiko is None:
            raise Unsupported(f"host {host.name}: platform {host.platform!r} has no device driver")
        self.host = host
        self.settings = settings
        self.device_type = platform.netmiko
        self.max_output = host.options.netdev_max_output or MAX_OUTPUT
        self._conn: Any = None
        self._cli: Any = None
        self._received = 0
        self._lock = asyncio.Lock()

    @property
    def where(self) -> str:
        return f"{self.host.address}:{self.host.port}"

    async def _call(self, func: Callable[..., T], *args: Any, timeout: float, **kw: Any) -> T:
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(_POOL, lambda: func(*args, **kw))
        async with asyncio.timeout(timeout):
            return await future

    async def connect(self) -> NetdevTransport:
        pins = KnownHosts(self.settings.known_hosts).pins_for(self.host.address, self.host.port)
        policy = self.host.options.host_key_policy or self.settings.host_key_policy
        if not pins and policy != "tofu":
            raise HostKeyUnknown(
                f"no host key known for {self.where} (policy {policy})",
                self.host.address,
                self.host.port,
            )
        timeout = self.settings.connect_timeout_for(self.host)
        if self.host.options.netdev_driver == "asyncssh":
            from ospatrol.transport.devcli import CliSession

            self._cli = await CliSession(self.host, self.settings, self.max_output).open()
            return self
        try:
            # netmiko's session preparation makes several reads, each bounded by `timeout`
            # (a wrong enable secret costs two): its own errors come first.
            self._conn = await self._call(self._open, pins, timeout, timeout=3 * timeout + 5)
        except TimeoutError:
            raise ConnectTimeout(f"no login to {self.where} within {timeout:g} s") from None
        return self

    def _open(self, pins: list[PinnedKey], timeout: float) -> Any:
        """Log in (blocking, on the pool) and prepare the session; pin a first-contact key."""
        import paramiko
        from netmiko.exceptions import (
            NetmikoAuthenticationException,
            NetmikoTimeoutException,
            ReadException,
        )

        creds = self.host.credentials
        params: dict[str, Any] = {
            "device_type": self.device_type,
            "host": self.host.address,
            "port": self.host.port,
            "username": creds.user or "",
            "password": creds.password or "",
            "secret": creds.enable_secret or creds.become_password or "",
            "key_file": creds.private_key_file,
            "use_keys": bool(creds.private_key_file),
            "allow_agent": False,
            "conn_timeout": timeout,
            "auth_timeout": timeout,
            "banner_timeout": timeout,
            "fast_cli": True,
            "global_delay_factor": self.host.options.netdev_delay_factor or DELAY_FACTOR,
            # Bounds netmiko's reads while it prepares the session (a device that never shows
            # a prompt); lifted once logged in, so each command gets its own time-out.
            "read_timeout_override": timeout,
            "system_host_keys": False,
        }
        if self.device_type == "cisco_asa":
            # netmiko's ASA preparation sets `terminal width` in configuration mode unless
            # told not to: this transport never enters configuration mode.
            params["allow_auto_change"] = False
        try:
            conn = self._login(params, pins)
        except HostKeyChanged:
            raise
        except NetmikoAuthenticationException as exc:
            raise AuthenticationFailed(
                f"{self.where}: login refused ({exc.__class__.__name__})"
            ) from None
        except NetmikoTimeoutException as exc:
            # netmiko reports a name that does not resolve or a refused connection as a
            # time-out too: tell them apart by what it was raised from.
            kind = (
                Unreachable
                if _in_chain(exc, OSError) or "DNS failure" in str(exc)
                else ConnectTimeout
            )
            raise kind(f"{self.where}: {_first_line(exc)}") from None
        except (OSError, paramiko.SSHException, EOFError) as exc:
            raise Unreachable(f"{self.where}: {_first_line(exc) or type(exc).__name__}") from None
        except ValueError as exc:
            # netmiko's session preparation enables with the secret when it has one.
            if "enable mode" not in str(exc):
                raise
            raise AuthenticationFailed(f"{self.where}: enable refused") from None
        except ReadException as exc:
            if _raised_in(exc, "enable"):
                # netmiko waited for a privileged prompt after sending the secret.
                raise AuthenticationFailed(f"{self.where}: enable refused") from None
            # Logged in, but netmiko's session preparation never saw what it waited for: the
            # device answers, so it is not unreachable; it is broken.
            raise TransportError(
                f"{self.where}: no CLI prompt within {timeout:g} s of login "
                f"({_first_line(exc) or type(exc).__name__})"
            ) from None
        conn.read_timeout_override = None
        # Told not to set the width, netmiko's ASA driver also stops checking each command's
        # echo; without that check a command's output can start with what is left of the
        # previous one, or be empty (measured: 42 of 500 configs cut short). Check it again.
        conn.global_cmd_verify = None
        self._bound(conn)
        try:
            if not pins:
                self._pin_first_key(conn)
            if self.host.options.enable or creds.enable_secret:
                conn.enable()
        except Exception as exc:
            conn.disconnect()
            if isinstance(exc, TransportError):
                raise
            raise AuthenticationFailed(
                f"{self.where}: enable refused ({_first_line(exc)})"
            ) from None
        return conn

    def _bound(self, conn: Any) -> None:
        """Make netmiko's reads stop at the size cap and at a closed session (it would read
        on until its time-out): every read of the session goes through here."""
        read = conn.read_channel
        channel = conn.remote_conn

        def bounded() -> str:
            data = read()
            self._received += len(data)
            if self._received > self.max_output:
                raise _TooMuch
            if not data and (channel.closed or channel.eof_received):
                raise _Closed
            return data

        conn.read_channel = bounded

    def _login(self, params: dict[str, Any], pins: list[PinnedKey]) -> Any:
        """ConnectHandler with the device's pins as the only known keys (strict), or none (a
        first contact, accepted and pinned afterwards); a changed key is `HostKeyChanged`."""
        import paramiko
        from netmiko import ConnectHandler

        with tempfile.TemporaryDirectory(prefix="ospatrol-netdev-") as scratch:
            if pins:
                known = Path(scratch) / "known_hosts"
                known.write_text(
                    "".join(p.line(self.host.address, self.host.port) + "\n" for p in pins)
                )
                params = {**params, "ssh_strict": True, "alt_host_keys": True}
                params["alt_key_file"] = str(known)
            else:
                params = {**params, "ssh_strict": False}
            try:
                return ConnectHandler(**params)
            except Exception as exc:
                # netmiko re-raises paramiko's BadHostKeyException as a time-out: find it.
                bad = _in_chain(exc, paramiko.BadHostKeyException)
                if bad is None or not pins:
                    raise
                got = PinnedKey.from_paramiko(bad.key)
                raise HostKeyChanged(
                    self.host.address,
                    self.host.port,
                    (pins[0].algorithm, pins[0].fingerprint),
                    (got.algorithm, got.fingerprint),
                ) from None

    def _pin_first_key(self, conn: Any) -> None:
        pin = PinnedKey.from_paramiko(conn.remote_conn_pre.get_transport().get_remote_server_key())
        if self.settings.pin_host_keys:
            KnownHosts(self.settings.known_hosts).add(self.host.address, self.host.port, pin)
            log.info(
                "pinned first host key of %s: %s %s", self.where, pin.algorithm, pin.fingerprint
            )

    async def run(
        self, command: str, *, timeout: float | None = None, input: bytes | str | None = None
    ) -> CommandResult:
        """Send one CLI command and wait for the prompt; exit status 1 when the device rejected
        it (`% Invalid input` ...), None when no prompt came back in time (truncated)."""
        if input is not None:
            raise Unsupported(f"{self.where}: a device CLI takes no standard input")
        if CONFIG_MODE.match(command):
            raise Unsupported(
                f"{self.where}: refusing {command!r}: never enters configuration mode"
            )
        limit = timeout if timeout is not None else self.settings.command_timeout_for(self.host)
        async with self._lock:
            if self._cli is not None:
                output = await self._cli.run(command, limit)
                return self._result(command, output)
            try:
                output = await self._call(self._send, command, limit, timeout=limit + 5)
            except TimeoutError:
                result = CommandResult(command, b"", b"", None, truncated=True)
                raise CommandTimeout(
                    f"{command!r} on {self.where}: no prompt within {limit:g} s", result
                ) from None
        return self._result(command, output)

    def _result(self, command: str, output: str) -> CommandResult:
        data = output.encode("utf-8", "surrogateescape")
        status = 1 if REJECTED.search(output) else 0
        return CommandResult(command, data, b"", status)

    def _send(self, command: str, limit: float) -> str:
        from netmiko.exceptions import ReadException, ReadTimeout

        if self._conn is None:
            raise Unreachable(f"{self.where}: the session was closed after an earlier error")
        self._received = 0
        try:
            return self._conn.send_command(command, read_timeout=limit, strip_command=True)
        except ReadTimeout:
            self._drop()
            raise TimeoutError from None
        except _TooMuch:
            self._drop()
            raise TransportError(
                f"{command!r} on {self.where}: output over the {self.max_output} byte cap (stopped)"
            ) from None
        except (_Closed, ReadException, OSError, EOFError):
            self._drop()
            raise Unreachable(
                f"{command!r} on {self.where}: the device closed the session mid-output"
            ) from None

    def _drop(self) -> None:
        """Forget a session that is out of step (half a command read): later commands fail."""
        conn, self._conn = self._conn, None
        try:
            conn.disconnect()
        except Exception:
            log.debug("closing %s", self.where, exc_info=True)

    async def read(self, path: str) -> bytes:
        raise Unsupported(f"{self.where}: a network device has no files to read ({path})")

    async def close(self) -> None:
        if self._cli is not None:
            cli, self._cli = self._cli, None
            await cli.close()
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                await self._call(conn.disconnect, timeout=10)
            except Exception:
                log.debug("closing %s", self.where, exc_info=True)

    async def __aenter__(self) -> NetdevTransport:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class _TooMuch(Exception):
    """A command's output passed the size cap."""


class _Closed(Exception):
    """The device closed the session."""


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else ""


def _raised_in(exc: BaseException, function: str) -> bool:
    """Whether `exc` went through a function named `function` (netmiko's session preparation
    enables itself: a wrong secret shows as a read time-out inside its `enable`)."""
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_name == function:
            return True
        tb = tb.tb_next
    return False


def _in_chain(exc: BaseException, kind: type[E]) -> E | None:
    """`exc` or the exception it was raised from or during, if it is a `kind`."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, kind):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None

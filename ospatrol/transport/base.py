"""The transport contract, its settings, and the process driving both transports share.

A transport runs shell commands on one host (`run`), reads files (`read`) and is closed once
(`close`, or `async with`). `local` and `ssh` differ only in how a process is started; reading its
output with a size cap, feeding its stdin, the time-out that keeps partial output and `become`
(sudo with the password fed on stdin, never on the command line) are written once, here.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import secrets
import shlex
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, Self

from ospatrol.config import Config
from ospatrol.model import Host
from ospatrol.transport.errors import (
    AuthenticationFailed,
    CommandTimeout,
    RemoteCommandError,
    TransportError,
)
from ospatrol.transport.registry import Capabilities

DEFAULT_MAX_OUTPUT = 64 * 1024 * 1024
"""Bytes kept per stream of one command; more marks the result truncated and stops the command."""

_CHUNK = 65536


@dataclass(frozen=True)
class CommandResult:
    """A finished (or stopped) command, shaped like asyncssh's and subprocess's results.

    `stdout`/`stderr` are decoded as UTF-8 with `surrogateescape`, so undecodable bytes survive
    (`stdout_bytes` gives them back exactly). `truncated` is True when output passed the cap or
    the command was stopped by its time-out: the output is then incomplete.
    """

    command: str
    stdout_bytes: bytes
    stderr_bytes: bytes
    exit_status: int | None
    exit_signal: str | None = None
    truncated: bool = False

    @property
    def stdout(self) -> str:
        return self.stdout_bytes.decode("utf-8", "surrogateescape")

    @property
    def stderr(self) -> str:
        return self.stderr_bytes.decode("utf-8", "surrogateescape")

    @property
    def returncode(self) -> int | None:
        """subprocess's convention: the exit status, or minus the signal number when known."""
        return self.exit_status

    @property
    def ok(self) -> bool:
        return self.exit_status == 0 and not self.truncated


class Transport(Protocol):
    """What collectors use to talk to a host."""

    host: Host
    capabilities: Capabilities

    async def run(
        self, command: str, *, timeout: float | None = None, input: bytes | str | None = None
    ) -> CommandResult: ...

    async def read(self, path: str) -> bytes: ...

    async def close(self) -> None: ...

    async def __aenter__(self) -> Transport: ...

    async def __aexit__(self, *exc: object) -> None: ...


@dataclass(frozen=True)
class TransportSettings:
    """Run-wide transport settings: the defaults a host's `ConnectionOptions` may override.

    `limit`, when given, is the global concurrency limit: each open transport holds one slot
    from connect to close. `known_hosts` is the pinned-keys file (`<state_dir>/known_hosts`).
    `pin_host_keys` False (a dry run, `--check`) still checks a first-contact key against the
    policy but writes no pin, so the run leaves the state dir untouched.
    """

    known_hosts: Path
    connect_timeout: float = 10.0
    command_timeout: float = 60.0
    host_key_policy: str = "tofu"
    max_output: int = DEFAULT_MAX_OUTPUT
    pin_host_keys: bool = True
    limit: asyncio.Semaphore | None = field(default=None, compare=False)

    @classmethod
    def from_config(
        cls,
        config: Config,
        *,
        limit: asyncio.Semaphore | None = None,
        pin_host_keys: bool = True,
    ) -> TransportSettings:
        return cls(
            known_hosts=config.state_dir / "known_hosts",
            connect_timeout=config.connect_timeout,
            command_timeout=config.command_timeout,
            host_key_policy=config.host_key_policy,
            pin_host_keys=pin_host_keys,
            limit=limit,
        )

    def connect_timeout_for(self, host: Host) -> float:
        return host.options.connect_timeout or self.connect_timeout

    def command_timeout_for(self, host: Host) -> float:
        return host.options.command_timeout or self.command_timeout

    def host_key_policy_for(self, host: Host) -> str:
        return host.options.host_key_policy or self.host_key_policy


# -- process driving ------------------------------------------------------------------------------


class Reader(Protocol):
    async def read(self, n: int) -> bytes: ...


class Writer(Protocol):
    def write(self, data: bytes) -> None: ...

    async def drain(self) -> None: ...

    def write_eof(self) -> None: ...


@dataclass
class Process:
    """A started process, whichever way it was started."""

    stdin: Writer
    stdout: Reader
    stderr: Reader
    wait: Callable[[], Awaitable[tuple[int | None, str | None]]]
    """Waits for the exit; returns (exit status, signal name)."""
    kill: Callable[[], None]
    reap: Callable[[], Awaitable[object]]
    """After `kill`: waits until the process (or channel) is gone."""


@dataclass(frozen=True)
class Become:
    """sudo to `user`; `password` (if any) is written to sudo's stdin after its prompt."""

    user: str = "root"
    password: str | None = field(default=None, repr=False)

    @classmethod
    def for_host(cls, host: Host) -> Become | None:
        creds = host.credentials
        if not creds.become:
            return None
        if creds.become_method != "sudo":
            raise TransportError(
                f"host {host.name}: become_method {creds.become_method!r} is not supported "
                "(only sudo: su reads its password from a terminal, not from stdin)"
            )
        return cls(user=creds.become_user or "root", password=creds.become_password)


GUARD_GRACE = 2
"""Seconds the host-side time-out waits beyond ours, so we see our time-out (with the partial
output) first and the host cleans up right after."""

# The host-side time-out, one line of POSIX sh (any login shell hands it to sh unchanged): run
# $0 (the command) under `timeout` where the host has a working one (GNU, BSD, busybox >= 1.30:
# it kills the command's whole process group), else beside a `sleep` of $1 seconds: the command
# (in a subshell, stdin passed on through fd 3) kills the sleep when it ends; a sleep that ends on
# its own (status 0) means time-out, and the whole process group (the command, its children,
# this shell) is killed. Either way nothing the command started survives it, even a reader
# blocked on a FIFO that our closed channel never reaches, and nothing is left behind after a
# command that ends in time.
_GUARD = (
    "if command -v timeout >/dev/null 2>&1 && timeout -s KILL 9 true >/dev/null 2>&1; "
    'then exec timeout -s KILL "$1" sh -c "$0"; fi; '
    'exec 3<&0; sleep "$1" </dev/null >/dev/null 2>&1 & s=$!; '
    '( sh -c "$0" <&3 3<&-; r=$?; kill "$s" 2>/dev/null; exit "$r" ) & c=$!; exec 3<&-; '
    'if wait "$s" 2>/dev/null; then kill -KILL 0; fi; wait "$c"'
)


def guard_command(command: str, seconds: float) -> str:
    """`command` bounded on the host itself: killed with its process group `GUARD_GRACE` s
    after `seconds` (our own time-out)."""
    limit = math.ceil(seconds) + GUARD_GRACE
    return f"sh -c {shlex.quote(_GUARD)} {shlex.quote(command)} {limit}"


@dataclass
class _Wrapped:
    command: str
    marker: bytes
    prompt: bytes


def wrap_become(command: str, become: Become) -> _Wrapped:
    """The sudo command line for `command`: random prompt and start marker, no secret in it.

    The inner shell first prints the marker on stderr: everything before it is sudo's (its
    prompt, its refusal), everything after is the command's.
    """
    token = secrets.token_hex(8)
    marker = f"__OSPATROL_BECOME_{token}__"
    prompt = f"__OSPATROL_PROMPT_{token}__"
    inner = f"echo {marker} >&2; {command}"
    mode = f"-S -p {prompt}" if become.password is not None else "-n"
    wrapped = f"sudo {mode} -u {shlex.quote(become.user)} -- /bin/sh -c {shlex.quote(inner)}"
    return _Wrapped(wrapped, marker.encode(), prompt.encode())


class _Output:
    """What a process wrote so far (kept when a time-out interrupts the command)."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.stdout = bytearray()
        self.stderr = bytearray()
        self.truncated = False


async def _pump(stream: Reader, buf: bytearray, out: _Output, proc: Process) -> None:
    while True:
        chunk = await stream.read(_CHUNK)
        if not chunk:
            return
        room = out.cap - len(buf)
        buf += chunk[:room]
        if len(chunk) > room:
            out.truncated = True
            proc.kill()
            return


BECOME_PREAMBLE = 65536
"""Bytes sudo may write before the start marker (its prompt, a lecture, a refusal)."""


async def _become_handshake(proc: Process, wrapped: _Wrapped, become: Become, out: _Output) -> None:
    """Answer sudo's prompt (once) and consume stderr up to the start marker."""
    seen = bytearray()
    answered = False
    while True:
        chunk = await proc.stderr.read(_CHUNK)
        if not chunk:
            said = seen.replace(wrapped.prompt, b"").decode(errors="replace").strip()
            detail = said[:200] + ("..." if len(said) > 200 else "")
            raise AuthenticationFailed(f"become (sudo) failed: {detail or 'no reason given'}")
        seen += chunk
        if len(seen) > BECOME_PREAMBLE + len(wrapped.marker):
            # Endless output before the marker: not sudo talking; stop, keep nothing of it.
            proc.kill()
            raise AuthenticationFailed(
                f"become (sudo) failed: no start marker within {BECOME_PREAMBLE} bytes"
            )
        idx = seen.find(wrapped.marker)
        if idx >= 0:
            rest = seen[idx + len(wrapped.marker) :]
            out.stderr += (rest[1:] if rest.startswith(b"\n") else rest)[: out.cap]
            return
        if seen.count(wrapped.prompt) > (1 if answered else 0):
            if answered or become.password is None:
                proc.kill()
                raise AuthenticationFailed("become (sudo) password was refused")
            proc.stdin.write(become.password.encode() + b"\n")
            await proc.stdin.drain()
            answered = True


async def drive(
    start: Callable[[str], Awaitable[Process]],
    command: str,
    *,
    timeout: float,
    input: bytes | str | None,
    become: Become | None,
    max_output: int,
    guard: bool = False,
) -> CommandResult:
    """Start `command` (via `start`), feed `input`, collect capped output within `timeout`;
    `guard` also bounds it on the host (`guard_command`: for POSIX shells)."""
    data = input.encode("utf-8", "surrogateescape") if isinstance(input, str) else input
    inner = guard_command(command, timeout) if guard else command
    wrapped = wrap_become(inner, become) if become else None
    out = _Output(max_output)
    proc: Process | None = None
    try:
        async with asyncio.timeout(timeout):
            proc = await start(wrapped.command if wrapped else inner)
            if wrapped and become:
                await _become_handshake(proc, wrapped, become, out)
            pumps = asyncio.gather(
                _pump(proc.stdout, out.stdout, out, proc),
                _pump(proc.stderr, out.stderr, out, proc),
            )
            try:
                if data:
                    proc.stdin.write(data)
                    await proc.stdin.drain()
                proc.stdin.write_eof()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the command exited without reading all its input: its exit status says why
            await pumps
            if out.truncated:
                # Killed for its output size: do not wait for an exit status that may never come.
                await _stop(proc)
                status, signal = None, None
            else:
                status, signal = await proc.wait()
    except BaseException as exc:
        if proc is not None:
            await _stop(proc)
        if isinstance(exc, TimeoutError):
            partial = CommandResult(command, bytes(out.stdout), bytes(out.stderr), None, None, True)
            raise CommandTimeout(f"command did not finish within {timeout:g} s", partial) from None
        raise
    return CommandResult(
        command, bytes(out.stdout), bytes(out.stderr), status, signal, truncated=out.truncated
    )


async def _stop(proc: Process) -> None:
    """Kill and reap (bounded), so no process or channel outlives a failed command."""
    proc.kill()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(proc.reap(), 2)


def read_command(path: str) -> str:
    return f"cat -- {shlex.quote(path)}"


def check_read(path: str, result: CommandResult) -> bytes:
    """The file's bytes from a `read_command` result, or a clear error."""
    if result.exit_status != 0 or result.truncated:
        why = "output too large" if result.truncated else result.stderr.strip() or "failed"
        raise RemoteCommandError(f"cannot read {path}: {why}")
    return result.stdout_bytes


class TransportBase:
    """What `local` and `ssh` share, none of it I/O of its own: the host's time-outs and become,
    `run` through `drive` (subclasses say how a process starts, `_start`), `read`, `async with`,
    and one slot of the global limit (`settings.limit`) held from connect to close."""

    capabilities: Capabilities
    """Set by each subclass."""
    host_guard = False
    """Bound every command on the host too (`guard_command`): where our own kill cannot reach
    the command's process group, i.e. on the far side of an SSH channel."""

    def __init__(self, host: Host, settings: TransportSettings) -> None:
        self.host = host
        self.settings = settings
        self.become = Become.for_host(host)
        self.commands_run = 0
        self._slot = False

    async def _start(self, command: str) -> Process:
        raise NotImplementedError

    async def run(
        self, command: str, *, timeout: float | None = None, input: bytes | str | None = None
    ) -> CommandResult:
        self.commands_run += 1
        limit = timeout if timeout is not None else self.settings.command_timeout_for(self.host)
        return await drive(
            self._start,
            command,
            timeout=limit,
            input=input,
            become=self.become,
            max_output=self.settings.max_output,
            guard=self.host_guard,
        )

    async def read(self, path: str) -> bytes:
        return check_read(path, await self.run(read_command(path)))

    async def _take_slot(self) -> None:
        if self.settings.limit is not None:
            await self.settings.limit.acquire()
            self._slot = True

    def _release_slot(self) -> None:
        if self._slot and self.settings.limit is not None:
            self._slot = False
            self.settings.limit.release()

    async def close(self) -> None:
        self._release_slot()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

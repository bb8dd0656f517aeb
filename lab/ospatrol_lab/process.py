"""The lab's child server processes: free ports, starting detached, waiting until ready, stopping.

`ChildServer` is the lifecycle `SshdServer`, `SwitchServer` and the device simulator's
`SimulatorProcess` share: `with` starts and stops the server, `pid` is the running child's, and
`start()` builds on `spawn_detached` and `_wait_ready`.
"""

from __future__ import annotations

import contextlib
import os
import random
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Self

STOP_TIMEOUT = 5.0
"""Seconds a child gets to exit after SIGTERM before SIGKILL."""


# Where the lab's servers listen: below the kernel's ephemeral range (32768-60999 by default).
# A port from `bind(0)` lies in that range, and once released the kernel hands it out again as
# the local port of any process's outgoing connection, so a port remembered for the next lab
# (ports.json) or picked for a server about to start could be taken by an unrelated client.
# Below the range only an explicit bind can take it.
LAB_PORTS_FLOOR = 20000
EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
PICK_ATTEMPTS = 200
# Starts of a server on a picked port: another lab may bind it between the pick and our bind.
BIND_ATTEMPTS = 5


def _lab_port_range() -> range:
    """Ports the lab picks from: [LAB_PORTS_FLOOR, start of the ephemeral range), or above the
    range when a tuned system leaves nothing below it."""
    try:
        low, high = (int(word) for word in EPHEMERAL_RANGE.read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999
    if low - LAB_PORTS_FLOOR >= 1000:
        return range(LAB_PORTS_FLOOR, low)
    if 65535 - high >= 1000:
        return range(high + 1, 65536)
    return range(1024, low)


def port_free(port: int) -> bool:
    """True when nothing holds 127.0.0.1:port (so a server of ours, which sets SO_REUSEADDR as
    sshd, Twisted and asyncio do, may bind it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def lab_ports() -> Iterator[int]:
    """PICK_ATTEMPTS random ports of the lab's range, for a server that binds them itself, one
    after the other until a bind succeeds: picking and binding in one process leaves no gap in
    which another can take the port."""
    ports = _lab_port_range()
    for _attempt in range(PICK_ATTEMPTS):
        yield random.choice(ports)


def no_lab_port() -> OSError:
    """The error once `lab_ports()` is exhausted."""
    ports = _lab_port_range()
    return OSError(f"no free port in {ports.start}-{ports.stop - 1} after {PICK_ATTEMPTS} tries")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing holds right now, outside the ephemeral range.

    Only for a server that cannot bind a port of its choosing (sshd takes its port from its
    config): another process may take the port before it is bound, so such a server must fail
    visibly on a taken port and be started again with another."""
    for port in lab_ports():
        if port_free(port):
            return port
    raise no_lab_port()


def port_accepts(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    """True when a TCP connection to host:port succeeds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def known_hosts_line(port: int, public_key: str, host: str = "127.0.0.1") -> str:
    """The known_hosts line pinning `public_key` (OpenSSH public key text) for host:port."""
    key_type, key_b64 = public_key.split()[:2]
    return f"[{host}]:{port} {key_type} {key_b64}"


def spawn_detached(
    command: list[str], log_path: Path, env: Mapping[str, str] | None = None
) -> subprocess.Popen:
    """Start `command` in its own session, stdin closed, stdout and stderr appended to `log_path`.

    Its own session: a terminal's Ctrl-C or hang-up does not reach it, only whoever stops it.
    """
    with log_path.open("ab") as log:
        return subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )


def stop_process(proc: subprocess.Popen, timeout: float = STOP_TIMEOUT) -> int:
    """SIGTERM `proc` if it still runs, SIGKILL it after `timeout` seconds; its exit status."""
    if proc.poll() is None:
        proc.terminate()
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait()


class ChildServer:
    """A server run as a child process; subclasses set `log_path` and write `start()`."""

    log_path: Path
    stop_timeout: float = STOP_TIMEOUT
    _proc: subprocess.Popen | None = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def pid(self) -> int | None:
        """The pid of the running child started by this object, if any."""
        return self._proc.pid if self._proc and self._proc.poll() is None else None

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> int | None:
        """Stop the child (SIGTERM, then SIGKILL after `stop_timeout` s) and reap it; its exit
        status, None when none was running."""
        proc, self._proc = self._proc, None
        return None if proc is None else stop_process(proc, self.stop_timeout)

    def _wait_ready(self, ready: Callable[[], bool], timeout: float, interval: float) -> bool:
        """Poll the started child until `ready()`: True. False when the child exited first (it
        is forgotten). After `timeout` seconds the child is stopped and TimeoutError raised."""
        assert self._proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self._proc = None
                return False
            if ready():
                return True
            time.sleep(interval)
        self.stop()
        raise TimeoutError(f"not ready within {timeout:g} s")

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def write_atomic(path: Path, text: str, mode: int = 0o644) -> None:
    """Replace `path` with `text` in one rename; the new file is never readable beyond `mode`
    (it is created with it, not chmod-ed afterwards), which matters for files holding passwords."""
    tmp = path.with_name(path.name + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.chmod(tmp, mode)  # the umask may have narrowed it
    os.replace(tmp, path)

"""Helpers for the `ospatrol audit` end-to-end tests: the CLI as a subprocess, inventories written
per test, and a misbehaving SSH peer (garbage output, a command that hangs) on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncssh
import pytest
import yaml

CLI_TIMEOUT = 120


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> dict[str, Any]:
        return json.loads(self.stdout)


def run_cli(state_dir: Path, *args: str, home: Path | None = None) -> CliResult:
    """`ospatrol --state-dir STATE ARGS...` in a clean environment (no ssh-agent, own HOME)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SSH_", "OSPATROL_"))}
    env["HOME"] = str(home or state_dir.parent)
    proc = subprocess.run(
        [sys.executable, "-m", "ospatrol", "--state-dir", str(state_dir), *args],
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        env=env,
        check=False,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def write_inventory(path: Path, hosts: dict[str, dict[str, Any]]) -> Path:
    path.write_text(yaml.safe_dump({"all": {"hosts": hosts}}, sort_keys=False))
    return path


def lab_host(sshd: Any, **extra: Any) -> dict[str, Any]:
    """Inventory vars reaching the lab sshd `sshd` with its client key."""
    return {
        "ansible_host": "127.0.0.1",
        "ansible_port": sshd.port,
        "ansible_user": sshd.user,
        "ansible_ssh_private_key_file": str(sshd.client_key),
        **extra,
    }


def write_checks(folder: Path, commands: list[Any], platform: str = "linux") -> Path:
    """A checks folder whose `<platform>.yml` holds only a `commands:` section."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{platform}.yml").write_text(yaml.safe_dump({"commands": commands}))
    return folder


def host(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(h for h in report["hosts"] if h["name"] == name)


GARBAGE = "\x1b[2J\r\n% Invalid input detected at '^' marker.\r\nLogin: \x00\xff<html>\r\n"


class _AnyKeyServer(asyncssh.SSHServer):
    def begin_auth(self, username: str) -> bool:
        return True

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        return True


async def _handle(process: asyncssh.SSHServerProcess) -> None:
    """User `garbage`: prints noise for any command. User `hang`: starts answering, then hangs."""
    user = process.get_extra_info("username")
    if user == "garbage":
        process.stdout.write(GARBAGE)
        process.exit(0)
        return
    process.stdout.write("__OSPATROL_partial BEGIN 0\nsomething\n")
    await asyncio.sleep(3600)


@dataclass
class MisbehavingSsh:
    port: int
    loop: asyncio.AbstractEventLoop


@pytest.fixture(scope="session")
def misbehaving_ssh() -> Iterator[MisbehavingSsh]:
    """An SSH server on 127.0.0.1 accepting any key whose commands print garbage or hang."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    key = asyncssh.generate_private_key("ssh-ed25519")

    async def start() -> asyncssh.SSHAcceptor:
        return await asyncssh.create_server(
            _AnyKeyServer, "127.0.0.1", 0, server_host_keys=[key], process_factory=_handle
        )

    server = asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    yield MisbehavingSsh(server.sockets[0].getsockname()[1], loop)
    server.close()

    async def cancel_sessions() -> None:
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run_coroutine_threadsafe(cancel_sessions(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)

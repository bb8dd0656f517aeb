"""Nothing outlives a command's time-out on the host: `timeout` there, else a process-group kill."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from ospatrol.transport import CommandTimeout, open_transport
from ospatrol.transport.base import guard_command


def _running(pattern: str) -> list[str]:
    ps = subprocess.run(
        ["ps", "-ww", "-eo", "pid,args"], capture_output=True, text=True, check=True
    )
    return [line for line in ps.stdout.splitlines() if pattern in line and "ps -ww" not in line]


def _gone(pattern: str, within: float) -> bool:
    deadline = time.monotonic() + within
    while _running(pattern):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_a_hash_blocked_on_a_fifo_does_not_survive_the_time_out(
    ssh_host, settings, lab_sshd, tmp_path: Path
):
    fifo = tmp_path / "trap-fifo"
    os.mkfifo(fifo)

    async def scenario():
        async with open_transport(ssh_host(lab_sshd), settings(tmp_path, pin=lab_sshd)) as t:
            with pytest.raises(CommandTimeout):
                # A compound command, as FIM's hashing is: a signal to the shell alone misses it.
                await t.run(f"sha256sum {fifo} | cat", timeout=0.5)
            return (await t.run("echo still usable")).stdout

    assert asyncio.run(scenario()) == "still usable\n"
    # The channel is closed at our time-out; the host's own time-out follows within seconds.
    assert _gone(f"sha256sum {fifo}", within=6), _running(str(fifo))


def test_without_timeout_on_the_host_the_watchdog_kills_the_process_group(tmp_path: Path):
    # A host without `timeout`: a PATH holding only sh and the tools the command uses.
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("sh", "sleep", "sha256sum", "cat"):
        (bindir / tool).symlink_to(shutil.which(tool))
    fifo = tmp_path / "fifo-nohost-timeout"
    os.mkfifo(fifo)
    env = {"PATH": str(bindir)}
    started = time.monotonic()
    proc = subprocess.run(
        guard_command(f"sha256sum {fifo} | cat", 0.2),
        shell=True,
        executable=str(bindir / "sh"),
        env=env,
        capture_output=True,
        timeout=20,
        start_new_session=True,
    )
    assert proc.returncode == -9  # the whole group, the guard included, got SIGKILL
    assert time.monotonic() - started < 6
    assert _gone(str(fifo), within=2), _running(str(fifo))


def test_a_command_that_ends_leaves_no_watchdog_behind(tmp_path: Path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("sh", "sleep", "cat"):
        (bindir / tool).symlink_to(shutil.which(tool))
    started = time.monotonic()
    proc = subprocess.run(
        guard_command("echo out; echo err >&2; cat; exit 3", 300),
        input=b"fed\n",
        shell=True,
        executable=str(bindir / "sh"),
        env={"PATH": str(bindir)},
        capture_output=True,
        timeout=20,
    )
    # Exit status, both streams and stdin pass through the guard untouched.
    assert (proc.returncode, proc.stdout, proc.stderr) == (3, b"out\nfed\n", b"err\n")
    assert time.monotonic() - started < 3
    assert _gone("sleep 302", within=2)

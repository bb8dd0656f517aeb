"""The local transport, the global concurrency limit, settings from config and host vars, become."""

from __future__ import annotations

import asyncio
import gc
import shlex
import shutil
import sys
import time
import warnings
from pathlib import Path

import pytest

from ospatrol.config import Config
from ospatrol.inventory.options import ConnectionOptions
from ospatrol.model import Credentials, Host
from ospatrol.transport import (
    AuthenticationFailed,
    CommandTimeout,
    TransportError,
    TransportSettings,
    open_transport,
)


def local_host(**kw) -> Host:
    return Host(name="me", address="localhost", connection="local", **kw)


def test_local_run_read_timeout(tmp_path: Path):
    target = tmp_path / "it's a file"
    target.write_bytes(b"\xff\x00data")
    st = TransportSettings(known_hosts=tmp_path / "kh")

    async def scenario():
        async with open_transport(local_host(), st) as t:
            ran = await t.run("printf 'a\\nb'; exit 2")
            data = await t.read(str(target))
            with pytest.raises(CommandTimeout) as info:
                await t.run("echo partial; sleep 10", timeout=0.3)
            return ran, data, info.value

    started = time.monotonic()
    ran, data, timeout = asyncio.run(scenario())
    assert time.monotonic() - started < 3
    assert (ran.stdout, ran.exit_status) == ("a\nb", 2)
    assert data == b"\xff\x00data"
    assert timeout.result.stdout == "partial\n"


def test_settings_come_from_config_and_host_options_override(tmp_path: Path):
    config = Config(state_dir=tmp_path, connect_timeout=3, command_timeout=7)
    st = TransportSettings.from_config(config)
    assert st.known_hosts == tmp_path / "known_hosts" and st.pin_host_keys
    plain = local_host()
    tuned = local_host(options=ConnectionOptions(command_timeout=0.5, host_key_policy="strict"))
    assert st.command_timeout_for(plain) == 7 and st.connect_timeout_for(plain) == 3
    assert st.command_timeout_for(tuned) == 0.5 and st.connect_timeout_for(tuned) == 3
    assert (st.host_key_policy_for(plain), st.host_key_policy_for(tuned)) == ("tofu", "strict")
    # Raw vars are the inventory's business: a transport never reads them.
    ignored = local_host(vars={"ospatrol_command_timeout": "soon"})
    assert st.command_timeout_for(ignored) == 7


def test_global_limit_holds_a_slot_per_open_transport(tmp_path: Path):
    async def scenario():
        limit = asyncio.Semaphore(1)
        st = TransportSettings(known_hosts=tmp_path / "kh", limit=limit)
        first = await open_transport(local_host(), st)
        second = asyncio.ensure_future(open_transport(local_host(), st).__aenter__())
        await asyncio.sleep(0.1)
        blocked = not second.done()
        await first.close()
        other = await asyncio.wait_for(second, 2)
        await other.close()
        return blocked, limit.locked()

    assert asyncio.run(scenario()) == (True, False)


def test_unknown_connection_and_su_are_refused(tmp_path: Path):
    st = TransportSettings(known_hosts=tmp_path / "kh")

    async def connect(host: Host):
        return await open_transport(host, st)

    with pytest.raises(TransportError, match="connection 'winrm'"):
        asyncio.run(connect(Host("x", "y", connection="winrm")))
    su = local_host(credentials=Credentials(become=True, become_method="su"))
    with pytest.raises(TransportError, match="only sudo"):
        asyncio.run(connect(su))


@pytest.mark.skipif(shutil.which("sudo") is None, reason="sudo is not installed")
def test_become_with_sudo(tmp_path: Path):
    st = TransportSettings(known_hosts=tmp_path / "kh")
    host = local_host(credentials=Credentials(become=True, become_user="root"))

    async def scenario():
        async with open_transport(host, st) as t:
            return await t.run("id -u; cat", input="fed\n")

    try:
        result = asyncio.run(scenario())
    except AuthenticationFailed:
        pytest.skip("sudo needs a password for this user")
    assert result.stdout == "0\nfed\n"


FAKE_SUDO = """#!/bin/sh
# Stands in for sudo (not installed here): the real protocol of `sudo -S -p PROMPT` / `sudo -n`.
printf '%s\\n' "$*" >> "{log}"
prompt=""; nonint=0
while [ $# -gt 0 ]; do
  case "$1" in
    -S) shift;;
    -p) prompt="$2"; shift 2;;
    -n) nonint=1; shift;;
    -u) shift 2;;
    --) shift; break;;
    *) break;;
  esac
done
if [ $nonint = 1 ]; then echo "sudo: a password is required" >&2; exit 1; fi
printf '%s' "$prompt" >&2
IFS= read -r pw
if [ "$pw" != "{password}" ]; then
  echo "Sorry, try again." >&2; printf '%s' "$prompt" >&2; IFS= read -r pw; exit 1
fi
exec "$@"
"""


@pytest.fixture
def fake_sudo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "sudo.log"
    script = bindir / "sudo"
    script.write_text(FAKE_SUDO.format(log=log, password="pw-right"))
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:/usr/bin:/bin")
    return log


@pytest.mark.parametrize(
    ("password", "outcome"),
    [("pw-right", "ok"), ("pw-wrong", "password was refused"), (None, "a password is required")],
)
def test_become_feeds_the_password_on_stdin_only(
    fake_sudo: Path, tmp_path: Path, password, outcome
):
    st = TransportSettings(known_hosts=tmp_path / "kh")
    creds = Credentials(become=True, become_password=password)

    async def scenario():
        async with open_transport(local_host(credentials=creds), st) as t:
            return await t.run("echo out; echo err >&2; cat", input="fed\n", timeout=5)

    if outcome == "ok":
        result = asyncio.run(scenario())
        assert (result.stdout, result.stderr, result.exit_status) == ("out\nfed\n", "err\n", 0)
    else:
        with pytest.raises(AuthenticationFailed, match=outcome) as info:
            asyncio.run(scenario())
        assert "pw-" not in str(info.value)
    assert "pw-" not in fake_sudo.read_text()  # never on the command line


def test_local_output_cap_stops_an_endless_command(tmp_path: Path):
    st = TransportSettings(known_hosts=tmp_path / "kh", max_output=4096)

    async def scenario():
        async with open_transport(local_host(), st) as t:
            return await t.run("yes", timeout=20)

    started = time.monotonic()
    result = asyncio.run(scenario())
    assert time.monotonic() - started < 5
    assert result.truncated and result.stdout_bytes == b"y\n" * 2048


# Writes 1 MiB at once into a pipe made that large (F_SETPIPE_SZ), then waits to be killed:
# more than asyncio's stream reader buffers before it stops reading the pipe.
BURST = (
    "import fcntl, os, sys, time; fd = int(sys.argv[1]); fcntl.fcntl(fd, 1031, 1 << 20); "
    "os.write(fd, b'y' * (1 << 20)); time.sleep(30)"
)


@pytest.mark.parametrize("fd", [1, 2])
def test_a_command_killed_for_its_output_leaves_no_transport_open(tmp_path: Path, fd: int):
    # Its pipes are read to their end after the kill: a reader that stopped on a full buffer
    # kept the subprocess transport open after its event loop had closed, and the garbage
    # collector's attempt to close it later failed in whatever test ran then.
    st = TransportSettings(known_hosts=tmp_path / "kh", max_output=4096)
    command = f"{shlex.quote(sys.executable)} -c {shlex.quote(BURST)} {fd}"

    async def scenario():
        async with open_transport(local_host(), st) as t:
            return await t.run(command, timeout=20)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        result = asyncio.run(scenario())
        gc.collect()
    assert result.truncated
    assert [str(w.message) for w in caught if w.category is ResourceWarning] == []


def test_endless_output_before_the_become_marker_is_cut_off(tmp_path: Path, monkeypatch):
    # A "sudo" that never gets to the command: it talks forever on stderr.
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "sudo").write_text("#!/bin/sh\nexec yes 'sudo: lecture' >&2\n")
    (bindir / "sudo").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:/usr/bin:/bin")
    st = TransportSettings(known_hosts=tmp_path / "kh")
    creds = Credentials(become=True, become_password="pw-never-shown")

    async def scenario():
        async with open_transport(local_host(credentials=creds), st) as t:
            return await t.run("echo never", timeout=20)

    started = time.monotonic()
    with pytest.raises(AuthenticationFailed) as info:
        asyncio.run(scenario())
    assert time.monotonic() - started < 5
    assert str(info.value) == "become (sudo) failed: no start marker within 65536 bytes"

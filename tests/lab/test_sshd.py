"""The lab's OpenSSH server: key login works, and a changed host key is refused before login."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import asyncssh
import pytest

from ospatrol_lab.process import port_accepts
from ospatrol_lab.sshd import SshdError, SshdServer


async def _run(server: SshdServer, command: str, known_hosts: Path) -> asyncssh.SSHCompletedProcess:
    async with asyncssh.connect(
        "127.0.0.1",
        server.port,
        username=server.user,
        client_keys=[str(server.client_key)],
        known_hosts=str(known_hosts),
        agent_path=None,
    ) as conn:
        return await conn.run(command, check=True)


def test_key_login_runs_a_command(lab_sshd: SshdServer):
    command = f"ls {lab_sshd.tree}/bin; id -un; echo $HOME"
    result = asyncio.run(_run(lab_sshd, command, lab_sshd.known_hosts))
    assert result.stdout.split() == ["tool", "tool-link", lab_sshd.user, str(lab_sshd.home)]
    assert lab_sshd.known_hosts_line.startswith(f"[127.0.0.1]:{lab_sshd.port} ssh-ed25519 AAAA")


def test_tree_has_files_and_a_symlink(lab_sshd: SshdServer):
    assert (lab_sshd.tree / "etc" / "hosts").is_file()
    assert (lab_sshd.tree / "bin" / "tool-link").is_symlink()


def test_wrong_key_is_refused(lab_sshd: SshdServer, tmp_path: Path):
    stranger = tmp_path / "stranger"
    stranger.write_bytes(asyncssh.generate_private_key("ssh-ed25519").export_private_key())

    async def attempt() -> None:
        async with asyncssh.connect(
            "127.0.0.1",
            lab_sshd.port,
            username=lab_sshd.user,
            client_keys=[str(stranger)],
            known_hosts=str(lab_sshd.known_hosts),
            agent_path=None,
        ):
            pass

    with pytest.raises(asyncssh.PermissionDenied):
        asyncio.run(attempt())


def test_rotated_host_key_is_rejected_before_authentication(tmp_path: Path):
    with SshdServer(tmp_path / "sshd") as server:
        pinned = tmp_path / "pinned_known_hosts"
        pinned.write_text(server.known_hosts_line + "\n")
        old_line, port = server.known_hosts_line, server.port
        server.rotate_host_key()
        assert server.port == port
        assert server.known_hosts_line != old_line
        log_before = server.log_path.read_text()
        with pytest.raises(asyncssh.HostKeyNotVerifiable):
            asyncio.run(_run(server, "true", pinned))
        # The client gave up at key exchange: sshd never saw a login attempt.
        new_log = server.log_path.read_text()[len(log_before) :]
        assert "Connection from 127.0.0.1" in new_log
        assert "Accepted publickey" not in new_log
        assert "Failed publickey" not in new_log
        assert "Postponed publickey" not in new_log
        # The same client accepts the new key once it is pinned.
        assert asyncio.run(_run(server, "echo ok", server.known_hosts)).stdout == "ok\n"
    assert not port_accepts(port)


def test_two_hundred_concurrent_connections(lab_sshd: SshdServer):
    async def one(i: int, everyone: asyncio.Barrier) -> str:
        async with asyncssh.connect(
            "127.0.0.1",
            lab_sshd.port,
            username=lab_sshd.user,
            client_keys=[str(lab_sshd.client_key)],
            known_hosts=str(lab_sshd.known_hosts),
            agent_path=None,
        ) as conn:
            first = await conn.run(f"echo {i}", check=True)
            # Hold the connection until all 200 are open at once.
            async with asyncio.timeout(120):
                await everyone.wait()
            second = await conn.run(f"echo {i}", check=True)
            return first.stdout + second.stdout

    async def all_of_them() -> list[str]:
        everyone = asyncio.Barrier(200)
        return await asyncio.gather(*(one(i, everyone) for i in range(200)))

    assert asyncio.run(all_of_them()) == [f"{i}\n{i}\n" for i in range(200)]


def test_start_failure_reports_sshd_stderr(tmp_path: Path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = SshdServer(tmp_path / "sshd", port=taken.getsockname()[1])
        with pytest.raises(SshdError, match="Address already in use"):
            server.start()
    assert server.pid is None

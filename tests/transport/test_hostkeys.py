"""Host keys: neutral pins both libraries check, a dry run pinning nothing, key-type changes."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import asyncssh
import paramiko
import pytest

from ospatrol.transport import HostKeyChanged, TransportSettings, open_transport
from ospatrol.transport.hostkeys import KnownHosts, PinnedKey, check_presented
from ospatrol_lab.sshd import SshdServer


def _paramiko_server_key(server: SshdServer) -> paramiko.PKey:
    """The host key the server shows paramiko (netmiko's library), key exchange only."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    transport = paramiko.Transport(sock)
    try:
        transport.start_client(timeout=10)
        return transport.get_remote_server_key()
    finally:
        transport.close()


def test_a_key_pinned_through_asyncssh_verifies_a_paramiko_key(
    ssh_host, settings, lab_sshd: SshdServer, tmp_path: Path
):
    st = settings(tmp_path)

    async def once():
        async with open_transport(ssh_host(lab_sshd), st) as t:
            return (await t.run("echo ok")).stdout

    assert asyncio.run(once()) == "ok\n"  # tofu: pinned by the asyncssh transport
    pins = KnownHosts(st.known_hosts).pins_for("127.0.0.1", lab_sshd.port)
    assert [p.algorithm for p in pins] == ["ssh-ed25519"]
    presented = PinnedKey.from_paramiko(_paramiko_server_key(lab_sshd))
    check_presented(pins, presented, "127.0.0.1", lab_sshd.port)  # same key: no error
    fingerprint = asyncssh.import_public_key(lab_sshd.host_key_pub.read_bytes())
    assert presented.fingerprint == fingerprint.get_fingerprint("sha256")

    impostor = PinnedKey.from_paramiko(paramiko.RSAKey.generate(1024))
    with pytest.raises(HostKeyChanged) as info:
        check_presented(pins, impostor, "127.0.0.1", lab_sshd.port)
    assert info.value.presented == ("ssh-rsa", impostor.fingerprint)
    assert info.value.expected == ("ssh-ed25519", pins[0].fingerprint)


def test_a_dry_run_checks_a_first_key_but_pins_nothing(
    ssh_host, lab_sshd: SshdServer, tmp_path: Path
):
    state = tmp_path / "state"
    dry = TransportSettings(known_hosts=state / "known_hosts", pin_host_keys=False)

    async def once(st: TransportSettings):
        async with open_transport(ssh_host(lab_sshd), st) as t:
            return (await t.run("echo ok")).stdout

    assert asyncio.run(once(dry)) == "ok\n"
    assert not state.exists()  # no pin, and not even the state dir
    # A pinned key is still enforced in a dry run.
    state.mkdir()
    other = asyncssh.generate_private_key("ssh-ed25519").public_data
    KnownHosts(state / "known_hosts").add("127.0.0.1", lab_sshd.port, PinnedKey.from_blob(other))
    with pytest.raises(HostKeyChanged):
        asyncio.run(once(dry))


class RsaOnlySshd(SshdServer):
    """An sshd that presents only its RSA key (an impostor of another key type)."""

    def _write_config(self) -> None:
        super()._write_config()
        with self.config_path.open("a") as config:
            config.write("HostKeyAlgorithms rsa-sha2-512,rsa-sha2-256\n")


def test_a_server_without_the_pinned_key_type_is_a_host_key_change(
    ssh_host, settings, tmp_path: Path
):
    server = RsaOnlySshd(tmp_path / "sshd")
    server.start()
    try:
        st = settings(tmp_path, pin=server)  # its ed25519 key, which it no longer offers
        with pytest.raises(HostKeyChanged) as info:
            asyncio.run(open_transport(ssh_host(server), st).__aenter__())
        exc = info.value
        assert exc.expected[0] == "ssh-ed25519"
        assert exc.presented is not None and exc.presented[0] == "ssh-rsa"
        rsa = asyncssh.read_public_key(server.directory / "ssh_host_rsa_key.pub")
        assert exc.presented[1] == rsa.get_fingerprint("sha256")
        assert "publickey" not in server.log_path.read_text()  # no credential was offered
    finally:
        server.stop()

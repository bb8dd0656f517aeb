"""The simulated IOS switch answers netmiko `cisco_ios` like a real one: enable, show, configure."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import asyncssh
import pytest
from netmiko import ConnectHandler
from netmiko.exceptions import NetmikoAuthenticationException

from ospatrol_lab.process import EPHEMERAL_RANGE
from ospatrol_lab.switch import SwitchError, SwitchServer


def _connect(switch: SwitchServer, known_hosts: Path, password: str | None = None):
    return ConnectHandler(
        device_type="cisco_ios",
        host="127.0.0.1",
        port=switch.port,
        username=switch.user,
        password=password or switch.password,
        secret=switch.enable_password,
        allow_agent=False,
        use_keys=False,
        ssh_strict=True,
        system_host_keys=False,
        alt_host_keys=True,
        alt_key_file=str(known_hosts),
        conn_timeout=10,
    )


@pytest.fixture
def pinned(lab_switch: SwitchServer, tmp_path: Path) -> Path:
    path = tmp_path / "known_hosts"
    path.write_text(lab_switch.known_hosts_line + "\n")
    return path


def test_enable_show_and_configure(lab_switch: SwitchServer, pinned: Path):
    conn = _connect(lab_switch, pinned)
    try:
        conn.enable()
        assert conn.check_enable_mode()
        before = conn.send_command("show running-config")
        assert f"hostname {lab_switch.hostname}" in before
        assert "description uplink-test-switch" not in before
        conn.send_config_set(["interface FastEthernet0/7", "description uplink-test-switch"])
        assert not conn.check_config_mode()
        after = conn.send_command("show running-config")
        assert "interface FastEthernet0/7\n description uplink-test-switch" in after
    finally:
        conn.disconnect()


def test_wrong_password_is_refused(lab_switch: SwitchServer, pinned: Path):
    with pytest.raises(NetmikoAuthenticationException):
        _connect(lab_switch, pinned, password="not-the-password")


def test_secrets_stay_out_of_the_log(lab_switch: SwitchServer, pinned: Path):
    conn = _connect(lab_switch, pinned)
    conn.enable()
    conn.disconnect()
    log = lab_switch.log_path.read_text()
    assert lab_switch.password not in log
    assert lab_switch.enable_password not in log


def test_the_switch_binds_its_own_port_and_the_pin_is_for_the_server_there(
    lab_switch: SwitchServer,
):
    # The child picks and binds the port itself and reports it: the port it reports answers
    # with its own host key (a port picked by the parent could have been taken by another
    # server in between, which a "does the port accept?" check cannot tell apart).
    low, _high = (int(w) for w in EPHEMERAL_RANGE.read_text().split())
    assert lab_switch.port < low
    presented = asyncio.run(
        asyncssh.get_server_host_key(
            "127.0.0.1", lab_switch.port, server_host_key_algs=["ssh-ed25519"]
        )
    )
    assert presented is not None
    pinned = asyncssh.import_public_key(lab_switch.known_hosts_line.split(None, 1)[1])
    assert presented.public_data == pinned.public_data


def test_a_wanted_port_another_server_listens_on_is_an_error_not_that_server(tmp_path: Path):
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        with pytest.raises(SwitchError, match="exited at start"):
            SwitchServer(tmp_path / "switch", port=port).start()

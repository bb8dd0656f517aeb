"""The simulated IOS switch answers netmiko `cisco_ios` like a real one: enable, show, configure."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from netmiko import ConnectHandler
from netmiko.exceptions import NetmikoAuthenticationException

from ospatrol_lab import switch as switch_module
from ospatrol_lab.process import free_port, port_accepts
from ospatrol_lab.switch import SwitchServer


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


def test_a_picked_port_taken_before_the_switch_binds_it_gets_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # Another process binds the port between the pick and the switch's bind: a race the
    # switch must survive by picking again (bound without listening, so nothing answers there).
    taken = socket.socket()
    taken.bind(("127.0.0.1", free_port()))
    picks = iter([taken.getsockname()[1]])
    monkeypatch.setattr(switch_module, "free_port", lambda: next(picks, None) or free_port())
    with taken, SwitchServer(tmp_path / "switch") as server:
        assert server.port != taken.getsockname()[1]
        assert port_accepts(server.port)
        assert server.known_hosts_line.startswith(f"[127.0.0.1]:{server.port} ")

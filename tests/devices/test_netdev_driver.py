"""The asyncssh CLI driver (`ospatrol_netdev_driver: asyncssh`) against the lab's devices, with
netmiko (the default driver) as the reference: the same configuration from every platform, the
same refusals (changed host key before login, wrong enable secret, configuration mode), and the
netdev inventory variables validated where they are written."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ospatrol.collect.configs import normalise
from ospatrol.errors import InputError
from ospatrol.inventory import load_inventory
from ospatrol.inventory.options import ConnectionOptions
from ospatrol.model import Credentials, Host
from ospatrol.profiles import load_profiles
from ospatrol.transport import (
    AuthenticationFailed,
    HostKeyChanged,
    TransportSettings,
    Unsupported,
    open_transport,
)

OTHER_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOcNdbVhOGW6pHnm1ZZcT6eXK0bKx0l1iSQGEb6TJtH2"


def _host(
    info: dict, platform: str, driver: str, enable: str | None, timeout: float | None = None
) -> Host:
    return Host(
        info["name"],
        "127.0.0.1",
        port=info["port"],
        platform=platform,
        connection="network_cli",
        credentials=Credentials(user=info["user"], password=info["password"], enable_secret=enable),
        options=ConnectionOptions(
            enable=enable is not None, netdev_driver=driver, connect_timeout=timeout
        ),
    )


def _fetch(host: Host, known_hosts: Path, commands: list[str]) -> list[str]:
    async def go() -> list[str]:
        settings = TransportSettings(known_hosts=known_hosts, command_timeout=20)
        async with open_transport(host, settings) as transport:
            results = [await transport.run(c) for c in commands]
        assert all(r.exit_status == 0 for r in results), [r.stdout[:200] for r in results]
        return [r.stdout for r in results]

    return asyncio.run(go())


SIMULATED = ["cisco_asa", "juniper_junos", "juniper_screenos", "checkpoint_gaia"]


@pytest.mark.parametrize("platform", SIMULATED)
def test_both_drivers_fetch_the_same_config_from_simulated_devices(lab_simulator, platform):
    info = lab_simulator.host(platform)
    enable = info["enable_password"] if platform == "cisco_asa" else None
    section = load_profiles()[platform].sections["config"]
    commands = [c.command for c in section.commands]
    seen = {
        driver: _fetch(_host(info, platform, driver, enable), lab_simulator.known_hosts, commands)
        for driver in ("netmiko", "asyncssh")
    }
    for by_netmiko, by_asyncssh in zip(seen["netmiko"], seen["asyncssh"], strict=True):
        assert len(by_asyncssh) > 200
        assert normalise(by_asyncssh, section) == normalise(by_netmiko, section)


def test_both_drivers_fetch_the_same_config_from_fake_switches_ios(lab_switch, tmp_path):
    known = tmp_path / "known_hosts"
    known.write_text(lab_switch.known_hosts_line + "\n")
    info = {
        "name": "sw1",
        "port": lab_switch.port,
        "user": lab_switch.user,
        "password": lab_switch.password,
    }
    section = load_profiles()["cisco_ios"].sections["config"]
    outputs = {
        driver: _fetch(
            _host(info, "cisco_ios", driver, lab_switch.enable_password),
            known,
            ["show running-config", "show version"],
        )
        for driver in ("netmiko", "asyncssh")
    }
    netmiko_config, asyncssh_config = outputs["netmiko"][0], outputs["asyncssh"][0]
    assert "interface FastEthernet0/1" in asyncssh_config
    assert normalise(asyncssh_config, section) == normalise(netmiko_config, section)
    assert outputs["asyncssh"][1].strip() == outputs["netmiko"][1].strip()


def test_asyncssh_driver_stops_at_a_changed_key_before_login(lab_simulator, tmp_path):
    info = lab_simulator.host("cisco_asa")
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{info['port']} {OTHER_KEY}\n")
    host = _host(info, "cisco_asa", "asyncssh", info["enable_password"])
    with pytest.raises(HostKeyChanged):
        _fetch(host, known, ["show version"])


@pytest.mark.parametrize("driver", ["netmiko", "asyncssh"])
def test_a_wrong_enable_secret_is_refused(lab_simulator, driver):
    info = lab_simulator.host("cisco_asa")
    # netmiko waits for a prompt after the secret until the connect time-out: keep it short.
    host = _host(info, "cisco_asa", driver, "not-the-secret", timeout=2)
    with pytest.raises(AuthenticationFailed, match="enable refused"):
        _fetch(host, lab_simulator.known_hosts, ["show version"])


def test_asyncssh_driver_refuses_configuration_mode_and_reports_rejections(lab_simulator):
    info = lab_simulator.host("cisco_asa")
    host = _host(info, "cisco_asa", "asyncssh", info["enable_password"])

    async def go():
        settings = TransportSettings(known_hosts=lab_simulator.known_hosts)
        async with open_transport(host, settings) as transport:
            with pytest.raises(Unsupported, match="never enters configuration mode"):
                await transport.run("configure terminal")
            rejected = await transport.run("show no-such-thing")
            after = await transport.run("show curpriv")
        return rejected, after

    rejected, after = asyncio.run(go())
    assert rejected.exit_status == 1 and "Invalid input" in rejected.stdout
    # Still privileged, never in configuration mode.
    assert "P_PRIV" in after.stdout


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "ospatrol_netdev_driver=scrapli",
            "ospatrol_netdev_driver must be one of asyncssh, netmiko",
        ),
        ("ospatrol_netdev_delay_factor=0", "ospatrol_netdev_delay_factor must be a number above 0"),
        ("ospatrol_netdev_max_output=lots", "must be a whole number of bytes"),
        ("ospatrol_netdev_max_output=10", "must be at least 1024 bytes"),
    ],
)
def test_bad_netdev_variables_name_file_and_line(tmp_path, line, message):
    path = tmp_path / "hosts.ini"
    path.write_text(
        f"[asa]\nfw1 ansible_network_os=asa ansible_connection=network_cli\n\n[asa:vars]\n{line}\n"
    )
    with pytest.raises(InputError) as info:
        load_inventory(path)
    assert str(info.value).startswith(f"{path}:5: ")
    assert message in str(info.value)


def test_netdev_variables_are_typed(tmp_path):
    path = tmp_path / "hosts.yml"
    path.write_text(
        "all:\n  hosts:\n    fw1:\n      ansible_network_os: asa\n"
        "      ansible_connection: network_cli\n      ospatrol_netdev_driver: AsyncSSH\n"
        "      ospatrol_netdev_delay_factor: '0.01'\n      ospatrol_netdev_max_output: 65536\n"
    )
    (host,) = load_inventory(path).hosts.values()
    options = host.options
    assert (options.netdev_driver, options.netdev_delay_factor, options.netdev_max_output) == (
        "asyncssh",
        0.01,
        65536,
    )

"""The transport table: the class serving a connection, its capabilities, what has none yet."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ospatrol.inventory import load_inventory
from ospatrol.inventory.options import ConnectionOptions
from ospatrol.model import Host
from ospatrol.transport import Capabilities, TransportSettings, Unsupported, open_transport
from ospatrol.transport.local import LOCAL_MAX_PARALLEL


@pytest.mark.parametrize(
    ("driver", "reason"),
    [
        ("asyncssh", "unreachable: cannot resolve 'r1.invalid'"),
        ("netmiko", "unreachable: r1.invalid:22: "),
    ],
)
def test_a_network_cli_host_goes_through_the_netdev_transport(
    tmp_path: Path, driver: str, reason: str
):
    """`network_cli` is the netdev transport's row: with either CLI driver a device whose name
    does not resolve is unreachable (not a time-out), and a platform without a device driver is
    unsupported."""
    from ospatrol.transport import Unreachable
    from ospatrol.transport.netdev import NetdevTransport
    from ospatrol.transport.registry import transport_class

    inventory = tmp_path / "hosts.ini"
    inventory.write_text(
        "[routers]\nr1.invalid ansible_network_os=ios ansible_connection=network_cli"
        f" ospatrol_netdev_driver={driver}\n"
    )
    router = load_inventory(inventory).hosts["r1.invalid"]
    assert transport_class(router.connection, router.name) is NetdevTransport
    st = TransportSettings(known_hosts=tmp_path / "kh", connect_timeout=5)
    with pytest.raises(Unreachable) as info:
        asyncio.run(open_transport(router, st).__aenter__())
    assert info.value.reason.startswith(reason)
    linux = Host("l1", "127.0.0.1", connection="network_cli")
    with pytest.raises(Unsupported, match="platform 'linux' has no device driver"):
        asyncio.run(open_transport(linux, st).__aenter__())


def test_a_connection_outside_the_table_is_unsupported_too(tmp_path: Path):
    st = TransportSettings(known_hosts=tmp_path / "kh")
    with pytest.raises(
        Unsupported, match="connection 'winrm' is not one of local, ssh, network_cli"
    ):
        asyncio.run(open_transport(Host("x", "y", connection="winrm"), st).__aenter__())


def test_capabilities_say_what_a_transport_can_do(ssh_host, settings, lab_sshd, tmp_path: Path):
    async def capabilities(host: Host):
        async with open_transport(host, settings(tmp_path, pin=lab_sshd)) as t:
            return t.capabilities

    local = Host("me", "localhost", connection="local")
    linux = ssh_host(lab_sshd, options=ConnectionOptions(max_sessions=3))
    esxi = ssh_host(lab_sshd, platform="esxi")
    assert asyncio.run(capabilities(local)) == Capabilities(True, True, True, LOCAL_MAX_PARALLEL)
    assert asyncio.run(capabilities(linux)) == Capabilities(True, True, True, 3)
    # ESXi's busybox shell is not one to send scripts to: collectors send one command at a time.
    assert asyncio.run(capabilities(esxi)).posix_shell is False

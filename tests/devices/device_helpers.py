"""Helpers for the device tests: a lab device as a `Host`, its pinned key, config-mode changes
on the fake-switches IOS switch through netmiko (as an operator makes them), a simulated
device's file changed for the length of a `with` block."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

from netmiko import ConnectHandler

from ospatrol.inventory.options import ConnectionOptions
from ospatrol.model import Credentials, Host


def device(
    name: str, port: int, platform: str, user: str, password: str, enable: str | None
) -> Host:
    """A `network_cli` host on 127.0.0.1 (enable mode when `enable` is given)."""
    return Host(
        name,
        "127.0.0.1",
        port=port,
        platform=platform,
        connection="network_cli",
        credentials=Credentials(user=user, password=password, enable_secret=enable),
        options=ConnectionOptions(enable=enable is not None),
    )


def simulated(lab_simulator, platform: str) -> tuple[Host, str, Path]:
    """The simulator's device of `platform`: its host, its known_hosts line, its config file."""
    info = lab_simulator.host(platform)
    enable = info["enable_password"] if platform == "cisco_asa" else None
    host = device(info["name"], info["port"], platform, info["user"], info["password"], enable)
    line = next(
        ln
        for ln in lab_simulator.known_hosts.read_text().splitlines()
        if f"]:{info['port']} " in ln
    )
    return host, line, Path(info["config_file"])


def configure(lab_switch, known: Path, *lines: str) -> None:
    """Send `lines` in config mode to the lab's IOS switch (key pinned by `known`)."""
    conn = ConnectHandler(
        device_type="cisco_ios",
        host="127.0.0.1",
        port=lab_switch.port,
        username=lab_switch.user,
        password=lab_switch.password,
        secret=lab_switch.enable_password,
        allow_agent=False,
        use_keys=False,
        ssh_strict=True,
        system_host_keys=False,
        alt_host_keys=True,
        alt_key_file=str(known),
    )
    try:
        conn.enable()
        conn.send_config_set(list(lines))
    finally:
        conn.disconnect()


@contextlib.contextmanager
def edited(path: Path, change: Callable[[str], str]) -> Iterator[None]:
    """`path` (a simulated device's config) rewritten by `change` inside the block, restored
    after it whatever happens (the simulator is shared by the session's tests)."""
    original = path.read_text()
    changed = change(original)
    assert changed != original, f"the edit changes nothing in {path}"
    path.write_text(changed)
    try:
        yield
    finally:
        path.write_text(original)

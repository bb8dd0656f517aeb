"""Turn a host's resolved Ansible variables into a typed `ospatrol.model.Host`.

This is the one place where raw inventory values become typed fields: `ansible_port` an int,
`ansible_become` a bool (Ansible's truthy strings), `ansible_network_os`/`ospatrol_platform`/
`ansible_connection` a platform and a connection kind (spelled by the transport table,
`ospatrol.transport.registry`), and every connection variable a `ConnectionOptions` record
(`options`). Transports never see raw var dicts. Errors name the host and the file and line that
set the offending variable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from ospatrol.errors import InputError
from ospatrol.inventory.data import Origin
from ospatrol.inventory.options import build_options, parse_port, parse_ssh_args, to_bool
from ospatrol.model import Credentials, Host
from ospatrol.platforms import BY_NAME, BY_SPELLING, TABLE
from ospatrol.transport.registry import connection_spellings

PLATFORMS = tuple(BY_NAME)
"""Every platform OSPatrol can audit (`ospatrol.platforms.TABLE`); `checks/<profile>.yml`
describes each."""

NETWORK_PLATFORMS = frozenset(p.name for p in TABLE if p.network)
"""Platforms reached through a device CLI (netmiko) rather than a Unix shell."""

NETWORK_OS: dict[str, str] = {spelling: p.name for spelling, p in BY_SPELLING.items()}
"""`ansible_network_os` / `ospatrol_platform` value (short or collection-qualified) -> platform."""

CONNECTIONS: dict[str, str] = connection_spellings()
"""`ansible_connection` value (short or collection-qualified) -> how OSPatrol reaches the host:
derived from the transport table (`ospatrol.transport.registry`), so the two cannot disagree."""

# Setting -> the variables Ansible reads it from, first found wins.
_ALIASES: dict[str, tuple[str, ...]] = {
    "address": ("ansible_host", "ansible_ssh_host"),
    "port": ("ansible_port", "ansible_ssh_port"),
    "user": ("ansible_user", "ansible_ssh_user"),
    "password": ("ansible_password", "ansible_ssh_pass", "ansible_ssh_password"),
    "key": ("ansible_ssh_private_key_file", "ansible_private_key_file"),
    "become_password": ("ansible_become_password", "ansible_become_pass"),
}


def build_host(
    name: str,
    groups: tuple[str, ...],
    variables: Mapping[str, Any],
    origin_of: Callable[[str], Origin],
) -> Host:
    """The `Host` record for `name`; `origin_of(var)` says where a variable was set."""

    def fail(var: str, message: str) -> InputError:
        return origin_of(var).error(f"host {name!r}: {message}")

    def first(setting: str) -> tuple[str, Any]:
        for var in _ALIASES[setting]:
            if variables.get(var) is not None:
                return var, variables[var]
        return _ALIASES[setting][0], None

    def text(setting: str) -> str | None:
        _var, value = first(setting)
        return None if value is None else str(value)

    ssh_args = parse_ssh_args(variables, fail)
    port_var, port = first("port")
    port = 22 if port is None else parse_port(port, fail, port_var)
    if variables.get(port_var) is None and ssh_args.port is not None:
        port = ssh_args.port
    become = variables.get("ansible_become", False)
    try:
        become = to_bool(become)
    except ValueError as exc:
        raise fail("ansible_become", f"ansible_become: {exc}") from None
    platform = _platform(variables, fail)
    connection = _connection(variables, platform, fail)
    become_password = text("become_password")
    credentials = Credentials(
        user=text("user"),
        password=text("password"),
        private_key_file=text("key"),
        become=become,
        become_method=str(variables.get("ansible_become_method") or "sudo"),
        become_user=str(variables.get("ansible_become_user") or "root"),
        become_password=become_password,
        enable_secret=become_password if platform in NETWORK_PLATFORMS else None,
    )
    return Host(
        name=name,
        address=text("address") or name,
        port=port,
        platform=platform,
        connection=connection,
        credentials=credentials,
        groups=groups,
        vars=MappingProxyType(dict(variables)),
        options=build_options(
            name,
            variables,
            fail,
            ssh_args,
            network=platform in NETWORK_PLATFORMS,
            become=become,
        ),
    )


def _platform(variables: Mapping[str, Any], fail: Callable[[str, str], InputError]) -> str:
    chosen = variables.get("ospatrol_platform")
    if chosen is not None:
        if chosen not in PLATFORMS:
            raise fail(
                "ospatrol_platform",
                f"unknown ospatrol_platform {chosen!r}; valid: {', '.join(PLATFORMS)}",
            )
        return chosen
    network_os = variables.get("ansible_network_os")
    if network_os is not None:
        platform = NETWORK_OS.get(str(network_os).strip().lower())
        if platform is None:
            raise fail(
                "ansible_network_os",
                f"unsupported ansible_network_os {network_os!r}; supported: "
                f"{', '.join(sorted(NETWORK_OS))} (or set ospatrol_platform)",
            )
        return platform
    return "linux"


def _connection(
    variables: Mapping[str, Any], platform: str, fail: Callable[[str, str], InputError]
) -> str:
    raw = variables.get("ansible_connection")
    kind = "ssh"
    if raw is not None:
        kind = CONNECTIONS.get(str(raw).strip())
        if kind is None:
            raise fail(
                "ansible_connection",
                f"unsupported ansible_connection {raw!r}; "
                f"supported: {', '.join(sorted(CONNECTIONS))}",
            )
    if platform in NETWORK_PLATFORMS:
        # Old-style network inventories say `local` and reach the device over SSH anyway.
        return "network_cli"
    if kind == "network_cli":
        raise fail(
            "ansible_connection",
            f"ansible_connection {raw!r} needs ansible_network_os (or ospatrol_platform) "
            "naming a network platform",
        )
    return kind

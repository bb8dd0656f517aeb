"""Connection options: a host's `ospatrol_*` and `ansible_*` connection variables, typed once.

`build_options` runs when the inventory loads, so a bad value (a time-out of 0, `nan` or `soon`, a
session cap of 0) is an error naming the host, the file and the line that set it, and
transports read only the frozen `ConnectionOptions` record, never raw variables. `None` in a
time-out or the host-key policy means "the run-wide default" (`TransportSettings`).

`ansible_ssh_common_args` and `ansible_ssh_extra_args` are read as OpenSSH would read them
(`parse_ssh_args`): the options that matter for security and reachability are honoured
(`UserKnownHostsFile`, `StrictHostKeyChecking`, `ProxyJump`/`-J`, `Ciphers`, `KexAlgorithms`,
`MACs`, `HostKeyAlgorithms`, `Port`/`-p`, `IdentityFile`/`-i`, `ConnectTimeout`); every other
argument is refused with a warning naming the host, so nothing is ignored silently.
"""

from __future__ import annotations

import logging
import math
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ospatrol.config import HOST_KEY_POLICIES
from ospatrol.errors import InputError

log = logging.getLogger(__name__)

Fail = Callable[[str, str], InputError]
"""`fail(var, message)`: the error for variable `var`, with the file and line that set it."""

DEFAULT_MAX_SESSIONS = 8
"""Sessions open at once on one SSH connection (OpenSSH's MaxSessions defaults to 10)."""

# Option -> variables it is read from, first found wins (OSPatrol's own name first).
_TIMEOUT_VARS: dict[str, tuple[str, ...]] = {
    "connect_timeout": ("ospatrol_connect_timeout", "ansible_ssh_timeout", "ansible_timeout"),
    "command_timeout": ("ospatrol_command_timeout", "ansible_command_timeout"),
    "host_timeout": ("ospatrol_host_timeout",),
}
_ALGORITHM_VARS = {
    "kex_algs": "ospatrol_ssh_kex_algs",
    "encryption_algs": "ospatrol_ssh_encryption_algs",
    "mac_algs": "ospatrol_ssh_mac_algs",
    "host_key_algs": "ospatrol_ssh_host_key_algs",
}
SSH_ARGS_VARS = ("ansible_ssh_common_args", "ansible_ssh_extra_args")
PASSPHRASE_VAR = "ansible_ssh_private_key_passphrase"


@dataclass(frozen=True)
class ConnectionOptions:
    """How to reach one host, validated. Algorithm tuples are OpenSSH-style names (the first may
    carry a `+`/`-`/`^` prefix); empty means the transport's default."""

    connect_timeout: float | None = None
    command_timeout: float | None = None
    host_timeout: float | None = None
    """Seconds for the whole audit of the host (connect and every collector); None: no limit."""
    max_sessions: int = DEFAULT_MAX_SESSIONS
    host_key_policy: str | None = None
    kex_algs: tuple[str, ...] = ()
    encryption_algs: tuple[str, ...] = ()
    mac_algs: tuple[str, ...] = ()
    host_key_algs: tuple[str, ...] = ()
    legacy_algorithms: bool = False
    """Also offer the old algorithms old devices need (SHA-1 key exchange, CBC ciphers, ssh-rsa)."""
    known_hosts_files: tuple[str, ...] = ()
    """OpenSSH known-hosts files (`UserKnownHostsFile`) trusted besides OSPatrol's pinned keys."""
    proxy_jump: str | None = None
    identity_files: tuple[str, ...] = ()
    """Key files from the ssh arguments, tried after `Credentials.private_key_file`."""
    key_passphrase: str | None = field(default=None, repr=False)
    network_os: str | None = None
    """`ansible_network_os` as written (lower-cased), None when unset."""
    enable: bool = False
    """Network devices: enter privileged (enable) mode, as `ansible_become` asks network_cli."""
    netdev_driver: str = "asyncssh"
    """Network devices: what drives the CLI, `asyncssh` (the default: one PTY shell on the Unix
    hosts' SSH connection; `ospatrol.transport.devcli`) or `netmiko`."""
    netdev_delay_factor: float | None = None
    """Network devices, netmiko: its `global_delay_factor` (None: `netdev.DELAY_FACTOR`)."""
    netdev_max_output: int | None = None
    """Network devices: bytes one command may print before it is stopped as endless (None:
    `netdev.MAX_OUTPUT`)."""

    def __repr__(self) -> str:
        shown = {
            name: getattr(self, name)
            for name in self.__dataclass_fields__
            if getattr(self, name) != self.__dataclass_fields__[name].default
        }
        if "key_passphrase" in shown:
            shown["key_passphrase"] = "***"
        return f"ConnectionOptions({', '.join(f'{k}={v!r}' for k, v in shown.items())})"


@dataclass(frozen=True)
class SshArgs:
    """What `ansible_ssh_common_args` + `ansible_ssh_extra_args` say, OpenSSH's first value
    winning (IdentityFile accumulates, as in OpenSSH)."""

    port: int | None = None
    connect_timeout: float | None = None
    strict: bool | None = None
    known_hosts_files: tuple[str, ...] = ()
    proxy_jump: str | None = None
    identity_files: tuple[str, ...] = ()
    algorithms: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    refused: tuple[str, ...] = ()


# `-o` option (lower-cased) -> the algorithm field it sets.
_SSH_ALGORITHMS = {
    "ciphers": "encryption_algs",
    "kexalgorithms": "kex_algs",
    "macs": "mac_algs",
    "hostkeyalgorithms": "host_key_algs",
}
_SSH_FLAGS_WITH_VALUE = {"-p": "port", "-i": "identityfile", "-J": "proxyjump", "-o": None}


def parse_ssh_args(variables: Mapping[str, Any], fail: Fail) -> SshArgs:
    """The honoured options of the host's ssh argument variables; the rest listed in `refused`."""
    pairs: list[tuple[str, str, str, str]] = []  # (var, option lower-cased, value, as written)
    refused: list[str] = []
    for var in SSH_ARGS_VARS:
        raw = variables.get(var)
        if raw is None or raw == "":
            continue
        try:
            tokens = shlex.split(raw) if isinstance(raw, str) else [str(t) for t in raw]
        except (TypeError, ValueError) as exc:
            raise fail(var, f"{var}: cannot split {raw!r}: {exc}") from None
        pairs.extend((var, *option) for option in _ssh_options(tokens, refused))
    values: dict[str, tuple[str, str]] = {}
    identity: list[str] = []
    for var, key, value, written in pairs:
        if key == "identityfile":
            identity.append(value)
        elif key in _HONOURED:
            values.setdefault(key, (var, value))
        else:
            refused.append(written)
    port = None
    if "port" in values:
        var, value = values["port"]
        port = parse_port(value, fail, var)
    timeout = None
    if "connecttimeout" in values:
        var, value = values["connecttimeout"]
        timeout = seconds(value, fail, f"{var} ConnectTimeout")
    strict = None
    if "stricthostkeychecking" in values:
        strict = values["stricthostkeychecking"][1].lower() in ("yes", "ask", "true")
    known = values.get("userknownhostsfile", ("", ""))[1].split()
    jump = values.get("proxyjump", ("", "none"))[1]
    algorithms = {
        field_name: _names(values[option][1])
        for option, field_name in _SSH_ALGORITHMS.items()
        if option in values
    }
    return SshArgs(
        port=port,
        connect_timeout=timeout,
        strict=strict,
        known_hosts_files=tuple(f for f in known if f != "/dev/null"),
        proxy_jump=None if jump.lower() == "none" else jump,
        identity_files=tuple(identity),
        algorithms=algorithms,
        refused=tuple(refused),
    )


_HONOURED = frozenset(
    ("port", "connecttimeout", "stricthostkeychecking", "userknownhostsfile", "proxyjump")
) | frozenset(_SSH_ALGORITHMS)


def _ssh_options(tokens: list[str], refused: list[str]) -> list[tuple[str, str, str]]:
    """(option lower-cased, value, as written) for each `-o`, `-p`, `-i`, `-J` in `tokens`;
    anything else (other flags, positional words) goes to `refused` as written."""
    found: list[tuple[str, str, str]] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        flag = token[:2]
        if flag in _SSH_FLAGS_WITH_VALUE:
            value = token[2:]
            if not value and i + 1 < len(tokens):
                i += 1
                value = tokens[i]
            written = f"{flag} {value}"
            option = _SSH_FLAGS_WITH_VALUE[flag]
            if option is None:
                key, _, rest = value.replace("=", " ", 1).partition(" ")
                if rest.strip():
                    found.append((key.lower(), rest.strip(), written))
                else:
                    refused.append(written)
            else:
                found.append((option, value, written))
        else:
            refused.append(token)
        i += 1
    return found


def build_options(
    name: str,
    variables: Mapping[str, Any],
    fail: Fail,
    ssh_args: SshArgs,
    *,
    network: bool,
    become: bool,
) -> ConnectionOptions:
    """The options of host `name` (`network`: a device reached through its CLI)."""
    for refused in ssh_args.refused:
        log.warning(
            "host %s: ssh argument %r is not supported and is ignored (honoured: %s)",
            name,
            refused,
            "UserKnownHostsFile, StrictHostKeyChecking, ProxyJump/-J, Ciphers, KexAlgorithms, "
            "MACs, HostKeyAlgorithms, Port/-p, IdentityFile/-i, ConnectTimeout",
        )
    timeouts = {
        option: _first_seconds(variables, names, fail) for option, names in _TIMEOUT_VARS.items()
    }
    if timeouts["connect_timeout"] is None:
        timeouts["connect_timeout"] = ssh_args.connect_timeout
    algorithms = {
        option: _algorithms(variables.get(var), fail, var)
        for option, var in _ALGORITHM_VARS.items()
    }
    for option, names in ssh_args.algorithms.items():
        algorithms[option] = algorithms[option] or names
    passphrase = variables.get(PASSPHRASE_VAR)
    network_os = variables.get("ansible_network_os")
    method = variables.get("ansible_become_method")
    return ConnectionOptions(
        **timeouts,
        max_sessions=_max_sessions(variables.get("ospatrol_ssh_max_sessions"), fail),
        host_key_policy=_policy(variables.get("ospatrol_host_key_policy"), ssh_args, fail),
        **algorithms,
        legacy_algorithms=_flag(variables, "ospatrol_ssh_legacy_algorithms", fail),
        known_hosts_files=ssh_args.known_hosts_files,
        proxy_jump=ssh_args.proxy_jump,
        identity_files=ssh_args.identity_files,
        key_passphrase=None if passphrase is None else str(passphrase),
        network_os=None if network_os is None else str(network_os).strip().lower(),
        enable=network and become and str(method or "enable").strip() == "enable",
        netdev_driver=_choice(variables, "ospatrol_netdev_driver", NETDEV_DRIVERS, fail),
        netdev_delay_factor=_optional(variables, "ospatrol_netdev_delay_factor", _factor, fail),
        netdev_max_output=_optional(variables, "ospatrol_netdev_max_output", _bytes, fail),
    )


NETDEV_DRIVERS = ("asyncssh", "netmiko")
"""`ospatrol_netdev_driver` values, the default first: asyncssh reads the host's algorithm
options and costs a third of netmiko's CPU per device (docs/connection-options.md)."""


def _choice(variables: Mapping[str, Any], var: str, allowed: tuple[str, ...], fail: Fail) -> str:
    value = variables.get(var)
    if value is None:
        return allowed[0]
    if not isinstance(value, str) or value.strip().lower() not in allowed:
        raise fail(var, f"{var} must be one of {', '.join(allowed)}, got {value!r}")
    return value.strip().lower()


def _optional(
    variables: Mapping[str, Any], var: str, convert: Callable[[Any, Fail, str], Any], fail: Fail
) -> Any:
    value = variables.get(var)
    return None if value is None else convert(value, fail, var)


def _bytes(value: Any, fail: Fail, var: str) -> int:
    """A size in bytes: a whole number of at least 1024 (less could not hold a prompt and a
    config's first lines)."""
    try:
        if isinstance(value, (bool, float)):
            raise ValueError
        size = int(str(value).strip())
    except ValueError:
        raise fail(var, f"{var} must be a whole number of bytes, got {value!r}") from None
    if size < 1024:
        raise fail(var, f"{var} must be at least 1024 bytes, got {size}")
    return size


BOOLEANS_TRUE = frozenset(("y", "yes", "on", "1", "true", "t"))
BOOLEANS_FALSE = frozenset(("n", "no", "off", "0", "false", "f"))


def to_bool(value: Any) -> bool:
    """Ansible's `boolean()`: bools, 1/0 and the truthy/falsy strings; anything else ValueError."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in BOOLEANS_TRUE:
            return True
        if lowered in BOOLEANS_FALSE:
            return False
    raise ValueError(f"{value!r} is not a boolean (use true/false, yes/no, on/off, 1/0)")


def _flag(variables: Mapping[str, Any], var: str, fail: Fail) -> bool:
    try:
        return to_bool(variables.get(var, False))
    except ValueError as exc:
        raise fail(var, f"{var}: {exc}") from None


def parse_port(value: Any, fail: Fail, var: str) -> int:
    """A TCP port (1-65535) from an int or a string of digits."""
    try:
        if isinstance(value, (bool, float)):
            raise ValueError
        port = int(str(value).strip())
    except ValueError:
        raise fail(var, f"{var} must be a port number, got {value!r}") from None
    if not 0 < port < 65536:
        raise fail(var, f"{var} must be between 1 and 65535, got {port}")
    return port


def seconds(value: Any, fail: Fail, var: str, what: str = "a number of seconds") -> float:
    """A time-out (or another `what`): a finite number above 0 (0, negative, `nan` and `inf`
    refused)."""
    try:
        if isinstance(value, bool):
            raise ValueError
        number = float(str(value).strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise fail(var, f"{var} must be {what}, got {value!r}") from None
    if not math.isfinite(number) or number <= 0:
        raise fail(var, f"{var} must be {what} above 0, got {value!r}")
    return number


def _factor(value: Any, fail: Fail, var: str) -> float:
    return seconds(value, fail, var, "a number")


def _first_seconds(
    variables: Mapping[str, Any], names: tuple[str, ...], fail: Fail
) -> float | None:
    for var in names:
        value = variables.get(var)
        if value is not None:
            return seconds(value, fail, var)
    return None


def _max_sessions(value: Any, fail: Fail) -> int:
    var = "ospatrol_ssh_max_sessions"
    if value is None:
        return DEFAULT_MAX_SESSIONS
    try:
        if isinstance(value, (bool, float)):
            raise ValueError
        sessions = int(str(value).strip())
    except ValueError:
        raise fail(var, f"{var} must be a whole number, got {value!r}") from None
    if sessions < 1:
        raise fail(var, f"{var} must be at least 1, got {sessions}")
    return sessions


def _policy(value: Any, ssh_args: SshArgs, fail: Fail) -> str | None:
    var = "ospatrol_host_key_policy"
    if value is not None:
        if value not in HOST_KEY_POLICIES:
            raise fail(var, f"{var} must be one of {', '.join(HOST_KEY_POLICIES)}, got {value!r}")
        return str(value)
    # StrictHostKeyChecking=yes refuses unknown hosts, as OpenSSH would; `no`/`accept-new`
    # never weaken the run's policy (a changed key is refused whatever it says).
    return "strict" if ssh_args.strict else None


def _algorithms(value: Any, fail: Fail, var: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return _names(value)
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return tuple(n.strip() for n in value if n.strip())
    raise fail(var, f"{var} must be a comma-separated string or a list of names, got {value!r}")


def _names(text: str) -> tuple[str, ...]:
    return tuple(n.strip() for n in text.split(",") if n.strip())

"""Active responses on other hosts: where they run and the remote command line, over SSH.

A response's `location` names its targets: `origin` (the inventory host that produced the event:
the sender of `syslog:ADDR`, the audited host of `agentless:HOST:...`, or the event's host name),
`host NAME` or `group NAME` of the manager's inventory. The action reaches them through
OSPatrol's own transport (`ospatrol.transport`: asyncssh, the inventory's credentials, host keys
checked against the pinned ones in `<state_dir>/known_hosts`), with the file's audit settings
for time-outs; the host-key policy is `strict` (or `system`, when the file says so) even where
audits trust on first use, since a response must never go to a host whose key nobody vouched
for.

SSH hands a command line to the remote user's shell, so the line is built from the same
validated argv as a local action, each word through `shlex.quote`: no value from an event can
become shell syntax. The shipped `nftables-drop` and `iptables-drop` run as the `nft` /
`iptables` argv they build locally; any other command's executable is a path on the remote host.
"""

from __future__ import annotations

import ipaddress
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from ospatrol.config import Config
from ospatrol.model import Alert, Host
from ospatrol.transport import TransportError, TransportSettings, open_transport

KINDS = ("local", "origin", "host", "group")
# The shipped actions that also run remotely, as the argv they build (host-deny edits a file:
# it needs OSPatrol on the host, so it stays local).
REMOTE_BUILTINS = ("nftables-drop", "iptables-drop")


@dataclass(frozen=True)
class Location:
    """Where a response runs: `local` (the manager), `origin`, or the inventory hosts `hosts`
    (`host NAME`: one; `group NAME`: its members when the config was loaded)."""

    kind: str = "local"
    name: str = ""
    hosts: tuple[str, ...] = ()

    @property
    def remote(self) -> bool:
        return self.kind != "local"

    def __str__(self) -> str:
        return f"{self.kind} {self.name}" if self.name else self.kind


def parse_location(text: object) -> tuple[str, str]:
    """(kind, name) of a `location:` value; raises ValueError with what is expected."""
    words = text.split() if isinstance(text, str) else []
    if len(words) == 1 and words[0] in ("local", "origin"):
        return words[0], ""
    if len(words) == 2 and words[0] in ("host", "group"):
        return words[0], words[1]
    raise ValueError("expected local, origin, 'host NAME' or 'group NAME'")


def origin_host(alert: Alert, hosts: Mapping[str, Host]) -> Host | None:
    """The inventory host that produced `alert`'s event, if the inventory has it."""
    event = alert.event
    location = event.location
    names: list[str] = []
    if location.startswith("agentless:"):
        names.append(location.split(":")[1])
    if event.host:
        names.append(event.host)
    for name in names:
        if name in hosts:
            return hosts[name]
    addresses = [location[len("syslog:") :]] if location.startswith("syslog:") else []
    addresses += names
    for address in addresses:
        for host in hosts.values():
            if host.address == address:
                return host
    return None


def remote_argv(
    executable: str, action: str, values: Mapping[str, str], arguments: Sequence[str]
) -> list[str]:
    """The argv the remote host runs: a shipped action's own program, or `executable` with
    OSSEC's arguments (`arguments`, built and validated as for a local action)."""
    if executable in REMOTE_BUILTINS:
        from ospatrol.respond.actions import BUILDERS

        return BUILDERS[executable](action, ipaddress.ip_address(values["srcip"]))
    return [executable, *arguments]


def response_transport(settings: Config, state_dir: Path) -> TransportSettings:
    """The transport settings of remote responses: the audit settings' time-outs, the state
    dir's pinned keys, and a policy that never trusts a key on first sight."""
    policy = settings.host_key_policy if settings.host_key_policy == "system" else "strict"
    return TransportSettings(
        known_hosts=state_dir / "known_hosts",
        connect_timeout=settings.connect_timeout,
        command_timeout=settings.command_timeout,
        host_key_policy=policy,
    )


async def run_remote(
    host: Host, argv: Sequence[str], settings: TransportSettings, timeout: float
) -> tuple[bool, str]:
    """Run `argv` on `host` (each word quoted for its shell); (succeeded, outcome text)."""
    line = shlex.join(argv)
    if host.options.host_key_policy == "tofu":
        # A host's own tofu (for its audits) does not extend to responses.
        strict = replace(host.options, host_key_policy=settings.host_key_policy)
        host = replace(host, options=strict)
    try:
        async with open_transport(host, settings) as transport:
            result = await transport.run(line, timeout=timeout)
    except TransportError as exc:
        return False, exc.reason
    if result.returncode == 0:
        return True, "ok"
    detail = (result.stdout + result.stderr).strip()
    outcome = f"failed (exit {result.returncode})"
    return False, f"{outcome}: {detail}" if detail else outcome

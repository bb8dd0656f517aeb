"""The platform table: every platform OSPatrol audits, in one place.

A row names the platform, the `checks/<profile>.yml` that says what to collect on it, the
netmiko device type that drives its CLI (network devices only), whether it offers a POSIX shell,
and the `ansible_network_os` / `ospatrol_platform` spellings that select it. The inventory, the
profiles loader and the transports all read this table, so they cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class Platform:
    name: str
    profile: str
    """Stem of its `checks/` profile file (platforms may share one)."""
    netmiko: str | None = None
    """netmiko device type; None for hosts reached through a shell (ssh, local)."""
    posix_shell: bool = False
    aliases: tuple[str, ...] = ()
    """Other spellings accepted for it (`ansible_network_os` short and collection names)."""

    @property
    def network(self) -> bool:
        """Reached through a device CLI (netmiko) rather than a shell."""
        return self.netmiko is not None


TABLE: tuple[Platform, ...] = (
    Platform("linux", "linux", posix_shell=True),
    Platform("bsd", "bsd", posix_shell=True, aliases=("freebsd", "openbsd", "netbsd")),
    Platform("esxi", "esxi", aliases=("vmware_esxi",)),
    Platform("cisco_ios", "cisco_ios", "cisco_ios", aliases=("ios", "cisco.ios.ios", "iosxe")),
    Platform(
        "cisco_asa", "cisco_asa", "cisco_asa", aliases=("asa", "cisco.asa.asa", "pix", "fwsm")
    ),
    Platform("cisco_nxos", "cisco_nxos", "cisco_nxos", aliases=("nxos", "cisco.nxos.nxos")),
    Platform("arista_eos", "arista_eos", "arista_eos", aliases=("eos", "arista.eos.eos")),
    Platform(
        "juniper_junos",
        "juniper_junos",
        "juniper_junos",
        aliases=("junos", "junipernetworks.junos.junos"),
    ),
    Platform("juniper_screenos", "juniper_screenos", "juniper_screenos", aliases=("screenos",)),
    Platform(
        "checkpoint_gaia",
        "checkpoint_gaia",
        "checkpoint_gaia",
        aliases=("gaia", "checkpoint", "check_point.gaia.checkpoint"),
    ),
)

BY_NAME: Mapping[str, Platform] = MappingProxyType({p.name: p for p in TABLE})

BY_SPELLING: Mapping[str, Platform] = MappingProxyType(
    {spelling: p for p in TABLE for spelling in (p.name, *p.aliases)}
)
"""Every accepted spelling (the names themselves included) -> its platform."""

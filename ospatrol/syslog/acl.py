"""Which senders a syslog listener accepts: OSSEC's `<allowed-ips>` and `<denied-ips>`.

Entries are addresses or CIDR networks (IPv4 or IPv6). A denied match always wins; with an
allow list, only senders on it are accepted; without one, everyone not denied is. IPv4 senders
seen through an IPv6 socket (`::ffff:10.0.0.1`) are matched as IPv4.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """`entries` as networks; raises ValueError naming the first entry that is not one."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(str(entry).strip(), strict=False))
        except ValueError:
            raise ValueError(f"not an IP address or CIDR network: {entry!r}") from None
    return tuple(networks)


@dataclass(frozen=True)
class SourceFilter:
    """Accepts or refuses a sender address by the allow and deny lists."""

    allowed: tuple[Network, ...] = ()
    denied: tuple[Network, ...] = ()

    @classmethod
    def from_lists(cls, allowed: Iterable[str] = (), denied: Iterable[str] = ()) -> SourceFilter:
        return cls(parse_networks(allowed), parse_networks(denied))

    def accepts(self, address: str) -> bool:
        return _accepts(self, address)


@lru_cache(maxsize=4096)
def _accepts(rules: SourceFilter, address: str) -> bool:
    # Cached per (filter, address): a busy sender is checked once, not per datagram.
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip in net for net in rules.denied):
        return False
    return not rules.allowed or any(ip in net for net in rules.allowed)

"""OSSEC's compiled-in decoder plugins (`<plugin_decoder>`), as analysisd's decoders/plugins/.

- PF_Decoder (OpenBSD pf): action, source/destination address and port, protocol.
- SonicWall_Decoder: status (priority), id (message id), addresses and ports, protocol, and the
  event category from the message id (IDS, firewall pass/drop/close, web proxy).
- SymantecWS_Decoder and OSSECAlert_Decoder only classify the event (their field extraction is
  not reproduced).

A plugin fills the event's fields directly; like OSSEC, logtest prints none of them.
"""

from __future__ import annotations

import re

from ospatrol.analysis.eventinfo import EventInfo

_SONIC_ID = re.compile(r"pri=(\d) c=(\d+) m=(\d+) ")
_SONIC_ADDR = re.compile(r"src=(\d+\.\d+\.\d+\.\d+):(\d+):\S+ dst=(\d+\.\d+\.\d+\.\d+):(\d+):")
_SONIC_PROXY = re.compile(r"result=(\d+) dstname=(\S+) arg=(\S+)$")
_SONIC_PASS = ("98", "597", "598")
_SONIC_DROP = ("38", "36", "173", "174", "37")
_VALID = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-@_.")


def _split_port(address: str) -> tuple[str, str | None]:
    """pf prints `a.b.c.d.port`: the fifth dotted part is the port."""
    parts = address.split(".")
    if len(parts) > 4:
        return ".".join(parts[:4]), ".".join(parts[4:])
    return address, None


def pf(ev: EventInfo) -> None:
    log = ev.log
    close = log.find(")")
    if close < 0 or log[close + 1 : close + 2] != " ":
        return
    rest = log[close + 2 :]
    if rest.startswith("p"):
        ev.action = "pass"
    elif rest.startswith("b"):
        ev.action = "block"
    else:
        return
    colon = rest.find(":")
    if colon < 0 or rest[colon + 1 : colon + 2] != " ":
        return
    rest = rest[colon + 2 :]
    space = rest.find(" ")
    if space < 0:
        return
    ev.srcip, ev.srcport = _split_port(rest[:space])
    rest = rest[space + 1 :]
    if not rest.startswith("> "):
        return
    rest = rest[2:]
    colon = rest.find(":")
    if colon < 0:
        return
    ev.dstip, ev.dstport = _split_port(rest[:colon])
    tail = rest[colon + 1 :].lstrip(" ")
    if tail:
        ev.protocol = "UDP" if tail[0] == "u" else "ICMP" if tail[0] == "i" else "TCP"


def sonicwall(ev: EventInfo) -> None:
    ev.category_override = "syslog"
    found = _SONIC_ID.search(ev.log)
    if found is None:
        return
    ev.status, category, ev.id = found.group(1), found.group(2)[:7], found.group(3)
    addr = _SONIC_ADDR.search(ev.log, found.end())
    if addr is None:
        return
    ev.srcip, ev.srcport, ev.dstip, ev.dstport = addr.groups()
    after = ev.log[addr.end() :]
    space = after.find(" ")
    rest = after[space + 1 :] if space >= 0 else None
    if rest is not None and rest.startswith("proto="):
        proto = []
        for ch in rest[6:]:
            if ch not in _VALID or ch == "/" or len(proto) >= 6:
                break
            proto.append(ch)
        ev.protocol = "".join(proto)
    if category == "32":
        ev.category_override = "ids"
    elif ev.id in _SONIC_PASS:
        ev.category_override, ev.action = "firewall", "pass"
    elif ev.id in _SONIC_DROP:
        ev.category_override, ev.action = "firewall", "drop"
    elif ev.id == "537":
        ev.category_override, ev.action = "firewall", "close"
    elif ev.id == "97":
        ev.category_override = "squid"
        proxy = _SONIC_PROXY.search(rest or "")
        if proxy is not None:
            ev.id = proxy.group(1)
            ev.url = proxy.group(2) + proxy.group(3)


PLUGINS = {
    "PF_Decoder": pf,
    "SonicWall_Decoder": sonicwall,
    "SymantecWS_Decoder": None,
    "OSSECAlert_Decoder": None,
}


def run_plugin(name: str, ev: EventInfo) -> None:
    """Run the named plugin on `ev` (names are validated when decoders load)."""
    plugin = PLUGINS.get(name)
    if plugin is not None:
        plugin(ev)

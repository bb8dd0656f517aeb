"""The shipped active-response actions, run by the manager as
`python -m ospatrol.respond.actions NAME add|delete USER SRCIP ALERT_ID RULE_ID LOCATION`.

* `nftables-drop`: adds/removes SRCIP in the set `blocklist4`/`blocklist6` of table
  `inet ospatrol` (created with deploy/nftables-ospatrol.nft, whose chain drops both sets);
* `iptables-drop`: inserts/deletes `-s SRCIP -j DROP` in INPUT (iptables or ip6tables);
* `host-deny`: adds/removes `ALL: SRCIP` in /etc/hosts.deny (`OSPATROL_HOSTS_DENY` overrides
  the path), under a lock so concurrent actions do not lose lines.

SRCIP is parsed again here (defence in depth: the manager already validated it) and every
program runs from an argv list. Exit status 0 means done; anything else is logged by the
manager as a failed action.
"""

from __future__ import annotations

import fcntl
import ipaddress
import os
import subprocess
import sys
from pathlib import Path

HOSTS_DENY = Path("/etc/hosts.deny")


def _nftables(action: str, ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> list[str]:
    verb = "add" if action == "add" else "delete"
    blocklist = "blocklist4" if ip.version == 4 else "blocklist6"
    return ["nft", verb, "element", "inet", "ospatrol", blocklist, "{", str(ip), "}"]


def _iptables(action: str, ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> list[str]:
    program = "iptables" if ip.version == 4 else "ip6tables"
    verb = "-I" if action == "add" else "-D"
    return [program, "-w", verb, "INPUT", "-s", str(ip), "-j", "DROP"]


# The actions that are one program's argv (they run on remote hosts too: respond/remote.py).
BUILDERS = {"nftables-drop": _nftables, "iptables-drop": _iptables}


def _host_deny(action: str, ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> int:
    path = Path(os.environ.get("OSPATROL_HOSTS_DENY", HOSTS_DENY))
    entry = f"ALL: {ip}"
    with open(path, "a+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        lines = handle.read().splitlines()
        if action == "add":
            if entry not in lines:
                handle.write(f"{entry}\n")
            return 0
        kept = [line for line in lines if line != entry]
        handle.seek(0)
        handle.truncate()
        handle.write("".join(f"{line}\n" for line in kept))
    return 0


def main(argv: list[str]) -> int:
    if len(argv) < 4 or argv[2] not in ("add", "delete"):
        print("usage: NAME add|delete USER SRCIP [ALERT_ID RULE_ID LOCATION]", file=sys.stderr)
        return 2
    name, action, srcip = argv[1], argv[2], argv[4] if len(argv) > 4 else "-"
    try:
        ip = ipaddress.ip_address(srcip)
    except ValueError:
        print(f"{name}: not an IP address: {srcip!r}", file=sys.stderr)
        return 2
    if name == "host-deny":
        return _host_deny(action, ip)
    if name not in BUILDERS:
        print(f"unknown action {name!r}", file=sys.stderr)
        return 2
    try:
        return subprocess.run(BUILDERS[name](action, ip), timeout=30).returncode
    except (OSError, subprocess.TimeoutExpired) as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))

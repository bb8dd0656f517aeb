"""Pinned SSH host keys: `<state_dir>/known_hosts`, in OpenSSH's format (`ssh-keygen -F` reads it).

One place holds the keys OSPatrol trusts. Entries are `[address]:port alg base64` (plain
`address alg base64` for port 22). Lookups go through asyncssh's matcher so hashed or wildcard
lines an operator adds by hand work too. Appends are single `write`s on an O_APPEND file, so two
processes recording different hosts at once cannot interleave lines.
"""

from __future__ import annotations

import os
from pathlib import Path

import asyncssh

POLICIES = ("strict", "tofu", "system")


def fingerprint(key: asyncssh.SSHKey) -> tuple[str, str]:
    """(algorithm, `SHA256:...`) as the host-key event shows it."""
    return key.get_algorithm(), key.get_fingerprint("sha256")


def host_pattern(address: str, port: int) -> str:
    return address if port == 22 else f"[{address}]:{port}"


class KnownHosts:
    """The pinned-keys file. Missing file = no key known yet."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def keys_for(self, address: str, port: int) -> list[asyncssh.SSHKey]:
        """The keys pinned for `address`:`port` (exact port only: a key for :22 does not count)."""
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return []
        pattern = host_pattern(address, port)
        wanted = [
            line
            for line in text.splitlines()
            if line.strip() and not line.startswith("#") and _first_field_has(line, pattern)
        ]
        if not wanted:
            # Hashed or wildcard entries: let asyncssh match them (it falls back to port 22 for
            # a non-default port, which is why plain lines are filtered by hand above).
            trusted = asyncssh.match_known_hosts(text.encode(), address, address, port)[0]
            return list(trusted)
        return list(asyncssh.match_known_hosts("\n".join(wanted).encode(), address, "", port)[0])

    def add(self, address: str, port: int, key: asyncssh.SSHKey) -> None:
        """Pin `key` for `address`:`port`, unless it is pinned already.

        Concurrent first contacts of one address (inventory aliases of the same host) would
        otherwise each append the same line, and every later lookup would parse them all.
        """
        if any(p.public_data == key.public_data for p in self.keys_for(address, port)):
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = (
            f"{host_pattern(address, port)} {key.export_public_key('openssh').decode().strip()}\n"
        )
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)


def _first_field_has(line: str, pattern: str) -> bool:
    first = line.split(None, 1)[0] if line.strip() else ""
    return pattern in first.split(",")

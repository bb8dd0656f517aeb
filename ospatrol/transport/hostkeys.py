"""Pinned SSH host keys: `<state_dir>/known_hosts`, in OpenSSH's format (`ssh-keygen -F` reads it).

One place holds the keys OSPatrol trusts, as neutral (algorithm, key blob) pairs (`PinnedKey`):
the blob is the SSH wire encoding of the public key, which asyncssh (`SSHKey.public_data`) and
paramiko (`PKey.asbytes()`, netmiko's library) both produce, so either library can check a key
the other pinned. Entries are `[address]:port alg base64` (plain `address alg base64` for port
22). Hashed or wildcard lines an operator adds by hand are matched through asyncssh. Appends are
single `write`s on an O_APPEND file, so two processes recording different hosts at once cannot
interleave lines.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ospatrol.config import HOST_KEY_POLICIES
from ospatrol.transport.errors import HostKeyChanged

POLICIES = HOST_KEY_POLICIES

# Signature algorithms a key type may be offered under: a pinned RSA key is one key whatever
# SHA the server signs with.
_SIGNATURE_ALGS = {"ssh-rsa": ("rsa-sha2-512", "rsa-sha2-256", "ssh-rsa")}


@dataclass(frozen=True)
class PinnedKey:
    """A host public key as (key type, SSH wire blob); the type is read from the blob itself."""

    algorithm: str
    blob: bytes

    @classmethod
    def from_blob(cls, blob: bytes) -> PinnedKey:
        """The key whose wire encoding is `blob` (ValueError when it is not one)."""
        if len(blob) < 4:
            raise ValueError("not an SSH public key blob")
        (size,) = struct.unpack(">I", blob[:4])
        if size == 0 or len(blob) < 4 + size:
            raise ValueError("not an SSH public key blob")
        return cls(blob[4 : 4 + size].decode("ascii", "replace"), bytes(blob))

    @classmethod
    def from_paramiko(cls, key: Any) -> PinnedKey:
        """The pin of a paramiko `PKey` (what netmiko's transport sees)."""
        return cls.from_blob(key.asbytes())

    @property
    def fingerprint(self) -> str:
        """`SHA256:...` as `ssh-keygen -l` (and the host-key event) show it."""
        digest = hashlib.sha256(self.blob).digest()
        return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")

    @property
    def signature_algs(self) -> tuple[str, ...]:
        """The host-key algorithms to offer so that only this key can be presented."""
        return _SIGNATURE_ALGS.get(self.algorithm, (self.algorithm,))

    def line(self, address: str, port: int) -> str:
        return (
            f"{host_pattern(address, port)} {self.algorithm} {base64.b64encode(self.blob).decode()}"
        )


def host_pattern(address: str, port: int) -> str:
    return address if port == 22 else f"[{address}]:{port}"


def check_presented(
    pins: Sequence[PinnedKey], presented: PinnedKey, address: str, port: int
) -> None:
    """Raise `HostKeyChanged` unless `presented` is one of `pins` (which must not be empty).

    For transports that see the key only after key exchange (paramiko): call this before any
    credential is sent.
    """
    if not any(pin.blob == presented.blob for pin in pins):
        expected = (pins[0].algorithm, pins[0].fingerprint)
        raise HostKeyChanged(address, port, expected, (presented.algorithm, presented.fingerprint))


class KnownHosts:
    """A known-hosts file (the pinned keys, or an operator's). Missing file = no key known."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def pins_for(self, address: str, port: int) -> list[PinnedKey]:
        """The keys known for `address`:`port` (exact port only: a key for :22 does not count)."""
        parsed = _parsed(self.path)
        if parsed is None:
            return []
        pins = [
            pin
            for fields in parsed.plain.get(host_pattern(address, port), [])
            if (pin := _parse_pin(fields)) is not None
        ]
        if pins or not parsed.needs_matcher:
            return _unique(pins)
        # Hashed or wildcard entries: let asyncssh match them (it falls back to port 22 for a
        # non-default port, which is why plain lines are matched by hand above).
        import asyncssh

        trusted = asyncssh.match_known_hosts(parsed.text.encode(), address, address, port)[0]
        return _unique(PinnedKey.from_blob(key.public_data) for key in trusted)

    def add(self, address: str, port: int, pin: PinnedKey) -> None:
        """Pin `pin` for `address`:`port`, unless it is pinned already.

        Concurrent first contacts of one address (inventory aliases of the same host) would
        otherwise each append the same line, and every later lookup would parse them all.
        """
        if any(p.blob == pin.blob for p in self.pins_for(address, port)):
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (pin.line(address, port) + "\n").encode())
        finally:
            os.close(fd)


@dataclass(frozen=True)
class _Parsed:
    """A known-hosts file read once: its plain lines by each host pattern of their first field."""

    text: str
    plain: dict[str, list[list[str]]]
    needs_matcher: bool


_PARSED: dict[Path, _Parsed] = {}
"""Path -> the last text read from it, parsed. Every connection looks its host up: parsing the
whole file each time made an audit of N hosts cost N x N lines."""


def _parsed(path: Path) -> _Parsed | None:
    """The file as parsed; None when it does not exist. Read every time (a rewrite within the
    file system's clock tick leaves size and mtime alone), parsed only when the text changed."""
    try:
        text = path.read_text()
    except (FileNotFoundError, NotADirectoryError):
        return None
    cached = _PARSED.get(path)
    if cached is not None and cached.text == text:
        return cached
    plain: dict[str, list[list[str]]] = {}
    needs_matcher = False
    for line in text.splitlines():
        if not line.strip():
            continue
        needs_matcher = needs_matcher or _needs_matcher(line)
        if line.startswith(("#", "@")):
            continue
        fields = line.split()
        for pattern in dict.fromkeys(fields[0].split(",")):
            plain.setdefault(pattern, []).append(fields)
    parsed = _Parsed(text, plain, needs_matcher)
    _PARSED[path] = parsed
    return parsed


def _parse_pin(fields: list[str]) -> PinnedKey | None:
    if len(fields) < 3:
        return None
    try:
        pin = PinnedKey.from_blob(base64.b64decode(fields[2], validate=True))
    except (binascii.Error, ValueError):
        return None
    return pin if pin.algorithm == fields[1] else None


def _needs_matcher(line: str) -> bool:
    """A hashed (`|1|...`), marked (`@cert-authority`) or wildcard entry."""
    first = line.split(None, 1)[0] if line.strip() else ""
    return first.startswith(("|", "@")) or any(c in first for c in "*?!")


def _unique(pins: Iterable[PinnedKey]) -> list[PinnedKey]:
    return list({pin.blob: pin for pin in pins}.values())

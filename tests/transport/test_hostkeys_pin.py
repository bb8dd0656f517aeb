"""Pinned host keys: one line per key and host, however many aliases reach it first."""

from __future__ import annotations

from pathlib import Path

import asyncssh

from ospatrol.transport.hostkeys import KnownHosts, PinnedKey


def test_pinning_the_same_key_twice_writes_one_line(tmp_path: Path):
    known = KnownHosts(tmp_path / "known_hosts")
    key = PinnedKey.from_blob(asyncssh.generate_private_key("ssh-ed25519").public_data)
    other = PinnedKey.from_blob(asyncssh.generate_private_key("ssh-ed25519").public_data)

    known.add("127.0.0.1", 2222, key)
    known.add("127.0.0.1", 2222, key)
    known.add("127.0.0.1", 2223, key)
    known.add("127.0.0.1", 2222, other)

    lines = (tmp_path / "known_hosts").read_text().splitlines()
    assert len(lines) == 3
    assert known.pins_for("127.0.0.1", 2222) == [key, other]

"""Lab helpers: lab passwords are written atomically and never world-readable; ports are picked
where no client connection can take them."""

from __future__ import annotations

import socket
import stat
from pathlib import Path

from ospatrol_lab.process import free_port, port_free, write_atomic


def test_write_atomic_creates_the_file_with_its_mode_and_replaces_a_stale_temp(tmp_path: Path):
    target = tmp_path / "inventory.yml"
    stale = tmp_path / "inventory.yml.tmp"
    stale.write_text("left over")
    stale.chmod(0o666)

    write_atomic(target, "secret: lab\n", 0o600)

    assert target.read_text() == "secret: lab\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert not stale.exists()


def test_free_port_stays_out_of_the_ephemeral_range_clients_draw_from():
    # A port in that range, once released, may become any process's outgoing local port, so a
    # lab could not get its remembered port back (ports.json) or lose the one it just picked.
    low, high = (int(w) for w in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    picks = {free_port() for _ in range(50)}
    assert len(picks) > 1
    assert not [p for p in picks if low <= p <= high]
    assert all(port_free(p) for p in picks)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", picks.pop()))
        taken.listen()
        assert not port_free(taken.getsockname()[1])

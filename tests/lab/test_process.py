"""Lab helpers: files holding lab passwords are written atomically and never world-readable."""

from __future__ import annotations

import stat
from pathlib import Path

from ospatrol_lab.process import write_atomic


def test_write_atomic_creates_the_file_with_its_mode_and_replaces_a_stale_temp(tmp_path: Path):
    target = tmp_path / "inventory.yml"
    stale = tmp_path / "inventory.yml.tmp"
    stale.write_text("left over")
    stale.chmod(0o666)

    write_atomic(target, "secret: lab\n", 0o600)

    assert target.read_text() == "secret: lab\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert not stale.exists()

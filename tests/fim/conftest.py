"""FIM fixtures: an sshd whose sessions run unprivileged, and a tree such a session can reach."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ospatrol_lab.sshd import SshdServer

NOBODY = 65534


class UnprivilegedSshd(SshdServer):
    """The lab sshd, but every command of every session runs as uid/gid 65534 (`setpriv`): the
    audit of a host by a user without become, for whom root-only files stay closed."""

    def _write_config(self) -> None:
        super()._write_config()
        drop = f"setpriv --reuid={NOBODY} --regid={NOBODY} --clear-groups"
        with self.config_path.open("a") as config:
            config.write(f'ForceCommand exec {drop} /bin/sh -c "$SSH_ORIGINAL_COMMAND"\n')


@pytest.fixture(scope="session")
def unprivileged_sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshdServer]:
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("dropping to another uid needs root and setpriv")
    with UnprivilegedSshd(tmp_path_factory.mktemp("sshd-nobody")) as server:
        yield server


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A directory every user can reach (pytest's tmp_path is private to its owner)."""
    path = Path(tempfile.mkdtemp(prefix="ospatrol-fim-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)

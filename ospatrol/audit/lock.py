"""One audit at a time per state dir: `fcntl.flock` on `<state_dir>/audit.lock`.

The lock dies with the process (the kernel drops flocks on exit), so a killed cron job never
leaves a stale lock behind. The file records the holder's pid for the error message only.
`locked_store` is the store as every scan that writes it (`audit`, `baseline accept`, the Ansible
module) opens it: under this lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from ospatrol.errors import OSPatrolError

if TYPE_CHECKING:
    from ospatrol.store import Store

LOCK_NAME = "audit.lock"


class AuditLocked(OSPatrolError):
    """Another audit holds the state dir's lock."""


@contextlib.contextmanager
def audit_lock(state_dir: Path, wait: float = 0.0) -> Iterator[Path]:
    """Hold the audit lock of `state_dir` for the block; wait up to `wait` seconds for it."""
    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
                    who = f" (pid {holder})" if holder else ""
                    raise AuditLocked(
                        f"another audit is running on {state_dir}{who}; lock {path}"
                    ) from None
                time.sleep(0.2)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield path
    finally:
        os.close(fd)


@contextlib.contextmanager
def locked_store(state_dir: Path, wait: float) -> Iterator[Store]:
    """The store of `state_dir`, held under its audit lock (waiting up to `wait` s for it)."""
    from ospatrol.store import Store

    with audit_lock(state_dir, wait=wait), Store.open(state_dir) as store:
        yield store

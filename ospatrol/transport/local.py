"""The `local` transport (`ansible_connection: local`): commands run by /bin/sh on this machine."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal

from ospatrol.transport.base import Process, TransportBase


class LocalTransport(TransportBase):
    """Runs each command as `/bin/sh -c COMMAND` in its own process group (killed on time-out)."""

    async def connect(self) -> LocalTransport:
        await self._take_slot()
        return self

    async def _start(self, command: str) -> Process:
        proc = await asyncio.create_subprocess_exec(
            "/bin/sh",
            "-c",
            command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )

        async def wait() -> tuple[int | None, str | None]:
            code = await proc.wait()
            if code < 0:
                return None, signal.Signals(-code).name.removeprefix("SIG")
            return code, None

        def kill() -> None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

        assert proc.stdin and proc.stdout and proc.stderr
        return Process(proc.stdin, proc.stdout, proc.stderr, wait, kill, proc.wait)

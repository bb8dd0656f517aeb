"""The `local` transport (`ansible_connection: local`): commands run by /bin/sh on this machine."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal

from ospatrol.transport.base import Process, TransportBase
from ospatrol.transport.registry import Capabilities

LOCAL_MAX_PARALLEL = 8
"""Commands run at once on this machine (the same default as an SSH connection's sessions)."""


class LocalTransport(TransportBase):
    """Runs each command as `/bin/sh -c COMMAND` in its own process group (killed on time-out)."""

    capabilities = Capabilities(
        posix_shell=True, files=True, exit_status=True, max_parallel=LOCAL_MAX_PARALLEL
    )

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

        async def drain(stream: asyncio.StreamReader) -> None:
            while await stream.read(1 << 16):
                pass

        async def reap() -> None:
            # Read what the killed group left in its pipes (discarded), then wait: a pipe whose
            # reader stopped on a full buffer (output cap) never reaches its end of file, and
            # asyncio's wait() returns only once every pipe has. The transport then stayed
            # open past its event loop, and closing it when collected failed ("Event loop is
            # closed", in whatever test ran then).
            assert proc.stdout and proc.stderr
            await asyncio.gather(drain(proc.stdout), drain(proc.stderr))
            await proc.wait()

        assert proc.stdin and proc.stdout and proc.stderr
        return Process(proc.stdin, proc.stdout, proc.stderr, wait, kill, reap)

"""The `local` transport (`ansible_connection: local`): commands run by /bin/sh on this machine."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal

from ospatrol.model import Host
from ospatrol.transport.base import (
    Become,
    CommandResult,
    Process,
    TransportSettings,
    check_read,
    drive,
    read_command,
)


class LocalTransport:
    """Runs each command as `/bin/sh -c COMMAND` in its own process group (killed on time-out)."""

    def __init__(self, host: Host, settings: TransportSettings) -> None:
        self.host = host
        self.settings = settings
        self.become = Become.for_host(host)
        self.commands_run = 0
        self._slot = False

    async def connect(self) -> LocalTransport:
        if self.settings.limit is not None:
            await self.settings.limit.acquire()
            self._slot = True
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

    async def run(
        self, command: str, *, timeout: float | None = None, input: bytes | str | None = None
    ) -> CommandResult:
        self.commands_run += 1
        return await drive(
            self._start,
            command,
            timeout=timeout
            if timeout is not None
            else self.settings.command_timeout_for(self.host),
            input=input,
            become=self.become,
            max_output=self.settings.max_output,
        )

    async def read(self, path: str) -> bytes:
        return check_read(path, await self.run(read_command(path)))

    async def close(self) -> None:
        if self._slot and self.settings.limit is not None:
            self._slot = False
            self.settings.limit.release()

    async def __aenter__(self) -> LocalTransport:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

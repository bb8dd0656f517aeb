"""A network device's CLI over asyncssh: one PTY shell, driven by its prompt, without sleeps.

The netdev transport's second driver (`ospatrol_netdev_driver: asyncssh`; netmiko is the
default). The SSH connection is the Unix hosts' (`SshTransport.connect`): the same host-key
pinning (a changed key stops the device before any credential is sent), legacy algorithms
(`ospatrol_ssh_legacy_algorithms` and the algorithm variables), time-outs, key files and the
run's connection slot. On it one interactive shell with a PTY, as network_cli opens:

- the prompt is learnt, not configured: the login output is read until its last line looks like
  a prompt (ends in `>`, `#`, `%`, `$` or `]`), then a bare Enter must bring back the same line;
  a device that never shows one fails the login with a time-out that says so;
- `enable` with the secret when the inventory asks for it (the prompt must then end in `#`);
- paging off with the platform's command (`DIALECTS`); a device that pages anyway has every
  `--More--` answered with a space, within the size cap and the time-out;
- each command: sent, its echo dropped, read until the prompt comes back at the start of a line.

Endless output is bounded twice: more than `max_output` bytes stops the command ("output over
the cap"), no prompt within the time-out stops it ("no prompt within N s", with how many
`--More--` pages were answered); either way, and when the device closes the session, the error
says which, and the session is closed so nothing later reads a half-answered command.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, replace
from typing import Any

from ospatrol.model import Host
from ospatrol.transport.base import CommandResult, TransportSettings
from ospatrol.transport.errors import (
    AuthenticationFailed,
    CommandTimeout,
    TransportError,
    Unreachable,
    Unsupported,
)

READ_SIZE = 65536
TAIL = 512
"""Characters at the end of the output where a prompt or a `--More--` is looked for."""
TERM_SIZE = (511, 1000)
"""PTY columns and rows, as netmiko asks: wide lines are not wrapped by the device."""

PROMPT_LIKE = re.compile(r"(?:^|[\r\n])([^\r\n]{1,100}?[>#%$\]])[ \t]?\Z")
"""The last line of a login's output when it is a prompt: `host>`, `host#`, `user@host> `,
`host-> `, `[Expert@host:0]# `."""
MORE = re.compile(
    r"(?:<--- More --->|--More--|-- ?More ?--|---\(more(?: \d+%)?\)---|--- more ---)[ \t]*$",
    re.IGNORECASE,
)
"""Pagers' markers: ASA, IOS, Gaia, Junos, ScreenOS."""
PASSWORD = re.compile(r"[Pp]assword:\s*$")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Za-z0-9]")
ERASED = re.compile(r"\r[ \t]+\r|[^\n]\x08")
"""What a pager writes to wipe its marker (`\\r   \\r`, backspaces), removed from outputs."""


@dataclass(frozen=True)
class Dialect:
    """What differs between device CLIs for this driver."""

    paging_off: tuple[str, ...]
    enable: bool = True
    """Has a privileged mode entered with `enable` and the secret."""
    shell_to_cli: str | None = None
    """Sent when the login lands in a Unix shell rather than the CLI (Junos root)."""


DIALECTS: dict[str, Dialect] = {
    "cisco_ios": Dialect(("terminal length 0", "terminal width 511")),
    "cisco_asa": Dialect(("terminal pager 0",)),
    "cisco_nxos": Dialect(("terminal length 0", "terminal width 511")),
    "arista_eos": Dialect(("terminal length 0", "terminal width 32767")),
    "juniper_junos": Dialect(
        ("set cli screen-length 0", "set cli screen-width 511"), enable=False, shell_to_cli="cli"
    ),
    "juniper_screenos": Dialect(("set console page 0",), enable=False),
    "checkpoint_gaia": Dialect(("set clienv rows 0",), enable=False),
}
"""Netmiko device type -> its dialect."""

SHELL_PROMPT = re.compile(r"(?:^|[\r\n])[^\r\n]*:[^\r\n]*[%#$] ?$")
"""A Unix shell's prompt (`root@fw:~ # `, `%`): Junos root logs in to one."""


class _Closed(Exception):
    """The device ended the session."""


class CliSession:
    """One interactive CLI session on a device. `await CliSession(host, settings, cap).open()`."""

    def __init__(self, host: Host, settings: TransportSettings, max_output: int) -> None:
        from ospatrol.platforms import BY_NAME

        platform = BY_NAME.get(host.platform)
        dialect = DIALECTS.get(platform.netmiko or "") if platform else None
        if dialect is None:
            raise Unsupported(
                f"host {host.name}: platform {host.platform!r} has no asyncssh CLI dialect "
                f"(known: {', '.join(DIALECTS)}); use ospatrol_netdev_driver: netmiko"
            )
        self.host = host
        self.settings = settings
        self.dialect = dialect
        self.max_output = max_output
        self.where = f"{host.address}:{host.port}"
        self._ssh: Any = None
        self._process: Any = None
        self._prompt: re.Pattern[str] | None = None
        self.prompt = ""
        self._pages = 0

    async def open(self) -> CliSession:
        """Connect (the Unix SSH path), start the shell, learn the prompt, enable, paging off."""
        from ospatrol.transport.ssh import SshTransport

        # The connection only: a device's become is `enable`, done here on the CLI, not sudo.
        creds = replace(self.host.credentials, become=False)
        self._ssh = SshTransport(replace(self.host, credentials=creds), self.settings)
        await self._ssh.connect()
        try:
            self._process = await self._ssh.open_shell(TERM_SIZE)
            await self._login()
        except BaseException:
            await self.close()
            raise
        return self

    async def _login(self) -> None:
        timeout = self.settings.connect_timeout_for(self.host)
        try:
            async with asyncio.timeout(timeout):
                await self._find_prompt()
                if self.dialect.shell_to_cli and SHELL_PROMPT.search(self.prompt):
                    self._write(self.dialect.shell_to_cli + "\n")
                    await self._find_prompt()
                creds = self.host.credentials
                secret = creds.enable_secret or creds.become_password
                wanted = self.host.options.enable or creds.enable_secret
                if wanted and self.dialect.enable and not self.prompt.endswith("#"):
                    await self._enable(secret or "")
                for command in self.dialect.paging_off:
                    # A device that refuses one still works: its pages are answered.
                    await self._command(command, timeout, self.max_output)
        except TimeoutError:
            # Logged in, so reachable: a device with no prompt is broken, not unreachable.
            raise TransportError(
                f"{self.where}: no CLI prompt within {timeout:g} s of login"
                + (f" (last seen: {self.prompt!r})" if self.prompt else "")
            ) from None
        except _Closed:
            raise Unreachable(f"{self.where}: the device closed the session at login") from None

    async def _read(self) -> str:
        data = await self._process.stdout.read(READ_SIZE)
        if not data:
            raise _Closed
        return data

    def _write(self, text: str) -> None:
        self._process.stdin.write(text)

    async def _find_prompt(self) -> None:
        """Read until the output's last line looks like a prompt, then press Enter and expect
        the same line again (a banner line that happened to end in `>` is not a prompt)."""
        seen = ""
        while True:
            seen = (seen + await self._read())[-TAIL:]
            found = PROMPT_LIKE.search(_clean(seen))
            if found is None:
                continue
            candidate = found.group(1).strip()
            self._write("\n")
            again = ""
            while True:
                again = (again + await self._read())[-TAIL:]
                line = PROMPT_LIKE.search(_clean(again))
                if line is not None:
                    break
            if line.group(1).strip() == candidate:
                self._set_prompt(candidate)
                return
            seen = again

    def _set_prompt(self, prompt: str) -> None:
        """Commands end at this prompt, in any mode of the same device (`>` or `#`)."""
        self.prompt = prompt
        base = re.escape(prompt[:-1].rstrip())
        # After a line break only (a tail cut from a long line must not pass for a prompt), and
        # at the very end: a line of output followed by more is not the prompt.
        self._prompt = re.compile(rf"[\r\n]{base}[^\r\n]{{0,40}}?[>#%$\]][ \t]?\Z")

    async def _enable(self, secret: str) -> None:
        self._write("enable\n")
        tail = ""
        while True:
            tail = (tail + await self._read())[-TAIL:]
            clean = _clean(tail)
            if PASSWORD.search(clean):
                break
            if self._at_prompt(clean):
                raise AuthenticationFailed(f"{self.where}: enable refused (no password asked)")
        self._write(secret + "\n")
        tail = ""
        while True:
            tail = (tail + await self._read())[-TAIL:]
            clean = _clean(tail)
            if PASSWORD.search(clean):
                raise AuthenticationFailed(f"{self.where}: enable refused (wrong secret)")
            found = PROMPT_LIKE.search(clean)
            if found and self._at_prompt(clean):
                prompt = found.group(1).strip()
                if not prompt.endswith("#"):
                    raise AuthenticationFailed(f"{self.where}: enable refused")
                self._set_prompt(prompt)
                return

    def _at_prompt(self, text: str) -> bool:
        return self._prompt is not None and self._prompt.search(text) is not None

    async def _command(self, command: str, timeout: float, cap: int) -> tuple[str, int]:
        """Send `command`, read to the next prompt; (output without echo and prompt, pages
        answered). TimeoutError past `timeout`; `_TooMuch` past `cap` characters."""
        self._write(command + "\n")
        parts: list[str] = []
        size = 0
        tail = ""
        self._pages = pages = 0
        async with asyncio.timeout(timeout):
            while True:
                chunk = await self._read()
                size += len(chunk)
                if size > cap:
                    raise _TooMuch(pages)
                parts.append(chunk)
                tail = (tail + chunk)[-TAIL:]
                clean = _clean(tail)
                if self._at_prompt(clean):
                    break
                if MORE.search(clean):
                    self._pages = pages = pages + 1
                    self._write(" ")
                    # The marker is not output; the next page starts on a clean tail.
                    parts[-1] = MORE.sub("", chunk)
                    tail = ""
        text = _clean("".join(parts)).replace("\r\n", "\n").replace("\r", "\n")
        lines = text.split("\n")
        if lines and lines[0].strip().endswith(command.strip()):
            lines = lines[1:]
        if lines and self._prompt is not None and self._prompt.search("\n" + lines[-1]):
            lines = lines[:-1]
        return "\n".join(lines), pages

    async def run(self, command: str, timeout: float) -> str:
        """The output of one command; errors say what went wrong and close the session."""
        if self._process is None:
            raise Unreachable(f"{self.where}: the CLI session was closed after an earlier error")
        try:
            output, _ = await self._command(command, timeout, self.max_output)
            return output
        except TimeoutError:
            await self.close()
            result = CommandResult(command, b"", b"", None, truncated=True)
            paging = f" ({self._pages} --More-- pages answered)" if self._pages else ""
            raise CommandTimeout(
                f"{command!r} on {self.where}: no prompt within {timeout:g} s{paging}", result
            ) from None
        except _TooMuch as exc:
            await self.close()
            paging = f", {exc.pages} --More-- pages answered" if exc.pages else ""
            raise TransportError(
                f"{command!r} on {self.where}: output over the {self.max_output} byte cap "
                f"(stopped{paging})"
            ) from None
        except _Closed:
            await self.close()
            raise Unreachable(
                f"{command!r} on {self.where}: the device closed the session mid-output"
            ) from None

    async def close(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            process.close()
        ssh, self._ssh = self._ssh, None
        if ssh is not None:
            await ssh.close()


class _TooMuch(Exception):
    def __init__(self, pages: int) -> None:
        super().__init__(pages)
        self.pages = pages


def _clean(text: str) -> str:
    """Without terminal escapes and what pagers write to wipe their marker."""
    if "\x1b" in text:
        text = ANSI.sub("", text)
    if "\x08" in text or "\r " in text or "\r\t" in text:
        text = ERASED.sub("", text)
    return text

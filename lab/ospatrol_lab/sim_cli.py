"""The command line of a simulated device, without I/O: text in, text out.

`Session.feed(data)` takes what the SSH client typed and returns what the device sends back:
the echo, command output, `--More--` pages and the next prompt. `Session.run_exec(command)`
answers an SSH exec request (stdout, stderr, exit status). The base class does what every
platform shares (echo, line editing, passwords, paging, `|` filters, the running-config file);
one small subclass per platform adds its modes and special commands, the rest is profile data.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ospatrol_lab.sim_profile import HostVars, Profile, render

MAX_LINE = 4096
FAULTS = ("drop", "invalid", "no-prompt", "page-forever", "truncated")
"""How a host can misbehave (`HostState.fault`): close the session halfway through the output,
reject the command, never show a prompt, page without end (whatever the paging setting), or
print half the output and the prompt as if that were all."""
_FILTERS = {
    "include": "keep", "inc": "keep", "i": "keep", "grep": "keep", "match": "keep",
    "find": "keep", "exclude": "drop", "ex": "drop", "except": "drop", "begin": "begin",
    "b": "begin", "count": "count", "no-more": "nomore", "display": "display",
}  # fmt: skip


@dataclass
class HostState:
    """What one simulated host is: its profile, credentials and running-config file."""

    vars: HostVars
    profile: Profile
    config_path: Path
    password: str
    enable_password: str

    def read_config(self) -> str:
        """The running config, read again on every request so that edits show at once."""
        try:
            return self.config_path.read_text(encoding="utf-8", errors="replace").rstrip("\n")
        except OSError:
            return ""

    def fault(self) -> tuple[str, str]:
        """The misbehaviour asked of this host: the file `fault` beside its running config holds
        `MODE [COMMAND]` (MODE one of `FAULTS`; COMMAND, as typed, is the one that misbehaves:
        all but `no-prompt` need it). Re-read on every request, like the config, so a test can
        switch it on and off. ("", "") when the host behaves."""
        try:
            text = self.config_path.with_name("fault").read_text(encoding="utf-8").strip()
        except OSError:
            return "", ""
        mode, _, command = text.partition(" ")
        return (mode, command.strip()) if mode in FAULTS else ("", "")

    def write_config(self, text: str) -> None:
        tmp = self.config_path.with_name(self.config_path.name + ".tmp")
        tmp.write_text(text.rstrip("\n") + "\n", encoding="utf-8")
        os.replace(tmp, self.config_path)


class CommandError(Exception):
    """A command the device rejects; `word` is the index of the word the caret points at."""

    def __init__(self, word: int = 0) -> None:
        super().__init__(f"invalid input at word {word}")
        self.word = word


class Session:
    """One CLI session of a simulated host (platform-neutral part)."""

    gap = ""  # printed between a command's output and the next prompt (Junos: a blank line)
    start_mode = "user"
    exec_mode = "user"  # the mode exec requests run in (ASA: privileged)

    def __init__(self, host: HostState) -> None:
        self.host = host
        self.profile = host.profile
        self.mode = self.start_mode
        self.paging = True
        self.page_length = self.profile.page_length
        self.closed = False
        self._buffer: list[str] = []
        self._last = ""
        self._pending: list[str] = []
        self._question: Callable[[str], str] | None = None
        self._echo: str | None = None
        self._nomore = False
        self._mute = False
        self._forever: list[str] = []

    # ---- rendering -------------------------------------------------------------------------
    def render(self, template: str, **extra: str) -> str:
        return render(template, self.host.vars, extra)

    def prompt(self) -> str:
        return self.render(self.profile.prompts[self.mode])

    def start(self) -> str:
        banner = self.render(self.profile.banner) if self.profile.banner else ""
        if self.host.fault()[0] == "no-prompt":
            # Logged in, banner shown, then silence: nothing typed is answered.
            self._mute = True
            return crlf(banner)
        return crlf(banner) + self.prompt()

    # ---- input -----------------------------------------------------------------------------
    def feed(self, data: str) -> str:
        """Process typed characters; return what the device prints in answer."""
        if self._mute:
            return ""
        out: list[str] = []
        for ch in data:
            if self.closed:
                break
            last, self._last = self._last, ch
            if ch == "\n" and last == "\r":
                continue
            if self._pending:
                out.append(self._page_key(ch))
            elif ch in "\r\n":
                line = "".join(self._buffer)
                self._buffer.clear()
                out.append("\r\n")
                out.append(self._enter(line))
            elif ch == "\x03":
                self._buffer.clear()
                self._question = None
                out.append("^C\r\n" + self.prompt())
            elif ch in "\x7f\x08":
                if self._buffer:
                    self._buffer.pop()
                    if self._question is None or self._echo != "":
                        out.append("\b \b")
            elif ch < " " or len(self._buffer) >= MAX_LINE:
                continue
            else:
                self._buffer.append(ch)
                if self._question is None or self._echo is None:
                    out.append(ch)
                elif self._echo:
                    out.append(self._echo)
        return "".join(out)

    def _enter(self, line: str) -> str:
        if self._question is not None:
            handler, self._question = self._question, None
            output = handler(line)
        else:
            try:
                output = self.execute(line.strip())
            except CommandError as err:
                output = self.error(line, err)
        if self.closed:
            return crlf(output + "\n" if output else "")
        if self._question is not None:
            return crlf(output)
        return self.respond(output)

    def ask(self, question: str, handler: Callable[[str], str], echo: str | None = None) -> str:
        """Print `question` and hand the next line to `handler`; `echo` is None to echo what is
        typed, "" to echo nothing (passwords) or a mask character."""
        self._question = handler
        self._echo = echo
        return question

    # ---- output and paging -----------------------------------------------------------------
    def respond(self, output: str) -> str:
        """Output of a command followed by the prompt, paged when paging is on (and the command
        had no `| no-more`)."""
        nomore, self._nomore = self._nomore, False
        body = output + "\n" + self.gap if output else ""
        body += self.before_prompt()
        lines = body.split("\n")[:-1] if body else []
        if self._forever:
            keep = self.page_length - 1
            self._pending = lines[keep:]
            return "".join(x + "\r\n" for x in lines[:keep]) + self.profile.more
        if self.paging and not nomore and len(lines) >= self.page_length > 1:
            keep = self.page_length - 1
            self._pending = lines[keep:]
            return "".join(x + "\r\n" for x in lines[:keep]) + self.profile.more
        return "".join(x + "\r\n" for x in lines) + self.prompt()

    def before_prompt(self) -> str:
        return ""

    def _page_key(self, ch: str) -> str:
        erase = "\r" + " " * len(self.profile.more) + "\r"
        if ch in "qQ\x03":
            self._pending, self._forever = [], []
            return erase + self.prompt()
        if ch == " ":
            count = self.page_length - 1
        elif ch in "\r\n":
            count = 1
        else:
            return ""
        if self._forever and len(self._pending) <= count:
            self._pending += self._forever  # the output starts again: paging never ends
        lines, self._pending = self._pending[:count], self._pending[count:]
        text = erase + "".join(x + "\r\n" for x in lines)
        return text + (self.profile.more if self._pending else self.prompt())

    def error(self, line: str, err: CommandError) -> str:
        """The profile's error text for a rejected `line`."""
        return self.render(self.profile.error, **self.error_fields(line, err))

    def error_fields(self, line: str, err: CommandError) -> dict[str, str]:
        """`caret`: blanks up to the bad word as typed after the prompt; `word`; `line`."""
        words = list(re.finditer(r"\S+", line))
        if not words:
            return {"caret": " " * len(self.prompt()), "word": "", "line": ""}
        bad = words[min(err.word, len(words) - 1)]
        caret = " " * (len(self.prompt()) + bad.start())
        return {"caret": caret, "word": bad.group(0), "line": line.strip()}

    # ---- commands --------------------------------------------------------------------------
    def execute(self, line: str) -> str:
        """Run one command line; return its output ('\n' line ends, no prompt)."""
        if not line:
            return ""
        command, filters = split_filters(line)
        output = self.command(command.strip())
        mode, target = self.host.fault()
        if mode and target == line:
            output = self.misbehave(mode, output)
        nomore = False
        for spec in filters:
            output, off = self.apply_filter(output, spec)
            nomore = nomore or off
        self._nomore = nomore
        return output

    def misbehave(self, mode: str, output: str) -> str:
        """`output` as a faulty host (`HostState.fault`) gives it."""
        if mode == "invalid":
            raise CommandError(0)
        if mode == "page-forever":
            self._forever = output.split("\n") or [""]
        if mode in ("drop", "truncated"):
            output = output[: len(output) // 2]
            # `drop`: the session ends right after this half (see `_enter`).
            self.closed = mode == "drop"
        return output

    def command(self, line: str) -> str:
        """Platform commands first (subclasses), then the profile's fixed outputs."""
        return self.lookup(line)

    def lookup(self, line: str) -> str:
        found, args = self.profile.find(line)
        if found is None:
            raise CommandError(self.bad_word(line))
        if found.privileged and self.mode == "user":
            raise CommandError(0)
        return self.render(found.output, args=args, config=self.host.read_config)

    def bad_word(self, line: str) -> int:
        """Index of the first word no command of the profile continues with."""
        typed = line.split()
        for i in range(len(typed)):
            if not any(
                len(c.words) > i
                and all(w.startswith(t) for t, w in zip(typed[: i + 1], c.words, strict=False))
                for c in self.profile.commands
            ):
                return i
        return max(len(typed) - 1, 0)

    def apply_filter(self, output: str, spec: str) -> tuple[str, bool]:
        word, _, arg = spec.partition(" ")
        kind = _FILTERS.get(word)
        arg = arg.strip()
        flags = 0
        if word == "grep":
            while arg.startswith("-"):
                opt, _, arg = arg.partition(" ")
                kind = "drop" if "v" in opt else kind
                flags |= re.IGNORECASE if "i" in opt else 0
        pattern = _pattern(arg.strip().strip("\"'"), flags)
        lines = output.split("\n")
        if kind == "keep":
            return "\n".join(x for x in lines if pattern.search(x)), False
        if kind == "drop":
            return "\n".join(x for x in lines if not pattern.search(x)), False
        if kind == "begin":
            for i, x in enumerate(lines):
                if pattern.search(x):
                    return "\n".join(lines[i:]), False
            return "", False
        if kind == "count":
            return f"Count: {len(lines) if output else 0} lines", False
        if kind == "nomore":
            return output, True
        raise CommandError(0)

    def run_exec(self, command: str) -> tuple[str, str, int]:
        """Answer an SSH exec request: the command runs in privileged mode, paging off."""
        self.mode = self.exec_mode
        self.paging = False
        try:
            output = self.execute(command.strip())
        except CommandError as err:
            return self.error(command, err) + "\n", "", 1
        # Plain newlines: the server turns them into CRLF when the client asked for a PTY.
        return (output + "\n" if output else ""), "", 0

    def set_paging(self, length: int) -> None:
        self.paging = length > 0
        if length > 1:
            self.page_length = length


def split_filters(line: str) -> tuple[str, list[str]]:
    """`cmd | include x | count` -> ("cmd", ["include x", "count"]); a `|` in a pattern stays."""
    parts = line.split("|")
    command, filters = parts[0], []
    for part in parts[1:]:
        word = part.strip().split(" ", 1)[0]
        if word in _FILTERS:
            filters.append(part.strip())
        elif filters:
            filters[-1] += "|" + part
        else:
            command += "|" + part
    return command, filters


def _pattern(text: str, flags: int = 0) -> re.Pattern[str]:
    try:
        return re.compile(text, flags)
    except re.error:
        return re.compile(re.escape(text), flags)


def crlf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


# ---- IOS-style configuration editing (ASA) ---------------------------------------------------
def config_add(config: str, block: str | None, line: str) -> str:
    """Add `line` at top level, or at the end of `block` (created if missing); no duplicates."""
    lines = config.split("\n") if config else []
    if block is None:
        if line not in lines:
            lines.append(line)
        return "\n".join(lines)
    entry = " " + line
    if block in lines:
        i = lines.index(block) + 1
        while i < len(lines) and lines[i].startswith(" "):
            if lines[i] == entry:
                return config
            i += 1
        lines.insert(i, entry)
    else:
        lines.extend([block, entry])
    return "\n".join(lines)


def config_remove(config: str, block: str | None, line: str) -> str:
    """Remove `line` (with its block when it heads one), or the entry `line` of `block`."""
    lines = config.split("\n")
    out: list[str] = []
    skipping = False
    current: str | None = None
    for x in lines:
        if not x.startswith(" "):
            current = x
            skipping = block is None and x == line
            if skipping:
                continue
        elif skipping or (block is not None and current == block and x == " " + line):
            continue
        out.append(x)
    return "\n".join(out)

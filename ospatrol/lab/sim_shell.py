"""A small POSIX sh subset for the simulated ESXi host (busybox ash stands in the real one).

Enough for how OSPatrol and operators drive ESXi over SSH: `sh -c '...'`, lists (`;`, newlines,
`&&`, `||`), pipelines into `grep`/`sort`/`head`/`tail`/`wc`/`uniq`, subshells `( ... )`,
redirections of the `</dev/null 2>&1` kind, `$?`, `printf`/`echo`/`true`/`false`/`:`. Every other
command goes to the host's callback (`esxcli`, `vim-cmd`, `cat`, ...). No I/O of its own.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

Result = tuple[str, str, int]
Runner = Callable[[list[str], str], Result]

_STATUS = "\x00?\x00"  # `$?` in a word, replaced when the command runs
_OPERATORS = ("&&", "||", ";", "\n", "|", "(", ")", "&")


class ShellSyntaxError(Exception):
    """A script this shell cannot parse."""


@dataclass
class Redirect:
    fd: int
    op: str  # "<", ">", ">>", ">&"
    target: str


@dataclass
class Simple:
    words: list[str] = field(default_factory=list)
    redirects: list[Redirect] = field(default_factory=list)


@dataclass
class Subshell:
    body: list
    redirects: list[Redirect] = field(default_factory=list)


def tokenize(script: str) -> list[str | tuple[str, ...]]:
    """Words (str) and operators/redirections (tuples: ("op", x) or ("redir", fd, op, target))."""
    tokens: list[str | tuple[str, ...]] = []
    word: list[str] = []
    in_word = False
    i, n = 0, len(script)

    def end_word() -> None:
        nonlocal in_word
        if in_word:
            tokens.append("".join(word))
            word.clear()
            in_word = False

    while i < n:
        ch = script[i]
        if ch in " \t\r":
            end_word()
            i += 1
        elif ch == "#" and not in_word:
            while i < n and script[i] != "\n":
                i += 1
        elif ch == "'":
            end = script.find("'", i + 1)
            if end < 0:
                raise ShellSyntaxError("unterminated quoted string")
            word.append(script[i + 1 : end])
            in_word, i = True, end + 1
        elif ch == '"':
            i += 1
            while i < n and script[i] != '"':
                if script[i] == "\\" and i + 1 < n and script[i + 1] in '"\\$`\n':
                    word.append(script[i + 1])
                    i += 2
                elif script.startswith("$?", i):
                    word.append(_STATUS)
                    i += 2
                else:
                    word.append(script[i])
                    i += 1
            if i >= n:
                raise ShellSyntaxError("unterminated quoted string")
            in_word, i = True, i + 1
        elif ch == "\\" and i + 1 < n:
            if script[i + 1] != "\n":
                word.append(script[i + 1])
                in_word = True
            i += 2
        elif script.startswith("$?", i):
            word.append(_STATUS)
            in_word, i = True, i + 2
        elif ch in "<>":
            digits = "".join(word)
            if in_word and digits.isdigit():
                fd = int(digits)
                word.clear()
                in_word = False
            else:
                end_word()
                fd = 0 if ch == "<" else 1
            op = ch
            i += 1
            if i < n and script[i] in ">&" and not (ch == "<" and script[i] == ">"):
                op += script[i]
                i += 1
            while i < n and script[i] in " \t":
                i += 1
            start = i
            while i < n and script[i] not in " \t\r\n;&|()<>":
                i += 1
            if start == i:
                raise ShellSyntaxError("redirection without a target")
            tokens.append(("redir", str(fd), op, script[start:i]))
        else:
            op = next((o for o in _OPERATORS if script.startswith(o, i)), None)
            if op is None:
                word.append(ch)
                in_word, i = True, i + 1
            else:
                end_word()
                tokens.append(("op", op))
                i += len(op)
    end_word()
    return tokens


class _Parser:
    def __init__(self, tokens: list[str | tuple[str, ...]]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> str | tuple[str, ...] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def parse_list(self, closing: bool = False) -> list:
        """[(connector, pipeline), ...] where connector is None, "&&" or "||"."""
        items: list = []
        connector = None
        while True:
            token = self.peek()
            if token is None or (closing and token == ("op", ")")):
                break
            if isinstance(token, tuple) and token[0] == "op" and token[1] in (";", "\n", "&"):
                self.pos += 1
                connector = None
                continue
            items.append((connector, self.parse_pipeline()))
            token = self.peek()
            if isinstance(token, tuple) and token[0] == "op" and token[1] in ("&&", "||"):
                connector = token[1]
                self.pos += 1
                while self.peek() == ("op", "\n"):
                    self.pos += 1
            else:
                connector = None
        return items

    def parse_pipeline(self) -> list:
        commands = [self.parse_command()]
        while self.peek() == ("op", "|"):
            self.pos += 1
            while self.peek() == ("op", "\n"):
                self.pos += 1
            commands.append(self.parse_command())
        return commands

    def parse_command(self) -> Simple | Subshell:
        token = self.peek()
        if token == ("op", "("):
            self.pos += 1
            body = self.parse_list(closing=True)
            if self.peek() != ("op", ")"):
                raise ShellSyntaxError("missing )")
            self.pos += 1
            node: Simple | Subshell = Subshell(body)
        else:
            node = Simple()
        while True:
            token = self.peek()
            if isinstance(token, str) and isinstance(node, Simple):
                node.words.append(token)
            elif isinstance(token, tuple) and token[0] == "redir":
                node.redirects.append(Redirect(int(token[1]), token[2], token[3]))
            else:
                break
            self.pos += 1
        if isinstance(node, Simple) and not node.words and not node.redirects:
            raise ShellSyntaxError(f"syntax error near {_show(token)}")
        return node


def _show(token: str | tuple[str, ...] | None) -> str:
    if token is None:
        return "end of file"
    return repr(token[1] if isinstance(token, tuple) else token)


class Shell:
    """Runs scripts; `runner(words, stdin)` answers every command that is not built in."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self.status = 0

    def run(self, script: str, stdin: str = "") -> Result:
        try:
            tree = _Parser(tokenize(script)).parse_list()
        except ShellSyntaxError as err:
            self.status = 2
            return "", f"sh: {err}", 2
        return self._list(tree, stdin)

    def _list(self, items: list, stdin: str) -> Result:
        out: list[str] = []
        err: list[str] = []
        for connector, pipeline in items:
            if (connector == "&&" and self.status != 0) or (connector == "||" and self.status == 0):
                continue
            o, e, self.status = self._pipeline(pipeline, stdin)
            out.append(o)
            err.append(e)
        return "".join(out), "".join(err), self.status

    def _pipeline(self, commands: list, stdin: str) -> Result:
        data, errors, status = stdin, [], 0
        for command in commands:
            data, e, status = self._command(command, data)
            errors.append(e)
        return data, "".join(errors), status

    def _command(self, node: Simple | Subshell, stdin: str) -> Result:
        for redirect in node.redirects:
            if redirect.op == "<":
                if redirect.target != "/dev/null":
                    return "", f"sh: can't open {redirect.target}: no such file\n", 1
                stdin = ""
        if isinstance(node, Subshell):
            saved = self.status
            out, err, status = self._list(node.body, stdin)
            self.status = saved
        else:
            words = [w.replace(_STATUS, str(self.status)) for w in node.words]
            out, err, status = self._simple(words, stdin) if words else ("", "", 0)
        for redirect in node.redirects:
            if redirect.op == ">&" and redirect.fd == 2 and redirect.target == "1":
                out, err = out + err, ""
            elif redirect.op == ">&" and redirect.fd == 1 and redirect.target == "2":
                out, err = "", err + out
            elif redirect.op in (">", ">>"):
                if redirect.target != "/dev/null":
                    return "", f"sh: can't create {redirect.target}: Read-only file system\n", 1
                if redirect.fd == 2:
                    err = ""
                else:
                    out = ""
        return out, err, status

    def _simple(self, words: list[str], stdin: str) -> Result:
        name, args = words[0], words[1:]
        if name in ("sh", "/bin/sh") and args[:1] == ["-c"] and len(args) >= 2:
            return Shell(self.runner).run(args[1], stdin)
        builtin = _BUILTINS.get(name)
        if builtin is not None:
            return builtin(args, stdin)
        if name == "cat" and not args:
            return stdin, "", 0
        return self.runner(words, stdin)


def _printf(args: list[str], stdin: str) -> Result:
    if not args:
        return "", "printf: usage: printf format [arguments]\n", 1
    fmt, values = _escapes(args[0]), args[1:]
    out: list[str] = []
    while True:
        text, used = _format_once(fmt, values)
        out.append(text)
        values = values[used:]
        # Like sh's printf, the format is reused while arguments remain.
        if not values or used == 0:
            break
    return "".join(out), "", 0


def _format_once(fmt: str, values: list[str]) -> tuple[str, int]:
    used = 0

    def conversion(match: re.Match[str]) -> str:
        nonlocal used
        spec = match.group(1)
        if spec == "%":
            return "%"
        value = values[used] if used < len(values) else ""
        used += 1
        if spec == "d":
            return str(int(value)) if re.fullmatch(r"-?\d+", value.strip()) else "0"
        return _escapes(value) if spec == "b" else value

    return re.sub(r"%(?:[-+ #0]?\d*)([sdb%])", conversion, fmt), used


def _escapes(text: str) -> str:
    table = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "0": "\0", "a": "\a"}

    def one(match: re.Match[str]) -> str:
        body = match.group(1)
        if body[0] in "01234567" and len(body) > 1:
            return chr(int(body, 8) & 0xFF)
        return table.get(body[0], "\\" + body)

    return re.sub(r"\\([0-7]{1,3}|.)", one, text)


def _echo(args: list[str], stdin: str) -> Result:
    if args[:1] == ["-n"]:
        return " ".join(args[1:]), "", 0
    return " ".join(args) + "\n", "", 0


def _grep(args: list[str], stdin: str) -> Result:
    flags, invert, count, quiet, fixed = 0, False, False, False, False
    while args and args[0].startswith("-") and len(args[0]) > 1:
        option = args.pop(0)
        invert |= "v" in option
        count |= "c" in option
        quiet |= "q" in option
        fixed |= "F" in option
        flags |= re.IGNORECASE if "i" in option else 0
    if not args:
        return "", "BusyBox v1.29.3 multi-call binary.\n\nUsage: grep [-vicqEF] PATTERN\n", 2
    text = args[0]
    try:
        pattern = re.compile(re.escape(text) if fixed else text, flags)
    except re.error:
        pattern = re.compile(re.escape(text), flags)
    lines = [x for x in stdin.splitlines() if bool(pattern.search(x)) != invert]
    status = 0 if lines else 1
    if quiet:
        return "", "", status
    if count:
        return f"{len(lines)}\n", "", status
    return "".join(x + "\n" for x in lines), "", status


def _sort(args: list[str], stdin: str) -> Result:
    lines = stdin.splitlines()
    if "-n" in args:
        lines.sort(key=lambda x: float(re.match(r"\s*(-?\d*\.?\d*)", x).group(1) or 0))
    else:
        lines.sort()
    if "-u" in args:
        lines = list(dict.fromkeys(lines))
    if "-r" in args:
        lines.reverse()
    return "".join(x + "\n" for x in lines), "", 0


def _count_arg(args: list[str]) -> int:
    for i, arg in enumerate(args):
        if arg == "-n" and i + 1 < len(args) and args[i + 1].isdigit():
            return int(args[i + 1])
        if arg.startswith("-") and arg[1:].isdigit():
            return int(arg[1:])
    return 10


def _head(args: list[str], stdin: str) -> Result:
    return "".join(x + "\n" for x in stdin.splitlines()[: _count_arg(args)]), "", 0


def _tail(args: list[str], stdin: str) -> Result:
    n = _count_arg(args)
    return "".join(x + "\n" for x in stdin.splitlines()[-n:] if n), "", 0


def _wc(args: list[str], stdin: str) -> Result:
    lines = stdin.count("\n")
    if args == ["-l"]:
        return f"{lines}\n", "", 0
    return f"{lines} {len(stdin.split())} {len(stdin.encode())}\n", "", 0


def _uniq(args: list[str], stdin: str) -> Result:
    out: list[str] = []
    for line in stdin.splitlines():
        if not out or out[-1] != line:
            out.append(line)
    return "".join(x + "\n" for x in out), "", 0


_BUILTINS: dict[str, Callable[[list[str], str], Result]] = {
    "printf": _printf,
    "echo": _echo,
    "true": lambda args, stdin: ("", "", 0),
    ":": lambda args, stdin: ("", "", 0),
    "false": lambda args, stdin: ("", "", 1),
    "grep": _grep,
    "egrep": _grep,
    "sort": _sort,
    "head": _head,
    "tail": _tail,
    "wc": _wc,
    "uniq": _uniq,
}

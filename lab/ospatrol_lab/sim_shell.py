"""A small POSIX sh subset for the simulated ESXi host (busybox ash stands in the real one).

Enough for how OSPatrol and operators drive ESXi over SSH: `sh -c '...'`, lists (`;`, newlines,
`&&`, `||`), pipelines, subshells `( ... )`, `for` loops, variables with `$x`, `${x%% pat}` and
`$(...)`, redirections of the `</dev/null 2>&1` / `< "$f"` kind, `$?`. Commands are the busybox
tools of `sim_tools` (over a read-only file tree the host provides) or go to the host's
callback (`esxcli`, `vim-cmd`, ...). No I/O of its own.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ospatrol_lab.sim_tools import BUILTINS, FILE_TOOLS, FsEntry, Result

Runner = Callable[[list[str], str], Result]
_OPERATORS = ("&&", "||", ";", "\n", "|", "(", ")", "&")
_KEYWORDS = {"for", "in", "do", "done"}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class ShellSyntaxError(Exception):
    """A script this shell cannot parse."""


# ---- words and tokens ------------------------------------------------------------------------
@dataclass
class Word:
    """A shell word: literal text and expansions (`("var", name, op, arg)`, `("cmd", script)`)."""

    parts: list[tuple] = field(default_factory=list)
    plain: bool = True  # no quotes or expansions: may be a keyword or an assignment

    def literal(self) -> str | None:
        if all(p[0] == "lit" for p in self.parts):
            return "".join(p[1] for p in self.parts)
        return None


@dataclass
class Redirect:
    fd: int
    op: str  # "<", ">", ">>", ">&", "<&"
    target: Word


def _matching(script: str, i: int, open_: str, close: str) -> int:
    """Index of the `close` matching the `open_` before position `i` (quotes respected)."""
    depth = 1
    while i < len(script):
        ch = script[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "'":
            i = script.index("'", i + 1) + 1 if "'" in script[i + 1 :] else len(script)
            continue
        if ch == '"':
            j = i + 1
            while j < len(script) and script[j] != '"':
                j += 2 if script[j] == "\\" else 1
            i = j + 1
            continue
        if ch == open_:
            depth += 1
        elif ch == close:
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise ShellSyntaxError(f"missing {close}")


def _dollar(script: str, i: int, word: Word) -> int:
    """Parse the expansion at `script[i] == "$"` into `word`; the index after it."""
    word.plain = False
    nxt = script[i + 1 : i + 2]
    if nxt == "(":
        end = _matching(script, i + 2, "(", ")")
        word.parts.append(("cmd", script[i + 2 : end]))
        return end + 1
    if nxt == "{":
        end = _matching(script, i + 2, "{", "}")
        body = script[i + 2 : end]
        match = re.match(r"([A-Za-z_][A-Za-z0-9_]*|[0-9?#@*])(%%|%|##|#|:-|-)?(.*)$", body, re.S)
        if not match:
            raise ShellSyntaxError(f"bad substitution: ${{{body}}}")
        word.parts.append(("var", match.group(1), match.group(2) or "", match.group(3)))
        return end + 1
    if nxt and nxt in "?#@*0123456789":
        word.parts.append(("var", nxt, "", ""))
        return i + 2
    match = _NAME.match(script, i + 1)
    if match:
        word.parts.append(("var", match.group(0), "", ""))
        return match.end()
    word.parts.append(("lit", "$"))
    return i + 1


def _read_word(script: str, i: int, word: Word) -> int:
    """Extend `word` from `script[i]` up to the next unquoted blank or operator character."""
    n = len(script)
    while i < n:
        ch = script[i]
        if ch in " \t\r\n;&|()<>":
            break
        if ch == "'":
            end = script.find("'", i + 1)
            if end < 0:
                raise ShellSyntaxError("unterminated quoted string")
            word.parts.append(("lit", script[i + 1 : end]))
            word.plain = False
            i = end + 1
        elif ch == '"':
            word.plain = False
            i += 1
            while i < n and script[i] != '"':
                if script[i] == "\\" and i + 1 < n and script[i + 1] in '"\\$`\n':
                    word.parts.append(("lit", script[i + 1]))
                    i += 2
                elif script[i] == "$":
                    i = _dollar(script, i, word)
                else:
                    word.parts.append(("lit", script[i]))
                    i += 1
            if i >= n:
                raise ShellSyntaxError("unterminated quoted string")
            i += 1
        elif ch == "\\":
            if i + 1 < n and script[i + 1] != "\n":
                word.parts.append(("lit", script[i + 1]))
                word.plain = False
            i += 2
        elif ch == "$":
            i = _dollar(script, i, word)
        else:
            word.parts.append(("lit", ch))
            i += 1
    merged: list[tuple] = []
    for part in word.parts:
        if part[0] == "lit" and merged and merged[-1][0] == "lit":
            merged[-1] = ("lit", merged[-1][1] + part[1])
        else:
            merged.append(part)
    word.parts = merged
    return i


def tokenize(script: str) -> list[Word | tuple]:
    """Words and operators (`("op", x)`) and redirections (`("redir", Redirect)`)."""
    tokens: list[Word | tuple] = []
    i, n = 0, len(script)
    while i < n:
        ch = script[i]
        if ch in " \t\r":
            i += 1
        elif ch == "#":
            while i < n and script[i] != "\n":
                i += 1
        elif ch in "<>" or (ch.isdigit() and re.match(r"\d+[<>]", script[i:])):
            fd_text = re.match(r"\d*", script[i:]).group(0)
            i += len(fd_text)
            op = script[i]
            i += 1
            if i < n and script[i] in ">&" and not (op == "<" and script[i] == ">"):
                op += script[i]
                i += 1
            while i < n and script[i] in " \t":
                i += 1
            target = Word()
            j = _read_word(script, i, target)
            if j == i:
                raise ShellSyntaxError("redirection without a target")
            i = j
            fd = int(fd_text) if fd_text else (0 if op[0] == "<" else 1)
            tokens.append(("redir", Redirect(fd, op, target)))
        else:
            op = next((o for o in _OPERATORS if script.startswith(o, i)), None)
            if op is not None:
                tokens.append(("op", op))
                i += len(op)
            else:
                word = Word()
                i = _read_word(script, i, word)
                tokens.append(word)
    return tokens


# ---- parser ----------------------------------------------------------------------------------
@dataclass
class Simple:
    words: list[Word] = field(default_factory=list)
    redirects: list[Redirect] = field(default_factory=list)


@dataclass
class Subshell:
    body: list
    redirects: list[Redirect] = field(default_factory=list)


@dataclass
class ForLoop:
    name: str
    items: list[Word] | None  # None: the positional parameters
    body: list
    redirects: list[Redirect] = field(default_factory=list)


def _keyword(token: Word | tuple | None) -> str | None:
    if isinstance(token, Word) and token.plain:
        text = token.literal()
        return text if text in _KEYWORDS else None
    return None


class _Parser:
    def __init__(self, tokens: list[Word | tuple]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> Word | tuple | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def skip_newlines(self) -> None:
        while self.peek() in (("op", "\n"), ("op", ";")):
            self.pos += 1

    def parse_list(self, until: str | None = None) -> list:
        """[(connector, pipeline), ...]; connector is None, "&&" or "||"."""
        items: list = []
        connector = None
        while True:
            token = self.peek()
            if token is None or (until == ")" and token == ("op", ")")):
                break
            if until and _keyword(token) == until:
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
        if until and until != ")" and _keyword(self.peek()) != until:
            raise ShellSyntaxError(f"missing {until}")
        return items

    def parse_pipeline(self) -> list:
        commands = [self.parse_command()]
        while self.peek() == ("op", "|"):
            self.pos += 1
            while self.peek() == ("op", "\n"):
                self.pos += 1
            commands.append(self.parse_command())
        return commands

    def parse_command(self) -> Simple | Subshell | ForLoop:
        token = self.peek()
        node: Simple | Subshell | ForLoop
        if token == ("op", "("):
            self.pos += 1
            node = Subshell(self.parse_list(until=")"))
            if self.peek() != ("op", ")"):
                raise ShellSyntaxError("missing )")
            self.pos += 1
        elif _keyword(token) == "for":
            node = self.parse_for()
        else:
            node = Simple()
        while True:
            token = self.peek()
            if isinstance(token, Word) and isinstance(node, Simple):
                node.words.append(token)
            elif isinstance(token, tuple) and token[0] == "redir":
                node.redirects.append(token[1])
            else:
                break
            self.pos += 1
        if isinstance(node, Simple) and not node.words and not node.redirects:
            raise ShellSyntaxError(f"syntax error near {_show(token)}")
        return node

    def parse_for(self) -> ForLoop:
        self.pos += 1
        name = self.peek()
        if not isinstance(name, Word) or not _NAME.fullmatch(name.literal() or ""):
            raise ShellSyntaxError("bad for loop variable")
        self.pos += 1
        items: list[Word] | None = None
        if _keyword(self.peek()) == "in":
            self.pos += 1
            items = []
            while isinstance(self.peek(), Word) and _keyword(self.peek()) != "do":
                items.append(self.peek())  # type: ignore[arg-type]
                self.pos += 1
        self.skip_newlines()
        if _keyword(self.peek()) != "do":
            raise ShellSyntaxError("missing do")
        self.pos += 1
        body = self.parse_list(until="done")
        self.pos += 1
        return ForLoop(name.literal() or "", items, body)


def _show(token: Word | tuple | None) -> str:
    if token is None:
        return "end of file"
    if isinstance(token, Word):
        return repr(token.literal() or "word")
    return repr(token[1]) if token[0] == "op" else "redirection"


# ---- interpreter -----------------------------------------------------------------------------
class Shell:
    """Runs scripts; `runner(words, stdin)` answers every command that is not built in, and
    `fs()` gives the host's file tree (path -> `FsEntry`) at the time of the call."""

    def __init__(
        self, runner: Runner, fs: Callable[[], Mapping[str, FsEntry]] = dict, name: str = "sh"
    ) -> None:
        self.runner = runner
        self.fs = fs
        self.status = 0
        self.vars: dict[str, str] = {}
        self.args: list[str] = [name]
        self._tree: Mapping[str, FsEntry] | None = None
        self._subst_status: int | None = None  # status of the last `$(...)`, for `x=$(...)`

    def run(self, script: str, stdin: str = "") -> Result:
        """Run `script`: (stdout, stderr, exit status)."""
        try:
            tree = _Parser(tokenize(script)).parse_list()
        except ShellSyntaxError as err:
            self.status = 2
            return "", f"sh: {err}\n", 2
        self._tree = None
        return self._list(tree, stdin)

    @property
    def tree(self) -> Mapping[str, FsEntry]:
        if self._tree is None:
            self._tree = self.fs()
        return self._tree

    # ---- structure ---------------------------------------------------------------------------
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

    def _command(self, node: Simple | Subshell | ForLoop, stdin: str) -> Result:
        for redirect in node.redirects:
            if redirect.op == "<":
                path = self.expand(redirect.target)
                entry = self.tree.get(path)
                if path != "/dev/null" and (entry is None or entry.type != "f"):
                    return "", f"sh: can't open '{path}': No such file or directory\n", 1
                stdin = entry.content if entry else ""
        if isinstance(node, Subshell):
            saved = dict(self.vars), self.status
            out, err, status = self._list(node.body, stdin)
            self.vars, _ = saved
        elif isinstance(node, ForLoop):
            out, err, status = self._for(node, stdin)
        else:
            out, err, status = self._simple(node.words, stdin)
        for redirect in node.redirects:
            target = self.expand(redirect.target)
            if redirect.op == ">&" and target == "1":
                out, err = (out + err, "") if redirect.fd == 2 else (out, err)
            elif redirect.op == ">&" and target == "2":
                out, err = ("", err + out) if redirect.fd == 1 else (out, err)
            elif redirect.op in (">", ">>"):
                if target != "/dev/null":
                    return "", f"sh: can't create {target}: Read-only file system\n", 1
                out, err = (out, "") if redirect.fd == 2 else ("", err)
        return out, err, status

    def _for(self, node: ForLoop, stdin: str) -> Result:
        items = self.args[1:] if node.items is None else [self.expand(w) for w in node.items]
        out: list[str] = []
        err: list[str] = []
        self.status = 0
        for item in items:
            self.vars[node.name] = item
            o, e, self.status = self._list(node.body, stdin)
            out.append(o)
            err.append(e)
        return "".join(out), "".join(err), self.status

    def _simple(self, words: list[Word], stdin: str) -> Result:
        self._subst_status = None
        assignments = []
        while words and words[0].parts and words[0].parts[0][0] == "lit":
            head = words[0].parts[0][1]
            match = re.match(r"([A-Za-z_][A-Za-z0-9_]*)=", head) if words[0].parts else None
            if not match:
                break
            rest = Word([("lit", head[match.end() :]), *words[0].parts[1:]])
            assignments.append((match.group(1), rest))
            words = words[1:]
        values = [(name, self.expand(value)) for name, value in assignments]
        if not words:
            self.vars.update(values)
            return "", "", self._subst_status or 0
        args = [self.expand(w) for w in words]
        return self.call(args, stdin)

    def call(self, args: list[str], stdin: str) -> Result:
        """Run one command by name: shell builtins, file tools, or the host's runner."""
        name, rest = args[0], args[1:]
        if name in ("sh", "/bin/sh") and rest[:1] == ["-c"] and len(rest) >= 2:
            child = Shell(self.runner, self.fs, rest[2] if len(rest) > 2 else "sh")
            child.args += rest[3:]
            child._tree = self._tree
            return child.run(rest[1], stdin)
        try:
            tool = FILE_TOOLS.get(name)
            if tool is not None:
                return tool(self, rest, stdin)
            builtin = BUILTINS.get(name)
            if builtin is not None:
                return builtin(rest, stdin)
        except (ValueError, IndexError, StopIteration):
            # Arguments the real tool would reject (`find -maxdepth` without a number, ...).
            return "", f"{name}: invalid arguments\n", 1
        return self.runner(args, stdin)

    # ---- expansion ---------------------------------------------------------------------------
    def expand(self, word: Word) -> str:
        out: list[str] = []
        for part in word.parts:
            if part[0] == "lit":
                out.append(part[1])
            elif part[0] == "cmd":
                child = Shell(self.runner, self.fs)
                child.vars, child.args, child._tree = dict(self.vars), self.args, self._tree
                text, _, status = child.run(part[1])
                self._subst_status = status
                out.append(text.rstrip("\n"))
            else:
                out.append(self._parameter(*part[1:]))
        return "".join(out)

    def _parameter(self, name: str, op: str, arg: str) -> str:
        if name == "?":
            value = str(self.status)
        elif name == "#":
            value = str(len(self.args) - 1)
        elif name in "@*":
            value = " ".join(self.args[1:])
        elif name.isdigit():
            value = self.args[int(name)] if int(name) < len(self.args) else ""
        else:
            value = self.vars.get(name, "")
        if op in ("-", ":-"):
            return value if value or (op == "-" and name in self.vars) else arg
        if op in ("%", "%%"):
            cuts = range(len(value) + 1) if op == "%%" else range(len(value), -1, -1)
            return next((value[:i] for i in cuts if fnmatch.fnmatchcase(value[i:], arg)), value)
        if op in ("#", "##"):
            cuts = range(len(value), -1, -1) if op == "##" else range(len(value) + 1)
            return next((value[i:] for i in cuts if fnmatch.fnmatchcase(value[:i], arg)), value)
        return value

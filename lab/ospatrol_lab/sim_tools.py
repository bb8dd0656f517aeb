"""The busybox tools of the simulated ESXi shell (`sim_shell`): text filters (`printf`, `echo`,
`grep`, `sort`, `wc`, `sha256sum`, ...) and tools over the host's read-only file tree (`cat`,
`head`, `find`, `stat -c`, `readlink`, `getent`), as a file-integrity scan and a command batch
use them. Output formats follow busybox 1.29 on ESXi 7.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ospatrol_lab.sim_shell import Shell

Result = tuple[str, str, int]


@dataclass(frozen=True)
class FsEntry:
    """A file of the simulated host: type "f" (file), "d" (directory) or "l" (symlink)."""

    type: str
    content: str = ""
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    mtime: int = 0
    target: str = ""


# ---- builtins on text ------------------------------------------------------------------------
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


def _digest(algorithm: str) -> Callable[[list[str], str], Result]:
    def tool(args: list[str], stdin: str) -> Result:
        digest = hashlib.new(algorithm, stdin.encode("utf-8", "surrogateescape")).hexdigest()
        return f"{digest}  -\n", "", 0

    return tool


BUILTINS: dict[str, Callable[[list[str], str], Result]] = {
    "printf": _printf,
    "echo": _echo,
    "true": lambda args, stdin: ("", "", 0),
    ":": lambda args, stdin: ("", "", 0),
    "false": lambda args, stdin: ("", "", 1),
    "grep": _grep,
    "egrep": _grep,
    "sort": _sort,
    "tail": _tail,
    "wc": _wc,
    "uniq": _uniq,
    "sha256sum": _digest("sha256"),
    "sha1sum": _digest("sha1"),
    "md5sum": _digest("md5"),
}


# ---- tools over the file tree ----------------------------------------------------------------
def _cat(shell: Shell, args: list[str], stdin: str) -> Result:
    args = [a for a in args if a != "--"]
    if not args:
        return stdin, "", 0
    out, err = [], []
    for path in args:
        entry = shell.tree.get(path)
        if entry is None or entry.type != "f":
            err.append(f"cat: can't open '{path}': No such file or directory\n")
        else:
            out.append(entry.content)
    return "".join(out), "".join(err), 1 if err else 0


def _head(shell: Shell, args: list[str], stdin: str) -> Result:
    args = [a for a in args if a != "--"]
    files = [a for i, a in enumerate(args) if not a.startswith("-") and not _is_count(args, i)]
    if files:
        entry = shell.tree.get(files[0])
        if entry is None or entry.type != "f":
            return "", f"head: {files[0]}: No such file or directory\n", 1
        stdin = entry.content
    if "-c" in args:
        count = int(args[args.index("-c") + 1])
        return stdin.encode("utf-8", "surrogateescape")[:count].decode(errors="replace"), "", 0
    return "".join(x + "\n" for x in stdin.splitlines()[: _count_arg(args)]), "", 0


def _is_count(args: list[str], i: int) -> bool:
    return i > 0 and args[i - 1] in ("-n", "-c")


def _readlink(shell: Shell, args: list[str], stdin: str) -> Result:
    entry = shell.tree.get(args[-1]) if args else None
    if entry is None or entry.type != "l":
        return "", "", 1
    return entry.target + "\n", "", 0


_TYPE_NAMES = {"f": "regular file", "d": "directory", "l": "symbolic link"}


def _stat(shell: Shell, args: list[str], stdin: str) -> Result:
    if len(args) < 3 or args[0] != "-c":
        return "", "stat: usage: stat -c FORMAT FILE...\n", 1
    fmt, paths = args[1], args[2:]
    users, groups = _ids(shell, "/etc/passwd"), _ids(shell, "/etc/group")
    out, err = [], []
    for path in paths:
        entry = shell.tree.get(path)
        if entry is None:
            err.append(f"stat: can't stat '{path}': No such file or directory\n")
            continue
        size = len(entry.target if entry.type == "l" else entry.content.encode())
        kind = _TYPE_NAMES[entry.type]
        if entry.type == "f" and size == 0:
            kind = "regular empty file"
        mode = entry.mode | (0o777 if entry.type == "l" else 0)
        fields = {
            "s": str(size),
            "a": f"{mode:o}",
            "u": str(entry.uid),
            "g": str(entry.gid),
            "U": users.get(entry.uid, "UNKNOWN"),
            "G": groups.get(entry.gid, "UNKNOWN"),
            "Y": str(entry.mtime),
            "Z": str(entry.mtime),
            "i": str(_inode(path)),
            "F": kind,
            "n": path,
            "%": "%",
        }
        out.append(_stat_format(fmt, fields) + "\n")
    return "".join(out), "".join(err), 1 if err else 0


def _stat_format(fmt: str, fields: dict[str, str]) -> str:
    return re.sub(r"%(.)", lambda m: fields.get(m.group(1), m.group(0)), fmt)


def _inode(path: str) -> int:
    return int.from_bytes(hashlib.blake2b(path.encode(), digest_size=4).digest(), "big")


def _ids(shell: Shell, path: str) -> dict[int, str]:
    entry = shell.tree.get(path)
    table: dict[int, str] = {}
    for line in (entry.content if entry else "").splitlines():
        fields = line.split(":")
        if len(fields) >= 3 and fields[2].isdigit():
            table.setdefault(int(fields[2]), fields[0])
    return table


def _getent(shell: Shell, args: list[str], stdin: str) -> Result:
    if not args or args[0] not in ("passwd", "group"):
        return "", "", 1
    entry = shell.tree.get(f"/etc/{args[0]}")
    lines = (entry.content if entry else "").splitlines()
    keys = set(args[1:])
    found = [x for x in lines if not keys or keys & {x.split(":")[0], *x.split(":")[2:3]}]
    return "".join(x + "\n" for x in found), "", 0 if found or not keys else 2


def _find(shell: Shell, args: list[str], stdin: str) -> Result:
    """`find PATH... [-maxdepth N] [\\( -path P -o -name N \\) -prune -o] [-type T]
    [-exec CMD {} + | -exec CMD {} \\; | -print]` over the file tree."""
    count = next((i for i, a in enumerate(args) if a.startswith("-") or a == "("), len(args))
    roots, rest = [a.rstrip("/") or "/" for a in args[:count]], args[count:]
    if not roots:
        return "", "find: missing path\n", 1
    depth, prune, kind, action = None, [], None, None
    i = 0
    while i < len(rest):
        arg = rest[i]
        if arg == "-maxdepth":
            depth, i = int(rest[i + 1]), i + 2
        elif arg == "(":
            end = rest.index(")", i)
            tests = rest[i + 1 : end]
            prune = [(tests[j], tests[j + 1]) for j in range(0, len(tests), 3)]
            i = end + 1
        elif arg in ("-prune", "-o", "-print"):
            i += 1
        elif arg == "-type":
            kind, i = rest[i + 1], i + 2
        elif arg == "-exec":
            end = next(j for j in range(i + 1, len(rest)) if rest[j] in ("+", ";"))
            action = (rest[i + 1 : end], rest[end])
            i = end + 1
        else:
            return "", f"find: unrecognized: {arg}\n", 1
    found: list[str] = []
    errors: list[str] = []
    for root in roots:
        if root not in shell.tree:
            errors.append(f"find: {root}: No such file or directory\n")
            continue
        found.extend(_matches(shell.tree, root, depth, prune, kind))
    out, err, status = _find_action(shell, found, action)
    return out, "".join(errors) + err, 1 if errors else status


def _matches(
    tree: Mapping[str, FsEntry],
    root: str,
    depth: int | None,
    prune: list[tuple[str, str]],
    kind: str | None,
) -> list[str]:
    found: list[str] = []
    pruned: list[str] = []
    for path in _walk(tree, root, depth):
        if any(path.startswith(p + "/") for p in pruned):
            continue
        name = path.rsplit("/", 1)[-1]
        if any(
            fnmatch.fnmatchcase(path if test == "-path" else name, pattern)
            for test, pattern in prune
        ):
            pruned.append(path)
            continue
        if kind is None or tree[path].type == kind:
            found.append(path)
    return found


def _find_action(shell: Shell, found: list[str], action: tuple[list[str], str] | None) -> Result:
    if action is None:
        return "".join(p + "\n" for p in found), "", 0
    command, mode = action
    if mode == "+":
        calls = [[p for w in command for p in (found if w == "{}" else [w])]]
    else:
        calls = [[p if w == "{}" else w for w in command] for p in found]
    out, err, status = [], [], 0
    for call in calls if found else []:
        o, e, s = shell.call(call, "")
        out.append(o)
        err.append(e)
        status = status or (1 if s else 0)
    return "".join(out), "".join(err), status


def _walk(tree: Mapping[str, FsEntry], root: str, depth: int | None) -> list[str]:
    """`root` and what lies under it, parents before children."""
    prefix = "/" if root == "/" else root + "/"
    paths = [root, *sorted(p for p in tree if p.startswith(prefix) and p != root)]
    if depth is not None:
        base = root.count("/") if root != "/" else 0
        paths = [p for p in paths if p.count("/") - base <= depth]
    return paths


def _test(shell: Shell, args: list[str], stdin: str) -> Result:
    """`test` / `[`: the file tests FIM's commands use (`-e`, `-f`, `-d`, `-h`/`-L`, `!`)."""
    args = args[:-1] if args[-1:] == ["]"] else args
    negate = args[:1] == ["!"]
    if negate:
        args = args[1:]
    if len(args) != 2 or args[0] not in ("-e", "-f", "-d", "-h", "-L"):
        return "", f"test: unsupported expression: {' '.join(args)}\n", 2
    op, path = args
    entry = shell.tree.get(path)
    if op in ("-h", "-L"):
        found = entry is not None and entry.type == "l"
    else:
        for _ in range(8):  # links are followed, as test(1) does
            if entry is None or entry.type != "l":
                break
            target = entry.target
            path = target if target.startswith("/") else path.rpartition("/")[0] + "/" + target
            entry = shell.tree.get(path)
        found = entry is not None and (op == "-e" or entry.type == op[1])
    return "", "", 0 if found != negate else 1


def _cd(shell: Shell, args: list[str], stdin: str) -> Result:
    """`cd /` only: the simulated host's commands use absolute paths; anything else fails."""
    paths = [a for a in args if a not in ("-P", "-L", "--")]
    if paths == ["/"]:
        return "", "", 0
    return "", f"cd: can't cd to {' '.join(paths)}\n", 2


FILE_TOOLS: dict[str, Callable[[Shell, list[str], str], Result]] = {
    "[": _test,
    "test": _test,
    "cd": _cd,
    "cat": _cat,
    "head": _head,
    "readlink": _readlink,
    "stat": _stat,
    "getent": _getent,
    "find": _find,
}

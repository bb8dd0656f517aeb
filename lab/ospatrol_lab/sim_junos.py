"""Junos configuration text for the simulator: curly format <-> a tree, `| display set`, `set`.

Junos prints one statement per line: `name {` opens a block, `}` closes it, `stmt;` is a leaf,
`## ...` and `/* ... */` are comments. That regularity lets a line-based parser build the tree the
simulator needs for `show configuration [path]`, `| display set` and config-mode `set`/`delete`
without Junos's schema; where the schema would decide (is `unit 0` a block or a leaf?), the tree
as it already is decides.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_COMMENT = re.compile(r'\s*##[^"]*$')
# Leaves that take several values side by side (`address a; address b;`): `set` adds to them.
_MULTI = {
    "address", "member", "members", "application", "server",
    "source-address", "destination-address",
}  # fmt: skip


@dataclass
class Node:
    """A statement: `text` without the trailing `;`/`{`; `children` is None for a leaf."""

    text: str
    children: list[Node] | None = None
    comment: str = ""
    lead: list[str] = field(default_factory=list)

    @property
    def words(self) -> list[str]:
        return split_words(self.text.removeprefix("inactive: "))


def split_words(text: str) -> list[str]:
    """Words of a statement, keeping quoted strings (with their quotes) together."""
    return re.findall(r'"(?:[^"\\]|\\.)*"|\S+', text)


def parse(text: str) -> list[Node]:
    """The tree of a curly-format configuration (lenient: stray braces are ignored)."""
    root: list[Node] = []
    stack = [root]
    lead: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith(("#", "/*")):
            lead.append(line)
            continue
        comment = ""
        match = _COMMENT.search(line)
        if match:
            comment = match.group(0).strip()
            line = line[: match.start()].rstrip()
        if line == "}":
            if len(stack) > 1:
                stack.pop()
            continue
        if line.endswith("{"):
            node = Node(line[:-1].rstrip(), [], comment, lead)
            stack[-1].append(node)
            stack.append(node.children)  # type: ignore[arg-type]
        else:
            stack[-1].append(Node(line.rstrip(";").rstrip(), None, comment, lead))
        lead = []
    return root


def to_curly(nodes: list[Node], indent: int = 0) -> str:
    """Curly-format text of `nodes`, four spaces per level as Junos prints it."""
    out: list[str] = []
    pad = "    " * indent
    for node in nodes:
        out.extend(pad + line for line in node.lead)
        tail = f" {node.comment}" if node.comment else ""
        if node.children is None:
            out.append(f"{pad}{node.text};{tail}")
        else:
            out.append(f"{pad}{node.text} {{{tail}")
            inner = to_curly(node.children, indent + 1)
            if inner:
                out.append(inner)
            out.append(f"{pad}}}")
    return "\n".join(out)


def to_set(nodes: list[Node], path: tuple[str, ...] = ()) -> list[str]:
    """`| display set` lines of `nodes` under `path` (inactive statements add `deactivate`)."""
    out: list[str] = []
    for node in nodes:
        words = node.words
        inactive = node.text.startswith("inactive: ")
        if node.children is None and len(words) >= 3 and words[-1] == "]" and "[" in words:
            start = words.index("[")
            lines = [(*path, *words[:start], item) for item in words[start + 1 : -1]]
        elif node.children:
            lines = []
            out.extend(to_set(node.children, (*path, *words)))
        else:
            lines = [(*path, *words)]
        out.extend("set " + " ".join(line) for line in lines)
        if inactive:
            out.append("deactivate " + " ".join((*path, *words)))
    return out


def _descend(
    nodes: list[Node], words: list[str]
) -> tuple[list[Node], list[str], tuple[list[Node], Node] | None]:
    """Follow existing blocks along `words`: the level reached, the words left, and the last
    block entered with the list that holds it."""
    parent = None
    while words:
        best = None
        for node in nodes:
            w = node.words
            longer = best is None or len(w) > len(best.words)
            if node.children is not None and words[: len(w)] == w and longer:
                best = node
        if best is None:
            break
        words = words[len(best.words) :]
        parent = (nodes, best)
        nodes = best.children  # type: ignore[assignment]
    return nodes, words, parent


def subtree(nodes: list[Node], path: list[str]) -> list[Node] | None:
    """The statements under `path` (`show configuration system services`), None if absent."""
    level, rest, _ = _descend(nodes, path)
    if not rest:
        return level
    leaves = [n for n in level if n.children is None and n.words[: len(rest)] == rest]
    return leaves or None


def apply_set(nodes: list[Node], words: list[str]) -> None:
    """Merge one `set` statement (without the `set`) into the tree."""
    level, rest, _ = _descend(nodes, words)
    if not rest:
        return
    text = " ".join(rest)
    for i, node in enumerate(level):
        if node.children is None:
            if node.words == rest:
                return
            # A `keyword value` leaf is single-valued: setting it again replaces it.
            single = rest[0] not in _MULTI
            if single and len(rest) == 2 and len(node.words) == 2 and node.words[0] == rest[0]:
                level[i] = Node(text)
                return
    level.append(Node(text))


def apply_delete(nodes: list[Node], words: list[str]) -> bool:
    """Remove the statement or block `words` names; False when nothing matched."""
    level, rest, parent = _descend(nodes, words)
    if not rest:
        if parent is None:
            return False
        holder, block = parent
        holder.remove(block)
        return True
    before = len(level)
    level[:] = [n for n in level if n.words[: len(rest)] != rest]
    return len(level) != before

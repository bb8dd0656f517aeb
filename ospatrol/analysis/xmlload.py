"""Tolerant reader for OSSEC's XML dialect, keeping the line of every element.

OSSEC's own parser (os_xml) accepts files that strict XML rejects: several top-level elements,
raw `&` and `\\<` inside element text (regular expressions), and `<var name="X">` definitions whose
`$X` is substituted in later text and attribute values. This module reads that dialect into a
small tree of `Node`s and raises `InputError` (file and line) for what is truly malformed:
unclosed or mismatched tags, stray text at the top level, bad attribute syntax.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ospatrol.errors import InputError

_NAME = r"[A-Za-z_][\w.\-]*"
_ATTR_RE = re.compile(r"\s*(" + _NAME + r")\s*=\s*(\"[^\"]*\"|'[^']*')", re.S)
_TAG_RE = re.compile(r"<(/?)(" + _NAME + r")((?:\s+[^<>]*?)?)\s*(/?)>", re.S)
_VAR_RE = re.compile(r"(?<!\\)\$([A-Za-z_][A-Za-z0-9_]*)")
_ENTITIES = {"&lt;": "<", "&gt;": ">", "&amp;": "&", "&quot;": '"', "&apos;": "'"}
_ENTITY_RE = re.compile(r"&(?:lt|gt|amp|quot|apos);")
# Longest text a `$VAR` substitution may produce: nested `<var>`s double at every level, so a
# 1 KB file could otherwise ask for gigabytes. The real rule sets' longest value is 256.
MAX_EXPANDED = 65536


@dataclass
class Node:
    """One element: tag, attributes in file order, text content, children and where it starts."""

    tag: str
    attrs: dict[str, str]
    line: int
    path: str
    text: str = ""
    children: list[Node] = field(default_factory=list)

    def error(self, message: str) -> InputError:
        """An InputError located at this element."""
        return InputError(message, self.path, self.line)


def _unescape(text: str) -> str:
    if "&" not in text:
        return text
    return _ENTITY_RE.sub(lambda m: _ENTITIES[m.group(0)], text)


class _Reader:
    """A single pass over the text: comments, declarations, tags and text content."""

    def __init__(self, text: str, path: str, wazuh: bool = False) -> None:
        self.text = text
        self.path = path
        self.wazuh = wazuh
        self.pos = 0
        self._line_starts: list[int] = [0]
        for m in re.finditer("\n", text):
            self._line_starts.append(m.end())

    def line_at(self, pos: int) -> int:
        lo, hi = 0, len(self._line_starts)
        while lo + 1 < hi:
            mid = (lo + hi) // 2
            if self._line_starts[mid] <= pos:
                lo = mid
            else:
                hi = mid
        return lo + 1

    def fail(self, message: str, pos: int) -> InputError:
        return InputError(message, self.path, self.line_at(pos))

    def parse(self) -> list[Node]:
        roots: list[Node] = []
        stack: list[Node] = []
        text = self.text
        n = len(text)
        pos = 0
        while pos < n:
            lt = text.find("<", pos)
            # os_xml lets a backslash escape '<' inside text (regular expressions use `\<`);
            # Wazuh's os_xml counts them, so `\\<` is an escaped backslash before a tag.
            while lt > 0 and text[lt - 1] == "\\" and self._escaped(lt):
                lt = text.find("<", lt + 1)
            if lt < 0:
                lt = n
            if lt > pos:
                self._add_text(stack, text[pos:lt], pos)
            if lt >= n:
                break
            if text.startswith("<!--", lt):
                pos = self._skip_comment(lt)
                continue
            if text.startswith("<?", lt):
                end = text.find("?>", lt + 2)
                if end < 0:
                    raise self.fail("unterminated declaration", lt)
                pos = end + 2
                continue
            if text.startswith("<!", lt):
                end = text.find(">", lt + 2)
                if end < 0:
                    raise self.fail("unterminated declaration", lt)
                pos = end + 1
                continue
            m = _TAG_RE.match(text, lt)
            if not m:
                raise self.fail("malformed tag", lt)
            closing, tag, attr_text, self_closing = m.groups()
            if closing:
                if not stack:
                    raise self.fail(f"closing tag </{tag}> without an opening tag", lt)
                top = stack.pop()
                if top.tag != tag:
                    raise self.fail(f"</{tag}> closes <{top.tag}> opened on line {top.line}", lt)
            else:
                node = Node(tag, self._attrs(attr_text, lt), self.line_at(lt), self.path)
                if stack:
                    stack[-1].children.append(node)
                else:
                    roots.append(node)
                if not self_closing:
                    stack.append(node)
            pos = m.end()
        if stack:
            top = stack[-1]
            raise InputError(f"element <{top.tag}> is never closed", self.path, top.line)
        return roots

    def _escaped(self, lt: int) -> bool:
        if not self.wazuh:
            return True
        run = lt - len(self.text[:lt].rstrip("\\"))
        return run % 2 == 1

    def _skip_comment(self, start: int) -> int:
        """Position after the comment at `start`; stock files nest `<!-- -->` inside comments."""
        text = self.text
        depth = 0
        pos = start
        while True:
            opening = text.find("<!--", pos)
            closing = text.find("-->", pos)
            if closing < 0:
                raise self.fail("unterminated comment", start)
            if 0 <= opening < closing:
                depth += 1
                pos = opening + 4
                continue
            depth -= 1
            pos = closing + 3
            if depth <= 0:
                return pos

    def _add_text(self, stack: list[Node], chunk: str, where: int) -> None:
        if not chunk:
            return
        if stack:
            stack[-1].text += chunk
        elif chunk.strip():
            raise self.fail("text outside any element", where + len(chunk) - len(chunk.lstrip()))

    def _attrs(self, attr_text: str, where: int) -> dict[str, str]:
        attrs: dict[str, str] = {}
        pos = 0
        rest = attr_text.rstrip()
        while pos < len(rest):
            m = _ATTR_RE.match(rest, pos)
            if not m:
                raise self.fail(f"bad attribute syntax: {rest[pos:].strip()!r}", where)
            attrs[m.group(1)] = _unescape(m.group(2)[1:-1])
            pos = m.end()
        return attrs


def _substitute(
    value: str, variables: dict[str, str], unknown: list[str] | None, where: Node
) -> str:
    """`value` with every known `$NAME` replaced; InputError (at `where`) when the result would
    be longer than MAX_EXPANDED, measured before anything is built."""
    if "$" not in value:
        return value
    size = len(value)
    for m in _VAR_RE.finditer(value):
        found = variables.get(m.group(1))
        if found is not None:
            size += len(found) - len(m.group(0))
    if size > MAX_EXPANDED:
        raise where.error(
            f"<{where.tag}>: variables expand to {size:,} characters "
            f"(at most {MAX_EXPANDED:,}): nested <var> definitions?"
        )

    def replace(m: re.Match[str]) -> str:
        found = variables.get(m.group(1))
        if found is None:
            if unknown is not None:
                unknown.append(m.group(1))
            return m.group(0)
        return found

    return _VAR_RE.sub(replace, value)


def _apply_variables(node: Node, variables: dict[str, str], strict: bool) -> None:
    unknown: list[str] | None = [] if strict else None
    node.text = _substitute(node.text, variables, unknown, node)
    for key, value in node.attrs.items():
        node.attrs[key] = _substitute(value, variables, unknown, node)
    if unknown:
        raise node.error(f"<{node.tag}>: unknown variable ${unknown[0]}")
    for child in node.children:
        _apply_variables(child, variables, strict)


def parse_text(
    text: str, path: str, *, strict_variables: bool = False, wazuh: bool = False
) -> list[Node]:
    """Parse OSSEC XML text; `<var>` elements are applied to what follows them and removed.

    With `strict_variables` (rule and decoder files) a `$NAME` that no `<var>` defined is an
    error, as in os_xml; `\\$` is a literal dollar sign. `wazuh`: Wazuh's os_xml, where a
    backslash escapes a backslash too (`E:\\\\</field>` ends the element).
    """
    roots = _Reader(text, path, wazuh).parse()
    variables: dict[str, str] = {}
    kept: list[Node] = []
    for node in roots:
        _finish_text(node)
        if node.tag == "var":
            name = node.attrs.get("name")
            if not name or set(node.attrs) != {"name"}:
                raise node.error('<var> needs exactly one attribute, name="..."')
            variables[name] = _substitute(node.text, variables, None, node)
            continue
        _apply_variables(node, variables, strict_variables)
        kept.append(node)
    return kept


def _finish_text(node: Node) -> None:
    # os_xml keeps text as written (a prematch of a single space is meaningful); only elements
    # that hold other elements lose their layout whitespace.
    node.text = "" if node.children and not node.text.strip() else _unescape(node.text)
    for child in node.children:
        _finish_text(child)


def read_file(
    path: Path | str, *, strict_variables: bool = False, wazuh: bool = False
) -> list[Node]:
    """Read and parse one file (invalid UTF-8 bytes are replaced, never fatal)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", str(p)) from None
    text = data.decode("utf-8", errors="replace")
    return parse_text(text, str(p), strict_variables=strict_variables, wazuh=wazuh)

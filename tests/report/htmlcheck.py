"""A strict structural check of an HTML page with the standard library's parser: every element
closed in order (void elements excepted), one html/head/body, and text collected per element."""

from __future__ import annotations

from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
SVG_SELF_CLOSING = {"rect", "path", "circle", "line"}


class StructureError(AssertionError):
    pass


class _Checker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.seen: dict[str, int] = {}
        self.scripts: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs) -> None:
        self.seen[tag] = self.seen.get(tag, 0) + 1
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs) -> None:
        if tag not in VOID and tag not in SVG_SELF_CLOSING:
            raise StructureError(f"<{tag}/> is not a void element")
        self.seen[tag] = self.seen.get(tag, 0) + 1

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            raise StructureError(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        if self.stack and self.stack[-1] == "script":
            self.scripts.append(data)
        else:
            self.text.append(data)


def check_html(page: str) -> _Checker:
    """Parse `page`; raise StructureError unless its elements nest properly."""
    checker = _Checker()
    checker.feed(page)
    checker.close()
    if checker.stack:
        raise StructureError(f"unclosed elements: {checker.stack}")
    for tag in ("html", "head", "body"):
        if checker.seen.get(tag) != 1:
            raise StructureError(f"{checker.seen.get(tag, 0)} <{tag}> elements")
    return checker

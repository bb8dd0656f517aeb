"""Alert text made safe for places that interpret characters: mail headers and bodies, CEF."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_LINEBREAKS = re.compile(r"[\r\n\u2028\u2029\x85]+")


def one_line(text: str, limit: int = 200) -> str:
    """`text` on one line without control characters (a mail subject, a log line)."""
    return _CONTROL.sub("?", _LINEBREAKS.sub(" ", text))[:limit]


def printable(text: str) -> str:
    """`text` with control characters other than newline and tab shown as `?`."""
    return _CONTROL.sub("?", text.replace("\r", ""))

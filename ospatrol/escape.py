"""Show any text unambiguously and safely: names, outputs and contents that hosts control.

Audited hosts are attackers: a file name may hold a newline (forging a second event line), an
ANSI sequence (reaching the operator's terminal), bytes that are not UTF-8 (decoded with
`surrogateescape`), or a literal backslash spelling an escape. `escape` maps every such text to a
printable one, and two different texts never to the same one:

- `\\` for a backslash;
- `\\xNN` for a C0 control character or DEL (U+0000–U+001F, U+007F), and for a byte that was not
  UTF-8 (the lone surrogate U+DC80–U+DCFF that `surrogateescape` decoded it to; NN is the byte);
- `\\u00NN` for a C1 control character (U+0080–U+009F; a *character*, its UTF-8 bytes were
  valid: `\\xNN` would make it look like the lone byte NN);
- `\\uDNNN` for any other lone surrogate (no decoder of ours produces one; shown, not dropped);
- `\\ufffe`, `\\uffff` for the two noncharacters XML 1.0 forbids (a JUnit report must parse);
- every other character unchanged.

Each escape stands for exactly one character and a backslash never stands for itself, so the
mapping is injective. docs/report-json.md documents it for readers of reports.
"""

from __future__ import annotations

import re

_UNSAFE = re.compile(r"[\\\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def _one(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if char == "\\":
        return "\\\\"
    if code < 0x80:
        return f"\\x{code:02x}"
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"
    return f"\\u{code:04x}"


def escape(text: str) -> str:
    """`text` with backslashes, control characters and undecodable bytes escaped (module doc)."""
    return _UNSAFE.sub(_one, text)


def quoted(text: str) -> str:
    """`text` escaped and in single quotes, as event texts show names (`vm added: 'web01'`):
    a quote inside is escaped too (`\\x27`), so a name cannot end its quotes early and spell
    more of the event (`'a' from 'on' to 'off'`); still one text to one shown text."""
    return "'" + escape(text).replace("'", "\\x27") + "'"

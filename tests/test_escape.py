"""`ospatrol.escape.escape`: every text shown unambiguously, no control character left."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from ospatrol.escape import escape

# What a terminal or a line-based reader acts on: C0, DEL, C1, and any surrogate (unencodable).
_RAW = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def _decoded(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def test_escapes_backslash_controls_and_undecodable_bytes() -> None:
    assert escape("/etc/hosts") == "/etc/hosts"
    assert escape("caf\u00e9 \u2603") == "caf\u00e9 \u2603"
    assert escape("a\nb\tc\x00\x1b[2J\x7f") == "a\\x0ab\\x09c\\x00\\x1b[2J\\x7f"
    assert escape("back\\slash") == "back\\\\slash"
    assert escape(_decoded(b"/etc/\xff\xfe")) == "/etc/\\xff\\xfe"
    assert escape("\x85\x9b") == "\\u0085\\u009b"  # C1 characters (valid UTF-8 c2 85, c2 9b)
    assert escape("\ud800") == "\\ud800"


def test_a_literal_escape_never_shows_like_the_byte_it_spells() -> None:
    assert escape("a\\x0ab") != escape("a\nb")
    assert escape(_decoded(b"\xc2\x85")) != escape(_decoded(b"\x85"))
    assert escape("\x85") != escape(_decoded(b"\x85"))


# Any str at all: surrogates included (hypothesis leaves them out of `st.text()` by default).
_ANY_TEXT = st.text(st.characters() | st.integers(0xD800, 0xDFFF).map(chr))
_TEXTS = _ANY_TEXT | st.binary().map(_decoded)


def _unescape(shown: str) -> str:
    """The inverse of `escape`, written independently: proves it injective."""
    out, i = [], 0
    while i < len(shown):
        if shown[i] != "\\":
            out.append(shown[i])
            i += 1
        elif shown[i + 1] == "\\":
            out.append("\\")
            i += 2
        elif shown[i + 1] == "x":
            code = int(shown[i + 2 : i + 4], 16)
            out.append(chr(code if code < 0x80 else 0xDC00 + code))
            i += 4
        else:
            assert shown[i + 1] == "u"
            out.append(chr(int(shown[i + 2 : i + 6], 16)))
            i += 6
    return "".join(out)


@given(_TEXTS)
def test_escape_is_reversible_so_injective(text: str) -> None:
    assert _unescape(escape(text)) == text


@given(st.binary(), st.binary())
def test_different_byte_names_never_show_alike(a: bytes, b: bytes) -> None:
    if a != b:
        assert escape(_decoded(a)) != escape(_decoded(b))


@given(_TEXTS)
def test_output_has_no_control_character(text: str) -> None:
    assert not _RAW.search(escape(text))

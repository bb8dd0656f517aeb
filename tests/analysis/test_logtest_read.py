"""`ospatrol logtest`'s stdin reader against the line-at-a-time reader it replaced: the same lines
for any bytes (invalid UTF-8, NUL, CR, lines over the piece size or the line limit, no final
newline), however the input arrives (reads of any size)."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ospatrol.cli import logtest_cmd


def _reference(stdin: io.BufferedIOBase, piece: int | None, limit: int) -> Iterator[str]:
    """The exact slow path: ossec-logtest's fgets (readline of `piece` bytes), or one line of
    at most `limit` bytes with the rest dropped, each decoded on its own."""
    if piece is not None:
        while raw := stdin.readline(piece):
            line = raw.decode("utf-8", errors="surrogateescape")
            yield line[:-1] if line.endswith("\n") else line
        return
    while raw := stdin.readline(limit):
        if len(raw) == limit and not raw.endswith(b"\n"):
            while (rest := stdin.readline(limit)) and not rest.endswith(b"\n"):
                pass
        line = raw.decode("utf-8", errors="surrogateescape")
        yield line[:-1] if line.endswith("\n") else line


class _Trickle(io.RawIOBase):
    """A stream that gives its bytes in reads of the given sizes (a pipe or a terminal)."""

    def __init__(self, data: bytes, sizes: list[int]) -> None:
        self._data = data
        self._sizes = sizes or [1]
        self._at = 0
        self._turn = 0

    def readable(self) -> bool:
        return True

    def read1(self, size: int = -1) -> bytes:
        step = min(size, self._sizes[self._turn % len(self._sizes)])
        self._turn += 1
        chunk = self._data[self._at : self._at + step]
        self._at += len(chunk)
        return chunk


class _Stdin:
    def __init__(self, buffer: object) -> None:
        self.buffer = buffer


# Bytes that matter to the reader: newlines, NUL, CR, pieces of multi-byte characters.
_BYTES = st.binary(max_size=60) | st.lists(
    st.sampled_from(
        [
            b"\n",
            b"\r\n",
            b"\x00",
            b"a",
            b"\xc3\xa9",
            b"\xe2\x82",
            b"\xac",
            b"\xff",
            b"\xf0\x9f\x98\x80",
        ]
    ),
    max_size=40,
).map(b"".join)


@settings(max_examples=400)
@given(
    data=_BYTES,
    sizes=st.lists(st.integers(1, 20), max_size=5),
    piece=st.none() | st.integers(1, 12),
    limit=st.integers(1, 12),
)
# A line whose newline just does not fit a piece, in ASCII and in a 4-byte character.
@example(data=b"abcd\nxy", sizes=[20], piece=4, limit=4)
@example(data=b"\xf0\x9f\x98\x80\n", sizes=[20], piece=4, limit=4)
@example(data=b"\xf0\x9f\x98\x80\n\xf0\x9f\x98\x80", sizes=[], piece=None, limit=3)
def test_reader_gives_what_readline_gives(data, sizes, piece, limit, monkeypatch_module):
    monkeypatch_module.setattr(logtest_cmd, "LINE_LIMIT", limit)
    monkeypatch_module.setattr(logtest_cmd, "BLOCK", 16)
    monkeypatch_module.setattr(sys, "stdin", _Stdin(_Trickle(data, sizes)))
    got = [line for lines in logtest_cmd._read_lines(piece) for line in lines]
    assert got == list(_reference(io.BytesIO(data), piece, limit))


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_real_pieces_and_limit(monkeypatch):
    """The real sizes: OSSEC's 6,135-byte pieces and Wazuh's 1 MiB line, across 64 KiB reads."""
    data = (
        b"short\r\n"
        + b"\xc3\xa9" * 5000
        + b"\n"
        + b"x" * 6135
        + b"\n"
        + b"y" * (3 << 20)
        + b"\nlast"
    )
    for piece in (6135, None):
        monkeypatch.setattr(sys, "stdin", _Stdin(io.BufferedReader(io.BytesIO(data))))
        got = [line for lines in logtest_cmd._read_lines(piece) for line in lines]
        assert got == list(_reference(io.BytesIO(data), piece, logtest_cmd.LINE_LIMIT))

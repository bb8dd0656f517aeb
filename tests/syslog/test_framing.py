"""RFC 6587 framing: octet counting and LF framing mixed, byte-at-a-time, bounds and rejections."""

from __future__ import annotations

from ospatrol.syslog.framing import Framer

A = b"<34>Oct 11 22:14:15 host su: first"
B = "<34>1 2003-10-11T22:14:15.003Z host app - - - ünïcode".encode()


def _octet(msg: bytes) -> bytes:
    return str(len(msg)).encode() + b" " + msg


def test_mixed_framing_on_one_stream_in_any_chunking() -> None:
    stream = A + b"\n" + _octet(B) + _octet(A) + A + b"\r\n" + _octet(B)
    whole = Framer()
    assert whole.feed(stream) == [A, B, A, A, B]
    trickle = Framer()
    frames = []
    for i in range(len(stream)):
        frames += trickle.feed(stream[i : i + 1])
    assert frames == [A, B, A, A, B]
    assert not whole.rejected and not trickle.rejected


def test_octet_count_counts_bytes_not_characters() -> None:
    assert len(B) != len(B.decode())
    assert Framer().feed(_octet(B) + b"\n") == [B]


def test_digits_without_space_are_an_lf_framed_message() -> None:
    line = b"2025-10-29T09:23:16.522Z In(38) sshd[1]: hello"
    assert Framer().feed(line + b"\n") == [line]


def test_oversized_frames_are_rejected_and_skipped_without_buffering() -> None:
    framer = Framer(max_message=100)
    big = b"x" * 5000
    frames = framer.feed(b"5000 " + big[:10])
    frames += framer.feed(big[10:] + A + b"\n")
    assert frames == [A]
    frames = framer.feed(b"y" * 300)  # an endless LF-less line
    assert len(framer._buffer) == 0
    frames += framer.feed(b"yyy\n" + A + b"\n")
    assert frames == [A]
    assert framer.rejected == {"oversized": 2}


def test_truncated_octet_frame_at_close_is_counted() -> None:
    framer = Framer()
    assert framer.feed(b"100 <34>cut short") == []
    assert framer.close() == []
    assert framer.rejected == {"truncated": 1}


def test_last_line_without_newline_is_kept_at_close() -> None:
    framer = Framer()
    assert framer.feed(A) == []
    assert framer.close() == [A]


def test_zero_length_and_blank_frames() -> None:
    framer = Framer()
    assert framer.feed(b"0 \n\r\n" + A + b"\n") == [A]
    assert framer.rejected == {"empty": 1}


def test_lf_framed_lines_in_any_chunking_with_bounds_and_digits() -> None:
    # Streams of LF-framed lines are split in one call; a line that starts with a digit, an
    # over-long line or tail, CRs and NULs must give what frame-by-frame reading gives.
    dated = b"2024-01-01 no octet count"
    lines = [A, b"", b"\r", A + b"\x00\r", dated, b"y" * 200, A]
    lines += [_octet(A)[:-1] + b"!", b"0 ", A, b"z" * 150]
    stream = b"\n".join(lines) + b"\n" + b"w" * 300
    expected = [A, A, dated, A, A[:-1] + b"!", A, b"z" * 150]
    for size in (1, 3, 40, 151, 160, 1000, len(stream)):
        framer = Framer(max_message=150)
        frames = []
        for start in range(0, len(stream), size):
            frames += framer.feed(stream[start : start + size])
        frames += framer.close()
        assert frames == expected, size
        assert framer.rejected == {"oversized": 2, "empty": 1}, size
    # an octet-counted frame after the last LF is complete without an LF of its own
    assert Framer().feed(A + b"\n" + _octet(B)) == [A, B]

"""RFC 6587 framing of syslog over a stream: octet counting and newline framing, mixed freely.

A frame that starts with a digit is read as `MSG-LEN SP MSG` (octet counting, RFC 6587 §3.4.1,
mandatory for TLS per RFC 5425); anything else runs to the next LF (non-transparent framing,
§3.4.2; a CR or NUL before the LF is dropped). The choice is made per frame, as rsyslog's imtcp
does, so one connection may mix both. A digit run that is not followed by a space (a message
without PRI that starts with a year) falls back to LF framing.

Bounds: a frame longer than `max_message` is rejected and counted (its bytes are skipped up to
the end of the frame), so no sender can make the buffer grow without limit. `rejected` counts
rejections by reason; the caller turns them into metrics.
"""

from __future__ import annotations

import re
from collections import Counter

# Longest MSG-LEN accepted as a number at all: more digits is garbage, not a length.
_MAX_DIGITS = 9
# A line that starts with a digit may be an octet-counted frame.
_DIGIT_AFTER_LF = re.compile(rb"\n[0-9]")


class Framer:
    """Splits a byte stream into syslog frames. Feed it bytes as they arrive; it keeps the tail."""

    def __init__(self, max_message: int = 65536) -> None:
        self.max_message = max_message
        self.rejected: Counter[str] = Counter()
        self._buffer = bytearray()
        # Bytes still to skip of a rejected octet-counted frame, or -1 while skipping an
        # over-long LF-framed line up to its LF.
        self._skip = 0

    def feed(self, data: bytes) -> list[bytes]:
        """The complete frames `data` finishes, in order."""
        buf = self._buffer
        buf += data
        if not self._skip:
            frames = self._lines(buf)
            if frames is not None:
                return frames
        frames = []
        pos = 0
        end = len(buf)
        while pos < end:
            if self._skip > 0:
                step = min(self._skip, end - pos)
                self._skip -= step
                pos += step
                continue
            if self._skip < 0:
                newline = buf.find(b"\n", pos)
                if newline < 0:
                    pos = end
                    break
                self._skip = 0
                pos = newline + 1
                continue
            first = buf[pos]
            if 0x30 <= first <= 0x39:
                counted = self._octet_frame(buf, pos, end, frames)
                if counted is None:
                    break  # need more bytes
                if counted >= 0:
                    pos = counted
                    continue
            newline = buf.find(b"\n", pos)
            if newline < 0:
                if end - pos > self.max_message:
                    self.rejected["oversized"] += 1
                    self._skip = -1
                    pos = end
                break
            if newline - pos > self.max_message:
                self.rejected["oversized"] += 1
            else:
                frame = bytes(buf[pos:newline]).rstrip(b"\r\x00")
                if frame:
                    frames.append(frame)
            pos = newline + 1
        del buf[:pos]
        return frames

    def _lines(self, buf: bytearray) -> list[bytes] | None:
        """The frames of `buf` when all of them are LF-framed and within bounds (what nearly
        every sender writes), split in one call rather than frame by frame; None otherwise."""
        last = buf.rfind(b"\n")
        if (
            last < 0
            or len(buf) - last - 1 > self.max_message
            or 0x30 <= buf[0] <= 0x39
            or _DIGIT_AFTER_LF.search(buf, 0, last + 2) is not None  # the tail's start too
        ):
            return None
        lines = bytes(buf[:last]).split(b"\n")
        if max(map(len, lines)) > self.max_message:
            return None
        del buf[: last + 1]
        return [frame for line in lines if (frame := line.rstrip(b"\r\x00"))]

    def _octet_frame(self, buf: bytearray, pos: int, end: int, frames: list[bytes]) -> int | None:
        """Read an octet-counted frame at `pos`: the position after it, None when incomplete,
        -1 when the digits are not a MSG-LEN (the frame is LF-framed after all)."""
        digits = pos
        while digits < end and digits - pos <= _MAX_DIGITS and 0x30 <= buf[digits] <= 0x39:
            digits += 1
        if digits == end:
            return None if digits - pos <= _MAX_DIGITS else -1
        if buf[digits] != 0x20 or digits - pos > _MAX_DIGITS:
            return -1
        length = int(buf[pos:digits])
        start = digits + 1
        if length == 0:
            self.rejected["empty"] += 1
            return start
        if length > self.max_message:
            self.rejected["oversized"] += 1
            self._skip = length
            return start
        if end - start < length:
            return None
        frames.append(bytes(buf[start : start + length]))
        return start + length

    def close(self) -> list[bytes]:
        """At end of stream: a last LF-less line is a frame; a cut octet-counted one is counted."""
        tail = bytes(self._buffer)
        self._buffer.clear()
        if self._skip:
            self._skip = 0
            return []
        if not tail.strip(b"\r\n\x00"):
            return []
        if tail[:1].isdigit():
            digits = tail.split(b" ", 1)[0]
            if digits.isdigit() and len(digits) <= _MAX_DIGITS and b" " in tail:
                self.rejected["truncated"] += 1
                return []
        return [tail.rstrip(b"\r\x00")]

"""Length-prefixed pickle messages between the manager and its analysis workers (over pipes).

Only the manager and the workers it started write these pipes, so unpickling is safe here;
nothing received from the network is ever unpickled (frames travel as bytes inside messages).
"""

from __future__ import annotations

import pickle
import struct
from typing import Any, BinaryIO

HEADER = struct.Struct("!I")


def pack(message: Any) -> bytes:
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(body)) + body


def read_message(stream: BinaryIO) -> Any:
    """The next message on a blocking stream; None at end of stream."""
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    (length,) = HEADER.unpack(header)
    body = stream.read(length)
    if len(body) < length:
        return None
    return pickle.loads(body)


async def read_message_async(reader: Any) -> Any:
    """The next message on an asyncio StreamReader; None at end of stream."""
    import asyncio

    try:
        header = await reader.readexactly(HEADER.size)
        (length,) = HEADER.unpack(header)
        return pickle.loads(await reader.readexactly(length))
    except asyncio.IncompleteReadError:
        return None

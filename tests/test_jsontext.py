"""`ospatrol.jsontext.dumps` gives the standard library's JSON for every value it is handed."""

from __future__ import annotations

import dataclasses
import datetime
import json

import pytest

from ospatrol.jsontext import dumps
from ospatrol.model import FrozenMap


@dataclasses.dataclass(frozen=True)
class _Point:
    x: int


VALUES = [
    {"b": 1, "a": [1.5, None, True], "c": {"z": "é ✓", "y": ()}},
    FrozenMap({"nested": FrozenMap({"k": "v"})}),
    {2: "int keys", 1: "become strings"},
    {"when": datetime.datetime(2026, 1, 2, 3, 4, 5), "point": _Point(3)},
    {"surrogate": "caf\udce9", "control": "\x1b[2J\x00"},
    {"big": 2**70},
]


@pytest.mark.parametrize("value", VALUES)
@pytest.mark.parametrize("sort_keys", [False, True])
def test_dumps_reads_back_as_the_standard_library_writes(value, sort_keys):
    text = dumps(value, sort_keys=sort_keys)
    expected = json.dumps(value, default=str, sort_keys=sort_keys)
    assert json.loads(text) == json.loads(expected)
    if sort_keys:
        assert list(json.loads(text)) == list(json.loads(expected))


def test_undecodable_text_stays_valid_utf8():
    text = dumps({"log": "caf\udce9"})
    text.encode("utf-8")  # raises if a lone surrogate leaked through
    assert json.loads(text) == {"log": "caf\udce9"}

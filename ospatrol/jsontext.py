"""JSON text of plain data, fast: orjson when it can, the standard library when it cannot.

The manager writes several JSON texts per alert (alerts.json, the store's columns) at tens of
thousands of alerts a second, where `json.dumps` was a fifth of the analysis workers' time.
`dumps` gives what `json.dumps(value, default=str, sort_keys=...)` gives, compact: dataclasses
and datetimes go through `default=str` as with the standard library (not orjson's own shapes),
non-string keys become strings. orjson refuses strings that are not valid UTF-8 (lone surrogates
from undecodable bytes) and integers past 64 bits; those values fall back to the standard
library with ASCII escapes (`\\udcXX`, which `json.loads` turns back into the same string).
"""

from __future__ import annotations

import json
from typing import Any

import orjson

_OPTIONS = (
    orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME
)
_SORTED = _OPTIONS | orjson.OPT_SORT_KEYS


def dumps(value: Any, *, sort_keys: bool = False) -> str:
    """`value` as compact JSON text (see the module docstring)."""
    try:
        return orjson.dumps(value, default=str, option=_SORTED if sort_keys else _OPTIONS).decode()
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(value, default=str, sort_keys=sort_keys, separators=(",", ":"))

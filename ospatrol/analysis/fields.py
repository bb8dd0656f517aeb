"""The one table that maps a decoder `<order>` name to a standard event field.

OSSEC's decode-xml.c tests each order name against a fixed sequence of substrings and takes the
first that occurs in it: `dstuser` before `srcuser` before `user` (so `user` means dstuser),
`data` and `extra_data` both fill `data`, and so on. A name that contains none of them is a
dynamic field, kept under its own name. Rules name fields by the same words, matched exactly
(`FIELD_NAMES`, derived from the table).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StandardField:
    """`attr` is the event attribute filled; `label` is how ossec-logtest prints it."""

    attr: str
    label: str


# (substring, field) in the order decode-xml.c tests them; first hit wins.
ORDER_TABLE: tuple[tuple[str, StandardField], ...] = (
    ("dstuser", StandardField("dstuser", "dstuser")),
    ("srcuser", StandardField("srcuser", "srcuser")),
    ("user", StandardField("dstuser", "dstuser")),
    ("srcip", StandardField("srcip", "srcip")),
    ("dstip", StandardField("dstip", "dstip")),
    ("srcport", StandardField("srcport", "srcport")),
    ("dstport", StandardField("dstport", "dstport")),
    ("protocol", StandardField("protocol", "proto")),
    ("action", StandardField("action", "action")),
    ("id", StandardField("id", "id")),
    ("url", StandardField("url", "url")),
    ("data", StandardField("data", "extra_data")),
    ("extra_data", StandardField("data", "extra_data")),
    ("status", StandardField("status", "status")),
    ("system_name", StandardField("systemname", "system_name")),
)

ALERT_NAMES: dict[str, str] = {
    "srcip": "srcip",
    "dstip": "dstip",
    "srcport": "srcport",
    "dstport": "dstport",
    "protocol": "protocol",
    "action": "action",
    "srcuser": "srcuser",
    "dstuser": "dstuser",
    "id": "id",
    "url": "url",
    "data": "data",
    "status": "status",
    "systemname": "system_name",
}
"""Each event attribute that decoders fill, and the name alerts use for it, in alert order
(`EventInfo.standard_fields` reads them in this order)."""


FIELD_NAMES: dict[str, str] = {
    **{needle: target.attr for needle, target in ORDER_TABLE},
    "hostname": "hostname",
    "program_name": "program_name",
    "location": "location",
}
"""Event attribute of each name rules use for a field (`<field name=...>`, lists): an order
name exactly as the table spells it (`user` is dstuser, `extra_data` is data), or a part of the
pre-decoded header. Other names are dynamic fields."""


_EXACT = dict(ORDER_TABLE)


def map_order_name(name: str, *, exact: bool = False) -> StandardField | None:
    """The standard field an `<order>` entry fills, or None for a dynamic field. OSSEC tests
    substrings in table order; Wazuh (`exact`) takes only the names themselves."""
    if exact:
        return _EXACT.get(name)
    for needle, target in ORDER_TABLE:
        if needle in name:
            return target
    return None

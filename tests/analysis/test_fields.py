"""The order-name table: one case per alias, as decode-xml.c maps them."""

from __future__ import annotations

import pytest

from ospatrol.analysis.eventinfo import EventInfo
from ospatrol.analysis.fields import map_order_name


@pytest.mark.parametrize(
    ("name", "attr", "label"),
    [
        ("dstuser", "dstuser", "dstuser"),
        ("srcuser", "srcuser", "srcuser"),
        ("user", "dstuser", "dstuser"),
        ("srcip", "srcip", "srcip"),
        ("dstip", "dstip", "dstip"),
        ("srcport", "srcport", "srcport"),
        ("dstport", "dstport", "dstport"),
        ("protocol", "protocol", "proto"),
        ("action", "action", "action"),
        ("id", "id", "id"),
        ("url", "url", "url"),
        ("data", "data", "extra_data"),
        ("extra_data", "data", "extra_data"),
        ("status", "status", "status"),
        ("system_name", "systemname", "system_name"),
        # Substring rules: the first needle found wins, in decode-xml.c's order.
        ("username", "dstuser", "dstuser"),
        ("pid", "id", "id"),
        ("urlpath", "url", "url"),
    ],
)
def test_order_alias(name, attr, label):
    field = map_order_name(name)
    assert field is not None
    assert (field.attr, field.label) == (attr, label)


@pytest.mark.parametrize("name", ["filename", "cmd", "sha256"])
def test_unknown_names_are_dynamic(name):
    assert map_order_name(name) is None


@pytest.mark.parametrize(
    ("name", "attr"),
    [
        ("user", "dstuser"),
        ("dstuser", "dstuser"),
        ("extra_data", "data"),
        ("protocol", "protocol"),
        ("system_name", "systemname"),
        ("hostname", "hostname"),
        ("program_name", "program_name"),
        ("location", "location"),
    ],
)
def test_rule_field_names_reach_the_event_attribute(name, attr):
    event = EventInfo("full", "log", "host", "prog", "loc", 0.0)
    setattr(event, attr, "value")
    assert event.field(name) == "value"


def test_rule_field_names_are_exact_not_substrings():
    event = EventInfo("full", "log", "host", "prog", "loc", 0.0)
    event.dstuser = "root"
    event.dynamic["username"] = "dynamic"
    assert event.field("username") == "dynamic"

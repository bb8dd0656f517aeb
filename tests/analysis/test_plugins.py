"""Plugin decoders: pf and SonicWall through the stock 4.3 decoders (fields and category), and
Wazuh's JSON_Decoder, whose fast orjson reading must give what the standard library's gives."""

from __future__ import annotations

import json

import pytest

from ospatrol.analysis import plugins
from ospatrol.analysis.decoders import Decoder
from ospatrol.analysis.engine import Engine
from ospatrol.analysis.eventinfo import EventInfo

PF_PASS = (
    "Mar 30 15:33:26 enigma pf: Mar 30 15:32:33.483712 rule 2/(match) pass in on xl0: "
    "140.211.166.3.6667 > 192.168.2.10.16290: P 7408:7677(269) ack 1773 win 2520"
)
PF_ICMP = (
    "Mar 30 17:47:41 enigma pf: Mar 30 17:47:41.400075 rule 3/(match) block out on lo0: "
    "127.0.0.1 > 127.0.0.1: icmp: echo request"
)
SONIC_OPEN = (
    'Jan  3 13:45:36 192.168.5.1 id=firewall sn=000SERIAL time="2007-01-03 14:48:06" '
    'fw=1.1.1.1 pri=6 c=262144 m=98 msg="Connection Opened" n=23419 '
    "src=2.2.2.2:36701:WAN dst=1.1.1.1:50000:WAN proto=tcp/50000"
)
SONIC_IDS = (
    'Jan  3 13:45:36 192.168.5.1 id=firewall sn=000SERIAL time="2007-01-03 14:48:07" '
    'fw=1.1.1.1 pri=1 c=32 m=30 msg="Administrator login denied due to bad credentials" n=7 '
    "src=2.2.2.2:36701:WAN dst=1.1.1.1:50000:WAN"
)


def test_pf(ruleset43):
    engine = Engine(ruleset43)
    result = engine.process_line(PF_PASS)
    assert result.decoder == "pf"
    assert dict(result.fields) == {
        "srcip": "140.211.166.3",
        "srcport": "6667",
        "dstip": "192.168.2.10",
        "dstport": "16290",
        "protocol": "TCP",
        "action": "pass",
    }
    icmp = engine.process_line(PF_ICMP)
    assert icmp.fields["action"] == "block" and icmp.fields["protocol"] == "ICMP"
    assert "srcport" not in icmp.fields


def test_sonicwall_fields_and_category(ruleset43):
    engine = Engine(ruleset43)
    opened = engine.process_line(SONIC_OPEN)
    assert opened.decoder == "sonicwall"
    assert opened.fields["action"] == "pass" and opened.fields["protocol"] == "tcp"
    assert (opened.fields["id"], opened.fields["status"]) == ("98", "6")
    ids = engine.process_line(SONIC_IDS)
    # Category 32 makes it an IDS event: the IDS rules apply.
    assert ids.rule is not None and "ids" in ids.rule.groups
    # The reclassification belongs to that event only.
    assert engine.process_line(SONIC_OPEN).fields["action"] == "pass"


# Documents where orjson and the standard library part ways, or might: the plugin must decode
# each as the standard library reads it.
JSON_DOCUMENTS = [
    '{"a": 123456789012345678901234567890, "b": "x"}',  # orjson: a float
    '{"a": -9223372036854775809}',
    '{"a": 18446744073709551615, "b": 9223372036854775807}',
    '{"a": [1, 123456789012345678901234567890], "b": {"c": [2, {"d": 1e400}]}}',
    '{"a": 1e20, "b": 1.5, "c": 2.0, "d": 3000000000.0, "e": -0.0, "f": 5e-324}',
    '{"a": NaN, "b": Infinity}',
    '{"a": 1} and then some text',
    '{"a": 1}\x00',
    '{"a": "lone \\ud800 surrogate"}',
    '{"srcip": "10.0.0.1", "srcip": "10.0.0.2", "x": 1, "x": 2}',
    '{"user": "u", "dstuser": "d", "data": null, "extra_data": [null, true, "s", {"k": 1}]}',
    "[1, 2]",
    '"just a string"',
    '{"a": "x\ty"}',
    "{" * 300 + "}" * 300,
    '{"a": ' * 300 + "1" + "}" * 300,
    '{"a": {"b": {"c": [[], {}, [1.25, false]]}}, "win": {"system": {"eventID": "4624"}}}',
]


def _json_event(text: str, csv: bool, keep_null: bool) -> EventInfo:
    ev = EventInfo(full_log=text, log=text, hostname="h", program_name=None, location="x", time=0.0)
    dec = Decoder(
        own_name="json",
        name="json",
        path="<test>",
        line=1,
        plugin="JSON_Decoder",
        json_array="csv" if csv else "array",
        json_null="string" if keep_null else "discard",
    )
    plugins.json_decoder(ev, dec, 0)
    return ev


@pytest.mark.parametrize("text", JSON_DOCUMENTS)
@pytest.mark.parametrize(("csv", "keep_null"), [(False, True), (True, False)])
def test_json_decoder_reads_as_the_standard_library(text: str, csv: bool, keep_null: bool):
    ev = _json_event(text, csv, keep_null)
    try:
        parsed, _ = json.JSONDecoder().raw_decode(text)
    except (ValueError, RecursionError):
        parsed = None
    expected: list[tuple[str, str]] = []
    if type(parsed) is dict:
        plugins._json_members(parsed, "", csv, keep_null, False, expected)
    assert ev.decoder_trace == expected


def test_json_decoder_fields():
    ev = _json_event(JSON_DOCUMENTS[0], False, True)
    assert ev.dynamic == {"a": "123456789012345678901234567890", "b": "x"}
    ev = _json_event(JSON_DOCUMENTS[9], False, True)
    assert ev.srcip == "10.0.0.2" and ev.dynamic == {"x": "2"}
    ev = _json_event(JSON_DOCUMENTS[10], True, False)
    assert (ev.srcuser, ev.dstuser, ev.data) == (None, "d", "null,true,s")
    ev = _json_event(JSON_DOCUMENTS[4], False, True)
    assert [text for _, text in ev.decoder_trace] == [
        "100000000000000000000.000000",
        "1.500000",
        "2",
        "3000000000.000000",
        "0",
        f"{5e-324:f}",
    ]

"""Plugin decoders (pf, SonicWall) through the stock 4.3 decoders: fields and category."""

from __future__ import annotations

from ospatrol.analysis.engine import Engine

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

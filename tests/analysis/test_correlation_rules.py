"""Correlation variants on a purpose-written rule set: if_matched_group, if_matched_regex,
different_url, same_user, if_level, and time/weekday conditions."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ospatrol.analysis.engine import Engine
from ospatrol.analysis.loader import load_ruleset
from ospatrol.analysis.rules import parse_time_range, parse_week_days

DECODERS = r"""<decoder name="web">
  <program_name>^web$</program_name>
</decoder>

<decoder name="web-req">
  <parent>web</parent>
  <pcre2>^(\S+) (\S+) (\S+) user=(\S+)$</pcre2>
  <order>srcip, url, id, user</order>
</decoder>
"""

RULES = r"""<group name="syslog,">
  <rule id="1" level="0" noalert="1">
    <category>syslog</category>
    <description>template</description>
  </rule>
</group>
<group name="web,">
  <rule id="100" level="0">
    <decoded_as>web</decoded_as>
    <description>web request</description>
  </rule>
  <rule id="101" level="3">
    <if_sid>100</if_sid>
    <id>^404$</id>
    <description>not found</description>
    <group>web_error,</group>
  </rule>
  <rule id="102" level="3">
    <if_sid>100</if_sid>
    <id>^403$</id>
    <description>forbidden</description>
    <group>web_error,</group>
  </rule>
  <rule id="110" level="9" frequency="2" timeframe="60">
    <if_matched_group>web_error</if_matched_group>
    <same_source_ip />
    <different_url />
    <description>scan: errors on different urls</description>
  </rule>
  <rule id="120" level="4">
    <if_sid>100</if_sid>
    <id>^200$</id>
    <description>ok</description>
  </rule>
  <rule id="121" level="8" timeframe="60">
    <if_sid>120</if_sid>
    <if_matched_regex>/login\S* 401 </if_matched_regex>
    <same_user />
    <description>success after a failed login of the same user</description>
  </rule>
  <rule id="122" level="2">
    <if_sid>100</if_sid>
    <id>^401$</id>
    <description>unauthorised</description>
  </rule>
  <rule id="130" level="12">
    <if_level>8</if_level>
    <url>^/admin</url>
    <description>something serious on /admin</description>
  </rule>
</group>
"""


@pytest.fixture(scope="module")
def ruleset(tmp_path_factory):
    base: Path = tmp_path_factory.mktemp("corr")
    (base / "d.xml").write_text(DECODERS)
    (base / "rules").mkdir()
    (base / "rules" / "r.xml").write_text(RULES)
    return load_ruleset(rules_dir=base / "rules", decoders=[base / "d.xml"])


def _feed(engine: Engine, lines: list[str], start: float = 1_700_000_000.0) -> list[int | None]:
    out = []
    for i, line in enumerate(lines):
        result = engine.process_line(f"Oct 10 10:00:00 host web: {line}", when=start + i)
        out.append(result.rule.id if result.rule else None)
    return out


def test_if_matched_group_with_different_url(ruleset):
    ids = _feed(
        Engine(ruleset),
        [
            "10.0.0.1 /a 404 user=-",
            "10.0.0.1 /a 403 user=-",  # same url as before: not counted
            "10.0.0.1 /b 403 user=-",
            "10.0.0.2 /c 404 user=-",  # other source
            "10.0.0.1 /c 404 user=-",
        ],
    )
    # frequency=2: fires on the 4th matching event (two earlier errors on other urls + this).
    assert ids == [101, 102, 102, 101, 110]


def test_if_matched_regex_same_user(ruleset):
    engine = Engine(ruleset)
    ids = _feed(
        engine,
        [
            "10.0.0.5 /login 401 user=alice",
            "10.0.0.5 /home 200 user=bob",
            "10.0.0.5 /home 200 user=alice",
        ],
    )
    # The 401 (level 2) alerts and is remembered; bob's success has no earlier failure of bob.
    assert ids == [122, 120, 121]


def test_if_level_hangs_below_every_rule_of_that_level(ruleset):
    """As in OSSEC, level-0 rules count as level 99 here (they sort first), so an if_level rule
    also hangs below the level-0 grouping rules and templates."""
    tree_parents = [
        node.rule.id
        for node in _walk(ruleset.top)
        if any(child.rule.id == 130 for child in node.children)
    ]
    assert sorted(set(tree_parents)) == [1, 100, 110, 121]
    ids = _feed(
        Engine(ruleset),
        ["10.0.0.7 /admin/x 401 user=eve", "10.0.0.7 /home 401 user=eve"],
    )
    assert ids == [130, 122]


def _walk(nodes):
    for node in nodes:
        yield node
        yield from _walk(node.children)


@pytest.mark.parametrize(
    ("text", "inside", "outside"),
    [
        ("6 pm - 8:30 am", [18 * 60, 23 * 60, 0, 8 * 60 + 29], [8 * 60 + 30, 12 * 60]),
        ("9:00 - 17:00", [9 * 60, 16 * 60 + 59], [17 * 60, 8 * 60]),
        ("!9:00 - 17:00", [17 * 60, 3 * 60], [10 * 60]),
    ],
)
def test_time_ranges(text, inside, outside):
    window = parse_time_range(text)
    assert window is not None
    assert all(window.contains(m) for m in inside)
    assert not any(window.contains(m) for m in outside)


def test_week_days():
    assert parse_week_days("weekends") == frozenset({5, 6})
    assert parse_week_days("monday, fri") == frozenset({0, 4})
    assert parse_week_days("!weekdays") == frozenset({5, 6})
    assert parse_week_days("someday") is None
    assert parse_time_range("25:00 - 1:00") is None


def test_weekday_rule_uses_event_time(tmp_path):
    (tmp_path / "d.xml").write_text(DECODERS)
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.xml").write_text(
        '<group name="syslog,">\n  <rule id="1" level="0" noalert="1">\n'
        "    <category>syslog</category>\n    <description>t</description>\n  </rule>\n"
        '  <rule id="100" level="5">\n    <decoded_as>web</decoded_as>\n'
        "    <weekday>weekends</weekday>\n    <description>weekend web</description>\n"
        "  </rule>\n</group>\n"
    )
    engine = Engine(load_ruleset(rules_dir=rules, decoders=[tmp_path / "d.xml"]))
    saturday = time.mktime((2023, 11, 18, 12, 0, 0, 0, 0, -1))
    monday = time.mktime((2023, 11, 20, 12, 0, 0, 0, 0, -1))
    line = "Oct 10 10:00:00 host web: 1.2.3.4 / 200 user=x"
    assert engine.process_line(line, when=saturday).rule.id == 100
    assert engine.process_line(line, when=monday).rule is None


def test_a_key_reads_the_fields_a_look_up_by_name_reads():
    """`correlation.Key` reads standard fields by code: the same values `getattr` gives, for
    every name a same_* option can give, alone, in pairs and threes, with dynamic and unknown
    names too."""
    from itertools import permutations

    from ospatrol.analysis.correlation import _CODES, Key
    from ospatrol.analysis.eventinfo import EventInfo

    ev = EventInfo("full", "log", "host", "prog", "loc", 1.0)
    names = [*_CODES, "field:Extra", "srcgeoip", ""]
    for number, name in enumerate(_CODES):
        if name not in ("hostname", "location"):
            setattr(ev, name, f"value-{number}")
    ev.srcport = None
    ev.dynamic["extra"] = "dynamic"
    for size in (1, 2, 3):
        for key_names in permutations(names, size):
            want = tuple(
                ev.field(n[len("field:") :]) if n.startswith("field:") else getattr(ev, n, None)
                for n in key_names
            )
            assert Key(key_names).values(ev) == want, key_names
    assert Key(()).values(ev) == ()

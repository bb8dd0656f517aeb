"""The engine's rule index (built at load): children split by an exact field value, as the
Windows and Office 365 rules of Wazuh's ruleset require them, give the verdicts of walking
every child (what `logtest -v` does), also from the rule cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ospatrol.analysis.engine import Engine
from ospatrol.analysis.loader import Ruleset, load_ruleset

DECODERS = r"""<decoder name="json">
  <prematch>^{\s*"</prematch>
  <plugin_decoder>JSON_Decoder</plugin_decoder>
</decoder>
"""

# Children of 100 by level (highest first): 130's parent 101 and the others require exact
# values of `ev.id` in three pattern types; 119 (negated), 120 (unanchored) and 121 (another
# field) do not constrain it, so every value keeps them.
RULES = r"""<group name="base,">
  <rule id="1" level="0" noalert="1">
    <category>syslog</category>
    <description>template</description>
  </rule>
</group>
<group name="app,">
  <rule id="100" level="0">
    <decoded_as>json</decoded_as>
    <field name="app">yes</field>
    <description>app</description>
  </rule>
  <rule id="101" level="9">
    <if_sid>100</if_sid>
    <field name="ev.id" type="pcre2">^1001$</field>
    <description>1001 (pcre2: also before a final newline)</description>
  </rule>
  <rule id="102" level="8">
    <if_sid>100</if_sid>
    <field name="ev.id">^1002$</field>
    <description>1002 (osregex)</description>
  </rule>
  <rule id="103" level="8">
    <if_sid>100</if_sid>
    <field name="ev.id" type="osmatch">^1003$|^1004$</field>
    <description>1003 or 1004 (osmatch)</description>
  </rule>
  <rule id="104" level="7">
    <if_sid>100</if_sid>
    <field name="ev.id">^1004$|^1005$</field>
    <description>1004 or 1005, after 103</description>
  </rule>
  <rule id="105" level="7">
    <if_sid>100</if_sid>
    <field name="ev.id">^1006$</field>
    <field name="ev.id">^1006$|^1007$</field>
    <description>1006, twice</description>
  </rule>
  <rule id="106" level="7">
    <if_sid>100</if_sid>
    <field name="ev.id">^abc_d-e$</field>
    <description>a word</description>
  </rule>
  <rule id="107" level="7">
    <if_sid>100</if_sid>
    <field name="ev.id">^1008$</field>
    <field name="flag">^on$</field>
    <description>1008 and flag</description>
  </rule>
  <rule id="108" level="7">
    <if_sid>100</if_sid>
    <field name="ev.id" type="pcre2">^1009$</field>
    <description>1009</description>
  </rule>
  <rule id="119" level="6">
    <if_sid>100</if_sid>
    <field name="ev.id" negate="yes">^1010$</field>
    <field name="flag">^neg$</field>
    <description>not 1010, flag neg</description>
  </rule>
  <rule id="120" level="5">
    <if_sid>100</if_sid>
    <field name="ev.id">10</field>
    <description>any id holding 10</description>
  </rule>
  <rule id="121" level="4">
    <if_sid>100</if_sid>
    <field name="other">^x$</field>
    <description>other field</description>
  </rule>
  <rule id="130" level="10">
    <if_sid>101</if_sid>
    <field name="detail">deep</field>
    <description>1001, deep</description>
  </rule>
</group>
"""

CONF = """<ossec_config>
  <ruleset>
    <decoder_dir>ruleset/decoders</decoder_dir>
    <rule_dir>ruleset/rules</rule_dir>
  </ruleset>
</ossec_config>
"""


def _home(base: Path) -> Path:
    for folder in ("etc", "ruleset/decoders", "ruleset/rules"):
        (base / folder).mkdir(parents=True)
    (base / "etc" / "ossec.conf").write_text(CONF)
    (base / "ruleset" / "decoders" / "json_decoders.xml").write_text(DECODERS)
    (base / "ruleset" / "rules" / "app_rules.xml").write_text(RULES)
    return base


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _home(tmp_path_factory.mktemp("wazuh-index"))


def _event(value: object, **more: str) -> str:
    body: dict[str, object] = {"app": "yes", **more}
    if value is not None:
        body["ev"] = {"id": value}
    return json.dumps(body, ensure_ascii=False)


# (event, the rule it must match)
CASES = [
    (_event("1001"), 101),
    (_event("1001", detail="deep"), 130),
    (_event("1001\n"), 101),  # PCRE2's `$` matches before a final newline
    (_event("1002\n"), 120),  # OS_Regex's does not
    (_event("1002"), 102),
    (_event("1002 "), 120),
    (_event("1003"), 103),
    (_event("1004"), 103),
    (_event("1005"), 104),
    (_event("1006"), 105),
    (_event("1007"), 120),  # 105 requires both of its conditions
    (_event("ABC_D-E"), 106),  # OS_Regex is caseless
    (_event("1008"), 120),
    (_event("1008", flag="on"), 107),
    (_event("1009"), 108),
    (_event("1009", flag="neg"), 108),
    (_event("10010", flag="neg"), 119),
    (_event("1010", flag="neg"), 120),
    (_event("1001\u00e9"), 120),  # not ASCII: the whole list
    (_event("\u00e91"), 100),
    (_event("2001", other="x"), 121),
    (_event(None, other="x"), 121),
    (_event(None, flag="neg"), 100),
    (_event(1001), 101),  # a number: cJSON prints it
]


def _walks_agree(ruleset: Ruleset) -> list[tuple[str, int | None, int | None, int]]:
    """(event, gated rule, exhaustive rule, expected rule) where any of them differ."""
    gated = Engine(ruleset, hostname="index")
    exhaustive = Engine(ruleset, hostname="index", trace_rules=True)
    out = []
    for line, expected in CASES:
        got = gated.process_line(line, when=1_700_000_000.0).rule
        want = exhaustive.process_line(line, when=1_700_000_000.0).rule
        got_id, want_id = got and got.id, want and want.id
        if not got_id == want_id == expected:
            out.append((line, got_id, want_id, expected))
    return out


def _split_of(ruleset: Ruleset, rule_id: int):
    for lists in ruleset.index.lists:
        for cands in (lists.default, *lists.by_decoder.values()):
            for cand in cands:
                if cand.rule.id == rule_id:
                    return cand.split
    raise AssertionError(f"rule {rule_id} is in no list of the index")


def test_children_split_by_an_exact_value_match_as_walking_every_child(home: Path) -> None:
    ruleset = load_ruleset(home / "etc" / "ossec.conf", home=home)
    split = _split_of(ruleset, 100)
    assert split is not None and split.field == "ev.id"
    assert sorted(split.keys) == [
        "1001",
        "1002",
        "1003",
        "1004",
        "1005",
        "1006",
        "1008",
        "1009",
        "abc_d-e",
    ]
    assert _walks_agree(ruleset) == []


def test_the_split_index_comes_back_from_the_rule_cache(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OSPATROL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("OSPATROL_RULESET_CACHE", raising=False)
    first = load_ruleset(home / "etc" / "ossec.conf", home=home, cache=True)
    cached = load_ruleset(home / "etc" / "ossec.conf", home=home, cache=True)
    assert cached is not first
    split = _split_of(cached, 100)
    assert split is not None and split.keys == _split_of(first, 100).keys
    assert _walks_agree(cached) == []

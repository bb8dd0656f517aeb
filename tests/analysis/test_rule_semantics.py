"""Rule conditions and tree semantics on a small rule set written for the purpose."""

from __future__ import annotations

from pathlib import Path

import pytest

from ospatrol.analysis.engine import Engine
from ospatrol.analysis.loader import load_ruleset

DECODERS = r"""<decoder name="app">
  <program_name>^app$</program_name>
</decoder>

<decoder name="app-login">
  <parent>app</parent>
  <prematch>^login </prematch>
  <regex offset="after_prematch">^(\S+) from (\S+) result=(\S+) color=(\S+)</regex>
  <order>user, srcip, status, color</order>
</decoder>

<decoder name="app-kv">
  <parent>app</parent>
  <prematch>^kv </prematch>
  <pcre2 offset="after_prematch">^a=(\w+) </pcre2>
  <order>action</order>
</decoder>

<decoder name="app-kv">
  <parent>app</parent>
  <pcre2 offset="after_regex">^b=(\w+) </pcre2>
  <order>url</order>
</decoder>

<decoder name="app-kv">
  <parent>app</parent>
  <pcre2 offset="after_regex">^c=(\w+)</pcre2>
  <order>extra_data</order>
</decoder>

<decoder name="cfg">
  <program_name>^cfg$</program_name>
</decoder>
"""

RULES = r"""<var name="ADMINS">^root$|^admin$</var>
<group name="syslog,">
  <rule id="1" level="0" noalert="1">
    <category>syslog</category>
    <description>template</description>
  </rule>
</group>
<group name="app,">
  <rule id="100" level="2">
    <decoded_as>app</decoded_as>
    <description>app event</description>
  </rule>
  <rule id="101" level="5">
    <if_sid>100</if_sid>
    <user>$ADMINS</user>
    <description>admin login</description>
    <group>admin_login,</group>
  </rule>
  <rule id="102" level="0">
    <if_sid>100</if_sid>
    <srcip>10.0.0.0/8</srcip>
    <user>$ADMINS</user>
    <description>internal admin is fine</description>
  </rule>
  <rule id="103" level="7">
    <if_sid>100</if_sid>
    <srcip>!192.168.0.0/16</srcip>
    <field name="color">^red$</field>
    <description>red from outside</description>
  </rule>
  <rule id="104" level="4">
    <if_sid>100</if_sid>
    <list field="user" lookup="match_key">lists/users</list>
    <description>listed user</description>
  </rule>
  <rule id="105" level="3">
    <if_sid>100</if_sid>
    <list field="srcip" lookup="address_match_key_value" check_value="^bad">lists/ips</list>
    <description>known bad network</description>
  </rule>
  <rule id="106" level="6">
    <if_group>admin_login</if_group>
    <status>^fail</status>
    <description>admin login failed</description>
  </rule>
  <rule id="107" level="3">
    <if_sid>100</if_sid>
    <action>go</action>
    <url>^fast$</url>
    <extra_data>now</extra_data>
    <options>no_log</options>
    <description>chained decoder fields</description>
  </rule>
  <rule id="110" level="4">
    <decoded_as>cfg</decoded_as>
    <check_diff />
    <description>configuration changed</description>
  </rule>
</group>
<group name="local,">
  <rule id="104" level="9" overwrite="yes">
    <if_sid>100</if_sid>
    <list field="user" lookup="match_key">lists/users</list>
    <description>listed user (raised)</description>
  </rule>
</group>
"""

CONF = """<ossec_config>
  <rules>
    <decoder>decoders.xml</decoder>
    <list>lists/users</list>
    <list>lists/ips</list>
    <include>local_rules.xml</include>
  </rules>
</ossec_config>
"""


@pytest.fixture(scope="module")
def engine_factory(tmp_path_factory):
    base: Path = tmp_path_factory.mktemp("ruleset")
    (base / "decoders.xml").write_text(DECODERS)
    (base / "rules").mkdir()
    (base / "rules" / "local_rules.xml").write_text(RULES)
    (base / "lists").mkdir()
    (base / "lists" / "users").write_text("alice:\nbob:staff\n")
    (base / "lists" / "ips").write_text("203.0.113:bad-net\n198.51.100:good\n")
    (base / "ossec.conf").write_text(CONF)
    ruleset = load_ruleset(base / "ossec.conf")
    return lambda: Engine(ruleset, hostname="mgr")


def _rule(engine: Engine, message: str, program: str = "app") -> int | None:
    result = engine.process_line(f"Oct 10 10:00:00 host {program}: {message}")
    return result.rule.id if result.rule else None


@pytest.mark.parametrize(
    ("message", "rule"),
    [
        ("login root from 192.168.1.5 result=ok color=blue", 101),
        # Level-0 siblings are tried first: the internal admin is ignored.
        ("login root from 10.1.2.3 result=ok color=blue", 102),
        # if_group: a child of every rule in the admin_login group.
        ("login admin from 192.168.1.5 result=failed color=blue", 106),
        ("login carol from 8.8.8.8 result=ok color=red", 103),
        ("login carol from 192.168.7.7 result=ok color=red", 100),
        # Overwritten: 104 keeps its place but has level 9 now.
        ("login alice from 192.168.7.7 result=ok color=blue", 104),
        ("login carol from 203.0.113.9 result=ok color=blue", 105),
        ("login carol from 198.51.100.9 result=ok color=blue", 100),
        ("kv a=go b=fast c=now", 107),
    ],
)
def test_conditions(engine_factory, message, rule):
    assert _rule(engine_factory(), message) == rule


def test_overwrite_changes_level_and_description(engine_factory):
    result = engine_factory().process_line(
        "Oct 10 10:00:00 host app: login bob from 192.168.7.7 result=ok color=blue"
    )
    assert (result.rule.id, result.rule.level) == (104, 9)
    assert result.rule.description == "listed user (raised)"


def test_chained_decoders_continue_after_previous_regex(engine_factory):
    result = engine_factory().process_line("Oct 10 10:00:00 host app: kv a=go b=fast c=now")
    assert result.decoder == "app"
    assert dict(result.fields) == {"action": "go", "url": "fast", "data": "now"}
    assert result.decoder_trace == (("action", "go"), ("url", "fast"), ("extra_data", "now"))
    # options no_log: the rule matched but writes no alert.
    assert result.generated and result.alert is None


def test_dynamic_field_is_kept_by_name(engine_factory):
    result = engine_factory().process_line(
        "Oct 10 10:00:00 host app: login carol from 8.8.8.8 result=ok color=red"
    )
    assert result.fields["color"] == "red"
    assert result.fields["dstuser"] == "carol"
    assert result.fields["status"] == "ok"


def test_check_diff_alerts_only_on_change(engine_factory):
    engine = engine_factory()
    assert _rule(engine, "hostname core1", "cfg") is None
    assert _rule(engine, "hostname core1", "cfg") is None
    assert _rule(engine, "hostname core2", "cfg") == 110

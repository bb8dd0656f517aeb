"""Rule and decoder files with mistakes: every error names the file and line, all are collected."""

from __future__ import annotations

from pathlib import Path

import pytest

from ospatrol.analysis.loader import load_ruleset
from ospatrol.errors import InputErrors

DECODERS = """<decoder name="sshd">
  <program_name>^sshd</program_name>
</decoder>

<decoder name="sshd-fail">
  <parent>sshd</parent>
  <pcre2>^Failed password for (\\S+) from (\\S+)</pcre2>
  <order>user, srcip</order>
</decoder>
"""

TEMPLATE = """<group name="syslog">
  <rule id="1" level="0" noalert="1">
    <category>syslog</category>
    <description>template</description>
  </rule>
</group>
"""


def _write(tmp_path: Path, rules: str, decoders: str = DECODERS) -> tuple[Path, Path, Path]:
    dec = tmp_path / "decoders.xml"
    dec.write_text(decoders)
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "00_base.xml").write_text(TEMPLATE)
    bad = tmp_path / "rules" / "local_rules.xml"
    bad.write_text(rules)
    return dec, tmp_path / "rules", bad


def _errors(tmp_path: Path, rules: str, decoders: str = DECODERS) -> tuple[list, Path]:
    dec, rdir, bad = _write(tmp_path, rules, decoders)
    with pytest.raises(InputErrors) as info:
        load_ruleset(rules_dir=rdir, decoders=[dec])
    return info.value.errors, bad


def test_valid_files_load(tmp_path):
    dec, rdir, _ = _write(
        tmp_path,
        '<group name="sshd,">\n  <rule id="100" level="5">\n    <decoded_as>sshd</decoded_as>\n'
        "    <description>ssh</description>\n  </rule>\n</group>\n",
    )
    ruleset = load_ruleset(rules_dir=rdir, decoders=[dec])
    assert set(ruleset.rules) == {1, 100}


def test_malformed_xml_names_file_and_line(tmp_path):
    errors, bad = _errors(
        tmp_path,
        '<group name="x">\n  <rule id="100" level="5">\n    <match>a</regex>\n'
        "  </rule>\n</group>\n",
    )
    assert len(errors) == 1
    assert errors[0].path == str(bad)
    assert errors[0].line == 3
    assert "</regex> closes <match>" in str(errors[0])


def test_unclosed_element_is_reported(tmp_path):
    errors, bad = _errors(tmp_path, '<group name="x">\n  <rule id="100" level="5">\n')
    assert (errors[0].path, errors[0].line) == (str(bad), 2)
    assert "never closed" in errors[0].message


def test_unknown_element_names_file_line_and_element(tmp_path):
    errors, bad = _errors(
        tmp_path,
        '<group name="x">\n  <rule id="100" level="5">\n    <match>a</match>\n'
        "    <frobnicate>yes</frobnicate>\n  </rule>\n</group>\n",
    )
    assert len(errors) == 1
    assert str(errors[0]) == f"{bad}:4: unknown element <frobnicate> in rule 100"


def test_unknown_rule_attribute(tmp_path):
    errors, bad = _errors(
        tmp_path,
        '<group name="x">\n  <rule id="100" level="5" colour="red">\n    <match>a</match>\n'
        "  </rule>\n</group>\n",
    )
    assert (errors[0].path, errors[0].line) == (str(bad), 2)
    assert "colour" in errors[0].message


def test_bad_regex_reports_pattern_file_and_line(tmp_path):
    errors, bad = _errors(
        tmp_path,
        '<group name="x">\n  <rule id="100" level="5">\n\n    <pcre2>(unclosed</pcre2>\n'
        "  </rule>\n</group>\n",
    )
    assert len(errors) == 1
    assert (errors[0].path, errors[0].line) == (str(bad), 4)
    assert "(unclosed" in errors[0].message


def test_duplicate_rule_id_points_at_both(tmp_path):
    errors, bad = _errors(
        tmp_path,
        '<group name="x">\n  <rule id="100" level="5">\n    <match>a</match>\n  </rule>\n'
        '  <rule id="100" level="6">\n    <match>b</match>\n  </rule>\n</group>\n',
    )
    assert len(errors) == 1
    assert (errors[0].path, errors[0].line) == (str(bad), 5)
    assert f"duplicate rule id 100 (first defined at {bad}:2)" in errors[0].message


def test_unknown_if_sid(tmp_path):
    errors, bad = _errors(
        tmp_path,
        '<group name="x">\n  <rule id="100" level="5">\n    <if_sid>4242</if_sid>\n'
        "    <match>a</match>\n  </rule>\n</group>\n",
    )
    assert len(errors) == 1
    assert str(errors[0]) == f"{bad}:2: rule 100: if_sid 4242 not found"


def test_forward_if_sid_reference_is_legal(tmp_path):
    dec, rdir, _ = _write(
        tmp_path,
        '<group name="x">\n  <rule id="101" level="7">\n    <if_sid>100</if_sid>\n'
        "    <match>root</match>\n  </rule>\n"
        '  <rule id="100" level="3">\n    <match>login</match>\n  </rule>\n</group>\n',
    )
    ruleset = load_ruleset(rules_dir=rdir, decoders=[dec])
    template = ruleset.top[0]
    [node100] = [n for n in template.children if n.rule.id == 100]
    assert [n.rule.id for n in node100.children] == [101]


def test_all_errors_are_collected(tmp_path):
    errors, bad = _errors(
        tmp_path,
        '<group name="x">\n  <rule id="100" level="5">\n    <bogus/>\n  </rule>\n'
        '  <rule id="101" level="5">\n    <pcre2>[</pcre2>\n  </rule>\n'
        '  <rule id="102" level="5">\n    <if_sid>999</if_sid>\n  </rule>\n</group>\n',
    )
    assert [(e.path, e.line) for e in errors] == [(str(bad), 3), (str(bad), 6), (str(bad), 8)]


def test_decoder_errors(tmp_path):
    decoders = DECODERS + (
        '\n<decoder name="orphan">\n  <parent>nosuch</parent>\n  <regex>^(\\S+)</regex>\n'
        "  <order>user</order>\n</decoder>\n"
        '<decoder name="broken">\n  <prematch>^x</prematch>\n  <pcre2>(</pcre2>\n'
        "  <order>user</order>\n  <colour>red</colour>\n</decoder>\n"
    )
    errors, _ = _errors(tmp_path, TEMPLATE.replace('id="1"', 'id="2"'), decoders)
    dec_path = str(tmp_path / "decoders.xml")
    messages = {(e.path, e.line): e.message for e in errors}
    assert "parent 'nosuch' not found" in messages[(dec_path, 11)]
    assert "bad pattern" in messages[(dec_path, 18)]
    assert "unknown element <colour>" in messages[(dec_path, 20)]


def test_unknown_decoder_in_decoded_as(tmp_path):
    errors, bad = _errors(
        tmp_path,
        '<group name="x">\n  <rule id="100" level="5">\n    <decoded_as>nosuch</decoded_as>\n'
        "  </rule>\n</group>\n",
    )
    assert str(errors[0]) == f"{bad}:3: rule 100: unknown decoder 'nosuch'"


def test_stock_rule_sets_load_clean(ruleset43, ruleset330):
    assert len(ruleset43.rules) > 1000
    assert len(ruleset330.rules) > 1000


def test_variables_are_substituted(tmp_path):
    dec, rdir, _ = _write(
        tmp_path,
        '<var name="FREQ">6</var>\n<var name="USERS">^root$|^admin$</var>\n'
        '<group name="x">\n  <rule id="100" level="5">\n    <decoded_as>sshd</decoded_as>\n'
        "  </rule>\n"
        '  <rule id="101" level="10" frequency="$FREQ" timeframe="60">\n'
        "    <if_matched_sid>100</if_matched_sid>\n    <user>$USERS</user>\n  </rule>\n</group>\n",
    )
    ruleset = load_ruleset(rules_dir=rdir, decoders=[dec])
    assert ruleset.rules[101].frequency == 6
    [(name, pattern)] = ruleset.rules[101].patterns
    assert name == "user" and pattern.source == "^root$|^admin$"


def test_unknown_variable_is_an_error(tmp_path):
    errors, bad = _errors(
        tmp_path,
        '<var name="USERS">^root$</var>\n<group name="x">\n  <rule id="100" level="5">\n'
        "    <user>$USRES</user>\n  </rule>\n</group>\n",
    )
    assert str(errors[0]) == f"{bad}:4: <user>: unknown variable $USRES"


def test_variable_expansion_bomb_is_refused_naming_file_and_line(tmp_path):
    """Thirty nested <var>s doubling at each level would expand to 2**30 * 8 characters."""
    nested = "".join(f'<var name="V{i}">$V{i - 1}$V{i - 1}</var>\n' for i in range(1, 31))
    errors, bad = _errors(
        tmp_path,
        '<var name="V0">xxxxxxxx</var>\n' + nested + '<group name="x">\n'
        '  <rule id="100" level="5">\n    <match>$V30</match>\n  </rule>\n</group>\n',
    )
    # V13 is 2**13 * 8 = 65,536 characters, the most allowed; V14 (line 15) doubles it.
    assert str(errors[0]) == (
        f"{bad}:15: <var>: variables expand to 131,072 characters (at most 65,536): "
        "nested <var> definitions?"
    )


def test_unknown_attribute_on_rule_element(tmp_path):
    errors, bad = _errors(
        tmp_path,
        '<group name="x">\n  <rule id="100" level="5">\n'
        '    <pcre2 offset="after_parent">^a</pcre2>\n  </rule>\n</group>\n',
    )
    assert str(errors[0]) == f"{bad}:3: <pcre2>: unknown attribute 'offset' in rule 100"


def test_unknown_attribute_on_list_is_reported_once(tmp_path):
    errors, bad = _errors(
        tmp_path,
        '<group name="x">\n  <rule id="100" level="5">\n'
        '    <list field="srcip" colour="red">lists/bad</list>\n  </rule>\n</group>\n',
    )
    assert [str(e) for e in errors] == [f"{bad}:3: <list>: unknown attribute 'colour' in rule 100"]


def test_config_load_order_with_dirs(tmp_path):
    """<decoder_dir> and <rule_dir> load matching files in name order; <include> by name."""
    (tmp_path / "etc" / "decoders").mkdir(parents=True)
    (tmp_path / "etc" / "decoders" / "10_ssh.xml").write_text(DECODERS)
    (tmp_path / "etc" / "decoders" / "notes.txt").write_text("not a decoder file")
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "00_base_rules.xml").write_text(TEMPLATE)
    (tmp_path / "rules" / "50_ssh_rules.xml").write_text(
        '<group name="ssh,">\n  <rule id="100" level="3">\n    <decoded_as>sshd</decoded_as>\n'
        "    <description>ssh</description>\n  </rule>\n</group>\n"
    )
    (tmp_path / "rules" / "unused.xml").write_text("<broken")
    (tmp_path / "extra").mkdir()
    (tmp_path / "extra" / "local_rules.xml").write_text(
        '<group name="local,">\n  <rule id="101" level="8">\n    <if_sid>100</if_sid>\n'
        "    <match>root</match>\n    <description>root ssh</description>\n  </rule>\n</group>\n"
    )
    conf = tmp_path / "etc" / "ossec.conf"
    conf.write_text(
        "<ossec_config>\n  <alerts>\n    <log_alert_level>3</log_alert_level>\n  </alerts>\n"
        "  <rules>\n    <decoder_dir>etc/decoders</decoder_dir>\n"
        "    <rule_dir>rules</rule_dir>\n    <include>extra/local_rules.xml</include>\n"
        "  </rules>\n</ossec_config>\n"
    )
    ruleset = load_ruleset(conf)
    assert [Path(f).name for f in ruleset.files] == [
        "10_ssh.xml",
        "00_base_rules.xml",
        "50_ssh_rules.xml",
        "local_rules.xml",
    ]
    assert ruleset.rules[101].if_sid == (100,)
    assert ruleset.rules[100].log_alert and not ruleset.rules[1].log_alert


def test_unknown_element_in_rules_block(tmp_path):
    conf = tmp_path / "ossec.conf"
    conf.write_text(
        "<ossec_config>\n  <rules>\n    <inclde>x.xml</inclde>\n  </rules>\n</ossec_config>\n"
    )
    with pytest.raises(InputErrors) as info:
        load_ruleset(conf)
    assert str(info.value.errors[0]) == f"{conf}:3: unknown element <inclde> in <rules>"


def test_config_alone_finds_rules_and_decoders(ossec43, ossec330, ruleset43, ruleset330):
    """Both stock layouts load from the config alone (etc/decoder.xml or ../decoders/)."""
    for conf, full in ((ossec43["conf"], ruleset43), (ossec330["conf"], ruleset330)):
        alone = load_ruleset(conf)
        assert set(alone.rules) == set(full.rules)
        assert alone.decoder_count == full.decoder_count

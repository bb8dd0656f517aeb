"""Engine behaviour: correlation, independent state, hostile input, bounded regex cost."""

from __future__ import annotations

import time
from pathlib import Path

from ospatrol.analysis.engine import Engine
from ospatrol.analysis.loader import load_ruleset
from ospatrol.model import Event

INVALID_USER = "Oct 10 10:00:{s:02d} web1 sshd[1{s:03d}]: Invalid user admin from {ip}"


def _feed(engine: Engine, count: int, ip: str = "10.0.0.9", start: float = 1_700_000_000.0):
    results = []
    for i in range(count):
        line = INVALID_USER.format(s=i % 60, ip=ip)
        results.append(engine.process_line(line, when=start + i))
    return results


def test_frequency_fires_on_frequency_plus_two(ruleset43):
    """5712 (frequency=6 over 5710, same_source_ip) fires on the 8th event, as in OSSEC."""
    assert ruleset43.rules[5712].frequency == 6
    results = _feed(Engine(ruleset43), 8)
    assert [r.rule.id for r in results[:7]] == [5710] * 7
    final = results[7]
    assert final.rule.id == 5712 and final.alert is not None
    assert len(final.alert.previous_output) == 7


def test_frequency_needs_same_source_ip(ruleset43):
    engine = Engine(ruleset43)
    start = 1_700_000_000.0
    ids = []
    for i in range(12):
        line = INVALID_USER.format(s=i, ip=f"10.0.0.{i % 2}")
        ids.append(engine.process_line(line, when=start + i).rule.id)
    # 10.0.0.0 reaches its 8th event at i == 14: no brute force yet.
    assert set(ids) == {5710}


def test_frequency_respects_timeframe(ruleset43):
    engine = Engine(ruleset43)
    start = 1_700_000_000.0
    timeframe = ruleset43.rules[5712].timeframe
    ids = []
    for i in range(10):
        line = INVALID_USER.format(s=i, ip="10.0.0.7")
        ids.append(engine.process_line(line, when=start + i * (timeframe / 3)).rule.id)
    assert 5712 not in ids


def test_two_engines_keep_separate_state(ruleset43):
    first, second = Engine(ruleset43), Engine(ruleset43)
    _feed(first, 7)
    assert _feed(second, 1)[0].rule.id == 5710
    assert (
        first.process_line(INVALID_USER.format(s=7, ip="10.0.0.9"), when=1_700_000_007.0).rule.id
        == 5712
    )
    assert (
        second.process_line(INVALID_USER.format(s=1, ip="10.0.0.9"), when=1_700_000_001.0).rule.id
        == 5710
    )


def test_ignore_time_suppresses_repeats(ruleset43):
    """After 5712 fires (ignore=60) the same rule does not alert again within 60 seconds."""
    engine = Engine(ruleset43)
    results = _feed(engine, 8)
    assert results[-1].alert is not None
    later = _feed(engine, 16, start=1_700_000_008.0)
    assert not any(r.alert is not None and r.rule.id == 5712 for r in later)


def test_first_time_seen_is_engine_state(ruleset43):
    line = (
        "Apr 27 15:22:23 niban sudo:     dcid : TTY=pts/4 ; PWD=/home/dcid ; USER=root ; "
        "COMMAND=/bin/ls"
    )
    engine = Engine(ruleset43)
    assert engine.process_line(line).rule.id == 5403  # first time this user ran sudo
    assert engine.process_line(line).rule.id == 5402
    assert Engine(ruleset43).process_line(line).rule.id == 5403


def test_alert_carries_fields_and_header(ruleset43):
    line = "Feb  9 11:44:56 web1 sshd[1234]: Failed password for root from 192.0.2.7 port 4242 ssh2"
    result = Engine(ruleset43).process(
        Event(text=line, location="/var/log/auth.log", host="mgr", time=1_700_000_000.0)
    )
    alert = result.alert
    assert alert is not None
    assert alert.decoder == "sshd"
    assert alert.hostname == "web1" and alert.program_name == "sshd"
    assert alert.fields["srcip"] == "192.0.2.7"
    assert alert.fields["dstuser"] == "root"
    assert "authentication_failed" in alert.groups
    assert alert.full_log == line


def test_alert_ids_firedtimes_and_counters(ruleset43):
    """Alert ids are "<epoch second>.<alerts so far>", firedtimes counts a rule's matches in
    this engine (level-0 and suppressed ones too), `counters` the events and alerts."""
    engine = Engine(ruleset43)
    failed = "Feb  9 11:44:56 web1 sshd[1234]: Failed password for root from 192.0.2.7 port 42 ssh2"
    noise = "Feb  9 11:44:56 web1 sshd[1234]: Connection closed by 192.0.2.8"
    start = 1_700_000_000.0
    results = [
        engine.process_line(line, when=start + offset)
        for line, offset in ((failed, 0.2), (noise, 0.5), (failed, 0.9), (failed, 1.0))
    ]
    alerts = [r.alert for r in results if r.alert is not None]
    assert [a.alert_id for a in alerts] == ["1700000000.1", "1700000000.2", "1700000001.3"]
    assert [a.firedtimes for a in alerts] == [1, 2, 3]
    assert results[1].alert is None and results[1].rule is not None
    assert results[1].rule.id != alerts[0].rule_id
    counts = engine.counters
    assert counts["events"] == 4 and counts["alerts"] == 3 and counts["truncated"] == 0
    # A copy: changing it changes nothing in the engine.
    counts["events"] = 0
    assert engine.counters["events"] == 4
    assert Engine(ruleset43).counters == {}


def test_process_line_builds_the_event_its_init_would(ruleset43):
    """process_line makes its Event without Event.__init__: the same record, equal, printed
    and pickled alike."""
    import pickle

    engine = Engine(ruleset43, hostname="mgr")
    line = "Feb  9 11:44:56 web1 sshd[1234]: Failed password for root from 192.0.2.7 port 42 ssh2"
    made = engine.process_line(line, location="/var/log/auth.log", when=1_700_000_000.5).event
    expected = Event(
        text=line, location="/var/log/auth.log", host="mgr", time=1_700_000_000.5, source="logtest"
    )
    assert made == expected and repr(made) == repr(expected)
    assert pickle.loads(pickle.dumps(made)) == expected
    before = time.time()
    assert before <= engine.process_line(line).event.time <= time.time()
    assert type(engine.process_line(line, when=1_700_000_000).event.time) is int


def test_hostile_input_never_crashes(ruleset43):
    engine = Engine(ruleset43)
    lines = [
        "",
        "   ",
        "\x00\x00\x00",
        "Oct 10 10:00:00 host sshd[1]: Invalid user \x00admin from 1.2.3.4",
        "Oct 10 10:00:00 host sshd[1]: " + "\udcff\udcfe" + "Invalid user x from 1.2.3.4",
        b"Oct 10 10:00:00 host sshd[1]: \xff\xfe\xfa bad utf8".decode("utf-8", errors="replace"),
        "Oct 10 10:00:00 host sshd[1]: " + "A" * 1_000_000,
        "x" * 1_000_000,
        "\n\r\t\x1b[31m",
        "Oct 10 10:00:00 host sshd[1]: ",
    ]
    results = [engine.process_line(line) for line in lines]
    assert [r.rejected for r in results[:3]] == ["empty"] * 3
    assert results[3].log.startswith("Invalid user")
    assert len(results[6].full_log) <= 65536
    assert engine.counters["rejected:empty"] == 3


def test_catastrophic_backtracking_rule_does_not_stall(backtracking_rules, linear: bool):
    ruleset = load_ruleset(**backtracking_rules)
    engine = Engine(ruleset)
    started = time.monotonic()
    result = engine.process_line("Oct 10 10:00:00 host app: " + "a" * 5000 + "!")
    assert time.monotonic() - started < 5
    assert result.rule.id == 101
    # RE2, where installed, answers in linear time; otherwise the time budget gives up.
    assert ruleset.regex_timeouts() == ({} if linear else {"^(a+)+$": 1})


def test_queue_envelopes(ruleset43):
    from ospatrol.analysis.engine import parse_envelope

    plain = parse_envelope(
        "1:/var/log/auth.log:Oct 10 10:00:00 web1 sshd[1]: Invalid user x from 1.2.3.4"
    )
    assert plain.location == "/var/log/auth.log"
    assert plain.text.startswith("Oct 10 10:00:00 web1 sshd")
    agent = parse_envelope("1:(web1) 10.0.0.5->C:\\logs\\app.log:something happened")
    assert agent.location == "(web1) 10.0.0.5->C"
    agent = parse_envelope(
        "1:(web1) 10.0.0.5->/var/log/secure:su[1]: Authentication failed for root"
    )
    assert agent.location == "(web1) 10.0.0.5->/var/log/secure"
    result = Engine(ruleset43).process(agent)
    assert result.hostname == "web1"
    assert result.rule.id == 2501


def test_bad_envelope_is_an_input_error():
    import pytest

    from ospatrol.analysis.engine import parse_envelope
    from ospatrol.errors import InputError

    with pytest.raises(InputError):
        parse_envelope("no envelope here")


def test_builtin_syscheck_decoders_on_fim_locations(ruleset43):
    engine = Engine(ruleset43)
    changed = Event(
        text="Integrity checksum changed for: '/etc/hosts'\nSize changed from '1' to '2'",
        location="agentless:web1:fim",
        host="web1",
        time=1_700_000_000.0,
    )
    result = engine.process(changed)
    assert result.decoder == "syscheck_integrity_changed"
    assert result.fields["filename"] == "/etc/hosts"
    assert result.rule is not None and result.rule.id == 550
    deleted = Event(
        text="File '/etc/x' was deleted. Unable to retrieve checksum.",
        location="(web1) 10.0.0.5->syscheck",
        time=1_700_000_001.0,
    )
    assert engine.process(deleted).decoder == "syscheck_deleted"
    elsewhere = Event(text=changed.text, location="/var/log/messages", time=1_700_000_002.0)
    assert engine.process(elsewhere).decoder is None


def test_default_ruleset_engine():
    engine = Engine.for_default_ruleset(hostname="mgr")
    result = engine.process_line(
        "Feb  9 11:44:56 web1 sshd[1234]: Failed password for root from 192.0.2.7 port 4242 ssh2"
    )
    assert result.decoder == "sshd" and result.alert is not None


def test_first_time_seen_memory_is_bounded(ruleset43, monkeypatch):
    from ospatrol.analysis import engine as engine_module

    monkeypatch.setattr(engine_module, "MAX_REMEMBERED", 5)
    engine = Engine(ruleset43)
    template = (
        "Apr 27 15:22:23 niban sudo:     u{n} : TTY=pts/4 ; PWD=/home ; USER=root ; COMMAND=/bin/ls"
    )
    ids = [engine.process_line(template.format(n=n)).rule.id for n in range(8)]
    assert ids == [5403] * 8
    assert len(engine._fts) == 5
    # u0 was forgotten: it counts as first seen again; u7 is still remembered.
    assert engine.process_line(template.format(n=0)).rule.id == 5403
    assert engine.process_line(template.format(n=7)).rule.id == 5402


def test_accumulator_shares_fields_within_a_session(ruleset43):
    """openldap: the connection line carries the source IP, later lines of conn=N get it."""
    engine = Engine(ruleset43)
    first = engine.process_line(
        "Oct 10 10:00:00 ldap1 slapd[99]: conn=1001 fd=12 ACCEPT from IP=192.0.2.55:41234 "
        "(IP=0.0.0.0:389)",
        when=1_700_000_000.0,
    )
    assert first.accumulated and first.fields["srcip"] == "192.0.2.55"
    later = engine.process_line(
        'Oct 10 10:00:01 ldap1 slapd[99]: conn=1001 op=0 BIND dn="cn=admin,dc=example,dc=org" '
        "method=128",
        when=1_700_000_001.0,
    )
    assert later.fields.get("id") == "1001"
    assert later.fields.get("srcip") == "192.0.2.55"
    expired = engine.process_line(
        'Oct 10 10:05:00 ldap1 slapd[99]: conn=1001 op=1 BIND dn="cn=admin,dc=example,dc=org" '
        "method=128",
        when=1_700_000_300.0,
    )
    assert "srcip" not in expired.fields


def test_correlation_forgets_events_past_the_event_memory(ruleset43, monkeypatch):
    """Like analysisd's bounded event list: after EVENT_MEMORY newer alerts (of any kind) an
    event no longer counts for frequency rules."""
    from ospatrol.analysis import correlation

    monkeypatch.setattr(correlation, "EVENT_MEMORY", 10)
    engine = Engine(ruleset43)
    start = 1_700_000_000.0
    _feed(engine, 4, start=start)
    other = "Feb  9 11:44:56 web1 sshd[1234]: Failed password for root from 192.0.2.{n} port 1 ssh2"
    for n in range(10):
        engine.process_line(other.format(n=n), when=start + 4 + n / 100)
    # Remembered, the four earlier events would make the 4th one below fire; forgotten, it
    # takes eight new ones.
    ids = [r.rule.id for r in _feed(engine, 8, start=start + 5)]
    assert ids == [5710] * 7 + [5712]


def test_standard_fields_follow_the_alert_table():
    from ospatrol.analysis.eventinfo import EventInfo
    from ospatrol.analysis.fields import ALERT_NAMES

    ev = EventInfo("x", "x", "h", None, "stdin", 0.0)
    assert ev.standard_fields() == {}
    for attr in ALERT_NAMES:
        setattr(ev, attr, f"v-{attr}")
    assert list(ev.standard_fields().items()) == [
        (name, f"v-{attr}") for attr, name in ALERT_NAMES.items()
    ]


def test_a_literal_gate_settles_only_plain_unanchored_matches(tmp_path: Path):
    """A rule whose <match> is plain text needs no second test once its gate passed; anchored,
    negated and non-ASCII cases still run the pattern itself."""
    (tmp_path / "decoders.xml").write_text(
        '<decoder name="app">\n  <program_name>^app$</program_name>\n</decoder>\n'
    )
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.xml").write_text(
        '<group name="syslog">\n  <rule id="1" level="0" noalert="1">\n'
        "    <category>syslog</category>\n    <description>t</description>\n  </rule>\n"
        '  <rule id="100" level="5">\n    <decoded_as>app</decoded_as>\n'
        "    <match>^Door|window open</match>\n    <description>anchored</description>\n"
        "  </rule>\n"
        '  <rule id="101" level="4">\n    <decoded_as>app</decoded_as>\n'
        "    <match>Door open|Gate open</match>\n    <description>plain</description>\n"
        "  </rule>\n"
        '  <rule id="102" level="3">\n    <decoded_as>app</decoded_as>\n'
        "    <match>!closed</match>\n    <description>negated</description>\n  </rule>\n"
        "</group>\n"
    )
    engine = Engine(load_ruleset(rules_dir=rules, decoders=[tmp_path / "decoders.xml"]))

    def rule(message: str) -> int | None:
        result = engine.process_line(f"Oct 10 10:00:00 host app: {message}")
        return result.rule.id if result.rule else None

    assert rule("Door ajar") == 100
    assert rule("the door ajar") == 102  # "^Door" is anchored: the literal alone is not enough
    assert rule("front WINDOW OPEN") == 100
    assert rule("the GATE OPEN now") == 101
    assert rule("all closed") is None
    assert rule("Tür: gate open") == 101  # not ASCII: the pattern itself decides
    assert rule("Tür: door closed") is None


def test_head_and_prefix_gates_never_reject_a_match():
    """The anchored-prefix gates of decoder prematches (both dialects, escapes, classes,
    quantifiers) are necessary conditions: every text the pattern matches passes them, and
    they do turn away texts that cannot match."""
    from ospatrol.analysis.decoding import _fits_head
    from ospatrol.analysis.gates import head_gate, prefix_gate
    from ospatrol.analysis.patterns import compile_pattern

    texts = [
        "[notice] workerEnv.init() ok",
        "[12-Jan-2020 10:00:00 +0100]: x",
        "[2020-01-12 10:00:00 CET user] x",
        "[**] [1:2:3] alert",
        "(pam_unix) session opened",
        "pam_succeed_if(sshd:auth): requirement",
        "%PIX-6-302013: Built",
        "Jan 12 2020 10:00:00: %PIX-6",
        "ab+c",
        "a{2}b",
        "aab",
        "foo|bar",
        "b",
    ]
    cases = [
        ("osregex", r"^\[\d\d-\w\w\w-\d\d\d\d \d\d"),
        ("pcre2", r"^\[\d{4}-\d{2}-\d{2} \S+ [A-Za-z][A-Za-z0-9@_+-]*\] "),
        ("pcre2", r"^\[\*\*\] \[\d+:\d+:\d+\] |^\[Drop\] \[\*\*\] "),
        ("osregex", r"^pam_unix|^\(pam_unix\)|^pam_succeed_if"),
        ("osregex", r"^%PIX-|^\w\w\w \d\d \d\d\d\d \d\d:\d\d:\d\d: %PIX-"),
        ("osregex", r"^ab+c"),
        ("pcre2", r"^a{2}b"),
        ("osregex", r"^a{2}b"),
        ("pcre2", r"^a*b"),  # no gate: "a" may be absent
        ("osregex", r"^foo\|bar"),
    ]
    rejected = 0
    for kind, source in cases:
        pattern = compile_pattern(kind, source)
        head = head_gate(pattern)
        prefixes = prefix_gate(pattern, pcre2=kind == "pcre2")
        assert (head is None and prefixes is None) == source.startswith("^a*"), source
        for text in texts:
            low = text.lower()
            matches = pattern.test(text, low)
            passes = (head is None or _fits_head(low, head)) and (
                prefixes is None or low.startswith(prefixes)
            )
            assert passes or not matches, (source, text)
            rejected += not passes
    assert rejected > len(cases) * len(texts) // 2

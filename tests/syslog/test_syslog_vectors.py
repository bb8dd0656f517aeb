"""The syslog header parser on every vector in ../shared/data/syslog/.

`curated_vectors.jsonl`: each `expect` key is checked against the parsed message. The file mixes
conventions of its sources (rsyslog's `%msg%` keeps the space after the tag, RFC 3164's CONTENT
does not; its `tag` is sometimes rsyslog's syslogtag and sometimes the program name; syslog-ng's
Cisco parser names fields PRI/HOST/DATE/MSEC), so each key is mapped to what that source meant.

`rsyslog_parser_vectors.jsonl`: rsyslog's own test expectations. Templates made only of message
properties are rendered from our parse and compared exactly; the tests that exercise rsyslog
modules rather than its parser (JSON and normalisation modules, snare control-character options,
SQL templates, rsyslog's receive-time properties) are listed in `MODULE_TESTS` with the reason,
and there every input must still parse and keep its message text.
"""

from __future__ import annotations

import json
import re
from datetime import UTC
from pathlib import Path

import pytest

from ospatrol.syslog.framing import Framer
from ospatrol.syslog.message import SyslogMessage, parse_syslog

LOCAL = "$RS_HOSTNAME"  # rsyslog's placeholder for "the receiver's own name"


def _lines(shared_data: Path, name: str) -> list[dict]:
    text = (shared_data / "syslog" / name).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def curated(shared_data: Path) -> list[dict]:
    return _lines(shared_data, "curated_vectors.jsonl")


@pytest.fixture(scope="module")
def rsyslog(shared_data: Path) -> list[dict]:
    return _lines(shared_data, "rsyslog_parser_vectors.jsonl")


MODULE_TESTS = {
    "clickhouse-wrong-quotation-marks.sh": "ClickHouse output module quoting",
    "func-substring-invld-startpos.sh": "rsyslog script substring() on an SD property",
    "func-substring-large-endpos.sh": "rsyslog script substring()",
    "func-substring-large-neg-endpos.sh": "rsyslog script substring()",
    "func-substring-relative-endpos.sh": "rsyslog script substring()",
    "inputname-imtcp.sh": "names of rsyslog input instances",
    "mmjsonparse-find-json-basic.sh": "mmjsonparse module",
    "mmjsonparse-find-json-conflict.sh": "mmjsonparse module",
    "mmjsonparse-find-json-invalid.sh": "mmjsonparse module",
    "mmjsonparse-find-json-parser-validation.sh": "mmjsonparse module",
    "mmjsonparse-find-json-scan-limit.sh": "mmjsonparse module",
    "mmjsonparse-find-json-trailing.sh": "mmjsonparse module",
    "mmjsonparse_extra_data-vg.sh": "mmjsonparse module",
    "mmnormalize-turbo-message-lifecycle.sh": "mmnormalize (liblognorm) rules",
    "yaml-mmnormalize-turbo.sh": "mmnormalize (liblognorm) rules",
    "pmnormalize-basic.sh": "pmnormalize (liblognorm) rules",
    "pmnormalize-rule.sh": "pmnormalize (liblognorm) rules",
    "pmnormalize-rule_invld-data.sh": "pmnormalize (liblognorm) rules",
    "parser-drop-trailing-cr.sh": "input is a shell variable the extractor could not expand",
    "yaml-parser-drop-trailing-cr.sh": "input is a shell variable the extractor could not expand",
    "parsertest-snare_ccoff_udp.sh": "rsyslog's control-character escaping options",
    "parsertest-snare_ccoff_udp2.sh": "rsyslog's control-character escaping options",
    "pmsnare-ccbackslash-udp.sh": "pmsnare module",
    "pmsnare-ccbackslash.sh": "pmsnare module",
    "pmsnare-cccstyle-udp.sh": "pmsnare module",
    "pmsnare-cccstyle.sh": "pmsnare module",
    "pmsnare-modoverride-udp.sh": "pmsnare module",
    "pmsnare-modoverride.sh": "pmsnare module",
    "pmsnare_malformed_tag_tail.sh": "pmsnare module",
    "pmciscoios_truncated_input.sh": "pmciscoios module (checks rsyslog survives)",
    "pmdb2diag_malformed_tail.sh": "pmdb2diag module",
    "pmrfc3164_force_tag_no_colon.sh": "pmrfc3164 force.tagEndingByColon option",
    "pmrfc3164-defaultTag.sh": "pmrfc3164 defaultTag option",
    "tabescape_on.sh": "rsyslog's control-character escaping option",
    "template-missing-jsonvars-queue.sh": "JSON template variables",
    "template-property-timegenerated.sh": "rsyslog's receive time (faked clock)",
    "template-property-timereceived.sh": "rsyslog's receive time (faked clock)",
    "template-topos-neg.sh": "template substring positions",
    "contains-longer-needle.sh": "property filter (the message is checked below)",
    "yaml-propfilt-contains-longer-needle.sh": "property filter",
    "endswith-basic.sh": "property filter drops the 4th input; the others are compared",
}

# rsyslog's parsertest without a PRI or timestamp ('This is a message!') reads the first word as
# hostname and the second as tag; we follow RFC 3164 §4.3.3 and keep the whole line as message
# (OSSEC's remoted also passes such a line on untouched), so those two inputs are expected to
# differ. Everything else in the parsertests must match.
RFC_NOT_RSYSLOG = {"This is a message!"}


def _shell_unquote(text: str) -> str:
    r"""The parsertest inputs were extracted from double-quoted shell strings: `\"` is `"`."""
    return text.replace('\\"', '"')


def _property(m: SyslogMessage, name: str) -> str:
    tag = m.syslogtag or ""
    if name == "PRI":
        return str(m.effective_pri)
    if name == "syslogfacility-text":
        return m.facility_name
    if name == "syslogseverity-text":
        return m.severity_name
    if name == "timestamp":
        return m.bsd_timestamp() or ""
    if name == "hostname":
        return m.hostname or LOCAL
    if name == "programname":
        return m.app_name or ""
    if name == "syslogtag":
        return tag
    if name == "app-name":
        return m.app_name or "-"
    if name == "msg":
        return m.msg or ""
    assert m.when is not None, name
    when = m.when
    fmt = name.split(":::", 1)[1] if ":::" in name else ""
    if fmt == "date-rfc3339":
        frac = (m.subseconds or "")[:6]
        zone = "Z" if when.utcoffset() is not None and not when.utcoffset() else when.strftime("%z")
        zone = zone if zone == "Z" else f"{zone[:3]}:{zone[3:]}"
        return when.strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac}" if frac else "") + zone
    if fmt == "date-rfc3339,date-utc":
        return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
    if fmt == "date-iso-week-year":
        return str(when.isocalendar().year)
    if fmt == "date-iso-week":
        return f"{when.isocalendar().week:02d}"
    if fmt == "date-mysql":
        return when.strftime("%Y%m%d%H%M%S")
    if fmt == "date-pgsql":
        return when.strftime("%Y-%m-%d %H:%M:%S")
    if fmt == "date-subseconds":
        return m.subseconds or "0"
    raise AssertionError(f"unsupported property {name}")


def _render(template: str, m: SyslogMessage) -> str:
    body = template.replace("\\n", "")
    return re.sub(r"%([^%]+)%", lambda found: _property(m, found.group(1)), body)


def _gold_cases(tests: list[dict]) -> list[tuple[str, str, str, str]]:
    """(case name, template, input, expected) of every test outside MODULE_TESTS."""
    cases = []
    for test in tests:
        name = test["test"]
        template = test["template"]
        if name in MODULE_TESTS:
            continue
        if template is None:  # YAML-configured copies of templated tests
            template = {
                "timereported-utc.sh": "%timereported:::date-rfc3339,date-utc%\\n",
            }[name]
        template = template.replace("timereported", "timestamp")
        for i, (raw, expected) in enumerate(zip(test["inputs"], test["expected"], strict=True)):
            raw = _shell_unquote(raw) if name.startswith("parsertest") else raw
            expected = _shell_unquote(expected) if name.startswith("parsertest") else expected
            cases.append((f"{name}[{i}]", template, raw, expected))
    return cases


def test_rsyslog_gold(rsyslog: list[dict]) -> None:
    cases = _gold_cases(rsyslog)
    assert len(cases) == 95
    wrong = []
    for case, template, raw, expected in cases:
        if raw in RFC_NOT_RSYSLOG:
            m = parse_syslog(raw)
            if (m.format, m.hostname, m.msg) != ("raw", None, raw):
                wrong.append(f"{case}: {m}")
            continue
        got = _render(template, parse_syslog(raw))
        if got != expected:
            wrong.append(f"{case}: {raw!r}\n   got      {got!r}\n   expected {expected!r}")
    assert not wrong, "\n".join(wrong)


def test_rsyslog_module_vectors_parse_and_keep_the_message(rsyslog: list[dict]) -> None:
    tests = [t for t in rsyslog if t["test"] in MODULE_TESTS]
    assert {t["test"] for t in tests} == set(MODULE_TESTS)
    for test in tests:
        for raw in test["inputs"]:
            m = parse_syslog(raw)
            # Nothing is lost: the message text is the tail of the input.
            assert m.msg is not None, test["test"]
            assert raw.endswith(m.msg), test["test"]


def test_endswith_basic_compares_the_three_kept_lines(rsyslog: list[dict]) -> None:
    test = next(t for t in rsyslog if t["test"] == "endswith-basic.sh")
    rendered = [_render(test["template"], parse_syslog(raw)) for raw in test["inputs"]]
    assert rendered[:3] == test["expected"]
    assert rendered[3] == "otherprog test4"  # the filter in that test drops this one


def _content(m: SyslogMessage) -> str | None:
    """RFC 3164 CONTENT: the message without the one space after the tag."""
    if m.msg is not None and m.format != "rfc5424" and m.msg.startswith(" "):
        return m.msg[1:]
    return m.msg


def _check_curated(m: SyslogMessage, key: str, want, raw: str) -> None:
    if key == "pri":
        assert (m.pri if want is None else m.effective_pri) == want
    elif key in ("facility", "severity", "version", "app_name", "procid", "msgid", "msg_bom"):
        assert getattr(m, key) == want
    elif key == "timestamp":
        assert m.timestamp == want
    elif key == "hostname":
        if want == "<local host>":
            assert m.hostname is None
        else:
            assert m.hostname == want
    elif key == "tag":
        assert want in ((m.syslogtag or ""), (m.app_name or ""))
    elif key == "programname":
        assert m.app_name == want
    elif key == "syslogtag":
        assert m.syslogtag == want
    elif key == "sd":
        got = None if m.sd is None else {k: dict(v) for k, v in m.sd.items()}
        assert got == want
    elif key in ("msg", "MSG"):
        assert want in (m.msg, _content(m))
    elif key == "PRI":
        assert str(m.pri) == want
    elif key == "HOST":
        assert m.hostname == (None if want == "<sender address>" else want)
    elif key == "DATE":
        assert m.timestamp == want
    elif key == "MSEC":
        assert m.cisco is not None and m.cisco.msec == want
    elif key == "cisco":
        assert m.cisco is not None
        assert (m.cisco.facility, m.cisco.severity, m.cisco.mnemonic) == (
            want["facility"],
            want["severity"],
            want["mnemonic"],
        )
    elif key == "application":
        assert m.app_name == want
    elif key == "log_level":
        assert m.esxi_level == want
    elif key == "pid":
        assert m.procid == str(want)
    else:
        raise AssertionError(f"no check for expectation key {key!r}")


def test_curated_vectors(curated: list[dict]) -> None:
    assert len(curated) == 44
    wrong = []
    for vector in curated:
        try:
            _check_vector(vector)
        except AssertionError as exc:
            wrong.append(f"{vector['id']} ({vector['category']}): {vector['raw']!r}: {exc}")
    assert not wrong, "\n".join(wrong)


def _check_vector(vector: dict) -> None:
    raw = vector["raw"]
    expect = vector["expect"] or {}
    if vector["transport"] == "tcp":
        framer = Framer(max_message=65536)
        frames = framer.feed(raw.encode())
        frames += framer.close()
        assert len(frames) == expect["frames"]
        assert framer.rejected == {}
        for frame in frames:
            assert parse_syslog(frame.decode()).pri == 34
        return
    m = parse_syslog(raw)
    # Every message keeps its text: nothing a sender writes disappears.
    assert m.msg is not None or m.sd is not None
    if "rule" in expect:
        return  # an analysis expectation (rule, level, decoder), not the parser's
    for key, want in expect.items():
        _check_curated(m, key, want, raw)

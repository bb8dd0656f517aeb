"""Golden cases for OSPatrol's own rule set (`rules/`), run through the analysis engine.

The cases are data (`tests/analysis/cases/*.yml`, format in the README there): each runs in a
fresh engine so correlation state never leaks between cases. One test drives a few of them
through the real `ospatrol logtest` command line, and `ospatrol rules check` must accept the
rule set. Real third-party samples (../shared/data/logs) check that the decoders hold on lines
written by real devices and daemons, not only on ours.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from ospatrol.analysis.engine import Engine
from ospatrol.analysis.loader import Ruleset, load_ruleset
from ospatrol.model import Event

REPO = Path(__file__).resolve().parents[2]
RULES_CONF = REPO / "rules" / "ospatrol.conf"
CASES_DIR = Path(__file__).resolve().parent / "cases"
CASE_KEYS = {
    "name",
    "log",
    "before",
    "repeat",
    "location",
    "decoder",
    "rule",
    "level",
    "no_alert",
    "fields",
}
DEFAULT_LOCATION = "/var/log/syslog"
MIN_CASES = 80
# Correlation sequences are spaced this many seconds apart (well inside every timeframe).
STEP = 1.0
START = 1_744_700_000.0


def _load_cases() -> list[tuple[str, dict[str, Any]]]:
    cases = []
    for path in sorted(CASES_DIR.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert isinstance(data, list), f"{path.name}: expected a list of cases"
        for index, case in enumerate(data, start=1):
            label = case.get("name", str(index)).replace(" ", "-")
            cases.append((f"{path.stem}:{index}:{label}", case))
    return cases


CASES = _load_cases()


@pytest.fixture(scope="module")
def ruleset() -> Ruleset:
    return load_ruleset(RULES_CONF)


def _run(ruleset: Ruleset, case: dict[str, Any]):
    engine = Engine(ruleset, hostname="ospatrol-test")
    location = case.get("location", DEFAULT_LOCATION)
    when = START
    for line in [*case.get("before", []), *[case["log"]] * case.get("repeat", 0)]:
        engine.process(Event(text=line, location=location, time=when, source="logtest"))
        when += STEP
    return engine.process(Event(text=case["log"], location=location, time=when, source="logtest"))


def test_case_files_are_well_formed() -> None:
    assert len(CASES) >= MIN_CASES, f"only {len(CASES)} golden cases"
    for case_id, case in CASES:
        unknown = set(case) - CASE_KEYS
        assert not unknown, f"{case_id}: unknown keys {sorted(unknown)}"
        assert isinstance(case.get("log"), str), f"{case_id}: 'log' must be a string"
        assert "rule" in case and "level" in case and "decoder" in case, case_id


@pytest.mark.parametrize("case", [c for _, c in CASES], ids=[i for i, _ in CASES])
def test_golden_case(ruleset: Ruleset, case: dict[str, Any]) -> None:
    result = _run(ruleset, case)
    got_rule = result.rule.id if result.rule is not None else None
    got_level = result.rule.level if result.rule is not None else None
    got = {"decoder": result.decoder_shown, "rule": got_rule, "level": got_level}
    want = {"decoder": case["decoder"], "rule": case["rule"], "level": case["level"]}
    assert got == want, f"fields: {dict(result.fields)}"
    if case.get("no_alert"):
        assert result.alert is None
    elif case["rule"] is not None and case["level"]:
        assert result.alert is not None, "a rule above level 0 matched but no alert was made"
        assert result.alert.rule_id == case["rule"]
    for name, value in (case.get("fields") or {}).items():
        assert result.fields.get(name) == str(value), f"field {name}: {dict(result.fields)}"


def _cli(args: list[str], stdin: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSPATROL_")}
    return subprocess.run(
        [sys.executable, "-m", "ospatrol", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env=env,
        check=False,
    )


def test_logtest_cli_jsonl_on_own_ruleset() -> None:
    picked = [c for _, c in CASES if "before" not in c and c.get("location") is None][:5]
    stdin = "".join(c["log"] + "\n" for c in picked)
    proc = _cli(["logtest", "--format", "jsonl"], stdin)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    assert len(lines) == len(picked)
    for case, out in zip(picked, lines, strict=True):
        assert (out["decoder"], out["rule"], out["level"]) == (
            case["decoder"],
            case["rule"],
            case["level"],
        )
        assert out["alert"] is bool(case["level"] and not case.get("no_alert"))


def test_logtest_cli_unit_mode_exit_codes() -> None:
    case = next(c for _, c in CASES if c.get("name") == "sshd wrong password")
    good = f"{case['rule']}:{case['level']}:{case['decoder']}"
    assert _cli(["logtest", "-q", "-U", good], case["log"] + "\n").returncode == 0
    wrong_level = f"{case['rule']}:{case['level'] + 1}:{case['decoder']}"
    assert _cli(["logtest", "-q", "-U", wrong_level], case["log"] + "\n").returncode == 1


def test_rules_check_accepts_own_ruleset() -> None:
    proc = _cli(["rules", "check"], "")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _corpus(ruleset: Ruleset, lines: list[str]) -> list[tuple[str, Any]]:
    """(line, result) for each line of a real corpus, in one engine (correlation included)."""
    engine = Engine(ruleset, hostname="ospatrol-test")
    out = []
    for index, raw in enumerate(lines):
        line = re.sub(r"^<\d+>", "", raw.rstrip("\r\n"))
        event = Event(text=line, location="syslog", time=START + index, source="logtest")
        out.append((line, engine.process(event)))
    return out


def _rule(result) -> int | None:
    return result.rule.id if result.rule is not None else None


def test_real_openssh_corpus(ruleset: Ruleset, shared_data: Path) -> None:
    path = shared_data / "logs" / "loghub" / "OpenSSH" / "OpenSSH_2k.log"
    results = _corpus(ruleset, path.read_text(encoding="utf-8").splitlines())
    assert {r.decoder_shown for _, r in results} == {"sshd", "pam"}
    for line, result in results:
        if ": Failed password for invalid user " in line:
            assert _rule(result) in (80205, 80242), line
        elif ": Failed password for " in line:
            assert _rule(result) in (80206, 80240), line
            assert result.fields["srcip"] in line
        elif ": Accepted password for " in line:
            assert _rule(result) == 80201, line
        elif ": Invalid user " in line:
            assert _rule(result) in (80208, 80241), line
        elif ": Received disconnect from " in line or ": Connection closed by " in line:
            assert result.alert is None, line


def test_real_cisco_asa_corpus(ruleset: Ruleset, shared_data: Path) -> None:
    path = shared_data / "logs" / "apache_metron" / "asa" / "raw" / "asa_raw"
    results = _corpus(ruleset, path.read_text(encoding="utf-8").splitlines())
    for line, result in results:
        assert result.decoder_shown == "cisco-asa", line
        code = re.search(r"%ASA-(\d-\d+):", line)
        assert code is not None and result.fields["id"] == code.group(1), line
        if "-106023:" in line:
            assert _rule(result) in (80601, 80641), line
        if "%ASA-6-3020" in line:
            assert result.alert is None, line


def test_real_cisco_ios_corpus(ruleset: Ruleset, shared_data: Path) -> None:
    path = shared_data / "logs" / "elastic_integrations" / "cisco_ios" / "test-cisco-ios.log"
    results = _corpus(ruleset, path.read_text(encoding="utf-8").splitlines())
    decoded = [(line, r) for line, r in results if r.decoder_shown == "cisco-ios"]
    assert len(decoded) >= len(results) - 1
    for line, result in decoded:
        if re.search(r"ACCESSLOG\w*: .*list \S+ denied ", line):
            assert _rule(result) in (80521, 80541), line
        if "LOGIN_SUCCESS" in line:
            assert _rule(result) == 80502, line


def test_real_esxi_samples(ruleset: Ruleset, shared_data: Path) -> None:
    path = shared_data / "logs" / "vmware_esxi" / "esxi_format_examples.jsonl"
    samples = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    checked = 0
    for sample in samples:
        expect = sample.get("expect") or {}
        if not str(expect.get("decoder", "")).startswith("vmware"):
            continue
        ((_, result),) = _corpus(ruleset, [sample["line"]])
        assert result.decoder_shown == "vmware-esx", sample["line"]
        for name, field in (("user", "dstuser"), ("srcip", "srcip")):
            if name in expect:
                assert result.fields.get(field) == expect[name], sample["line"]
        checked += 1
    assert checked >= 4


LOCAL_TUNING = """
<group name="local,">
  <rule id="100100" level="0">
    <if_sid>550</if_sid>
    <match>for: '/etc/resolv.conf'</match>
    <description>Local: resolv.conf is rewritten by DHCP.</description>
  </rule>
  <rule id="100101" level="12">
    <if_sid>80201</if_sid>
    <user>^root$</user>
    <description>Local: root logged in with a password.</description>
  </rule>
  <rule id="100102" level="3">
    <if_sid>80107</if_sid>
    <match>for: '/opt/vendor/</match>
    <description>Local: the vendor's installer sets its helper setuid.</description>
  </rule>
</group>
"""


def test_local_tuning_loads_after_own_ruleset(tmp_path: Path) -> None:
    """OSSEC-style local rules (if_sid on ours, including FIM's 550) tune the shipped set."""
    rules_dir = RULES_CONF.parent
    conf = RULES_CONF.read_text(encoding="utf-8")
    conf = conf.replace(">decoders/", f">{rules_dir}/decoders/").replace(
        ">rules/", f">{rules_dir}/rules/"
    )
    local = tmp_path / "local_rules.xml"
    local.write_text(LOCAL_TUNING, encoding="utf-8")
    conf = conf.replace("</rules>", f"<include>{local}</include></rules>")
    (tmp_path / "ospatrol.conf").write_text(conf, encoding="utf-8")
    tuned = load_ruleset(tmp_path / "ospatrol.conf")

    accepted = (
        "Mar  3 09:12:44 web01 sshd[2211]: Accepted password for {} from 10.0.0.5 port 5 ssh2"
    )
    root = _run(tuned, {"log": accepted.format("root")})
    assert (root.rule.id, root.rule.level) == (100101, 12)
    assert _run(tuned, {"log": accepted.format("alice")}).rule.id == 80201
    changed = "Integrity checksum changed for: '/etc/resolv.conf'\nSize changed from '60' to '88'"
    dhcp = _run(tuned, {"log": changed, "location": "agentless:web01:fim"})
    assert dhcp.rule is not None and dhcp.rule.id == 100100
    assert dhcp.alert is None

    setuid = (
        "Integrity checksum changed for: '{}'\nPermissions changed from 'rwxr-xr-x' to 'rwsr-xr-x'"
    )
    vendor = _run(tuned, {"log": setuid.format("/opt/vendor/helper"), "location": "x:fim"})
    assert (vendor.rule.id, vendor.rule.level) == (100102, 3)
    other = _run(tuned, {"log": setuid.format("/usr/local/bin/tool"), "location": "x:fim"})
    assert (other.rule.id, other.rule.level) == (80107, 12)

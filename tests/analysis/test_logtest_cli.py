"""`ospatrol logtest` and `ospatrol rules check` wiring, in-process with click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ospatrol.cli import cli

FAILED = (
    b"Feb  9 11:44:56 web1 sshd[1234]: Failed password for root from 192.0.2.7 port 4242 ssh2\n"
)


def _run(args: list[str], data: bytes, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, args, input=data, env=env, catch_exceptions=False)


def test_jsonl_one_object_per_line(stock):
    result = _run(["logtest", *stock, "--format", "jsonl"], FAILED + b"garbage line\n")
    assert result.exit_code == 0
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert first == {
        "decoder": "sshd",
        "rule": 5716,
        "level": 5,
        "alert": True,
        "fields": {"srcip": "192.0.2.7", "dstuser": "root"},
    }
    assert second["decoder"] is None and second["alert"] is False


def test_alerts_only_prints_alerts_log_blocks(stock):
    result = _run(["logtest", *stock, "-a", "--hostname", "mgr"], FAILED + b"nothing to see\n")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith("** Alert ") and lines[0].endswith(
        "- syslog,sshd,authentication_failed,"
    )
    assert lines[1].endswith(" web1->stdin")
    assert lines[2:5] == [
        "Rule: 5716 (level 5) -> 'SSHD authentication failed.'",
        "Src IP: 192.0.2.7",
        "User: root",
    ]
    assert "Phase" not in result.stdout


def test_unit_mode_decoded_without_rule_is_255(tmp_path):
    (tmp_path / "d.xml").write_text(
        '<decoder name="app">\n  <prematch>^app: </prematch>\n</decoder>\n'
    )
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.xml").write_text(
        '<group name="syslog">\n  <rule id="1" level="0" noalert="1">\n'
        "    <category>syslog</category>\n    <description>t</description>\n  </rule>\n</group>\n"
    )
    args = ["logtest", "--rules-dir", str(rules), "--decoders", str(tmp_path / "d.xml")]
    result = _run([*args, "-q", "-U", "1:0:app"], b"app: hello\n")
    assert result.exit_code == 255


def test_hostname_from_environment(stock):
    result = _run(
        ["logtest", *stock],
        b"su[2614]: Authentication failed for root\n",
        env={"OSPATROL_HOSTNAME": "melancia"},
    )
    assert "       hostname: 'melancia'\n" in result.stdout


def test_invalid_utf8_and_nul_bytes_do_not_crash(stock):
    data = b"\xff\xfe\xfd garbage \x00 with nul\n" + b"x" * 2_000_000 + b"\n" + FAILED
    result = _run(["logtest", *stock, "--format", "jsonl"], data)
    assert result.exit_code == 0
    objects = [json.loads(line) for line in result.stdout.splitlines()]
    assert objects[-1]["rule"] == 5716
    # The long line is read as ossec-logtest reads it, in pieces of 6,135 bytes (the newline
    # with the last one), each one event.
    assert len(objects) == 2 + -(-2_000_001 // 6135)


def test_default_ruleset_is_used_without_flags():
    result = _run(["logtest", "--format", "jsonl"], FAILED)
    assert result.exit_code == 0
    assert json.loads(result.stdout)["decoder"] == "sshd"


def test_rules_check_clean_sets(stock, legacy):
    assert _run(["rules", "check", *stock], b"").exit_code == 0
    result = _run(["rules", "check", *legacy], b"")
    assert result.exit_code == 0
    assert result.stdout.startswith("ok: ")
    assert _run(["rules", "check"], b"").exit_code == 0


def test_rules_check_warns_when_linear_time_matching_is_missing(stock, monkeypatch):
    from ospatrol.analysis import pcre

    warning = "warning: google-re2 is not installed"
    monkeypatch.setattr(pcre, "_re2", None)
    result = _run(["rules", "check", *stock], b"")
    assert result.exit_code == 0 and warning in result.stderr
    assert result.stdout.startswith("ok: ")
    monkeypatch.undo()
    if pcre.linear_time_available():
        assert warning not in _run(["rules", "check", *stock], b"").stderr


def test_rules_check_prints_every_error(tmp_path: Path):
    (tmp_path / "d.xml").write_text(
        '<decoder name="app">\n  <prematch>^app: </prematch>\n</decoder>\n'
    )
    rules = tmp_path / "rules"
    rules.mkdir()
    bad = rules / "r.xml"
    bad.write_text(
        '<group name="syslog">\n  <rule id="1" level="0" noalert="1">\n'
        "    <category>syslog</category>\n    <description>t</description>\n  </rule>\n"
        '  <rule id="100" level="3">\n    <if_sid>77</if_sid>\n  </rule>\n'
        '  <rule id="100" level="3">\n    <pcre2>(</pcre2>\n  </rule>\n</group>\n'
    )
    result = _run(
        ["rules", "check", "--rules-dir", str(rules), "--decoders", str(tmp_path / "d.xml")], b""
    )
    assert result.exit_code == 1
    errors = result.stderr.splitlines()
    assert errors[-1] == "2 error(s)"
    assert f"{bad}:10: <pcre2>: bad pattern" in errors[0]
    assert errors[1] == f"{bad}:6: rule 100: if_sid 77 not found"


def test_verbose_lists_rules_tried(stock):
    line = (
        b"Feb 10 23:21:05 someserver sshd[1234]: Read error from remote host 192.168.1.1: "
        b"Connection reset by peer\n"
    )
    result = _run(["logtest", *stock, "-v"], line)
    out = result.stdout
    assert (
        "\n**Rule debugging:\n    Trying rule: 1 - Generic template for all syslog rules.\n" in out
    )
    assert "       *Rule 5700 matched.\n       *Trying child rules.\n" in out
    assert out.index("**Rule debugging:") < out.index("**Phase 3: Completed filtering (rules).")
    assert "       Rule id: '5740'" in out


def test_logtest_imports_no_heavy_modules():
    """Startup stays light: no SSH, network-device or template libraries are imported."""
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "ospatrol", "logtest", "-q"],
        input=b"x y\n",
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    imported = {line.split("|")[-1].strip() for line in proc.stderr.decode().splitlines()}
    assert not {"asyncssh", "netmiko", "jinja2", "paramiko"} & imported


def test_logtest_with_the_legacy_330_set(legacy):
    args = [
        "logtest",
        *legacy,
        "-q",
        "-U",
        "5716:5:sshd",
    ]
    assert _run(args, FAILED).exit_code == 0


# `ospatrol ARGS...` that writes its own peak memory (VmHWM) to stderr when it exits: a child's
# ru_maxrss (os.wait4) also counts the high-water mark inherited from the process that forked it,
# here a test worker that may have held large rule sets and lines (a test failed on that alone).
_WITH_PEAK = """
import atexit, runpy, sys
def peak():
    sys.stderr.write(next(l for l in open("/proc/self/status") if l.startswith("VmHWM:")))
atexit.register(peak)
sys.argv = ["ospatrol", *sys.argv[1:]]
runpy.run_module("ospatrol", run_name="__main__")
"""


@pytest.mark.parametrize(("dialect", "mib"), [("ossec", 16), ("wazuh", 256)])
def test_endless_line_keeps_memory_bounded(stock, wazuh_home, dialect: str, mib: int):
    """A line without a newline is not held: the process stays small and the next line is
    still analysed. With a Wazuh rule set it is cut (the rest read and dropped); with an OSSEC
    one it is read in ossec-logtest's pieces (fgets into OS_MAXSTR after "1:stdin:"), each one
    event, so there it is shorter (each piece costs an event)."""
    import subprocess
    import sys
    import threading

    args = stock if dialect == "ossec" else ["-D", str(wazuh_home)]
    proc = subprocess.Popen(
        [sys.executable, "-c", _WITH_PEAK, "logtest", *args, "--format", "jsonl"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    chunk = b"Jan 25 05:44:27 bastion sshd[1]: " + b"A" * (1 << 20)

    def feed() -> None:  # while the output is read: OSSEC's pieces print as they come
        for _ in range(mib):
            proc.stdin.write(chunk)
        proc.stdin.write(
            b"\nJan 25 05:44:27 bastion sshd[1]: Failed password for root from 1.2.3.4 port 22"
            b" ssh2\n"
        )
        proc.stdin.close()

    writer = threading.Thread(target=feed)
    writer.start()
    out = proc.stdout.read()
    writer.join()
    peak = proc.stderr.read().decode().split()
    assert proc.wait() == 0
    rows = [json.loads(line) for line in out.splitlines()]
    if dialect == "ossec":
        stream = chunk * mib + b"\n"
        pieces = [stream[i : i + 6135] for i in range(0, len(stream), 6135)]
        assert len(rows) == sum(len(p.rstrip(b"\n")) >= 2 for p in pieces) + 1
    else:
        assert len(rows) == 2
    assert rows[-1]["rule"] == (5716 if dialect == "ossec" else 5760)  # Wazuh's 5716 child
    assert peak[-3] == "VmHWM:" and peak[-1] == "kB", peak
    assert int(peak[-2]) < 200 * 1024, f"peak RSS {int(peak[-2]) // 1024} MiB"

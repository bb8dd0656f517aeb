"""`ospatrol audit` end to end, through the CLI, against real OpenSSH servers on 127.0.0.1."""

from __future__ import annotations

import re
import socket
import subprocess
from pathlib import Path

import pytest

from ospatrol.audit.lock import audit_lock
from ospatrol.store import Store
from ospatrol_lab.sshd import SshdServer
from tests.audit.conftest import host, lab_host, run_cli, write_checks, write_inventory

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture
def own_sshd(tmp_path: Path):
    """An sshd of this test alone (it gets stopped or its host key rotated)."""
    server = SshdServer(tmp_path / "sshd")
    server.start()
    yield server
    server.stop()


def _watched(tmp_path: Path) -> Path:
    folder = tmp_path / "watched"
    (folder / "etc").mkdir(parents=True)
    (folder / "etc" / "app.conf").write_text("listen = 127.0.0.1\n")
    (folder / "etc" / "motd").write_text("hello\n")
    return folder


def _changes(report: dict, name: str) -> list[dict]:
    """The findings of host `name` that report a change (not baseline bookkeeping)."""
    return [
        f
        for f in host(report, name)["findings"]
        if f["kind"] in ("changed", "added", "deleted", "attributes")
    ]


def test_first_audit_records_then_file_change_is_exactly_one_finding(lab_sshd, tmp_path):
    watched = _watched(tmp_path)
    inv = write_inventory(
        tmp_path / "inv.yml", {"web1": lab_host(lab_sshd, ospatrol_fim_paths=[str(watched)])}
    )
    state = tmp_path / "state"
    args = ("audit", "-i", str(inv), "--only", "fim", "--format", "json")

    first = run_cli(state, *args)
    assert first.returncode == 0, first.stderr
    assert host(first.json(), "web1")["status"] == "ok"
    assert _changes(first.json(), "web1") == []

    (watched / "etc" / "app.conf").write_text("listen = 0.0.0.0\n")
    second = run_cli(state, *args)
    assert second.returncode == 1, second.stderr
    changes = _changes(second.json(), "web1")
    path = str(watched / "etc" / "app.conf")
    assert [(f["collector"], f["kind"], f["path"]) for f in changes] == [("fim", "changed", path)]
    assert changes[0]["event"].startswith(f"Integrity checksum changed for: '{path}'")
    assert changes[0]["level"] >= 7

    third = run_cli(state, *args)
    assert third.returncode == 0, third.stderr
    assert _changes(third.json(), "web1") == []

    # The stored run re-renders; the HTML page opens in a real browser and shows the change.
    page = tmp_path / "report.html"
    rendered = run_cli(
        state,
        "report",
        "--run",
        str(second.json()["run"]["id"]),
        "--format",
        "html",
        "--output",
        str(page),
    )
    assert rendered.returncode == 0, rendered.stderr
    if not CHROMIUM.exists():
        pytest.skip("chromium not installed (scripts/system-deps.sh --test)")
    dom = subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'chromium'}",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    ).stdout
    assert "web1" in dom and path in dom and "status-ok" in dom


def test_stopped_sshd_gives_scan_incomplete_then_only_real_changes(own_sshd, tmp_path):
    watched = _watched(tmp_path)
    inv = write_inventory(
        tmp_path / "inv.yml", {"web1": lab_host(own_sshd, ospatrol_fim_paths=[str(watched)])}
    )
    state = tmp_path / "state"
    args = ("audit", "-i", str(inv), "--only", "fim", "--format", "json")
    assert run_cli(state, *args).returncode == 0

    own_sshd.stop()
    down = run_cli(state, *args)
    assert down.returncode == 2, down.stderr
    web1 = host(down.json(), "web1")
    assert web1["status"] == "unreachable"
    assert [f["event"] for f in web1["findings"]] == [
        f"ospatrol: scan incomplete: unreachable: connection refused (127.0.0.1:{own_sshd.port})"
    ]

    own_sshd.start()
    (watched / "etc" / "motd").unlink()
    back = run_cli(state, *args)
    assert back.returncode == 1, back.stderr
    path = str(watched / "etc" / "motd")
    assert [(f["kind"], f["path"]) for f in _changes(back.json(), "web1")] == [("deleted", path)]


def _auth_lines(sshd: SshdServer) -> list[str]:
    log = sshd.log_path.read_text(errors="replace")
    return re.findall(r"^.*(?:publickey|password|Postponed|Accepted|Failed).*$", log, re.M)


def test_changed_host_key_stops_the_host_before_authentication(own_sshd, tmp_path):
    inv = write_inventory(tmp_path / "inv.yml", {"web1": lab_host(own_sshd)})
    checks = write_checks(tmp_path / "checks", ["uname -s"])
    state = tmp_path / "state"
    args = ("audit", "-i", str(inv), "--only", "commands", "--checks", str(checks), "-f", "json")
    assert run_cli(state, *args).returncode == 0
    before = _auth_lines(own_sshd)
    assert before, "the first audit logged in"

    own_sshd.rotate_host_key()
    changed = run_cli(state, *args)
    assert changed.returncode == 2, changed.stderr
    web1 = host(changed.json(), "web1")
    assert web1["status"] == "error"
    (finding,) = web1["findings"]
    assert finding["kind"] == "hostkey" and finding["collector"] == "audit"
    assert re.fullmatch(
        rf"ospatrol: host key changed for 127\.0\.0\.1:{own_sshd.port}: "
        r"expected \S+ SHA256:\S+, got \S+ SHA256:\S+",
        finding["event"],
    )
    assert _auth_lines(own_sshd) == before, "no authentication attempt after the key changed"


def test_command_diff_reports_a_new_listening_port(lab_sshd, tmp_path):
    ports = {
        "command": "ss -tlnH",
        "sort": True,
        "filters": [{"sub": r"^\S+\s+\d+\s+\d+\s+(\S+).*$", "with": r"\1"}],
    }
    checks = write_checks(tmp_path / "checks", [ports])
    inv = write_inventory(tmp_path / "inv.yml", {"web1": lab_host(lab_sshd)})
    state = tmp_path / "state"
    args = ("audit", "-i", str(inv), "--only", "commands", "--checks", str(checks), "-f", "json")
    assert run_cli(state, *args).returncode == 0

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        result = run_cli(state, *args)
    assert result.returncode == 1, result.stderr
    (finding,) = [f for f in host(result.json(), "web1")["findings"] if f["kind"] == "changed"]
    assert finding["command"] == "ss -tlnH"
    assert finding["event"].splitlines()[0] == "ospatrol: command output changed: 'ss -tlnH'"
    assert f"+127.0.0.1:{port}" in finding["diff"].splitlines()


def test_limit_selects_hosts_and_the_lock_refuses_an_overlapping_run(lab_sshd, tmp_path):
    inv = write_inventory(
        tmp_path / "inv.yml", {"web1": lab_host(lab_sshd), "web2": lab_host(lab_sshd)}
    )
    checks = write_checks(tmp_path / "checks", ["uname -s"])
    state = tmp_path / "state"
    args = ("audit", "-i", str(inv), "--only", "commands", "--checks", str(checks), "-f", "json")
    limited = run_cli(state, *args, "--limit", "web2")
    assert limited.returncode == 0, limited.stderr
    assert [h["name"] for h in limited.json()["hosts"]] == ["web2"]

    with audit_lock(state):
        locked = run_cli(state, *args)
    assert locked.returncode == 3
    assert "another audit is running" in locked.stderr and locked.stdout == ""

    assert run_cli(state, *args, "--limit", "nosuchhost").returncode == 3
    assert run_cli(state, *args, "--only", "nosuchcollector").returncode == 3
    assert run_cli(state, "audit", "-i", str(tmp_path / "missing.yml")).returncode == 3


def test_bad_hosts_are_reported_each_and_the_others_complete(lab_sshd, misbehaving_ssh, tmp_path):
    password = "Sup3r-Secret-Passw0rd!"
    become = "An0ther-Secret-Bec0me"
    wrong_key = tmp_path / "wrong_key"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(wrong_key)], check=True
    )
    watched = tmp_path / "motd"
    watched.write_text("hello\n")
    checks = write_checks(tmp_path / "checks", [f"cat {watched}"])
    odd = {
        "ansible_host": "127.0.0.1",
        "ansible_port": misbehaving_ssh.port,
        "ansible_ssh_private_key_file": str(wrong_key),
    }
    inv = write_inventory(
        tmp_path / "inv.yml",
        {
            "good": lab_host(lab_sshd, ansible_password=password, ansible_become_password=become),
            "noaddress.invalid": {"ansible_user": "root"},
            "wrongcreds": lab_host(
                lab_sshd, ansible_ssh_private_key_file=str(wrong_key), ansible_password=password
            ),
            "hangs": {**odd, "ansible_user": "hang", "ospatrol_command_timeout": 1},
            "garbage": {**odd, "ansible_user": "garbage"},
        },
    )
    state = tmp_path / "state"
    args = ("audit", "-i", str(inv), "--only", "commands", "--checks", str(checks))
    first = run_cli(state, "-vv", *args, "--format", "json")
    assert first.returncode == 2, first.stderr
    report = first.json()
    assert host(report, "good")["status"] == "ok"
    assert host(report, "noaddress.invalid")["status"] == "unreachable"
    assert host(report, "wrongcreds")["status"] == "error"
    assert host(report, "hangs")["status"] == "incomplete"
    assert host(report, "garbage")["status"] == "error"
    reasons = {h["name"]: [f["event"] for f in h["findings"]] for h in report["hosts"]}
    assert reasons["noaddress.invalid"][0].startswith("ospatrol: scan incomplete: unreachable:")
    assert reasons["wrongcreds"][0].startswith("ospatrol: scan incomplete: authentication failed")
    assert reasons["hangs"][0].startswith("ospatrol: scan incomplete: timeout")
    assert reasons["garbage"][0].startswith(
        "ospatrol: scan incomplete: error: unrecognised command output"
    )

    watched.write_text("changed\n")
    second = run_cli(state, "-vv", *args, "--format", "html", "--output", str(tmp_path / "r.html"))
    assert second.returncode == 2
    text = run_cli(state, "report", "--format", "text")
    junit = run_cli(state, "report", "--format", "junit")
    assert "+changed" in text.stdout and "wrongcreds" in junit.stdout

    # No password in anything OSPatrol wrote: output, logs, reports, the store.
    written = [first.stdout, first.stderr, second.stdout, second.stderr, text.stdout, junit.stdout]
    written += [
        p.read_bytes().decode("latin-1")
        for p in tmp_path.rglob("*")
        if p.is_file()
        if p.name != "inv.yml"
    ]
    for secret in (password, become):
        assert not [w for w in written if secret in w]


def test_report_without_runs_is_a_clear_usage_error(tmp_path):
    empty = run_cli(tmp_path / "state", "report")
    assert empty.returncode == 3 and "run `ospatrol audit` first" in empty.stderr
    (tmp_path / "state").mkdir(exist_ok=True)
    Store.open(tmp_path / "state").close()
    missing = run_cli(tmp_path / "state", "report", "--run", "42")
    assert missing.returncode == 3 and "no audit run 42" in missing.stderr
    assert "Traceback" not in missing.stderr

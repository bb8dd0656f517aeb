"""The shipped playbook and the `ospatrol_audit` module in real `ansible-playbook` runs: against
one host of the lab's sshd (record, --check, fail on findings), and against the whole lab
inventory, network devices included, with nothing but ansible-core (no ansible.netcommon)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from ospatrol.cli import cli
from ospatrol.store import Store

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = REPO / "playbooks" / "audit.yml"
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
AUDIT_TASK = "Audit the play's hosts in one OSPatrol run"
HOST_TASK = "Findings of this host"

pytestmark = pytest.mark.skipif(not ANSIBLE_PLAYBOOK.exists(), reason="ansible-core not installed")


def _play(tmp_path: Path, inventory: Path, *extra: str, **vars: object):
    """Run the shipped playbook: (exit status, output, the task results as recorded)."""
    results = tmp_path / "results.jsonl"
    results.unlink(missing_ok=True)
    empty = tmp_path / "no-collections"
    empty.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SSH_", "ANSIBLE_"))}
    env.update(
        HOME=str(tmp_path),
        ANSIBLE_HOME=str(tmp_path / "ansible"),
        ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible" / "tmp"),
        # Plain ansible-core: no collection (ansible.netcommon above all) can be found.
        ANSIBLE_COLLECTIONS_PATH=str(empty),
        ANSIBLE_CALLBACK_PLUGINS=str(Path(__file__).parent / "callback_plugins"),
        ANSIBLE_CALLBACKS_ENABLED="record_results",
        OSPATROL_TEST_RESULTS=str(results),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_RETRY_FILES_ENABLED="0",
    )
    proc = subprocess.run(
        [
            str(ANSIBLE_PLAYBOOK),
            "-i",
            str(inventory),
            str(PLAYBOOK),
            "-e",
            json.dumps(vars),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        check=False,
    )
    output = proc.stdout + proc.stderr
    assert results.exists(), output
    lines = [json.loads(line) for line in results.read_text().splitlines()]
    return proc.returncode, output, lines


def _task(lines: list[dict], name: str, host: str | None = None) -> dict:
    (line,) = [x for x in lines if x["task"] == name and host in (None, x["host"])]
    return {**line["result"], "_status": line["status"], "_host": line["host"]}


def test_module_records_then_check_mode_changes_nothing_then_fails_on_findings(lab_sshd, tmp_path):
    watched = tmp_path / "motd"
    watched.write_text("hello\n")
    checks = tmp_path / "checks"
    checks.mkdir()
    (checks / "linux.yml").write_text(yaml.safe_dump({"commands": [f"cat {watched}"]}))
    inventory = tmp_path / "inv.yml"
    lab1 = {
        "ansible_host": "127.0.0.1",
        "ansible_port": lab_sshd.port,
        "ansible_user": lab_sshd.user,
        "ansible_ssh_private_key_file": str(lab_sshd.client_key),
    }
    inventory.write_text(yaml.safe_dump({"all": {"hosts": {"lab1": lab1}}}))
    state = tmp_path / "state"
    vars = {
        "ospatrol_state_dir": str(state),
        "ospatrol_only": ["commands"],
        "ospatrol_checks": str(checks),
    }

    rc, output, lines = _play(tmp_path, inventory, **vars)
    first = _task(lines, AUDIT_TASK)
    assert rc == 0, output
    assert first["changed"] is True and first["findings"] == [] and first["exit_status"] == 0
    assert first["hosts"][0]["status"] == "ok"
    assert _task(lines, HOST_TASK, "lab1")["msg"] == ["ok"]

    watched.write_text("changed\n")
    with Store.open(state) as store:
        runs_before = [r.id for r in store.runs()]
        outputs_before = store.states("lab1", "commands")
    rc, output, lines = _play(tmp_path, inventory, "--check", **vars)
    checked = _task(lines, AUDIT_TASK)
    assert rc == 0, output
    assert checked["changed"] is False and checked["run_id"] is None
    assert [f["kind"] for f in checked["findings"]] == ["changed"]
    with Store.open(state) as store:
        assert [r.id for r in store.runs()] == runs_before
        assert store.states("lab1", "commands") == outputs_before

    rc, output, lines = _play(tmp_path, inventory, **vars, ospatrol_fail_on_findings=True)
    assert rc == 2, output  # a host failed
    audited = _task(lines, AUDIT_TASK)
    assert audited["_status"] == "ok"  # the one audit of the play does not fail every host
    assert audited["findings"][0]["command"] == f"cat {watched}"
    assert "+changed" in audited["findings"][0]["diff"]
    mine = _task(lines, HOST_TASK, "lab1")
    assert mine["_status"] == "failed"
    assert mine["msg"] == ["ok", f"commands changed cat {watched} (level 7)"]


def test_lab_inventory_with_network_hosts_runs_on_plain_ansible_core_as_one_run(lab, tmp_path):
    inventory = yaml.safe_load(Path(lab.inventory_path).read_text())
    every = sorted(_hosts(inventory["all"]))
    network = [h for h, v in _host_vars(inventory["all"]).items() if "network_cli" in str(v)]
    assert network, "the lab inventory has network devices"
    state = tmp_path / "state"

    rc, output, lines = _play(tmp_path, Path(lab.inventory_path), ospatrol_state_dir=str(state))
    assert rc == 0, output
    assert "netcommon" not in output
    audit_lines = [x for x in lines if x["task"] == AUDIT_TASK]
    assert len(audit_lines) == 1, "one OSPatrol run for the whole play"
    audited = audit_lines[0]["result"]
    assert sorted(h["name"] for h in audited["hosts"]) == every
    assert sorted(x["host"] for x in lines if x["task"] == HOST_TASK) == every
    for name in network:  # each network device shows its own outcome, on the controller
        assert _task(lines, HOST_TASK, name)["msg"][0].startswith(
            next(h["status"] for h in audited["hosts"] if h["name"] == name)
        )

    shown = CliRunner().invoke(cli, ["--state-dir", str(state), "report", "-f", "json"])
    assert shown.exit_code == 0, shown.output
    report = json.loads(shown.stdout)
    assert report["run"]["id"] == audited["run_id"]
    assert sorted(h["name"] for h in report["hosts"]) == every


def _hosts(group: dict) -> set[str]:
    names = set((group.get("hosts") or {}).keys())
    for child in (group.get("children") or {}).values():
        names |= _hosts(child or {})
    return names


def _host_vars(group: dict, inherited: dict | None = None) -> dict[str, dict]:
    here = {**(inherited or {}), **(group.get("vars") or {})}
    found = {name: {**here, **(v or {})} for name, v in (group.get("hosts") or {}).items()}
    for child in (group.get("children") or {}).values():
        found.update(_host_vars(child or {}, here))
    return found

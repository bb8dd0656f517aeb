"""The `ospatrol_audit` Ansible module in real `ansible-playbook` runs against the lab's sshd."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ospatrol.store import Store

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = REPO / "playbooks" / "audit.yml"
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"


def _play(tmp_path: Path, inventory: Path, *extra: str, **vars: object) -> tuple[int, dict]:
    """Run the shipped playbook; returns its exit status and the audit task's result for lab1."""
    results = tmp_path / "results.jsonl"
    results.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SSH_", "ANSIBLE_"))}
    env.update(
        HOME=str(tmp_path),
        ANSIBLE_HOME=str(tmp_path / "ansible"),
        ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible" / "tmp"),
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
    assert results.exists(), proc.stdout + proc.stderr
    lines = [json.loads(line) for line in results.read_text().splitlines()]
    (audit,) = [line for line in lines if line["task"].startswith("Audit the host")]
    return proc.returncode, {**audit["result"], "_status": audit["status"]}


@pytest.mark.skipif(not ANSIBLE_PLAYBOOK.exists(), reason="ansible-core not installed")
def test_module_records_then_check_mode_changes_nothing_then_reports(lab_sshd, tmp_path):
    watched = tmp_path / "motd"
    watched.write_text("hello\n")
    checks = tmp_path / "checks"
    checks.mkdir()
    (checks / "linux.yml").write_text(yaml.safe_dump({"commands": [f"cat {watched}"]}))
    inventory = tmp_path / "inv.yml"
    inventory.write_text(
        yaml.safe_dump(
            {
                "all": {
                    "hosts": {
                        "lab1": {
                            "ansible_host": "127.0.0.1",
                            "ansible_port": lab_sshd.port,
                            "ansible_user": lab_sshd.user,
                            "ansible_ssh_private_key_file": str(lab_sshd.client_key),
                        }
                    }
                }
            }
        )
    )
    state = tmp_path / "state"
    vars = {
        "ospatrol_state_dir": str(state),
        "ospatrol_only": ["commands"],
        "ospatrol_checks": str(checks),
    }

    rc, first = _play(tmp_path, inventory, **vars)
    assert rc == 0, first
    assert first["changed"] is True and first["findings"] == [] and first["exit_status"] == 0
    assert first["hosts"][0]["status"] == "ok"

    watched.write_text("changed\n")
    with Store.open(state) as store:
        runs_before = [r.id for r in store.runs()]
        outputs_before = store.states("lab1", "commands")
    rc, checked = _play(tmp_path, inventory, "--check", **vars)
    assert rc == 0, checked
    assert checked["changed"] is False and checked["run_id"] is None
    assert [f["kind"] for f in checked["findings"]] == ["changed"]
    with Store.open(state) as store:
        assert [r.id for r in store.runs()] == runs_before
        assert store.states("lab1", "commands") == outputs_before

    rc, failed = _play(tmp_path, inventory, **vars, ospatrol_fail_on_findings=True)
    assert rc != 0 and failed["_status"] == "failed"
    assert failed["findings"][0]["command"] == f"cat {watched}"
    assert "+changed" in failed["findings"][0]["diff"]

"""cis/esxi.yml over SSH against the lab's simulated ESXi host (no real ESXi exists here): one
exec request per command (no POSIX shell), every check gets a status, and a setting changed on
the host changes exactly its check."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

from tests.audit.conftest import run_cli

CIS = Path(__file__).resolve().parents[2] / "cis"
SETTING = "/adv/Security/AccountLockFailures = "


def _check(lab_simulator, tmp_path: Path) -> tuple[dict[str, dict], dict]:
    esxi = lab_simulator.host("esxi")
    tmp_path.mkdir(parents=True, exist_ok=True)
    inv = tmp_path / "inv.yml"
    vars_ = {
        "ansible_host": esxi["address"],
        "ansible_port": esxi["port"],
        "ansible_user": esxi["user"],
        "ansible_password": esxi["password"],
        "ospatrol_platform": "esxi",
    }
    inv.write_text(yaml.safe_dump({"all": {"hosts": {esxi["name"]: vars_}}}))
    state = tmp_path / "state"
    state.mkdir(exist_ok=True)
    shutil.copy(lab_simulator.known_hosts, state / "known_hosts")
    result = run_cli(state, "check", "-p", str(CIS / "esxi.yml"), "-i", str(inv), "-f", "json")
    assert result.returncode in (0, 1), result.stderr
    (host,) = json.loads(result.stdout)["hosts"]
    (policy,) = host["policies"]
    assert policy["applicable"]
    return {c["id"]: c for c in policy["checks"]}, policy


def test_esxi_policy_on_the_simulated_host(lab_simulator, tmp_path: Path):
    config = Path(lab_simulator.host("esxi")["config_file"])
    original = config.read_text()
    before, policy = _check(lab_simulator, tmp_path / "a")
    assert len(before) >= 20
    assert {c["status"] for c in before.values()} <= {"passed", "failed", "not applicable"}
    # no shell to batch in: one exec request per distinct command and file
    assert policy["round_trips"] >= 10
    try:
        lowered = original.replace(f'{SETTING}"5"', f'{SETTING}"3"')
        assert lowered != original
        config.write_text(lowered)
        after, _ = _check(lab_simulator, tmp_path / "b")
    finally:
        config.write_text(original)
    assert (before["ESXI-80-000005"]["status"], after["ESXI-80-000005"]["status"]) == (
        "failed",
        "passed",
    )
    changed = {k for k in before if before[k]["status"] != after[k]["status"]}
    assert changed <= {"ESXI-80-000005"}

"""The shipped `checks/*.yml` command profiles: they load, and an unchanged host diffs empty."""

from __future__ import annotations

from pathlib import Path

from ospatrol.collect.commands import load_command_profiles
from tests.audit.conftest import host, run_cli, write_inventory


def esxi_inventory(esxi: dict, path: Path) -> Path:
    """An inventory with the simulated ESXi host as `esx1`."""
    return write_inventory(
        path,
        {
            "esx1": {
                "ansible_host": esxi["address"],
                "ansible_port": esxi["port"],
                "ansible_user": esxi["user"],
                "ansible_password": esxi["password"],
                "ospatrol_platform": "esxi",
            }
        },
    )


def test_shipped_profiles_load_for_every_unix_platform():
    profiles = load_command_profiles()
    for platform in ("linux", "bsd", "esxi", "freebsd", "vmware_esxi"):
        assert len(profiles[platform]) >= 5, platform
    commands = [spec.command for spec in profiles["linux"]]
    assert any(c.startswith("ss -tlnH") for c in commands)
    assert "getent passwd" in commands


def test_esxi_profile_runs_in_one_batch_and_an_unchanged_host_diffs_empty(lab_simulator, tmp_path):
    esxi = lab_simulator.host("esxi")
    inv = esxi_inventory(esxi, tmp_path / "inv.yml")
    state = tmp_path / "state"
    args = ("audit", "-i", str(inv), "--only", "commands", "--format", "json")
    for _ in range(2):
        result = run_cli(state, *args)
        assert result.returncode == 0, result.stdout + result.stderr
        esx1 = host(result.json(), "esx1")
        assert esx1["status"] == "ok" and esx1["findings"] == []
    assert esxi["password"] not in (state / "ospatrol.db").read_bytes().decode("latin-1")


def test_esxi_fim_scans_the_simulated_host_and_reports_an_esx_conf_edit(lab_simulator, tmp_path):
    esxi = lab_simulator.host("esxi")
    inv = esxi_inventory(esxi, tmp_path / "inv.yml")
    state = tmp_path / "state"
    args = ("audit", "-i", str(inv), "--only", "fim", "--format", "json")
    first = run_cli(state, *args)
    assert first.returncode == 0, first.stdout + first.stderr
    assert host(first.json(), "esx1")["status"] == "ok"

    config = Path(esxi["config_file"])
    original = config.read_text()
    try:
        config.write_text(original + '/adv/UserVars/ESXiShellTimeOut = "0"\n')
        second = run_cli(state, *args)
    finally:
        config.write_text(original)
    esx1 = host(second.json(), "esx1")
    assert esx1["status"] == "ok", esx1
    assert [(f["kind"], f["path"]) for f in esx1["findings"]] == [
        ("changed", "/etc/vmware/esx.conf")
    ]

"""ESXi configuration facts (version, advanced settings, firewall, services, accounts): the
`commands:` section of checks/esxi.yml, kept and diffed by the commands collector, against the
lab's simulated ESXi host whose advanced settings live in its esx.conf."""

from __future__ import annotations

from pathlib import Path

from ospatrol.profiles import load_profiles
from ospatrol.store import Store
from tests.audit.conftest import host, run_cli
from tests.audit.test_shipped_profiles import esxi_inventory
from tests.devices.device_helpers import edited

SHELL_TIMEOUT = "esxcli system settings advanced list -o /UserVars/ESXiShellTimeOut"
LOG_HOST = "esxcli system settings advanced list -o /Syslog/global/logHost"


def test_esxi_profile_covers_version_settings_firewall_services_and_accounts():
    commands = {spec.command for spec in load_profiles()["esxi"].commands}
    assert {
        "esxcli system version get",
        SHELL_TIMEOUT,
        LOG_HOST,
        "esxcli network firewall get",
        "esxcli network firewall ruleset list",
        "chkconfig --list",
        "esxcli system account list",
        "esxcli system permission list",
    } <= commands


def test_advanced_setting_change_is_one_event_per_setting_with_its_value(lab_simulator, tmp_path):
    esxi = lab_simulator.host("esxi")
    inv = esxi_inventory(esxi, tmp_path / "inv.yml")
    state = tmp_path / "state"
    args = ("audit", "-i", str(inv), "--only", "commands", "--format", "json")
    first = host(run_cli(state, *args).json(), "esx1")
    assert (first["status"], first["findings"]) == ("ok", []), first

    def change(text: str) -> str:
        return text.replace('ESXiShellTimeOut = "0"', 'ESXiShellTimeOut = "600"').replace(
            'logHost = ""', 'logHost = "udp://10.9.9.9:514"'
        )

    with edited(Path(esxi["config_file"]), change):
        second = host(run_cli(state, *args).json(), "esx1")
    assert second["status"] == "ok", second
    by_command = {f["event"].splitlines()[0]: f for f in second["findings"]}
    assert sorted(by_command) == [
        f"ospatrol: command output changed: '{LOG_HOST}'",
        f"ospatrol: command output changed: '{SHELL_TIMEOUT}'",
    ]
    timeout = by_command[f"ospatrol: command output changed: '{SHELL_TIMEOUT}'"]
    changed = [ln for ln in timeout["diff"].splitlines() if ln[:1] in "+-" and ln[1:2] != ln[:1]]
    assert changed == ["-   Int Value: 0", "+   Int Value: 600"]
    assert timeout["rule"] == 80121

    with Store.open(state) as store:
        history = store.state_history("esx1", "commands", SHELL_TIMEOUT)
    assert [e.version for e in history] == [1, 2]
    assert history[0].text == "   Int Value: 0\n   String Value:\n"

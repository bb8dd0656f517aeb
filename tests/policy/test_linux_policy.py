"""The Linux policy of cis/ and its shared filesystem walk, on this machine over `local` and the
lab's sshd: a tree we plant (world-writable, unowned, set-uid, a non-UTF-8 name) is found by one
walk; every check gets a status; both transports agree. ESXi on outputs written after the STIG's
expected results."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from ospatrol.model import Credentials, Host
from ospatrol.policy.evaluate import evaluate_policy
from ospatrol.policy.facts import CommandFact, Facts, PathFact
from ospatrol.policy.load import load_policy
from ospatrol.policy.model import STATUSES
from ospatrol.policy.runner import Gatherer, RunSettings, run_policy
from ospatrol.transport import TransportSettings, open_transport

CIS = Path(__file__).resolve().parents[2] / "cis"
LOCAL = Host(name="me", address="localhost", connection="local")


def _plant(root: Path) -> dict[str, Path]:
    root.mkdir(parents=True, exist_ok=True)
    ww = root / "ww.txt"
    ww.write_text("x")
    ww.chmod(0o666)
    odd = Path(os.fsdecode(bytes(root) + b"/bad\xff\x1b[31mname"))
    odd.write_text("x")
    odd.chmod(0o666)
    orphan = root / "orphan"
    orphan.write_text("x")
    os.chown(orphan, 54321, 54321)
    suid = root / "suid-tool"
    suid.write_text("#!/bin/sh\n")
    suid.chmod(0o4755)
    open_dir = root / "open"
    open_dir.mkdir()
    open_dir.chmod(0o777)
    return {"ww": ww, "odd": odd, "orphan": orphan, "suid": suid, "open": open_dir}


async def _run(host: Host, known_hosts: Path, settings: RunSettings):
    policy = load_policy(CIS / "linux.yml")
    async with open_transport(host, TransportSettings(known_hosts=known_hosts)) as transport:
        gatherer = Gatherer(transport, settings)
        return await run_policy(policy, transport, gatherer), gatherer.facts


def test_linux_policy_and_one_walk_over_ssh_and_local(lab_sshd, tmp_path: Path):
    planted = _plant(tmp_path / "tree")
    settings = RunSettings(walk_roots=(str(tmp_path / "tree"),))
    ssh = Host(
        name="lab",
        address="127.0.0.1",
        port=lab_sshd.port,
        credentials=Credentials(user=lab_sshd.user, private_key_file=str(lab_sshd.client_key)),
    )

    async def both():
        return await asyncio.gather(
            _run(ssh, lab_sshd.known_hosts, settings),
            _run(LOCAL, tmp_path / "kh", settings),
        )

    (over_ssh, facts), (over_local, _) = asyncio.run(both())
    ssh_statuses = {o.check_id: o.status for o in over_ssh.outcomes}
    assert len(ssh_statuses) >= 60 and set(ssh_statuses.values()) <= set(STATUSES)
    assert ssh_statuses == {o.check_id: o.status for o in over_local.outcomes}
    assert over_ssh.round_trips <= 3

    assert facts.walk is not None and facts.walk.complete
    found = {
        cls: {e.path for e in facts.walk.of_class(cls)}
        for cls in ("world_writable", "unowned", "suid", "world_writable_dirs")
    }
    assert found["world_writable"] == {str(planted["ww"]), str(planted["odd"])}
    assert found["unowned"] == {str(planted["orphan"])}
    assert found["suid"] == {str(planted["suid"])}
    assert found["world_writable_dirs"] == {str(planted["open"])}
    for check in ("lnx-perm-ww-files", "lnx-perm-unowned", "lnx-perm-ww-dirs", "lnx-perm-suid-tmp"):
        assert ssh_statuses[check] == "failed", check
    ww = next(o for o in over_ssh.outcomes if o.check_id == "lnx-perm-ww-files")
    # the non-UTF-8 name with an escape sequence is evidence, never a raw control character
    from ospatrol.policy.report import shown

    assert "\\xff\\x1b[31m" in shown(ww.evidence) and "\x1b" not in shown(ww.evidence)


def test_a_walk_out_of_time_is_not_run_not_passed(tmp_path: Path):
    # the whole root filesystem of this machine (virtualenvs of every engineer) cannot be walked
    # in one second: the walk is stopped and its checks are "not run", the others complete
    settings = RunSettings(walk_roots=("/",), walk_timeout=1)

    async def main():
        policy = load_policy(CIS / "linux.yml")
        async with open_transport(LOCAL, TransportSettings(known_hosts=tmp_path / "kh")) as t:
            return await run_policy(policy, t, Gatherer(t, settings))

    run = asyncio.run(main())
    statuses = {o.check_id: o.status for o in run.outcomes}
    walk_checks = {
        "lnx-perm-ww-files",
        "lnx-perm-ww-dirs",
        "lnx-perm-unowned",
        "lnx-perm-ungrouped",
    }
    assert {statuses[c] for c in walk_checks} == {"not run"}
    assert "not run" not in {
        s for c, s in statuses.items() if c not in walk_checks | {"lnx-perm-suid-tmp"}
    }


ESXI_GOOD = {
    "esxcli system settings advanced list -o /Security/AccountLockFailures": "   Int Value: 3\n",
    "esxcli system settings advanced list -o /Security/AccountUnlockTime": "   Int Value: 900\n",
    "esxcli system settings advanced list -o /Security/PasswordQualityControl": (
        "   String Value: similar=deny retry=3 min=disabled,disabled,disabled,disabled,15\n"
    ),
    "esxcli system settings advanced list -o /Security/PasswordHistory": "   Int Value: 5\n",
    "esxcli system settings advanced list -o /UserVars/ESXiShellInteractiveTimeOut": (
        "   Int Value: 900\n"
    ),
    "esxcli system settings advanced list -o /UserVars/ESXiShellTimeOut": "   Int Value: 600\n",
    "esxcli system settings advanced list -o /UserVars/DcuiTimeOut": "   Int Value: 600\n",
    "vim-cmd hostsvc/advopt/view Config.HostAgent.plugins.solo.enableMob": "      value = false\n",
    "esxcli system syslog config get": "   Remote Host: udp://192.0.2.10:514\n",
    "esxcli network firewall get": "   Default Action: DROP\n   Enabled: true\n   Loaded: true\n",
    "esxcli software acceptance get": "PartnerSupported\n",
    "esxcli system snmp get": "   Enable: false\n",
    "esxcli system ssh server config list": (
        "   ignorerhosts  yes\n   hostbasedauthentication  no\n   permituserenvironment  no\n"
        "   allowtcpforwarding  no\n"
    ),
    "esxcli system security fips140 ssh get": "   Enabled: true\n",
    "esxcli system settings encryption get": "   Mode: TPM\n   Require Secure Boot: true\n",
    "esxcli system tls server get": "   Profile: NIST_2024\n",
    "/etc/init.d/SSH status": "SSH is running\n",
    "vim-cmd -U dcui vimsvc/auth/lockdown_is_enabled": "false\n",
}


def test_esxi_policy_on_stig_shaped_outputs():
    policy = load_policy(CIS / "esxi.yml")
    facts = Facts()
    facts.commands = {cmd: CommandFact(out, 0) for cmd, out in ESXI_GOOD.items()}
    facts.paths["/etc/vmware/settings"] = PathFact("f", "")
    outcomes = {o.check_id: o for o in evaluate_policy(policy, facts)}
    conflicts = {c.id for c in policy.checks if c.agentless_conflict}
    assert conflicts == {"ESXI-80-000193", "ESXI-80-000008", "ESXI-80-000195"}
    # on a host audited over SSH, only checks that contradict it fail (SSH running, no lockdown)
    assert {k for k, o in outcomes.items() if o.status != "passed"} == {
        "ESXI-80-000193",
        "ESXI-80-000008",
    }

    weak = dict(ESXI_GOOD)
    weak["esxcli system settings advanced list -o /Security/AccountLockFailures"] = (
        "   Int Value: 0\n"
    )
    weak["esxcli system syslog config get"] = "   Remote Host: <none>\n"
    facts.commands = {cmd: CommandFact(out, 0) for cmd, out in weak.items()}
    outcomes = {o.check_id: o.status for o in evaluate_policy(policy, facts)}
    assert outcomes["ESXI-80-000005"] == "failed" and outcomes["ESXI-80-000114"] == "failed"

"""Every shared SCA and Unix rootcheck policy on the lab's sshd host, over SSH and over the
`local` transport on the same machine: every check gets a status, both agree on every one, no
policy takes more than three exec round-trips, and checks whose outcome this host decides are
pinned against what the test reads itself.

One test runs all 25 policies on both transports at once (~15 s on the shared 2 cores): that
comparison is the point of the test, so it is not split.
"""

from __future__ import annotations

import asyncio
import os
import re
import stat
from pathlib import Path

from ospatrol.model import Credentials, Host
from ospatrol.policy.model import STATUSES, Policy
from ospatrol.policy.runner import Gatherer, PolicyRun, run_policy
from ospatrol.transport import TransportSettings, open_transport


async def _run_all(host: Host, known_hosts: Path, policies: list[Policy]) -> list[PolicyRun]:
    async with open_transport(host, TransportSettings(known_hosts=known_hosts)) as transport:
        # one gatherer for all, as `ospatrol check` does: what two policies share is fetched once
        gatherer = Gatherer(transport)
        return [await run_policy(p, transport, gatherer) for p in policies]


def _both(lab_sshd, tmp_path: Path, policies: list[Policy]):
    ssh = Host(
        name="lab",
        address="127.0.0.1",
        port=lab_sshd.port,
        credentials=Credentials(user=lab_sshd.user, private_key_file=str(lab_sshd.client_key)),
    )
    local = Host(name="me", address="localhost", connection="local")

    async def main():
        return await asyncio.gather(
            _run_all(ssh, lab_sshd.known_hosts, policies),
            _run_all(local, tmp_path / "known_hosts", policies),
        )

    return asyncio.run(main())


def _os_release() -> str:
    path = Path("/etc/os-release")
    return path.read_text() if path.exists() else ""


def test_every_policy_over_ssh_and_local_agree(lab_sshd, tmp_path, loaded_policies):
    paths = sorted(loaded_policies)
    policies = [loaded_policies[p] for p in paths]
    over_ssh, over_local = _both(lab_sshd, tmp_path, policies)
    by_file: dict[str, dict[str, str]] = {}
    for path, policy, ssh_run, local_run in zip(paths, policies, over_ssh, over_local, strict=True):
        ssh_statuses = {o.check_id: o.status for o in ssh_run.outcomes}
        local_statuses = {o.check_id: o.status for o in local_run.outcomes}
        assert set(ssh_statuses) == {c.id for c in policy.checks}, path
        assert set(ssh_statuses.values()) <= set(STATUSES), path
        assert "not run" not in ssh_statuses.values(), path
        assert ssh_statuses == local_statuses, path
        assert ssh_run.round_trips <= 3, path
        by_file[f"{path.parent.name}/{path.name}"] = ssh_statuses

    # Pins: what this machine decides, read here independently of the policy engine.
    debian = Path("/etc/debian_version")
    is_debian12 = debian.exists() and debian.read_text().startswith("12")
    debian12 = by_file["wazuh-4.x/cis_debian12.yml"]
    assert (set(debian12.values()) != {"not applicable"}) == is_debian12
    assert by_file["wazuh-5.x/cis_debian12.yml"] == debian12
    assert set(by_file["wazuh-4.x/cis_rhel9_linux.yml"].values()) == {"not applicable"}
    if "Ubuntu" not in _os_release():
        assert set(by_file["wazuh-5.x/cis_ubuntu24-04.yml"].values()) == {"not applicable"}
    if is_debian12:
        info = os.stat("/etc/passwd")
        expected = (stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid) == (0o644, 0, 0)
        assert debian12["33287"] == ("passed" if expected else "failed")
    sshd_config = Path("/etc/ssh/sshd_config")
    lines = sshd_config.read_text().splitlines() if sshd_config.exists() else []
    port_22 = any(not ln.startswith("#") and re.search(r"(?i)Port.+22", ln) for ln in lines)
    if sshd_config.exists():
        assert by_file["rootcheck/system_audit_ssh.txt"]["1"] == ("failed" if port_22 else "passed")

"""Device configurations through the netdev transport (netmiko) against the lab's devices:
fake-switches IOS and the simulator's ASA; normalisation and the hierarchy-aware diff as plain
functions. Each device change is made the way an operator would (config mode, or the simulated
device's config file) and restored."""

from __future__ import annotations

import asyncio
import hashlib
import re
import subprocess
import sys
from pathlib import Path

import pytest
from device_helpers import configure, device, edited, simulated

from ospatrol.collect.base import StateView
from ospatrol.collect.configs import (
    ConfigsCollector,
    hierarchical_diff,
    normalise,
)
from ospatrol.model import Host
from ospatrol.profiles import load_profiles
from ospatrol.store import Store
from ospatrol.transport import HostKeyChanged, TransportSettings, open_transport
from ospatrol.transport.netdev import NetdevTransport


class Audits:
    """Runs the config collector on one device and commits as the audit does."""

    def __init__(self, tmp_path: Path, known_hosts_line: str) -> None:
        self.store = Store.open(tmp_path / "state")
        known = tmp_path / "state" / "known_hosts"
        known.write_text(known_hosts_line + "\n")
        self.settings = TransportSettings(known_hosts=known, command_timeout=30)
        self.collector = ConfigsCollector(load_profiles())

    def run(self, host: Host):
        async def go():
            async with open_transport(host, self.settings) as transport:
                assert isinstance(transport, NetdevTransport)
                return await self.collector.collect(
                    host, transport, StateView(self.store, host.name, "config")
                )

        result = asyncio.run(go())
        if result.status == "ok":
            self.store.apply_updates(host.name, "config", result.updates)
        return result


@pytest.fixture
def switch_host(lab_switch) -> Host:
    return device(
        "sw1",
        lab_switch.port,
        "cisco_ios",
        lab_switch.user,
        lab_switch.password,
        lab_switch.enable_password,
    )


def test_ios_interface_change_is_reported_with_its_parent(lab_switch, switch_host, tmp_path):
    audits = Audits(tmp_path, lab_switch.known_hosts_line)
    first = audits.run(switch_host)
    assert (first.status, first.findings) == ("ok", ()), first.error
    assert audits.run(switch_host).findings == ()  # unchanged device: nothing

    label = f"ospatrol-{tmp_path.name[-12:]}"
    known = tmp_path / "state" / "known_hosts"
    configure(lab_switch, known, "interface FastEthernet0/9", f"description {label}")
    try:
        (finding,) = audits.run(switch_host).findings
        assert finding.event_text.startswith("ospatrol: config changed: 'show running-config'")
        assert finding.diff == f"@@ interface FastEthernet0/9\n+ description {label}"
        history = audits.store.state_history("sw1", "config", "show running-config")
        assert [e.version for e in history] == [1, 2]
        assert f"description {label}" in history[1].text
    finally:
        configure(lab_switch, known, "interface FastEthernet0/9", "no description")


def test_ios_volatile_lines_alone_are_no_change():
    section = load_profiles()["cisco_ios"].sections["config"]
    config = "hostname sw1\n!\ninterface Gi0/1\n description a\n!\nend\n"
    one = f"Building configuration...\n\nCurrent configuration : 1200 bytes\n{config}"
    two = "Building configuration...\n\nCurrent configuration : 1342 bytes\n" + (
        "! Last configuration change at 10:01:02 UTC Mon Dec 7 2026\n"
        "! NVRAM config last updated at 10:01:09 UTC Mon Dec 7 2026\n"
        "ntp clock-period 17179738\n" + config
    )
    assert normalise(one, section) == normalise(two, section)


def test_asa_access_list_change_is_reported_but_checksum_is_not(lab_simulator, tmp_path):
    host, line, config = simulated(lab_simulator, "cisco_asa")
    audits = Audits(tmp_path, line)
    assert audits.run(host).status == "ok"
    # Every `show running-config` carries a new Cryptochecksum and "Written by" time.
    assert audits.run(host).findings == ()
    before = config.read_text()
    rule = "access-list OUTSIDE_IN extended permit tcp any any eq 3389"
    config.write_text(before + rule + "\n")
    try:
        (finding,) = audits.run(host).findings
        assert finding.diff == f"@@ (top level)\n+ {rule}"
    finally:
        config.write_text(before)


def test_a_changed_device_key_stops_before_login(lab_switch, switch_host, tmp_path):
    other = "AAAAC3NzaC1lZDI1NTE5AAAAIOcNdbVhOGW6pHnm1ZZcT6eXK0bKx0l1iSQGEb6TJtH2"
    audits = Audits(tmp_path, f"[127.0.0.1]:{lab_switch.port} ssh-ed25519 {other}")
    with pytest.raises(HostKeyChanged):
        audits.run(switch_host)


def test_truncated_or_rejected_output_stores_nothing():
    cmd = load_profiles()["cisco_ios"].sections["config"].commands[0]
    from ospatrol.collect.configs import _problem
    from ospatrol.transport.base import CommandResult

    cut = CommandResult("show running-config", b"hostname sw1\ninterface Gi0/1\n", b"", 0)
    rejected = CommandResult("x", b"% Invalid input detected at '^' marker.\n", b"", 1)
    capped = CommandResult("x", b"hostname sw1\nend\n", b"", 0, truncated=True)
    assert _problem(cut, cmd).startswith("truncated listing")
    assert _problem(rejected, cmd).startswith("error: the device rejected")
    assert _problem(capped, cmd).startswith("truncated listing")


def test_hierarchical_diff_shows_a_moved_line_under_each_parent():
    old = "interface Gi0/1\n shutdown\ninterface Gi0/2\n description b\n"
    new = "interface Gi0/1\ninterface Gi0/2\n description b\n shutdown\n"
    assert hierarchical_diff(old, new) == (
        "@@ interface Gi0/1\n- shutdown\n@@ interface Gi0/2\n+ shutdown"
    )
    junos = "system {\n    services {\n        ssh;\n    }\n}\n"
    opened = "system {\n    services {\n        ssh;\n        telnet;\n    }\n}\n"
    assert hierarchical_diff(junos, opened) == "@@ system > services\n+ telnet;"
    assert re.fullmatch(r"", hierarchical_diff(junos, junos))


def test_config_history_show_and_diff_cli(tmp_path: Path):
    from click.testing import CliRunner

    from ospatrol.cli import cli
    from ospatrol.store import PutState

    state = tmp_path / "state"
    with Store.open(state) as store:
        for text in (
            "hostname r1\ninterface Gi0/1\n description up\nend\n",
            "hostname r1\nsnmp-server community *** RO\n"
            "interface Gi0/1\n description \x1b]0;x\nend\n",
        ):
            digest = hashlib.sha256(text.encode()).hexdigest()
            update = PutState("show running-config", text.encode(), digest)
            store.apply_updates("r1", "config", [update])
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(cli, ["--state-dir", str(state), "config", *args])

    history = run("history", "r1")
    assert history.exit_code == 0 and history.output.splitlines()[0] == "r1: show running-config"
    assert [line.split("\t")[0] for line in history.output.splitlines()[1:]] == ["1", "2"]
    assert run("show", "r1", "--version", "1").output.startswith("hostname r1\ninterface Gi0/1\n")
    assert "+snmp-server community *** RO" in run("diff", "r1").output.splitlines()
    # --blocks: what the audit reports, block by block and kind by kind, device text escaped.
    assert run("diff", "r1", "--blocks", "--platform", "cisco_ios").output.splitlines() == [
        "--- r1 show running-config v1",
        "+++ r1 show running-config v2",
        "== management plane opened in 'snmp-server community': 1 line(s) changed",
        "@@ (top level)",
        "+ snmp-server community *** RO",
        "== interface/description only in 'interface Gi0/1': 2 line(s) changed",
        "@@ interface Gi0/1",
        "- description up",
        "+ description \\x1b]0;x",
    ]
    unknown = run("diff", "r1", "--blocks")
    assert unknown.exit_code == 3 and "platform unknown to the store" in unknown.output
    missing = subprocess.run(
        [sys.executable, "-m", "ospatrol", "--state-dir", str(state), "config", "show", "r9"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert missing.returncode == 3 and "no configuration stored for r9" in missing.stderr


@pytest.mark.parametrize(
    "platform", ["cisco_asa", "juniper_junos", "juniper_screenos", "checkpoint_gaia"]
)
def test_simulated_devices_are_stable_between_audits(lab_simulator, platform, tmp_path):
    """Headers that move on every fetch (checksums, "last changed", export times) are dropped:
    a device that did not change gives no finding."""
    host, line, _ = simulated(lab_simulator, platform)
    audits = Audits(tmp_path, line)
    first = audits.run(host)
    assert first.status == "ok", first.error
    stored = audits.store.states(host.name, "config")
    assert stored and all(len(e.blob) > 200 for e in stored.values())
    assert audits.run(host).findings == ()


def test_device_policies_run_in_a_real_audit_and_follow_a_fix(
    lab_switch, switch_host, lab_simulator, tmp_path
):
    """The cis/ policies evaluated over the netdev transport in the same audit as the config
    collector: on the IOS switch every check of its policy has a status; on the ASA, adding a
    login banner flips exactly that check, with a `check passed` event."""
    from ospatrol.audit.run import audit
    from ospatrol.collect.policies import PolicyCollector, shipped_policies

    policies = shipped_policies()
    ios = next(p for p in policies if p.id == "ospatrol_cisco_ios")
    audits = Audits(tmp_path, lab_switch.known_hosts_line)
    collectors = [audits.collector, PolicyCollector(policies)]

    def run(host: Host):
        opener = lambda h: open_transport(h, audits.settings)  # noqa: E731
        record = asyncio.run(audit([host], collectors, audits.store, opener))
        assert record.hosts[0].status == "ok", record.hosts[0].error
        statuses = {
            r.check_id: r.status for r in audits.store.check_results(host.name, run=record.id)
        }
        return record, statuses

    _, on_switch = run(switch_host)
    assert set(on_switch) == {c.id for c in ios.checks}
    assert (on_switch["ios-1.4.2"], on_switch["ios-1.2.3"]) == ("failed", "passed")

    asa, line, config = simulated(lab_simulator, "cisco_asa")
    known = tmp_path / "state" / "known_hosts"
    known.write_text(known.read_text() + line + "\n")
    _, before = run(asa)
    assert before["asa-1.5.3"] == "failed"
    with edited(config, lambda text: text + "banner motd Authorized access only\n"):
        record, after = run(asa)
    assert {c for c in before if before[c] != after[c]} == {"asa-1.5.3"}
    texts = [f.finding.event_text for f in record.hosts[0].findings]
    assert any(t.startswith("ospatrol: cis: check passed: ") and "asa-1.5.3" in t for t in texts)
    assert any(t.startswith("ospatrol: config changed: ") for t in texts)

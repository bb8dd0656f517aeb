"""The facts collector: `show version` (and kin) parsed per platform with ntc-templates or as
`Key: value` records, over real captures in the shared corpus, against fake-switches IOS and
the simulated ASA through the netdev transport, and an ESXi upgrade through the real audit."""

from __future__ import annotations

import asyncio
import codecs
from pathlib import Path

import pytest
import yaml

from ospatrol.collect.base import StateView
from ospatrol.collect.facts import (
    KNOWN,
    FactsCollector,
    changed_findings,
    digest,
    extract,
    parse_facts_section,
)
from ospatrol.errors import InputErrors
from ospatrol.profiles import load_profiles
from ospatrol.store import Store
from ospatrol.transport import TransportSettings, open_transport
from ospatrol.yamlfile import load_yaml_file
from tests.audit.conftest import host, run_cli
from tests.audit.test_shipped_profiles import esxi_inventory
from tests.devices.device_helpers import device, edited, simulated

PROFILES = load_profiles()


def facts_of(platform: str, output: str) -> dict[str, str]:
    """Facts as the collector merges them: each command of the profile in order, first wins."""
    merged: dict[str, str] = {}
    for command in PROFILES[platform].sections["facts"]:
        for fact, value in extract(output, command).items():
            merged.setdefault(fact, value)
    return merged


def oxidized_output(path: Path, command: str) -> str:
    """A command's output in an Oxidized simulation: its escapes (`\\x20`, `\\r`, `\\"`)
    undone, the echoed command and the prompt (where recorded) cut."""
    recorded = yaml.safe_load(path.read_text())["commands"][command + "\n"]
    text = codecs.decode(recorded.encode("ascii"), "unicode_escape").replace("\r", "")
    lines = text.splitlines()
    if lines and lines[0].strip() == command:
        lines = lines[1:]
    if lines and lines[-1].rstrip().endswith(("#", ">")):
        lines = lines[:-1]
    return "\n".join(lines)


CAPTURES = [
    (
        "configs/ios/ntc_cisco_ios_show_version1.raw",
        "cisco_ios",
        {"model": "WS-C3850-48U,WS-C3850-48U,WS-C3850-48U,WS-C3850-48U",
         "os_version": "03.06.05E", "hostname": "city-building-4-sw"},
    ),
    (
        "configs/iosxe/batfish-lab_iosxe_acl_show_version.txt",
        "cisco_ios",
        {"model": "CSR1000V", "os_version": "16.4.1", "serial": "938VD65N3N1",
         "hostname": "iosxe_acl", "uptime": "2 hours, 30 minutes"},
    ),
    (
        "configs/asa/ntc_cisco_asa_show_version1.raw",
        "cisco_asa",
        {"model": "ASAv, 2048 MB RAM, CPU Pentium II 1800 MHz", "os_version": "9.5(2)204",
         "serial": "9AT1L9EX0DF", "hostname": "asa1", "uptime": "41 days 19 hours"},
    ),
    (
        "configs/junos/ntc_juniper_junos_show_version_srx_cluster.raw",
        "juniper_junos",
        {"model": "srx1500", "os_version": "19.4R3-S1.3", "hostname": "lab"},
    ),
]  # fmt: skip

OXIDIZED = [
    ("ios_C9200L-24P-4G_17.09.04a_simulation.yaml", "cisco_ios",
     {"model": "C9200L-24P-4G", "os_version": "17.9.4a", "serial": "JAE24FFFFFF"}),
    ("ios_C9800-L-F-K9_17.06.05_simulation.yaml", "cisco_ios",
     {"model": "C9800-L-F-K9", "os_version": "17.6.5", "serial": "FCL2XXXXXXX"}),
    ("asa_5512_9.12-4-67_single-context_simulation.yaml", "cisco_asa",
     {"os_version": "9.12(4)67", "serial": "FCH17AAAAAA", "uptime": "173 days 16 hours"}),
    # No `Hostname:` line: the ntc template (Hostname is Required) gives nothing; the
    # profile's `Key: value` fall-back still reads model and version.
    ("junos_srx300_22.4_wo_cluster_simulation.yaml", "juniper_junos",
     {"model": "srx300", "os_version": "22.4R3-S2.11"}),
]  # fmt: skip


@pytest.mark.parametrize(("name", "platform", "expected"), CAPTURES, ids=lambda v: str(v)[:40])
def test_real_show_version_captures(shared_data, name, platform, expected):
    facts = facts_of(platform, (shared_data / "devices" / name).read_text())
    assert {k: facts.get(k) for k in expected} == expected


@pytest.mark.parametrize(("name", "platform", "expected"), OXIDIZED, ids=lambda v: str(v)[:40])
def test_oxidized_recorded_sessions(shared_data, name, platform, expected):
    path = shared_data / "devices" / "oxidized-simulations" / name
    facts = facts_of(platform, oxidized_output(path, "show version"))
    assert {k: facts.get(k) for k in expected} == expected


def test_esxi_and_screenos_key_value_records():
    version = (
        "   Product: VMware ESXi\n   Version: 8.0.2\n   Build: Releasebuild-22380479\n"
        "   Update: 2\n   Patch: 0\n"
    )
    assert facts_of("esxi", version) == {"os_version": "8.0.2 Releasebuild-22380479"}
    platform = (
        "   Platform Information\n      Product Name: PowerEdge R750\n"
        "      Vendor Name: Dell Inc., Ltd.\n      Serial Number: 7XJ2K93\n"
    )
    assert facts_of("esxi", platform) == {
        "model": "Dell Inc., Ltd. PowerEdge R750",
        "serial": "7XJ2K93",
    }
    system = (
        "Product Name: SSG-140-SH\nSerial Number: 0162012345678901, Control Number: 00000000\n"
        "Software Version: 6.3.0r27.0, Type: Firewall+VPN\nUp 3600 seconds since 01/01/2026\n"
    )
    assert facts_of("juniper_screenos", system) == {
        "model": "SSG-140-SH",
        "serial": "0162012345678901",
        "os_version": "6.3.0r27.0",
    }


def test_uptime_is_stored_but_never_a_change():
    one = {"os_version": "9.16(4)57", "uptime": "3 days 4 hours"}
    two = {"os_version": "9.16(4)57", "uptime": "3 days 5 hours"}
    assert digest(one) == digest(two)
    assert changed_findings("fw1", one, two) == []
    assert digest(one) != digest({**one, "os_version": "9.18(1)"})


def test_changed_facts_are_escaped_and_cannot_spell_another_change():
    old = {"os_version": "9.16(4)57", "serial": "A1"}
    new = {"os_version": "9.18' to 'x\x1b[2J", "serial": "A1"}
    (finding,) = changed_findings("fw1", old, new)
    assert finding.event_text == (
        "ospatrol: facts: os version changed: '9.16(4)57' to '9.18\\x27 to \\x27x\\x1b[2J'"
    )


def test_facts_section_errors_name_file_and_line(tmp_path):
    path = tmp_path / "p.yml"
    path.write_text(
        "facts:\n"
        "  - {command: show version, parser: textfsm no_such_template, facts: {model: X}}\n"
        "  - {command: show version, parser: textfsm cisco_ios_show_version,\n"
        "     facts: {model: NOPE}}\n"
        "  - {command: show version, parser: keyvalue, facts: {colour: Model}}\n"
    )
    data = load_yaml_file(path)
    with pytest.raises(InputErrors) as caught:
        parse_facts_section(data["facts"], str(path), data.line_of("facts"))
    messages = [str(e) for e in caught.value.errors]
    assert len(messages) == 3
    assert "no ntc-templates template 'no_such_template'" in messages[0]
    assert ":2" in messages[0] and ":3" in messages[1] and ":5" in messages[2]
    assert "has no value 'NOPE'" in messages[1]
    assert "unknown fact 'colour'" in messages[2]


def _collect(host, known: Path, store: Store):
    settings = TransportSettings(known_hosts=known, command_timeout=30)

    async def go():
        async with open_transport(host, settings) as transport:
            return await FactsCollector(PROFILES).collect(
                host, transport, StateView(store, host.name, "facts")
            )

    result = asyncio.run(go())
    if result.status == "ok":
        store.apply_updates(host.name, "facts", result.updates)
    return result


def test_fake_switches_ios_and_simulated_asa_facts_each_run(lab_switch, lab_simulator, tmp_path):
    known = tmp_path / "known_hosts"
    firewall, firewall_key, _ = simulated(lab_simulator, "cisco_asa")
    known.write_text(f"{lab_switch.known_hosts_line}\n{firewall_key}\n")
    switch = device(
        "sw1", lab_switch.port, "cisco_ios", lab_switch.user, lab_switch.password,
        lab_switch.enable_password,
    )  # fmt: skip
    with Store.open(tmp_path / "state") as store:
        for audited in (switch, firewall):
            first = _collect(audited, known, store)
            assert (first.status, first.findings, first.baseline_changed) == ("ok", (), True)
            second = _collect(audited, known, store)
            assert (second.status, second.findings, second.baseline_changed) == ("ok", (), False)
        ios = store.state_history("sw1", "facts", "facts")
        fw = store.state_history(firewall.name, "facts", "facts")
    assert [e.version for e in ios] == [1, 2]  # stored every run
    assert yaml.safe_load(ios[1].text) == {
        "hostname": lab_switch.hostname,
        "model": "WS-C3750G-24TS-1U",
        "os_version": "12.2(58)SE2",
        "serial": "FOC1530X2F7",
        "uptime": "1 year, 18 weeks, 5 days, 1 hour, 11 minutes",
    }
    assert yaml.safe_load(fw[1].text)["os_version"] == "9.16(4)57"
    assert fw[0].digest == fw[1].digest


def test_esxi_upgrade_is_one_os_version_event(lab_simulator, tmp_path):
    esxi = lab_simulator.host("esxi")
    inv = esxi_inventory(esxi, tmp_path / "inv.yml")
    state = tmp_path / "state"
    args = ("audit", "-i", str(inv), "--only", "facts", "--format", "json")
    first = host(run_cli(state, *args).json(), "esx1")
    assert (first["status"], first["findings"]) == ("ok", []), first

    def upgrade(text: str) -> str:
        return text.replace(
            '/resourceGroups/version = "7.0.3"', '/resourceGroups/version = "8.0.2"'
        )

    with edited(Path(esxi["config_file"]), upgrade):
        second = host(run_cli(state, *args).json(), "esx1")
    assert [(f["event"], f["rule"], f["level"]) for f in second["findings"]] == [
        (
            "ospatrol: facts: os version changed: '7.0.3 Releasebuild-21930508' to "
            "'8.0.2 Releasebuild-21930508'",
            82110,
            8,
        )
    ]


def test_reports_show_each_runs_facts_live_and_stored(lab_simulator, tmp_path):
    esxi = lab_simulator.host("esxi")
    inv = esxi_inventory(esxi, tmp_path / "inv.yml")
    state = tmp_path / "state"
    audit = ("audit", "-i", str(inv), "--only", "facts")
    before = "7.0.3 Releasebuild-21930508"
    first = host(run_cli(state, *audit, "--format", "json").json(), "esx1")
    assert first["facts"]["os_version"] == before
    assert list(first["facts"]) == [f for f in KNOWN if f in first["facts"]]
    with edited(Path(esxi["config_file"]), lambda t: t.replace('"7.0.3"', '"8.0.2"')):
        text = run_cli(state, *audit, "--format", "text").stdout
    assert "os version: 8.0.2 Releasebuild-21930508 |" in text, text
    # Re-rendered from the store, each run shows the facts it recorded, not the latest.
    report = ("report", "--format", "json", "--run")
    stored = [host(run_cli(state, *report, run).json(), "esx1") for run in ("1", "2")]
    assert [h["facts"]["os_version"] for h in stored] == [before, "8.0.2 Releasebuild-21930508"]
    assert stored[0]["facts"] == first["facts"]
    html = run_cli(state, "report", "--run", "2", "--format", "html").stdout
    assert "os version: 8.0.2 Releasebuild-21930508" in html


def test_a_host_without_facts_reports_none(lab_simulator, tmp_path):
    esxi = lab_simulator.host("esxi")
    inv = esxi_inventory(esxi, tmp_path / "inv.yml")
    audit = ("audit", "-i", str(inv), "--only", "esx", "--format", "json")
    assert host(run_cli(tmp_path / "state", *audit).json(), "esx1")["facts"] == {}

"""Security-aware classification of device config changes (`ospatrol.collect.config_classify`
with the `classify:` data of checks/<platform>.yml): real configs of ../shared/data/devices
edited the way an operator would, each changed block's kind and header, and the level the
shipped rules (rules/rules/device_config.xml) give it; then the lab's devices end to end: a
change made through netmiko config mode on the fake-switches IOS switch, or in a simulated
device's config, and the next audit's findings carry the kind, the block and the rule level."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from device_helpers import configure, device, edited, simulated

from ospatrol.analysis.engine import Engine
from ospatrol.analysis.loader import Ruleset, load_ruleset
from ospatrol.audit.run import audit
from ospatrol.collect.base import finding_event
from ospatrol.collect.config_classify import KINDS
from ospatrol.collect.configs import (
    ConfigsCollector,
    changed_findings,
    hierarchical_diff,
    normalise,
)
from ospatrol.errors import InputErrors
from ospatrol.model import Finding, Host
from ospatrol.profiles import load_profile, load_profiles
from ospatrol.store import Store
from ospatrol.transport import TransportSettings, open_transport

REPO = Path(__file__).resolve().parents[2]
PROFILES = load_profiles()
LEVELS = {
    "access rule widened": (82000, 10),
    "management plane opened": (82001, 10),
    "crypto weakened": (82002, 10),
    "local user added/changed": (82003, 8),
    "AAA changed": (82004, 8),
    "logging or NTP removed": (82005, 8),
    "routing changed": (82006, 6),
    "interface/description only": (82007, 3),
    "other": (80122, 7),
}


@pytest.fixture(scope="module")
def ruleset() -> Ruleset:
    return load_ruleset(REPO / "rules" / "ospatrol.conf")


def _kinds(findings: list[Finding]) -> list[tuple[str, str]]:
    """(kind, block) of each finding, read back from its event text's first line."""
    out = []
    for finding in findings:
        first = finding.event_text.split("\n", 1)[0]
        _, _, tail = first.partition("': kind '")
        kind, _, header = tail.partition("' in '")
        out.append((kind, header.removesuffix("'")))
    return out


def _edit(text: str, *pairs: tuple[str, str]) -> str:
    for old, new in pairs:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


# (platform, file under devices/configs, edit, the expected (kind, block) findings in order)
EDITS: list[tuple[str, str, Callable[[str], str], list[tuple[str, str]]]] = [
    (
        "cisco_ios",
        "ios/ciscoconfparse_sample_01.ios",
        lambda t: _edit(
            t,
            (" transport input telnet ssh\n", " transport input all\n"),
            (
                "ip access-list extended EXT_OUT\n",
                "ip access-list extended EXT_OUT\n permit tcp any host 10.1.1.1 eq 22\n",
            ),
            ("logging 172.16.1.7\n", ""),
            ("ntp server 1.1.1.1\n", "ntp server 1.1.1.1\nusername eve privilege 15 secret 0 x\n"),
        ),
        [
            ("access rule widened", "ip access-list extended EXT_OUT"),
            ("management plane opened", "line vty 0 4"),
            ("local user added/changed", "username eve"),
            ("logging or NTP removed", "logging"),
        ],
    ),
    (
        "cisco_ios",
        "ios/ciscoconfparse_sample_08.ios",
        lambda t: _edit(t, (" deny   ip any any log\n", "")),
        [("access rule widened", "ip access-list extended EXT_IN")],
    ),
    (
        "cisco_ios",
        "ios/batfish-lab_ios_as1border1_show_running-config.txt",
        lambda t: _edit(
            t,
            ("aaa new-model\n", "no aaa new-model\n"),
            ("interface Loopback0\n", "interface Loopback0\n description core loopback\n"),
            ("router ospf 1\n", "router ospf 1\n passive-interface default\n"),
        ),
        [
            ("AAA changed", "aaa"),
            ("routing changed", "router ospf 1"),
            ("interface/description only", "interface Loopback0"),
        ],
    ),
    (
        "cisco_asa",
        "asa/ciscoconfparse_sample_01.asa",
        lambda t: _edit(
            t,
            ("access-list INSIDE_in extended deny ip any4 any4 log\n", ""),
            ("ssh version 2\n", "ssh version 1\n"),
            ("ntp server 17.151.16.23\n", ""),
            ("telnet timeout 5\n", "telnet 0.0.0.0 0.0.0.0 OUTSIDE\ntelnet timeout 5\n"),
            (" network-object 192.168.1.0 255.255.255.0\n", " network-object 0.0.0.0 0.0.0.0\n"),
        ),
        [
            ("access rule widened", "object-group network SSH_addrs"),
            ("access rule widened", "access-list INSIDE_in"),
            ("management plane opened", "telnet"),
            ("crypto weakened", "ssh"),
            ("logging or NTP removed", "ntp"),
        ],
    ),
    (
        "cisco_asa",
        "asa/batfish_allinone_asaNode.cfg",
        lambda t: t + "\nroute outside 0.0.0.0 0.0.0.0 192.0.2.1 1\n",
        [("routing changed", "route outside")],
    ),
    (
        "juniper_junos",
        "junos/ciscoconfparse_sample_03.junos",
        lambda t: _edit(t, ("        ssh {", "        telnet;\n        ssh {")),
        [("management plane opened", "system > services")],
    ),
    (
        "juniper_junos",
        "junos/batfish-lab_junos_pe1_source.cfg",
        lambda t: _edit(
            t,
            (
                "    host-name pe1;\n",
                "    host-name pe1;\n    services {\n        telnet;\n    }\n",
            ),
        ),
        [("management plane opened", "system > services")],
    ),
    (
        "juniper_junos",
        "junos/batfish-lab_junos_pe1_show_configuration_display_set.txt",
        lambda t: (
            t
            + "set system login user eve class super-user\n"
            + "set protocols ospf area 0 interface ge-0/0/9.0\n"
            + "set interfaces ge-0/0/9 description uplink\n"
        ),
        [
            ("local user added/changed", "system login user eve"),
            ("routing changed", "protocols ospf"),
            ("interface/description only", "interfaces ge-0/0/9"),
        ],
    ),
    (
        "juniper_screenos",
        "screenos/greyinghair_device_output.screenos",
        lambda t: (
            t
            + 'set policy id 99 from "Untrust" to "Trust"  "Any" "Any" "ANY" permit log\n'
            + "set interface ethernet0/0 manage telnet\n"
        ),
        [
            ("access rule widened", "set policy id 99"),
            ("management plane opened", "interface ethernet0/0"),
        ],
    ),
]


EDITS.append(
    (
        "juniper_screenos",
        "screenos/greyinghair_device_output.screenos",
        lambda t: _edit(t, ('set dst-address "Peer Backup"\n', 'set dst-address "Any"\n')),
        [("access rule widened", "set policy id 10")],
    )
)


@pytest.mark.parametrize(
    ("platform", "name", "edit", "expected"),
    EDITS,
    ids=[f"{e[1]}-{i}" for i, e in enumerate(EDITS)],
)
def test_real_config_edits_are_classified_by_block(
    shared_data: Path, ruleset: Ruleset, platform, name, edit, expected
) -> None:
    section = PROFILES[platform].sections["config"]
    text = (shared_data / "devices" / "configs" / name).read_text()
    old, new = normalise(text, section), normalise(edit(text), section)
    findings = changed_findings("r1", section.commands[0], old, new, section)
    assert _kinds(findings) == expected
    # Every changed line is in exactly one finding, with its parent.
    for finding in findings:
        assert finding.diff.startswith("@@ ") and finding.kind == "changed"
    for finding, (kind, _) in zip(findings, expected, strict=True):
        result = Engine(ruleset, hostname="manager").process(finding_event(finding))
        assert (result.rule.id, result.rule.level) == LEVELS[kind]
        assert result.fields["change_kind"] == kind


def test_an_unchanged_block_line_rides_with_its_block_and_other_stays_at_80122(
    ruleset: Ruleset,
) -> None:
    section = PROFILES["cisco_ios"].sections["config"]
    old = "hostname r1\n!\nip access-list extended A\n deny ip any any\n!\nbanner motd x\nend\n"
    new = "hostname r2\n!\nip access-list extended A\n remark opened\n!\nbanner motd x\nend\n"
    findings = changed_findings("r1", section.commands[0], old, new, section)
    assert _kinds(findings) == [
        ("access rule widened", "ip access-list extended A"),
        ("other", "(top level)"),
    ]
    assert findings[0].diff == "@@ ip access-list extended A\n- deny ip any any\n+ remark opened"
    assert findings[1].diff == "@@ (top level)\n- hostname r1\n+ hostname r2"
    result = Engine(ruleset, hostname="manager").process(finding_event(findings[1]))
    assert (result.rule.id, result.rule.level) == (80122, 7)


def test_an_added_block_is_one_block_with_its_header() -> None:
    section = PROFILES["cisco_ios"].sections["config"]
    old = "hostname r1\n!\nend\n"
    new = "hostname r1\n!\nip access-list extended WEB\n permit tcp any any eq 443\n!\nend\n"
    (finding,) = changed_findings("r1", section.commands[0], old, new, section)
    assert _kinds([finding]) == [("access rule widened", "ip access-list extended WEB")]
    assert finding.diff == (
        "@@ (top level)\n+ ip access-list extended WEB\n"
        "@@ ip access-list extended WEB\n+ permit tcp any any eq 443"
    )


def test_screenos_contexts_give_a_flat_line_its_parent() -> None:
    """ScreenOS opens a policy's block with `set policy id N` and closes it with `exit`: a
    member moved from one policy to another shows under each, the `exit` lines not at all."""
    contexts = PROFILES["juniper_screenos"].sections["config"].contexts
    old = (
        'set policy id 1 from "Trust" to "Untrust" "a" "b" "HTTP" permit\nset policy id 1\n'
        'set service "SSH"\nexit\nset policy id 2 from "Trust" to "DMZ" "a" "c" "HTTP" permit\n'
    )
    new = (
        'set policy id 1 from "Trust" to "Untrust" "a" "b" "HTTP" permit\n'
        'set policy id 2 from "Trust" to "DMZ" "a" "c" "HTTP" permit\nset policy id 2\n'
        'set service "SSH"\nexit\n'
    )
    assert hierarchical_diff(old, new, contexts) == (
        '@@ (top level)\n- set policy id 1\n@@ set policy id 1\n- set service "SSH"\n'
        '@@ (top level)\n+ set policy id 2\n@@ set policy id 2\n+ set service "SSH"'
    )
    assert hierarchical_diff(old, old, contexts) == ""


def test_a_huge_change_is_a_bounded_number_of_findings() -> None:
    section = PROFILES["cisco_ios"].sections["config"]
    old = "".join(f"interface Gi0/{n}\n!\n" for n in range(300)) + "end\n"
    new = "".join(f"interface Gi0/{n}\n description d{n}\n!\n" for n in range(300)) + "end\n"
    findings = changed_findings("r1", section.commands[0], old, new, section)
    assert len(findings) == 51
    assert _kinds(findings)[-1] == ("interface/description only", "(250 more blocks)")
    assert sum(f.diff.count("\n+ description ") for f in findings) == 300


def test_classify_data_errors_name_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "cisco_ios.yml"
    bad.write_text(
        "config:\n"
        "  commands: [show running-config]\n"
        "  blocks: ['^access-list (']\n"
        "  classify:\n"
        "    - {kind: access widened, added: permit}\n"
        "    - {kind: crypto weakened}\n"
        "    - {kind: AAA changed, addded: '^aaa'}\n"
        "    - {kind: other, line: '(unclosed'}\n"
        "    - {kind: other, line: 'fine'}\n"
        "  contexts:\n"
        "    - {open: '^set policy id \\d+$'}\n"
    )
    with pytest.raises(InputErrors) as caught:
        load_profile(bad)
    found = sorted((e.line, e.message.split(":")[1].strip()) for e in caught.value.errors)
    assert [line for line, _ in found] == [3, 5, 6, 7, 8, 11]
    text = str(caught.value)
    assert "unknown kind 'access widened'" in text and "a rule needs parent" in text
    assert "unknown key 'addded'" in text and str(bad) in text
    assert "a context is {open, close}" in text


def test_every_shipped_device_profile_classifies_into_known_kinds() -> None:
    for name in ("cisco_ios", "cisco_asa", "juniper_junos", "juniper_screenos", "checkpoint_gaia"):
        rules = PROFILES[name].sections["config"].classify
        assert rules, name
        assert {r.kind for r in rules} <= set(KINDS) - {"other"}


# --- the lab: a real audit with the analysis engine ------------------------------------------


class LabAudits:
    """Real `ospatrol audit` runs (config collector, analysis engine) against one device."""

    def __init__(self, tmp_path: Path, known_hosts_line: str, ruleset: Ruleset) -> None:
        (tmp_path / "state").mkdir(exist_ok=True)
        self.store = Store.open(tmp_path / "state")
        self.known = tmp_path / "state" / "known_hosts"
        self.known.write_text(known_hosts_line + "\n")
        self.settings = TransportSettings(known_hosts=self.known, command_timeout=30)
        self.collectors = [ConfigsCollector(PROFILES)]
        self.ruleset = ruleset

    def run(self, host: Host) -> list[tuple[str, str, int | None, int | None]]:
        """(kind, block, rule, level) of each config finding of one audit."""
        opener = lambda h: open_transport(h, self.settings)  # noqa: E731
        engine = Engine(self.ruleset, hostname="manager")
        record = asyncio.run(audit([host], self.collectors, self.store, opener, engine=engine))
        (report,) = record.hosts
        assert report.status == "ok", report.error
        found = [f for f in report.findings if f.finding.collector == "config"]
        kinds = _kinds([f.finding for f in found])
        return [(k, b, f.rule, f.level) for (k, b), f in zip(kinds, found, strict=True)]


def test_ios_switch_changes_through_config_mode_get_their_kind_and_level(
    lab_switch, ruleset, tmp_path
) -> None:
    host = device(
        "sw-classify",
        lab_switch.port,
        "cisco_ios",
        lab_switch.user,
        lab_switch.password,
        lab_switch.enable_password,
    )
    audits = LabAudits(tmp_path, lab_switch.known_hosts_line, ruleset)
    assert audits.run(host) == []
    label = f"classify-{tmp_path.name[-10:]}"
    port, svi = "interface FastEthernet0/11", "interface Vlan3901"
    route = "ip route 198.51.100.0 255.255.255.0 10.0.0.254"
    try:
        configure(lab_switch, audits.known, port, f"description {label}")
        assert audits.run(host) == [
            ("interface/description only", "interface FastEthernet0/11", 82007, 3)
        ]
        # fake-switches keeps access groups on VLAN interfaces only
        configure(lab_switch, audits.known, svi, "ip access-group OSP-IN in", "exit", route)
        assert audits.run(host) == [
            ("routing changed", "ip route", 82006, 6),
            ("interface/description only", "interface Vlan3901", 82007, 3),
        ]
        configure(lab_switch, audits.known, svi, "no ip access-group OSP-IN in")
        assert audits.run(host) == [("access rule widened", "interface Vlan3901", 82000, 10)]
    finally:
        configure(
            lab_switch, audits.known, port, "no description", "exit", "no " + svi, "no " + route
        )


# (platform, line appended to the simulated device's config, expected kind and block)
SIMULATED = [
    (
        "cisco_asa",
        "access-list outside_access_in extended permit tcp any any eq 3389",
        ("access rule widened", "access-list outside_access_in"),
    ),
    ("cisco_asa", "telnet 0.0.0.0 0.0.0.0 outside", ("management plane opened", "telnet")),
    (
        "juniper_screenos",
        'set policy id 9 from "Untrust" to "Trust"  "Any" "office-lan" "ANY" permit log',
        ("access rule widened", "set policy id 9"),
    ),
    ("checkpoint_gaia", "set net-access telnet on", ("management plane opened", "net-access")),
]


@pytest.mark.parametrize(("platform", "line", "expected"), SIMULATED)
def test_simulated_device_change_gets_its_kind_and_level(
    lab_simulator, ruleset, tmp_path, platform, line, expected
) -> None:
    host, known_line, config = simulated(lab_simulator, platform)
    audits = LabAudits(tmp_path, known_line, ruleset)
    assert audits.run(host) == []
    rule, level = LEVELS[expected[0]]
    with edited(config, lambda text: text + line + "\n"):
        assert audits.run(host) == [(*expected, rule, level)]


def test_simulated_junos_policy_opened_to_any_is_classified_in_its_hierarchy(
    lab_simulator, ruleset, tmp_path
) -> None:
    host, known_line, config = simulated(lab_simulator, "juniper_junos")
    audits = LabAudits(tmp_path, known_line, ruleset)
    assert audits.run(host) == []
    header = "security > policies > from-zone trust to-zone untrust > policy allow-outbound > match"

    def opened(text: str) -> str:
        return text.replace(
            "application [ junos-http junos-https junos-dns-udp ];", "application any;"
        )

    with edited(config, opened):  # which also checks the edit changed the config
        assert audits.run(host) == [("access rule widened", header, 82000, 10)]


def test_ios_vty_telnet_and_a_permit_any_acl_through_config_mode(
    lab_switch, ruleset, tmp_path
) -> None:
    """The lab switch's vty lines and numbered ACLs (ospatrol_lab.switch), changed as an
    operator would: telnet allowed on the vty lines, then `permit ip any any`."""
    host = device(
        "sw-classify-vty",
        lab_switch.port,
        "cisco_ios",
        lab_switch.user,
        lab_switch.password,
        lab_switch.enable_password,
    )
    audits = LabAudits(tmp_path, lab_switch.known_hosts_line, ruleset)
    assert audits.run(host) == []
    try:
        configure(lab_switch, audits.known, "line vty 0 4", "transport input telnet ssh")
        assert audits.run(host) == [("management plane opened", "line vty 0 4", 82001, 10)]
        configure(lab_switch, audits.known, "access-list 150 permit ip any any")
        assert audits.run(host) == [("access rule widened", "access-list 150", 82000, 10)]
    finally:
        configure(lab_switch, audits.known, "no line vty 0 4", "no access-list 150")
    audits.run(host)
    history = audits.store.state_history(host.name, "config", "show running-config")
    assert history[-1].text == history[0].text  # the switch is as this test found it

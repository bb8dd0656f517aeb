"""Device policies of cis/ on real configs (known-weak ones fail what they should) and on
hardened lines of our own (every check passes); Junos set and curly forms agree."""

from __future__ import annotations

from pathlib import Path

import pytest

from ospatrol.policy.device import parse_config
from ospatrol.policy.evaluate import evaluate_policy
from ospatrol.policy.facts import Facts
from ospatrol.policy.load import load_policy

CIS = Path(__file__).resolve().parents[2] / "cis"

HARDENED_IOS = """hostname r1
service tcp-keepalives-in
service tcp-keepalives-out
service timestamps log datetime msec
service password-encryption
no service pad
enable secret 9 $9$abc
aaa new-model
aaa authentication login default group tacacs+ local
aaa authentication enable default group tacacs+ enable
aaa accounting commands 15 default start-stop group tacacs+
username ops privilege 1 secret 9 $9$def
ip domain name example.net
ip ssh version 2
ip ssh time-out 60
ip ssh authentication-retries 3
no ip http server
no ip bootp server
no ip source-route
no cdp run
logging buffered 64000
logging host 192.0.2.10
ntp authenticate
ntp authentication-key 1 md5 0123 7
ntp trusted-key 1
ntp server 192.0.2.1 key 1
snmp-server community n0tpublic RO 10
banner login ^C Authorised access only ^C
interface GigabitEthernet0/0
 ip address 192.0.2.2 255.255.255.0
 no ip proxy-arp
interface GigabitEthernet0/1
 no ip address
 shutdown
line con 0
 exec-timeout 5 0
line aux 0
 no exec
line vty 0 4
 access-class 10 in
 exec-timeout 10 0
 login authentication default
 transport input ssh
line vty 5 15
 access-class 10 in
 exec-timeout 5 0
 login authentication default
 transport input ssh
"""

HARDENED_ASA = """hostname fw1
domain-name example.net
no service password-recovery
password-policy minimum-length 15
aaa local authentication attempts max-fail 3
aaa authentication ssh console TACACS LOCAL
aaa authorization command TACACS LOCAL
aaa accounting command TACACS
username ops password abc encrypted privilege 15
banner login Authorised access only
ssh version 2
ssh timeout 5
ssh 192.0.2.0 255.255.255.0 inside
http 192.0.2.0 255.255.255.0 inside
ssl server-version tlsv1.2
ntp authenticate
ntp authentication-key 1 sha256 secret
ntp trusted-key 1
ntp server 192.0.2.1 key 1
logging enable
logging timestamp
logging host inside 192.0.2.10
"""

HARDENED_JUNOS_SET = """set system root-authentication encrypted-password "$6$x"
set system authentication-order [ tacplus password ]
set system tacplus-server 192.0.2.20 secret "$9$x"
set system tacplus-server 192.0.2.21 secret "$9$y"
set system login message "Authorised access only"
set system login retry-options tries-before-disconnect 3
set system login retry-options lockout-period 15
set system login password minimum-length 15
set system login password minimum-upper-cases 1
set system login password minimum-lower-cases 1
set system login password minimum-numerics 1
set system login password minimum-punctuations 1
set system login class ops idle-timeout 10
set system login class ops permissions view
set system services ssh root-login deny
set system services ssh protocol-version v2
set system services ssh no-tcp-forwarding
set system services ssh connection-limit 10
set system services netconf ssh
set system syslog host 192.0.2.10 any info
set system syslog host 192.0.2.11 any info
set system syslog file messages authorization info
set system syslog file interactive-commands interactive-commands any
set system ntp authentication-key 1 type sha256 value "$9$z"
set system ntp trusted-key 1
set system ntp server 192.0.2.1 key 1
set system ntp server 192.0.2.2 key 1
"""

HARDENED_JUNOS_CURLY = """system {
    root-authentication {
        encrypted-password "$6$x";
    }
    authentication-order [ tacplus password ];
    tacplus-server {
        192.0.2.20 secret "$9$x";
        192.0.2.21 secret "$9$y";
    }
    login {
        message "Authorised access only";
        retry-options {
            tries-before-disconnect 3;
            lockout-period 15;
        }
        password {
            minimum-length 15;
            minimum-upper-cases 1;
            minimum-lower-cases 1;
            minimum-numerics 1;
            minimum-punctuations 1;
        }
        class ops {
            idle-timeout 10;
            permissions view;
        }
    }
    services {
        ssh {
            root-login deny;
            protocol-version v2;
            no-tcp-forwarding;
            connection-limit 10;
        }
        netconf {
            ssh;
        }
    }
    syslog {
        host 192.0.2.10 {
            any info;
        }
        host 192.0.2.11 {
            any info;
        }
        file messages {
            authorization info;
        }
        file interactive-commands {
            interactive-commands any;
        }
    }
    ntp {
        authentication-key 1 type sha256 value "$9$z";
        trusted-key 1;
        server 192.0.2.1 key 1;
        server 192.0.2.2 key 1;
    }
}
"""

HARDENED_SCREENOS = """set admin name "fwadmin"
set admin manager-ip 192.0.2.0 255.255.255.0
set admin auth timeout 10
set ssh version v2
set ssh enable
set interface ethernet0/0 manage ssh
set syslog config 192.0.2.10
set syslog enable
set clock ntp
set ntp server 192.0.2.1
set log session-init
"""


def statuses(policy_file: str, text: str, platform: str) -> dict[str, str]:
    policy = load_policy(CIS / policy_file)
    facts = Facts(device=parse_config(text, platform), platform=platform)
    return {o.check_id: o.status for o in evaluate_policy(policy, facts)}


def test_the_cis_folder_has_the_policies_of_the_issue():
    counts = {p.name: len(load_policy(p).checks) for p in sorted(CIS.glob("*.yml"))}
    assert counts["linux.yml"] >= 60 and counts["esxi.yml"] >= 20
    assert counts["cisco_ios.yml"] >= 30 and counts["cisco_asa.yml"] >= 15
    assert counts["juniper_junos.yml"] >= 20 and counts["juniper_screenos.yml"] >= 8
    for path in CIS.glob("*.yml"):
        policy = load_policy(path)
        assert policy.platforms and not policy.warnings, path
        assert all(c.rationale and c.remediation for c in policy.checks), path


@pytest.mark.parametrize(
    ("policy_file", "text", "platform"),
    [
        ("cisco_ios.yml", HARDENED_IOS, "cisco_ios"),
        ("cisco_asa.yml", HARDENED_ASA, "cisco_asa"),
        ("juniper_junos.yml", HARDENED_JUNOS_SET, "juniper_junos"),
        ("juniper_junos.yml", HARDENED_JUNOS_CURLY, "juniper_junos"),
        ("juniper_screenos.yml", HARDENED_SCREENOS, "juniper_screenos"),
    ],
)
def test_hardened_lines_pass_every_check(policy_file: str, text: str, platform: str):
    result = statuses(policy_file, text, platform)
    assert {k: v for k, v in result.items() if v != "passed"} == {}


def test_junos_set_and_curly_forms_agree(shared_data: Path):
    assert statuses("juniper_junos.yml", HARDENED_JUNOS_SET, "juniper_junos") == statuses(
        "juniper_junos.yml", HARDENED_JUNOS_CURLY, "juniper_junos"
    )
    configs = shared_data / "devices" / "configs" / "junos"
    weak = statuses(
        "juniper_junos.yml",
        (configs / "ciscoconfparse_sample_03.junos").read_text(),
        "juniper_junos",
    )
    assert weak["junos-ssh-root-login"] == "failed"  # `ssh root-login allow`
    assert weak["junos-services-telnet"] == "failed"  # `telnet;`


@pytest.mark.parametrize(
    ("policy_file", "config", "platform", "must_fail"),
    [
        # `no aaa new-model`, `no service password-encryption`, vty with telnet and a bare login
        (
            "cisco_ios.yml",
            "ios/ccat_HR_startup-config.cfg",
            "cisco_ios",
            ["ios-1.1.1", "ios-1.4.2", "ios-1.2.2", "ios-1.1.4", "ios-1.2.7"],
        ),
        # a vty without login authentication, a method list ending in `none`
        (
            "cisco_ios.yml",
            "ios/batfish_allinone_iosNoAuthentication.cfg",
            "cisco_ios",
            ["ios-1.1.4", "ios-1.1.6"],
        ),
        # `telnet 0.0.0.0 0.0.0.0 inside`, `http 0.0.0.0 0.0.0.0 inside`
        (
            "cisco_asa.yml",
            "asa/batfish_allinone_asaNode.cfg",
            "cisco_asa",
            ["asa-1.6.5", "asa-1.7.1"],
        ),
        # public community, max-fail 16
        (
            "cisco_asa.yml",
            "asa/ciscoconfparse_sample_01.asa",
            "cisco_asa",
            ["asa-1.11.1", "asa-1.4.1.1"],
        ),
    ],
)
def test_known_weak_configs_fail_what_they_should(
    shared_data: Path, policy_file: str, config: str, platform: str, must_fail: list[str]
):
    text = (shared_data / "devices" / "configs" / config).read_text()
    result = statuses(policy_file, text, platform)
    assert {check: result[check] for check in must_fail} == dict.fromkeys(must_fail, "failed")
    assert set(result.values()) <= {"passed", "failed", "not applicable"}


def test_every_and_block_scoping_on_ios():
    weak_vty = HARDENED_IOS.replace(
        "line vty 5 15\n access-class 10 in\n exec-timeout 5 0\n login authentication default\n"
        " transport input ssh\n",
        "line vty 5 15\n access-class 10 in\n exec-timeout 0 0\n login authentication default\n"
        " transport input telnet ssh\n",
    )
    result = statuses("cisco_ios.yml", weak_vty, "cisco_ios")
    # one vty block of two is weak: "every block must" fails, "some block must not" fails
    assert result["ios-1.2.2"] == "failed" and result["ios-1.2.6"] == "failed"
    assert result["ios-1.2.5"] == "passed"
    # the same line outside any vty block does not count
    outside = HARDENED_IOS + "transport input telnet\n"
    assert statuses("cisco_ios.yml", outside, "cisco_ios")["ios-1.2.2"] == "passed"


def test_offline_check_cli(tmp_path: Path, shared_data: Path):
    from tests.audit.conftest import run_cli

    config = shared_data / "devices" / "configs" / "asa" / "batfish_allinone_asaNode.cfg"
    result = run_cli(
        tmp_path / "state",
        "check",
        "-p",
        str(CIS / "cisco_asa.yml"),
        "--config",
        str(config),
        "--platform",
        "cisco_asa",
        "-f",
        "json",
    )
    assert result.returncode == 1, result.stderr
    import json

    (host,) = json.loads(result.stdout)["hosts"]
    checks = {c["id"]: c for c in host["policies"][0]["checks"]}
    assert checks["asa-1.6.5"]["status"] == "failed"
    assert checks["asa-1.6.5"]["evidence"] == "telnet 0.0.0.0 0.0.0.0 inside"
    assert checks["asa-1.6.5"]["compliance"]["disa_stig"] == ["CASA-ND-000430"]


def test_a_config_netutils_cannot_read_is_an_input_error_naming_the_file():
    """netutils refuses a text whose first line is indented with a bare IndexError; `ospatrol
    check --config` and the audit's cis collector report it as bad input, not a traceback."""
    from ospatrol.errors import InputError

    text = "                     Not a config\n  but indented prose\n\nhostname r1\n"
    with pytest.raises(InputError) as caught:
        parse_config(text, "cisco_ios", "router.cfg")
    assert caught.value.path == "router.cfg"
    assert "not a cisco_ios configuration netutils can read" in str(caught.value)

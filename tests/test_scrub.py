"""`ospatrol.scrub`: the one secret scrubber, on the forms real configs hold, on real device
configs, on 1 MB lines (linear rules) and on arbitrary input (never raises, line-local)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from ospatrol.errors import InputError, InputErrors
from ospatrol.profiles import load_profiles
from ospatrol.scrub import (
    THREAD_THRESHOLD,
    Scrubber,
    base_scrubber,
    load_rules,
    off_loop,
    parse_rules,
    scrubber_for,
)
from ospatrol.yamlfile import load_yaml_text

SECRETS = [
    # (line as a host holds it, line as it may be shown)
    ("PGPASSWORD=s3cr3t pg_dump app", "PGPASSWORD=*** pg_dump app"),
    ("export DB_PASSWORD=s3cr3t", "export DB_PASSWORD=***"),
    ('export DB_PASSWORD="s3 cr3t" # quoted', 'export DB_PASSWORD="***" # quoted'),
    ("0 3 * * * mysql -u root -ps3cr3t app < x.sql", "0 3 * * * mysql -u root -p*** app < x.sql"),
    (
        "mysqldump --user=root -ps3cr3t --all-databases",
        "mysqldump --user=root -p*** --all-databases",
    ),
    ("mysqladmin --password=s3cr3t status", "mysqladmin --password=*** status"),
    ("backup --password s3cr3t --verbose", "backup --password *** --verbose"),
    ("backup --password 's3 cr3t' --verbose", "backup --password '***' --verbose"),
    ("mysql -u root -p's3 cr3t' -e 'show tables'", "mysql -u root -p'***' -e 'show tables'"),
    ("requirepass s3cr3t", "requirepass ***"),
    ("masterauth s3cr3t", "masterauth ***"),
    ("url = mysql://app:s3cr3t@db.example:3306/app", "url = mysql://app:***@db.example:3306/app"),
    ("DATABASE_URL=postgresql://u:s3cr3t@h/db", "DATABASE_URL=postgresql://u:***@h/db"),
    ("  <password>s3cr3t</password>", "  <password>***</password>"),
    ("<ns:bindPassword>s3cr3t</ns:bindPassword>", "<ns:bindPassword>***</ns:bindPassword>"),
    ("Authorization: Bearer eyJhbGci.s3cr3t", "Authorization: Bearer ***"),
    (
        "curl -H 'Authorization: token s3cr3t' https://api",
        "curl -H 'Authorization: token ***' https://api",
    ),
    ("ldap_bind_pw = s3cr3t", "ldap_bind_pw = ***"),
    ("bindpw s3cr3t", "bindpw ***"),
    ("rootpw {SSHA}s3cr3t", "rootpw ***"),
    ('"password": "s3cr3t",', '"password": "***",'),
    ("api_key: s3cr3t", "api_key: ***"),
    ("machine ftp.example login bob password s3cr3t", "machine ftp.example login bob password ***"),
    ("root:$6$salt$s3cr3thash:19000:0:99999:7:::", "root:***:19000:0:99999:7:::"),
    ("alice:!$y$j9T$s3cr3thash:19000::::::", "alice:!***:19000::::::"),
    ("old:abJnggxhB/yWI:19000:0:99999:7:::", "old:***:19000:0:99999:7:::"),
    ("web:$apr1$s3cr3t$hashhashhash", "web:***"),
    ("snmp-server community s3cr3t RO 10", "snmp-server community *** RO 10"),
    (
        "snmp-server host 10.0.0.5 traps version 2c s3cr3t",
        "snmp-server host 10.0.0.5 traps version 2c ***",
    ),
    ("snmp-server host 10.0.0.5 s3cr3t udp-port 162", "snmp-server host 10.0.0.5 *** udp-port 162"),
    (
        "set snmp community s3cr3t authorization read-only",
        "set snmp community *** authorization read-only",
    ),
    (
        "snmp-server user u g v3 auth sha s3cr3t priv aes 128 s3cr3u",
        "snmp-server user u g v3 auth sha *** priv aes 128 ***",
    ),
    ("tacacs-server key 7 0822455D0A16", "tacacs-server key 7 ***"),
    ("tacacs-server host 10.1.1.1 key s3cr3t", "tacacs-server host 10.1.1.1 key ***"),
    ("radius-server key s3cr3t", "radius-server key ***"),
    (" key 7 0822455D0A16", " key 7 ***"),
    (" key s3cr3t", " key ***"),
    (" key-string 7 0822455D0A16", " key-string 7 ***"),
    ("crypto isakmp key s3cr3t address 10.0.0.1", "crypto isakmp key *** address 10.0.0.1"),
    (" ikev1 pre-shared-key s3cr3t", " ikev1 pre-shared-key ***"),
    (
        'set security ike policy p pre-shared-key ascii-text "$9$s3cr3tabc"',
        'set security ike policy p pre-shared-key ascii-text "***"',
    ),
    (
        'set system tacplus-server 10.1.1.1 secret "$9$s3cr3tabc"',
        'set system tacplus-server 10.1.1.1 secret "***"',
    ),
    (
        'authentication-key "$9$s3cr3tabc"; ## SECRET-DATA',
        'authentication-key "***"; ## SECRET-DATA',
    ),
    ("enable secret 5 $1$Q0Zl$s3cr3t", "enable secret 5 ***"),
    ("enable secret 9 $9$s3cr3tabcdef", "enable secret 9 ***"),
    ("username admin password 7 0822455D0A16", "username admin password 7 ***"),
    (" ip ospf message-digest-key 1 md5 7 0822455D0A16", " ip ospf message-digest-key 1 md5 7 ***"),
    ("ntp authentication-key 1 md5 0822455D0A16 7", "ntp authentication-key 1 md5 *** 7"),
    ("passwd s3cr3t encrypted", "passwd *** encrypted"),
    ("wpa-psk ascii 0 s3cr3t", "wpa-psk ascii 0 ***"),
]

NOT_SECRETS = [
    "service password-encryption",
    "no service password-encryption",
    "security passwords min-length 6",
    "PasswordAuthentication no",
    "PermitEmptyPasswords no",
    "password    requisite     pam_pwquality.so retry=3",
    "password    [success=1 default=ignore]  pam_unix.so obscure sha512",
    "key chain OSPF",
    " key 1",
    "ip bgp-community new-format",
    " neighbor as1 send-community",
    " set community 1:2 additive",
    " match community as2_community",
    "root:x:0:0:root:/root:/bin/bash",
    "daemon:*:19000:0:99999:7:::",
    "nobody:!:19000::::::",
    "KEYMAP=us",
    "mkdir -p /var/backups && tar czf /var/backups/etc.tgz /etc",
    "ssh -p 2222 backup@host",
    "Failed password for root from 10.0.0.9 port 4242 ssh2",
    " hash sha",
    "awk '{print $1$2}' /etc/hosts",
    "snmp-server host inside 10.1.1.1",
    "logging snmp-authfail",
    "aaa authentication login default local",
    "https://example.org:8443/path",
    "-----BEGIN CERTIFICATE-----",
]


@pytest.mark.parametrize(("line", "shown"), SECRETS)
def test_base_rules_mask_the_secret_and_keep_the_rest(line: str, shown: str) -> None:
    assert base_scrubber().text(line) == shown


@pytest.mark.parametrize("line", NOT_SECRETS)
def test_base_rules_leave_what_is_not_a_secret(line: str) -> None:
    assert base_scrubber().text(line) == line


def test_pem_private_key_body_is_masked() -> None:
    pem = (
        "k:\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNz\naC1rZXkt\n"
        "-----END OPENSSH PRIVATE KEY-----\nx\n"
    )
    assert base_scrubber().text(pem) == (
        "k:\n-----BEGIN OPENSSH PRIVATE KEY-----\n***\n-----END OPENSSH PRIVATE KEY-----\nx\n"
    )


# Every secret of the shared device configs (file, line, line as shown); nothing else changes.
DEVICE_SECRETS = [
    ("asa/ciscoconfparse_sample_01.asa", 10, "enable password *** encrypted"),
    ("asa/ciscoconfparse_sample_01.asa", 19, "passwd *** encrypted"),
    (
        "asa/ciscoconfparse_sample_01.asa",
        327,
        "snmp-server host INSIDE Machine01 poll community ***",
    ),
    ("asa/ciscoconfparse_sample_01.asa", 330, "snmp-server community ***"),
    (
        "asa/ciscoconfparse_sample_01.asa",
        379,
        "username mpenning password *** encrypted privilege 15",
    ),
    (
        "ios/batfish-lab_ios_as1border1_show_running-config.txt",
        47,
        "username demo privilege 15 secret 5 ***",
    ),
    (
        "ios/batfish-lab_ios_as1border1_show_running-config.txt",
        48,
        "username cisco privilege 15 password 0 ***",
    ),
    ("ios/ciscoconfparse_sample_01.ios", 24, "enable secret 5 ***"),
    ("ios/ciscoconfparse_sample_01.ios", 130, "username ddclient password 7 ***"),
    ("ios/ciscoconfparse_sample_01.ios", 146, "ip ftp password 7 ***"),
    ("ios/ciscoconfparse_sample_01.ios", 266, "ppp chap password 7 ***"),
    ("ios/ciscoconfparse_sample_01.ios", 267, "ppp pap sent-username auser password 7 ***"),
    ("ios/ciscoconfparse_sample_01.ios", 378, "snmp-server community *** RW 99"),
    ("ios/ciscoconfparse_sample_01.ios", 391, "snmp-server host 172.16.1.5 version 2c ***"),
    ("ios/ciscoconfparse_sample_08.ios", 24, "enable secret 5 ***"),
    ("ios/ciscoconfparse_sample_08.ios", 142, "username ddclient password 7 ***"),
    ("ios/ciscoconfparse_sample_08.ios", 158, "ip ftp password 7 ***"),
    (
        "ios/ciscoconfparse_sample_08.ios",
        289,
        "ospfv3 encryption ipsec spi 1001 esp null md5 0 ***",
    ),
    (
        "ios/ciscoconfparse_sample_08.ios",
        313,
        "ospfv3 encryption ipsec spi 1001 esp null md5 0 ***",
    ),
    (
        "ios/ciscoconfparse_sample_08.ios",
        358,
        "ospfv3 encryption ipsec spi 1001 esp null md5 0 ***",
    ),
    ("ios/ciscoconfparse_sample_08.ios", 365, "ppp chap password 7 ***"),
    ("ios/ciscoconfparse_sample_08.ios", 366, "ppp pap sent-username adialuser password 7 ***"),
    ("ios/ciscoconfparse_sample_08.ios", 487, "snmp-server community *** RW 99"),
    ("ios/ciscoconfparse_sample_08.ios", 500, "snmp-server host 172.16.1.5 version 2c ***"),
    (
        "iosxe/batfish-lab_iosxe1_eigrp_show_running-config.txt",
        75,
        "username cisco privilege 15 password 0 ***",
    ),
    (
        "iosxe/batfish-lab_iosxe_acl_show_running-config.txt",
        70,
        "username cisco privilege 15 password 0 ***",
    ),
    (
        "junos/batfish-lab_junos_pe1_show_configuration_display_set.txt",
        3,
        'set system root-authentication encrypted-password "***"',
    ),
    (
        "junos/batfish-lab_junos_pe1_show_configuration_display_set.txt",
        6,
        'set system login user admin authentication encrypted-password "***"',
    ),
    ("junos/ciscoconfparse_sample_01.junos", 12, 'encrypted-password "***"; ## SECRET-DATA'),
    ("junos/ciscoconfparse_sample_01.junos", 25, 'encrypted-password "***"; ## SECRET-DATA'),
    ("junos/ciscoconfparse_sample_03.junos", 295, "community *** {"),
]


def test_every_shared_device_config_secret_is_masked_and_nothing_else(shared_data: Path) -> None:
    root = shared_data / "devices" / "configs"
    files = sorted(
        p for p in root.rglob("*") if p.is_file() and not p.name.startswith(("LICENSE", "README"))
    )
    assert len(files) >= 18
    changed = []
    for file in files:
        text = file.read_text("utf-8", "surrogateescape")
        shown = base_scrubber().text(text)
        before, after = text.split("\n"), shown.split("\n")
        assert len(before) == len(after), file
        for number, (old, new) in enumerate(zip(before, after, strict=True), 1):
            if old != new:
                changed.append((str(file.relative_to(root)), number, new.strip()))
                # what was replaced is exactly the secret: the line is the same around it
                head, _, tail = new.partition("***")
                assert old.startswith(head) and old.endswith(tail) and len(old) > len(new) - 3
    assert changed == DEVICE_SECRETS


# --- linear time ---------------------------------------------------------------------------

# The words of every base rule; a 1 MB line of any of them (or any two) must scrub quickly:
# with a backtracking rule one such line takes hours (pytest-timeout ends the test).
WORDS = [
    "a",
    " ",
    "\t",
    "=",
    ":",
    "-",
    ".",
    "/",
    "@",
    "$",
    "<",
    ">",
    '"',
    "'",
    "{",
    "1",
    "key",
    "keykey",
    "pass",
    "password",
    "password ",
    "password 7 ",
    "secret ",
    "pw",
    "_pw",
    "-p",
    " -p",
    "mysql ",
    "mariadb",
    "--password ",
    "://",
    "a:b",
    "a:b@",
    "<password>",
    "<pass",
    "authorization: ",
    "bearer ",
    "root:",
    "root:$6$",
    "$1$",
    "$9$aaaaaa",
    "{SSHA}",
    "snmp ",
    "snmp-server host ",
    "community ",
    "community x ",
    "tacacs ",
    " key ",
    "key 7 ",
    "md5 ",
    "md5 7 ",
    "priv aes 128 ",
    "version 2c ",
    "-----BEGIN RSA PRIVATE KEY-----\n",
    "-----BEGIN ",
    "x\n",
]
BIG = 1 << 20


@pytest.mark.timeout(60)
@pytest.mark.parametrize("word", ["password 7 ", "keykey", " key ", "mysql -p", "-----BEGIN "])
def test_a_one_megabyte_line_scrubs(word: str) -> None:
    base_scrubber().text(word * (BIG // len(word)))


@pytest.mark.timeout(120)
def test_lines_of_every_rule_word_and_pair_scrub_in_linear_time() -> None:
    # A quarter of a megabyte is plenty: a backtracking rule needs minutes on it.
    scrubber = base_scrubber()
    for word in WORDS:
        scrubber.text(word * (BIG // 4 // len(word)))
    for first in WORDS:
        for second in ("password", "key ", "snmp ", " ", "=", ":", "mysql "):
            pair = first + second
            scrubber.text(pair * (BIG // 32 // len(pair)))


@pytest.mark.timeout(60)
def test_the_old_quadratic_masks_inputs_are_fast_now() -> None:
    # issue 8: SECRET_MASKS[0] took 26 s on 20 KB, the FIM mask 2.9 s on 20 KB of keykey...
    for line in ("a" * BIG, "keykey" * (BIG // 6), "password" * (BIG // 8), "-" * BIG):
        base_scrubber().text(line)


# --- a profile's own rules -----------------------------------------------------------------


def _profile_rules(text: str) -> Scrubber:
    errors: list[InputError] = []
    data = load_yaml_text(text, "checks/x.yml")
    rules = parse_rules(data["mask"], "checks/x.yml", data.line_of("mask"), errors)
    assert errors == []
    return scrubber_for(rules)


def test_profile_rules_run_after_the_base_rules_on_their_paths_only() -> None:
    scrubber = _profile_rules(
        "mask:\n  - paths: ['/etc/app/*']\n    regex: 'token (\\w+)'\n    replace: 'token <\\1>'\n"
    )
    text = "token abc\npassword=x\n"
    assert scrubber.text(text, "/etc/app/conf") == "token <abc>\npassword=***\n"
    assert scrubber.text(text, "/etc/other") == "token abc\npassword=***\n"
    assert scrubber.text(text) == "token abc\npassword=***\n"


@pytest.mark.timeout(60)
def test_a_profile_rule_that_backtracks_withholds_the_text_instead_of_hanging() -> None:
    scrubber = _profile_rules("mask:\n  - regex: '(a|aa)+$'\n")
    shown = scrubber.text("a" * 64 + "b", "/etc/x")
    assert shown == "*** (not shown: the mask rule at checks/x.yml:2 took too long)"


def test_bad_rules_are_errors_naming_file_and_line(tmp_path: Path) -> None:
    file = tmp_path / "secrets.yml"
    file.write_text(
        "rules:\n  - name: ok\n    regex: 'a(?P<s>b)'\n"
        "  - name: bad\n    regex: '(unclosed'\n  - colour: x\n"
    )
    with pytest.raises(InputErrors) as caught:
        load_rules(file)
    assert [(e.line, e.message.split(":")[0]) for e in caught.value.errors] == [
        (4, "rules"),
        (6, "rules"),
    ]


def test_shipped_secrets_file_is_no_platform_profile() -> None:
    assert "secrets" not in load_profiles()
    assert len(base_scrubber().rules) >= 15


# --- off the event loop --------------------------------------------------------------------


def test_large_work_runs_on_a_worker_thread_small_work_inline() -> None:
    def where() -> str:
        return threading.current_thread().name

    async def main() -> tuple[str, str]:
        return await off_loop(10, where), await off_loop(THREAD_THRESHOLD, where)

    small, large = asyncio.run(main())
    assert small == threading.main_thread().name and large != small


# --- properties over arbitrary input -------------------------------------------------------

_LINE = st.lists(st.characters(exclude_characters="\n") | st.sampled_from(WORDS[:-3])).map("".join)
_SECRET = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=10, max_size=20)


@given(st.binary())
def test_any_bytes_scrub_without_error(data: bytes) -> None:
    assert isinstance(base_scrubber().data(data, "/etc/x"), bytes)


@given(st.lists(_LINE, max_size=8))
def test_rules_are_line_local_and_idempotent(lines: list[str]) -> None:
    text = "\n".join(lines)
    shown = base_scrubber().text(text)
    assert shown == "\n".join(base_scrubber().text(line) for line in lines)
    assert base_scrubber().text(shown) == shown


@given(
    st.text(st.characters(exclude_characters="\n"), max_size=30),
    _SECRET,
    st.sampled_from(
        [
            "PGPASSWORD={}",
            "password 7 {}",
            "mysql -p{}",
            "ftp://u:{}@h",
            "<password>{}</password>",
            "Bearer {}",
            "snmp-server community {}",
            "tacacs-server key {}",
            "root:$6${}:1:",
        ]
    ),
    st.sampled_from([" ", "\t", "; ", " x "]),
)
def test_a_secret_in_any_surroundings_is_masked(
    prefix: str, secret: str, form: str, sep: str
) -> None:
    assume(secret not in prefix)
    line = f"{prefix} {form.format(secret)}{sep}tail"
    assert secret not in base_scrubber().text(line)

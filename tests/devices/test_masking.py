"""Normalisation and masking over every real device file of ../shared/data/devices: each config
and `show` output of configs/, and every command output of each recorded oxidized session, goes
through its platform's profile (`config: drop:`) and the one scrubber exactly as the config
collector stores it (`ospatrol.collect.configs.normalise`).

The test knows, per file, the secret values in it and the volatile lines: it rebuilds the
expected text on its own (volatile lines removed, each listed secret replaced by `***`, a PEM
body by one `***` line) and the normalised text must be exactly that, so a secret the scrubber
misses, a line it masks that holds none, or a volatile line left in all fail. Platforms without
an OSPatrol profile (NX-OS, EOS, FortiOS) go through the scrubber alone. The configs' masked
lines are also pinned line by line in tests/test_scrub.py (base rules alone).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

from ospatrol.collect.configs import ConfigProfile, normalise
from ospatrol.profiles import load_profiles
from ospatrol.scrub import MASK

PROFILES = load_profiles()
PLATFORMS = {
    "ios/": "cisco_ios",
    "iosxe/": "cisco_ios",
    "asa/": "cisco_asa",
    "junos/": "juniper_junos",
    "screenos/": "juniper_screenos",
    "ios_": "cisco_ios",
    "asa_": "cisco_asa",
    "junos_": "juniper_junos",
}
"""Which profile normalises a file, by the start of its name (configs/ folder or session file);
the rest have no OSPatrol profile."""

AAA = "AAAAAAAAAABBBBBBBBBBCCCCCCCCCC"
Secret = str | tuple[str, str]
SECRETS: dict[str, list[Secret]] = {
    "asa/ciscoconfparse_sample_01.asa": [
        "2KFQnbNIdI.2KYOU",
        ("community ", "public"),
        "dXRTaA5wrZ3OL8gz",
    ],
    "ios/batfish-lab_ios_as1border1_show_running-config.txt": [
        "$1$bOPC$Ledl3D.5Xx8hkXUgobF0i.",
        ("password 0 ", "cisco"),
    ],
    "ios/ciscoconfparse_sample_01.ios": [
        "$1$Q0Zl$LN7ONybETL5LJZF1",
        "107D3D232342041E3A",
        "023530612D5319347A",
        "SoMeThaNGwIErd",
    ],
    "ios/ciscoconfparse_sample_08.ios": [
        "$1$Q0Zl$LN7ONybETL5LJZF1",
        "107D3D232342041E3A",
        "023530612D5319347A",
        "27576134094768132473302031209727",
        "SoMeThaNGwIErd",
    ],
    "iosxe/batfish-lab_iosxe1_eigrp_show_running-config.txt": [("password 0 ", "cisco")],
    "iosxe/batfish-lab_iosxe_acl_show_running-config.txt": [("password 0 ", "cisco")],
    "junos/batfish-lab_junos_pe1_show_configuration_display_set.txt": [
        "$6$Cz5G1E8L$Gdcvgg1vZbOWt2QqDeifCSzeUs38E6uQpVPoEqeGNyGkk22DTasOWPLjov2S8fWetwimK2Bf"
        ".P8Qb0Q67pgI2/",
        "$6$pO.fAtUE$bszrhdr1td5vykjvmUcHJfB9U6P5FlaFqbr7/yGOgPzwwqdDVA8nEuSDKPnCWwvu6b/C6z9Am5"
        "3THXJoi6m.E1",
    ],
    "junos/ciscoconfparse_sample_01.junos": ["$1$y7ArHxKU$zUbdeLfBirgkCsKiOJ5Qa0"],
    "junos/ciscoconfparse_sample_03.junos": ["school-ro"],
    "asa_5512_9.12-4-67_single-context_simulation.yaml": [
        "******************",
        "0x12345678 0x9f012345 0x00000000 0x11111111 0x22222222",
        f"$sha512$5000${AAA}==",
        f"$sha512$5000${AAA}",
        AAA,
    ],
    "eos_DCS-7050SX3-48YC8_4.29.2F_simulation.yaml": ["publiccom", "string123", "string456"],
    "fortigate_FortiGate-91G_7.4.7_simulation.yaml": [AAA],
    "ios_C9200L-24P-4G_17.09.04a_simulation.yaml": [
        "AAAAAAAAAABBBBBBBBBB",
        "$9$xxxSECRET_ENABLExxxxxxxxxxxxxx",
        "$9$xxxxxxxxxxSECRET_OXIDIZEDxxxxxxxxx",
        ("community ", "public"),
    ],
    "ios_C9800-L-F-K9_17.06.05_simulation.yaml": [
        "$9$SECRET_REMOVED",
        "REMOVED_SECRET",
        "WLANSECR3T",
        "WLAN SECR3T",
        "7df35f90c92ecff2a803e79577b85e978edc0a76404f6cfb534df8d9f9f67beb",
        "DOT1XPASSW0RD",
        "MGMTPASSW0RD",
        "MGMTSECR3T",
        "DOT1X PASSW0RD",
        "MGMT PASSW0RD",
        "MGMT SECR3T",
    ],
    "ios_asr920_16.8.1b_simulation.yaml": [("secret 5 ", "password"), "ABCDEFGH1234"],
    "junos_srx300_22.4_simulation.yaml": [
        "very-secret-encrypted-password",
        "CorrectHorseBattery",
        "$9$FAKEHASHDATAXXXXXXXXXXXXXXXXXXXX",
    ],
    "junos_srx300_22.4_wo_cluster_simulation.yaml": ["very-secret-encrypted-password"],
    "nxos_C93180YC-FX3J_10.4.5_simulation.yaml": [AAA],
}
"""Every secret in each file (a file not listed holds none): the value, or (what precedes it,
the value) where the same word is also there as no secret (`username cisco ... password 0
cisco`)."""

VOLATILE: dict[str, list[str]] = {
    "asa/ciscoconfparse_sample_01.asa": [": Saved", ": Written by ", "Cryptochecksum:"],
    "ios/batfish-lab_ios_as1border1_show_running-config.txt": [
        "Building configuration...",
        "Current configuration : ",
    ],
    "ios/ccat_HR_startup-config.cfg": ["! Last configuration change at "],
    "ios/ciscoconfparse_sample_01.ios": ["ntp clock-period "],
    "ios/ciscoconfparse_sample_08.ios": ["ntp clock-period "],
    "iosxe/batfish-lab_iosxe1_eigrp_show_running-config.txt": [
        "Building configuration...",
        "Current configuration : ",
        "! Last configuration change at ",
    ],
    "iosxe/batfish-lab_iosxe_acl_show_running-config.txt": [
        "Building configuration...",
        "Current configuration : ",
        "! Last configuration change at ",
    ],
    "junos/ciscoconfparse_sample_01.junos": ["## Last commit: "],
    "junos/ntc_juniper_junos_show_version_srx_cluster.raw": ["{primary:node0}"],
    "asa_5512_9.12-4-67_single-context_simulation.yaml": [
        ": Saved",
        ": Serial Number: ",
        ": Hardware: ",
        ": Written by ",
        "Cryptochecksum:",
    ],
    "ios_C9200L-24P-4G_17.09.04a_simulation.yaml": [
        "Building configuration...",
        "Current configuration : ",
        "! Last configuration change at ",
        "! NVRAM config last updated at ",
    ],
    "ios_C9800-L-F-K9_17.06.05_simulation.yaml": [
        "Building configuration...",
        "Current configuration : ",
        "! Last configuration change at ",
        "! NVRAM config last updated at ",
    ],
    "ios_asr920_16.8.1b_simulation.yaml": [
        "Building configuration...",
        "Current configuration : ",
        "! Last configuration change at ",
    ],
    "junos_srx300_22.4_simulation.yaml": ["## Last commit: "],
    "junos_srx300_22.4_wo_cluster_simulation.yaml": ["## Last commit: "],
}
"""The volatile lines of each file (line starts) that the profile must drop."""

_PEM_BODY = re.compile(
    r"(-----BEGIN (?:[A-Z0-9]+ )*?PRIVATE KEY-----\n)(?:(?!-----(?:END|BEGIN) )[^\n]*\n)+"
)
_OXIDIZED_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|[rnt\"])")


def _unescape(text: str) -> str:
    """An oxidized simulation's output as the device sent it (`\\r`, `\\x20`, `\\"` ...)."""
    simple = {"r": "\r", "n": "\n", "t": "\t", '"': '"'}
    return _OXIDIZED_ESCAPE.sub(
        lambda m: simple.get(m[1]) or chr(int(m[1][1:], 16)),
        text,
    )


def _outputs(path: Path) -> list[tuple[str, str]]:
    """(what, text) of a device file: a config is one output, a session one per command."""
    if path.suffix != ".yaml":
        return [("file", path.read_text("utf-8", "surrogateescape"))]
    data = yaml.safe_load(path.read_text())
    commands = data.get("commands") or {}
    pairs = (
        [kv for item in commands for kv in item.items()]
        if isinstance(commands, list)
        else list(commands.items())
    )
    return [("init_prompt", data.get("init_prompt") or "")] + [
        (command.strip(), _unescape(output or "")) for command, output in pairs
    ]


def _files(root: Path) -> list[tuple[str, Path]]:
    devices = root / "devices"
    configs = [
        (str(p.relative_to(devices / "configs")), p)
        for p in sorted((devices / "configs").rglob("*"))
        if p.is_file() and not p.name.startswith(("LICENSE", "README"))
    ]
    sessions = [(p.name, p) for p in sorted((devices / "oxidized-simulations").glob("*.yaml"))]
    return configs + sessions


def _value(secret: Secret) -> str:
    return secret[1] if isinstance(secret, tuple) else secret


def _expected(text: str, secrets: list[Secret], volatile: list[str]) -> str:
    """What normalising and masking must give, built without the code under test."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept = [ln.rstrip() for ln in lines if not ln.startswith(tuple(volatile))]
    # Longest first, and only whole tokens: `password` the secret, not `password-encryption`.
    tokens = [
        re.compile(
            (rf"(?<={re.escape(s[0])})" if isinstance(s, tuple) else r"(?<![\w$./+=*-])")
            + rf"{re.escape(_value(s))}(?![\w$./+=*-])"
        )
        for s in sorted(secrets, key=lambda s: len(_value(s)), reverse=True)
    ]
    masked = []
    for line in kept:
        for token in tokens:
            line = token.sub(MASK, line)
        masked.append(line)
    while masked and not masked[-1]:
        masked.pop()
    while masked and not masked[0]:
        masked.pop(0)
    return _PEM_BODY.sub(lambda m: m[1] + MASK + "\n", "\n".join(masked) + "\n")


def test_every_file_is_listed_and_every_listed_value_is_in_it(shared_data: Path) -> None:
    files = dict(_files(shared_data))
    assert len(files) >= 31
    assert set(SECRETS) | set(VOLATILE) <= set(files)
    for name, values in SECRETS.items():
        raw = "\n".join(text for _, text in _outputs(files[name]))
        missing = [v for v in values if _value(v) not in raw]
        assert not missing, f"{name}: listed secrets not in the file: {missing}"
    for name, starts in VOLATILE.items():
        raw = [ln for _, t in _outputs(files[name]) for ln in t.replace("\r", "\n").split("\n")]
        missing = [s for s in starts if not any(ln.startswith(s) for ln in raw)]
        assert not missing, f"{name}: listed volatile lines not in the file: {missing}"


# Read when collected, to give each file its own test (conftest: skipped without the corpus).
FILES = _files(Path(os.environ["OSPATROL_TEST_DATA"]))


@pytest.mark.parametrize(("name", "path"), FILES, ids=[name for name, _ in FILES])
def test_normalised_file_is_the_file_minus_volatile_lines_with_secrets_masked(
    shared_data: Path, name: str, path: Path
) -> None:
    platform = next((p for start, p in PLATFORMS.items() if name.startswith(start)), None)
    section = PROFILES[platform].sections["config"] if platform else ConfigProfile(())
    secrets, volatile = SECRETS.get(name, []), VOLATILE.get(name, [])
    for what, text in _outputs(path):
        if not text.strip():
            continue
        shown = normalise(text, section)
        assert shown == _expected(text, secrets, volatile), f"{name}: {what}"
        leaked = [s for s in secrets if not isinstance(s, tuple) and s in shown]
        assert not leaked, f"{name}: {what}: {leaked}"

"""A changed secret in a device config is reported although the secret is never stored
(`ospatrol.collect.secret_tags`): the tags' core on text, then `ospatrol audit` against the
simulated ASA, whose enable password and SNMP community change behind unchanged masked lines."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest
from device_helpers import edited

from ospatrol.collect import secret_tags
from ospatrol.collect.configs import TAGS_PREFIX, changed_findings, normalise_tagged
from ospatrol.errors import InputError
from ospatrol.profiles import load_profiles
from tests.audit.conftest import host, run_cli, write_inventory

ASA = load_profiles()["cisco_asa"].sections["config"]
KEY = bytes(range(32))
CONFIG = (
    "hostname fw1\n"
    "enable password {enable} pbkdf2\n"
    "interface GigabitEthernet0/0\n"
    " nameif outside\n"
    "snmp-server community {community}\n"
    ": end\n"
)


def tagged(enable: str = "s3cret", community: str = "public", key: bytes = KEY):
    return normalise_tagged(CONFIG.format(enable=enable, community=community), ASA, key)


def test_tags_follow_the_secret_not_the_masked_text():
    text, tags = tagged()
    assert "s3cret" not in text and "public" not in text
    assert "enable password *** pbkdf2" in text.splitlines()
    assert set(tags) == {"enable password *** pbkdf2", "snmp-server community ***"}
    assert all(len(t) == secret_tags.TAG_HEX for ts in tags.values() for t in ts)
    same_text, new_tags = tagged(enable="0ther")
    assert same_text == text
    assert secret_tags.changed(tags, new_tags) == [("enable password *** pbkdf2", 0)]
    assert secret_tags.changed(tags, tagged()[1]) == []
    # Another key gives other tags: the stored tags say nothing without the key file.
    assert tagged(key=bytes(32))[1] != tags
    assert secret_tags.decode(secret_tags.encode(tags)) == tags
    for junk in (b"\xff", b"[1]", b'{"a": [1]}', b"not json"):
        assert secret_tags.decode(junk) == {}


def test_a_changed_secret_is_a_classified_finding_under_its_block():
    old, old_tags = tagged()
    new, new_tags = tagged(community="n3w")
    moved = secret_tags.changed(old_tags, new_tags)
    (finding,) = changed_findings("fw1", ASA.commands[0], old, new, ASA, moved)
    assert finding.diff == "@@ (top level)\n+ snmp-server community *** (secret changed)"
    assert finding.event_text.startswith(
        "ospatrol: config changed: 'show running-config': kind 'management plane opened' in "
        "'snmp-server'\n"
    )
    assert "n3w" not in finding.event_text and "public" not in finding.event_text


def test_several_lines_of_one_text_are_told_apart_by_occurrence():
    config = "line vty 0 4\n password {a}\nline vty 5 15\n password {b}\n: end\n"
    old, old_tags = normalise_tagged(config.format(a="x1", b="y1"), ASA, KEY)
    new, new_tags = normalise_tagged(config.format(a="x1", b="y2"), ASA, KEY)
    moved = secret_tags.changed(old_tags, new_tags)
    assert moved == [(" password ***", 1)]
    (finding,) = changed_findings("r1", ASA.commands[0], old, new, ASA, moved)
    assert "@@ line vty 5 15\n+ password *** (secret changed)" in finding.diff


def test_the_key_file_is_made_once_private_and_checked(tmp_path):
    assert secret_tags.load_key(tmp_path, create=False) is None
    assert not (tmp_path / secret_tags.KEY_FILE).exists()
    key = secret_tags.load_key(tmp_path, create=True)
    path = tmp_path / secret_tags.KEY_FILE
    assert len(key) == 32 and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert secret_tags.load_key(tmp_path, create=True) == key
    path.write_bytes(b"short")
    with pytest.raises(InputError, match=r"secret-tags\.key: a secret tag key is 32 bytes"):
        secret_tags.load_key(tmp_path, create=False)


def test_audit_reports_a_changed_enable_password_and_community_of_the_simulated_asa(
    lab_simulator, tmp_path
):
    info = lab_simulator.host("cisco_asa")
    inventory = write_inventory(
        tmp_path / "inv.yml",
        {
            "fw1": {
                "ansible_host": "127.0.0.1",
                "ansible_port": info["port"],
                "ansible_user": info["user"],
                "ansible_password": info["password"],
                "ansible_become": True,
                "ansible_become_password": info["enable_password"],
                "ansible_network_os": "asa",
                "ansible_connection": "network_cli",
            }
        },
    )
    state = tmp_path / "state"
    audit = ("audit", "-i", str(inventory), "--only", "config", "--format", "json")
    # A dry run before any real run makes no key (it writes nothing).
    dry = run_cli(state, *audit, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert not (state / secret_tags.KEY_FILE).exists()
    first = host(run_cli(state, *audit).json(), "fw1")
    assert (first["status"], first["findings"]) == ("ok", []), first
    assert host(run_cli(state, *audit).json(), "fw1")["findings"] == []
    config = lab_simulator.host("cisco_asa")["config_file"]
    old_hash = "$sha512$5000$c2ltLWFzYS1lbmFibGU=$0xTjVwPG2m6b5f3kXJ8aQw=="
    new_hash = "$sha512$5000$YXR0YWNrZXI=$Zm9yZ2VkLWJ5LWFuLWF0dGFja2Vy"

    def rotated(text: str) -> str:
        assert old_hash in text
        return text.replace(old_hash, new_hash)

    with edited(Path(config), rotated):
        changed = host(run_cli(state, *audit).json(), "fw1")
    events = [f["event"] for f in changed["findings"]]
    assert len(events) == 1, events
    assert "+ enable password *** pbkdf2 (secret changed)" in events[0].splitlines()
    assert changed["findings"][0]["level"] >= 7
    # Back to the old hash is a change too; then quiet again.
    back = host(run_cli(state, *audit).json(), "fw1")
    assert [f["event"].splitlines()[-1] for f in back["findings"]] == [
        "+ enable password *** pbkdf2 (secret changed)"
    ]
    assert host(run_cli(state, *audit).json(), "fw1")["findings"] == []
    # The secret is nowhere in the store; the tags are not a config version.
    with sqlite3.connect(state / "ospatrol.db") as db:
        dump = "\n".join(db.iterdump())
    assert old_hash not in dump and new_hash not in dump
    history = run_cli(state, "config", "history", "fw1")
    assert TAGS_PREFIX not in history.stdout and "show running-config" in history.stdout


def test_a_mask_over_several_lines_keeps_the_other_lines_tagged():
    """A PEM private key's body is masked as one `***` line: that region gets one tag and the
    lines after it are still paired with their own (a length change does not blind the rest)."""
    config = (
        "crypto key\n-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----\n"
        "enable password {enable} pbkdf2\n: end\n"
    )
    body = "MIIEpAIBAAKCAQEA\nq8Tn0Zz7rWm2\nAbCdEf=="
    old, old_tags = normalise_tagged(config.format(body=body, enable="a"), ASA, KEY)
    assert "MIIEpAIBAAKCAQEA" not in old
    _, new_tags = normalise_tagged(config.format(body=body, enable="b"), ASA, KEY)
    assert secret_tags.changed(old_tags, new_tags) == [("enable password *** pbkdf2", 0)]
    rekeyed = normalise_tagged(config.format(body=body.replace("q8", "Q9"), enable="a"), ASA, KEY)
    assert rekeyed[0] == old
    (moved,) = secret_tags.changed(old_tags, rekeyed[1])
    (finding,) = changed_findings("fw1", ASA.commands[0], old, rekeyed[0], ASA, [moved])
    assert "(secret changed)" in finding.diff

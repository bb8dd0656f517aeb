"""Active responses on other hosts over SSH, against the lab's real OpenSSH server.

An SSH brute force sent with `logger` makes the manager run a test action on the host the
events came from (the inventory host at the sender's address): it leaves a marker file named
after the validated address, and the `delete` after the timeout removes it. Crafted fields are
rejected and logged; whatever reaches the remote shell is quoted word by word.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from ospatrol.config import Config
from ospatrol.errors import InputErrors
from ospatrol.inventory import load_inventory
from ospatrol.manager.config import load_manager_config
from ospatrol.respond.remote import response_transport, run_remote
from ospatrol.transport import TransportSettings

# Some ed25519 public key (the silent server below never gets to show one).
PINNED = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGhOuMIQ6ZlDtcN1yw3J5d9PmHMMPU8lmXnLdtYhYZqh"

# A remote action: records its argv in MARKERS/<its name>-<srcip>; `delete` removes the file.
ACTION = """#!{python}
import json, os, sys
name, action, srcip = os.path.basename(sys.argv[0]), sys.argv[1], sys.argv[3]
marker = os.path.join({markers!r}, name + "-" + srcip)
if action == "add":  # written whole, then renamed: the test reads it as soon as it appears
    with open(marker + ".tmp", "w") as out:
        json.dump(sys.argv[1:], out)
    os.replace(marker + ".tmp", marker)
else:
    os.remove(marker)
"""


def _inventory(path: Path, sshd, **extra: str) -> Path:
    lab1 = {
        **extra,
        "ansible_host": "127.0.0.1",
        "ansible_port": sshd.port,
        "ansible_user": sshd.user,
        "ansible_ssh_private_key_file": str(sshd.client_key),
    }
    path.write_text(yaml.safe_dump({"all": {"children": {"edge": {"hosts": {"lab1": lab1}}}}}))
    return path


def _actions(tmp_path: Path, *names: str) -> Path:
    markers = tmp_path / "markers"
    markers.mkdir()
    for name in names:
        script = tmp_path / name
        script.write_text(ACTION.format(python=sys.executable, markers=str(markers)))
        script.chmod(0o755)
    return markers


def _logger(port: int, message: str) -> None:
    subprocess.run(
        ["logger", "--tcp", "-n", "127.0.0.1", "-P", str(port), "-t", "sshd", "--", message],
        check=True,
        timeout=30,
    )


def _wait(predicate, manager, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, manager.log()
        time.sleep(0.1)


def test_brute_force_blocks_on_the_origin_host_then_unblocks(
    manager_factory, lab_sshd, tmp_path: Path
) -> None:
    markers = _actions(tmp_path, "remote-block", "remote-probe")
    _inventory(tmp_path / "inventory.yml", lab_sshd)
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "known_hosts").write_text(lab_sshd.known_hosts_line + "\n")
    manager = manager_factory(
        f"""
syslog:
  - {{protocol: tcp, listen: "127.0.0.1:0"}}
inventory: inventory.yml
commands:
  - {{name: block, executable: {tmp_path / "remote-block"}, expect: [srcip]}}
  - {{name: probe, executable: {tmp_path / "remote-probe"}, expect: [srcip]}}
  - {{name: lock, executable: {tmp_path / "remote-block"}, expect: [user]}}
active_response:
  - {{command: block, rules_group: [brute_force], timeout: 3, location: origin}}
  - {{command: probe, rules_id: [80206], location: host lab1}}
  - {{command: lock, rules_id: [80201], location: group edge}}
""",
        env={"SSH_AUTH_SOCK": "", "HOME": str(tmp_path)},
    )
    port = manager.port("tcp")
    for _ in range(10):
        _logger(port, "Failed password for root from 192.0.2.51 port 4242 ssh2")
    _logger(port, "Failed password for root from 1.2.3.4;rm${IFS}-rf${IFS}/ port 22 ssh2")
    _logger(port, "Accepted password for $(id) from 10.1.1.1 port 22 ssh2")
    block = markers / "remote-block-192.0.2.51"
    _wait(block.exists, manager)
    add = json.loads(block.read_text())
    # OSSEC's argv, each value one word on the remote side: action, user, srcip, alert id,
    # rule id, location (the sender's address, which made lab1 the origin)
    assert add[:3] == ["add", "-", "192.0.2.51"] and add[4:] == ["80240", "syslog:127.0.0.1"]
    # The responses of one alert run concurrently: the probe may land after the block.
    probe = markers / "remote-probe-192.0.2.51"
    _wait(probe.exists, manager)
    assert json.loads(probe.read_text())[:3] == add[:3]
    ar_log = manager.state / "active-responses.log"
    _wait(lambda: "delete block srcip=192.0.2.51 on lab1" in ar_log.read_text(), manager)
    assert not block.exists()
    assert manager.stop() == 0
    text = ar_log.read_text()
    assert "add block srcip=192.0.2.51 on lab1: ok" in text
    assert "delete block srcip=192.0.2.51 on lab1: ok" in text
    assert (
        "rejected probe for rule 80206: srcip '1.2.3.4;rm${IFS}-rf${IFS}/' is not an IP address"
        in text
    )
    assert "rejected lock for rule 80201: user '$(id)' is not a plain user name" in text
    # only the validated address ever reached the host
    assert sorted(p.name for p in markers.iterdir()) == ["remote-probe-192.0.2.51"]


def test_an_origin_outside_the_inventory_is_rejected(
    manager_factory, lab_sshd, tmp_path: Path
) -> None:
    _actions(tmp_path, "remote-block")
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"all": {"hosts": {"far": {"ansible_host": "192.0.2.9"}}}}))
    manager = manager_factory(
        f"""
syslog:
  - {{protocol: tcp, listen: "127.0.0.1:0"}}
inventory: inventory.yml
commands:
  - {{name: block, executable: {tmp_path / "remote-block"}, expect: [srcip]}}
active_response:
  - {{command: block, rules_id: [80206], location: origin}}
"""
    )
    _logger(manager.port("tcp"), "Failed password for root from 192.0.2.52 port 4242 ssh2")
    ar_log = manager.state / "active-responses.log"
    _wait(ar_log.exists, manager)
    assert manager.stop() == 0
    assert "rejected block for rule 80206: origin " in ar_log.read_text()
    assert "is not a host of the inventory" in ar_log.read_text()


def test_an_unreachable_host_holds_up_no_other_response(manager_factory, tmp_path: Path) -> None:
    _actions(tmp_path, "remote-block")
    record = tmp_path / "local-lock"
    record.write_text(f'#!/bin/sh\necho "$@" >> {tmp_path / "locked"}\n')
    record.chmod(0o755)
    # A port that accepts connections and never says a word: SSH waits for its time-out.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    port = silent.getsockname()[1]
    far = {"ansible_host": "127.0.0.1", "ansible_port": port}
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump({"all": {"hosts": {"far": far}}}))
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "known_hosts").write_text(f"[127.0.0.1]:{port} {PINNED}\n")
    manager = manager_factory(
        f"""
connect_timeout: 4
syslog:
  - {{protocol: tcp, listen: "127.0.0.1:0"}}
inventory: inventory.yml
commands:
  - {{name: block, executable: {tmp_path / "remote-block"}, expect: [srcip]}}
  - {{name: lock, executable: {record}, expect: [user]}}
active_response:
  - {{command: block, rules_id: [80206], location: host far}}
  - {{command: lock, rules_id: [80201]}}
"""
    )
    syslog = manager.port("tcp")
    _logger(syslog, "Failed password for root from 192.0.2.60 port 22 ssh2")
    # The block on far is under way (its SSH connection reached far's silent port) before the
    # lock's alert arrives.
    silent.settimeout(60)
    hung, _ = silent.accept()
    _logger(syslog, "Accepted password for bob from 10.1.1.2 port 22 ssh2")
    locked = tmp_path / "locked"
    ar_log = manager.state / "active-responses.log"
    _wait(lambda: ar_log.exists() and "add lock user=bob: ok" in ar_log.read_text(), manager)
    assert "on far" not in ar_log.read_text()  # the lock did not wait for far's time-out
    _wait(lambda: "add block srcip=192.0.2.60 on far: " in ar_log.read_text(), manager)
    assert manager.stop() == 0
    assert "add block srcip=192.0.2.60 on far: ok" not in ar_log.read_text()
    assert locked.read_text().split()[:2] == ["add", "bob"]
    hung.close()
    silent.close()


def test_remote_words_reach_the_command_unchanged_never_as_shell(
    lab_sshd, tmp_path: Path, monkeypatch
) -> None:
    """The quoting itself, through the lab host's real login shell."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    known = tmp_path / "known_hosts"
    known.write_text(lab_sshd.known_hosts_line + "\n")
    host = load_inventory(_inventory(tmp_path / "inventory.yml", lab_sshd)).select("lab1")[0]
    canary = tmp_path / "canary"
    words = [f"$(touch {canary})", f"; touch {canary}", "`id`", "a b", "'\"", "*"]
    script = tmp_path / "echo-args"
    script.write_text(f"#!{sys.executable}\nimport json, sys\nprint(json.dumps(sys.argv[1:]))\n")
    script.chmod(0o755)
    settings = TransportSettings(known_hosts=known, host_key_policy="strict")
    ok, outcome = asyncio.run(run_remote(host, [str(script), *words], settings, 30))
    assert (ok, outcome) == (True, "ok")
    assert not canary.exists()
    # the same words, read back by a command that prints its argv
    printed = tmp_path / "printed"
    dump = f"import json, sys; open({str(printed)!r}, 'w').write(json.dumps(sys.argv[1:]))"
    ok, _ = asyncio.run(run_remote(host, [sys.executable, "-c", dump, *words], settings, 30))
    assert ok and json.loads(printed.read_text()) == words and not canary.exists()


def test_a_host_whose_key_is_not_pinned_gets_no_command(lab_sshd, tmp_path: Path) -> None:
    # even when the host's own audits trust a first key
    inventory = _inventory(tmp_path / "inventory.yml", lab_sshd, ospatrol_host_key_policy="tofu")
    host = load_inventory(inventory).select("lab1")[0]
    assert host.options.host_key_policy == "tofu"
    settings = response_transport(Config(), tmp_path)
    ok, outcome = asyncio.run(run_remote(host, ["true"], settings, 30))
    assert not ok and "no host key" in outcome
    assert not (tmp_path / "known_hosts").exists()  # nothing pinned either


@pytest.mark.parametrize(
    ("location", "executable", "message"),
    [
        (
            "host nosuch",
            "/bin/true",
            "active_response[0].location: no host 'nosuch' in the inventory",
        ),
        ("group nosuch", "/bin/true", "active_response[0].location: no group 'nosuch'"),
        ("origin", "host-deny", "active_response[0].location: host-deny runs on the manager only"),
        ("origin", "relative/prog", "its executable must be an absolute path there"),
        ("everywhere", "/bin/true", "expected local, origin, 'host NAME' or 'group NAME'"),
    ],
)
def test_remote_locations_are_checked_when_loading(
    tmp_path: Path, location: str, executable: str, message: str
) -> None:
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"all": {"hosts": {"lab1": {"ansible_host": "10.0.0.1"}}}}))
    config = tmp_path / "ospatrol.yml"
    config.write_text(
        "inventory: inventory.yml\n"
        "commands:\n"
        f"  - {{name: block, executable: {executable}, expect: [srcip]}}\n"
        "active_response:\n"
        f"  - {{command: block, level: 10, location: {location}}}\n"
    )
    with pytest.raises(InputErrors) as caught:
        load_manager_config(config)
    assert f"{config}:5: " in str(caught.value) and message in str(caught.value)


def test_a_remote_only_program_need_not_exist_on_the_manager(tmp_path: Path) -> None:
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"all": {"hosts": {"lab1": {"ansible_host": "10.0.0.1"}}}}))
    config = tmp_path / "ospatrol.yml"
    config.write_text(
        "inventory: inventory.yml\n"
        "commands:\n"
        "  - {name: block, executable: /opt/remote-only/block, expect: [srcip]}\n"
        "active_response:\n"
        "  - {command: block, level: 10, location: host lab1}\n"
    )
    (rule,) = load_manager_config(config).responses.rules
    assert (rule.location.kind, rule.location.hosts) == ("host", ("lab1",))
    config.write_text(config.read_text().replace("location: host lab1", "location: local"))
    with pytest.raises(InputErrors, match="no such program: /opt/remote-only/block"):
        load_manager_config(config)
    config.write_text(config.read_text().replace("inventory: inventory.yml\n", ""))
    config.write_text(config.read_text().replace("location: local", "location: origin"))
    with pytest.raises(InputErrors, match="'origin' needs the hosts of an `inventory:`"):
        load_manager_config(config)

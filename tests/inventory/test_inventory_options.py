"""Connection options typed once at load: time-outs, algorithms, ssh arguments, secrets."""

from __future__ import annotations

import logging
import pickle
from pathlib import Path

import pytest

from ospatrol.inventory import CONNECTIONS, load_inventory
from ospatrol.inventory.options import DEFAULT_MAX_SESSIONS, ConnectionOptions
from ospatrol.transport.registry import TRANSPORTS

INVENTORY = """\
all:
  vars:
    ospatrol_connect_timeout: 4
    ospatrol_ssh_kex_algs: curve25519-sha256, ecdh-sha2-nistp256
  hosts:
    plain:
    tuned:
      ospatrol_connect_timeout: "2.5"
      ansible_command_timeout: 30
      ospatrol_host_timeout: 120
      ospatrol_ssh_max_sessions: "3"
      ospatrol_host_key_policy: strict
      ospatrol_ssh_encryption_algs: [aes256-ctr]
      ospatrol_ssh_legacy_algorithms: yes
      ansible_ssh_private_key_file: ~/.ssh/id_enc
      ansible_ssh_private_key_passphrase: pp-never-shown
    args:
      ansible_port: 2201
      ansible_ssh_common_args: >-
        -o UserKnownHostsFile="/etc/ospatrol/hosts /dev/null" -o StrictHostKeyChecking=yes
        -J jump@bastion:2222 -oCiphers=aes128-ctr -o MACs=hmac-sha2-256 -p 2022
        -o ControlMaster=auto -C
      ansible_ssh_extra_args: -i /keys/extra -o Port=2023 -o ConnectTimeout=7 -o KexAlgorithms=+x
    portargs:
      ansible_ssh_extra_args: -o Port=2023 -o StrictHostKeyChecking=accept-new
    router:
      ansible_network_os: cisco.ios.ios
      ansible_connection: ansible.netcommon.network_cli
      ansible_become: yes
      ansible_become_method: enable
      ansible_become_password: en-never-shown
"""


@pytest.fixture
def hosts(tmp_path: Path):
    path = tmp_path / "hosts.yml"
    path.write_text(INVENTORY)
    return load_inventory(path).hosts


def test_defaults_and_group_vars_become_typed_options(hosts):
    plain = hosts["plain"].options
    assert plain == ConnectionOptions(
        connect_timeout=4.0, kex_algs=("curve25519-sha256", "ecdh-sha2-nistp256")
    )
    assert plain.command_timeout is None and plain.host_timeout is None
    assert plain.max_sessions == DEFAULT_MAX_SESSIONS and plain.host_key_policy is None


def test_ospatrol_and_ansible_vars_are_converted_once(hosts):
    tuned = hosts["tuned"].options
    assert (tuned.connect_timeout, tuned.command_timeout, tuned.host_timeout) == (2.5, 30.0, 120.0)
    assert (tuned.max_sessions, tuned.host_key_policy) == (3, "strict")
    assert tuned.encryption_algs == ("aes256-ctr",) and tuned.legacy_algorithms
    assert tuned.key_passphrase == "pp-never-shown"
    assert hosts["tuned"].credentials.private_key_file == "~/.ssh/id_enc"


def test_the_key_passphrase_is_never_shown(hosts):
    host = hosts["tuned"]
    assert "pp-never-shown" not in repr(host.options) + repr(host)
    assert "key_passphrase='***'" in repr(host.options)
    assert host.public_vars()["ansible_ssh_private_key_passphrase"] == "***"
    # Records cross processes (the manager's workers): the options survive pickling.
    assert pickle.loads(pickle.dumps(host.options)) == host.options


def test_ssh_arguments_are_honoured_as_openssh_reads_them(hosts):
    args = hosts["args"]
    options = args.options
    assert args.port == 2201  # ansible_port wins over -p / Port, as in Ansible's command line
    assert options.known_hosts_files == ("/etc/ospatrol/hosts",)
    assert options.host_key_policy == "strict"
    assert options.proxy_jump == "jump@bastion:2222"
    assert options.encryption_algs == ("aes128-ctr",)
    assert options.mac_algs == ("hmac-sha2-256",)
    assert options.kex_algs == ("curve25519-sha256", "ecdh-sha2-nistp256")  # the var wins
    assert options.identity_files == ("/keys/extra",)
    assert options.connect_timeout == 4.0  # ospatrol_connect_timeout (group) beats ConnectTimeout
    portargs = hosts["portargs"]
    assert portargs.port == 2023 and portargs.options.host_key_policy is None


def test_unsupported_ssh_arguments_are_refused_with_a_warning_per_host(tmp_path: Path, caplog):
    path = tmp_path / "hosts.yml"
    path.write_text(INVENTORY)
    with caplog.at_level(logging.WARNING, logger="ospatrol.inventory.options"):
        load_inventory(path)
    refused = sorted(r.getMessage().split(" is not supported")[0] for r in caplog.records)
    assert refused == [
        "host args: ssh argument '-C'",
        "host args: ssh argument '-o ControlMaster=auto'",
    ]


def test_network_become_means_enable(hosts):
    router = hosts["router"]
    assert router.connection == "network_cli" and router.platform == "cisco_ios"
    assert router.options.enable and router.options.network_os == "cisco.ios.ios"
    assert router.credentials.enable_secret == "en-never-shown"
    assert not hosts["plain"].options.enable


def test_one_connection_table_for_inventory_and_transports():
    for kind, entry in TRANSPORTS.items():
        assert CONNECTIONS[kind] == kind
        assert all(CONNECTIONS[alias] == kind for alias in entry.aliases)
    assert set(CONNECTIONS.values()) == set(TRANSPORTS)

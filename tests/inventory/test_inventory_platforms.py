"""Vars to typed `Host` fields: platform table, connection, port, booleans, credentials, origins."""

from __future__ import annotations

from pathlib import Path

import pytest

from ospatrol.errors import InputError, InputErrors
from ospatrol.inventory import NETWORK_OS, PLATFORMS, load_inventory
from ospatrol.inventory.platforms import to_bool


def _yaml(tmp_path: Path, host_vars: str, name: str = "hosts.yml") -> Path:
    path = tmp_path / name
    body = "".join(f"          {line}\n" for line in host_vars.strip().splitlines())
    path.write_text(f"all:\n  children:\n    g:\n      hosts:\n        h1:\n{body}")
    return path


def _host(tmp_path: Path, host_vars: str):
    return load_inventory(_yaml(tmp_path, host_vars)).hosts["h1"]


def test_every_table_entry_is_a_valid_platform():
    assert set(NETWORK_OS.values()) <= set(PLATFORMS)
    assert set(PLATFORMS) <= set(NETWORK_OS)


@pytest.mark.parametrize(
    ("network_os", "platform"),
    [
        ("ios", "cisco_ios"),
        ("cisco.ios.ios", "cisco_ios"),
        ("asa", "cisco_asa"),
        ("cisco.asa.asa", "cisco_asa"),
        ("pix", "cisco_asa"),
        ("fwsm", "cisco_asa"),
        ("nxos", "cisco_nxos"),
        ("cisco.nxos.nxos", "cisco_nxos"),
        ("eos", "arista_eos"),
        ("arista.eos.eos", "arista_eos"),
        ("junos", "juniper_junos"),
        ("junipernetworks.junos.junos", "juniper_junos"),
        ("screenos", "juniper_screenos"),
        ("gaia", "checkpoint_gaia"),
        ("checkpoint", "checkpoint_gaia"),
        ("check_point.gaia.checkpoint", "checkpoint_gaia"),
    ],
)
def test_network_os_maps_to_platform(tmp_path: Path, network_os: str, platform: str):
    host = _host(tmp_path, f"ansible_network_os: {network_os}")
    assert host.platform == platform
    assert host.connection == "network_cli"


def test_ospatrol_platform_overrides_network_os(tmp_path: Path):
    host = _host(tmp_path, "ansible_network_os: ios\nospatrol_platform: esxi")
    assert (host.platform, host.connection) == ("esxi", "ssh")


@pytest.mark.parametrize(
    ("connection", "expected"),
    [
        ("local", "local"),
        ("ansible.builtin.local", "local"),
        ("ssh", "ssh"),
        ("paramiko", "ssh"),
        ("smart", "ssh"),
    ],
)
def test_unix_connections(tmp_path: Path, connection: str, expected: str):
    host = _host(tmp_path, f"ansible_connection: {connection}")
    assert (host.platform, host.connection) == ("linux", expected)


def test_unknown_network_os_names_host_file_and_line(tmp_path: Path):
    with pytest.raises(InputError) as info:
        _host(tmp_path, "ansible_user: x\nansible_network_os: vyos")
    err = info.value
    assert (err.path, err.line) == (str(tmp_path / "hosts.yml"), 7)
    assert "'h1'" in err.message and "vyos" in err.message


def test_unknown_network_os_set_in_group_vars_points_there(tmp_path: Path):
    source = _yaml(tmp_path, "ansible_user: x")
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "g.yml").write_text("a: 1\nansible_network_os: routeros\n")
    with pytest.raises(InputError) as info:
        load_inventory(source)
    assert (info.value.path, info.value.line) == (str(tmp_path / "group_vars" / "g.yml"), 2)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("ospatrol_platform: windows", "ospatrol_platform"),
        ("ansible_connection: winrm", "ansible_connection"),
        ("ansible_connection: network_cli", "needs ansible_network_os"),
        ("ansible_port: abc", "port number"),
        ("ansible_port: 70000", "between 1 and 65535"),
        ("ansible_port: 22.5", "port number"),
        ("ansible_become: maybe", "not a boolean"),
    ],
)
def test_bad_values_are_input_errors_with_line(tmp_path: Path, line: str, message: str):
    with pytest.raises(InputError, match=message) as info:
        _host(tmp_path, line)
    assert info.value.line == 6


def test_all_host_errors_are_reported_together(tmp_path: Path):
    path = tmp_path / "hosts.ini"
    path.write_text("a ansible_port=x\nb ansible_network_os=nope\nc\n")
    with pytest.raises(InputErrors) as info:
        load_inventory(path)
    assert [(e.path, e.line) for e in info.value.errors] == [(str(path), 1), (str(path), 2)]


def test_port_strings_become_ints_and_port_in_name_counts(tmp_path: Path):
    path = tmp_path / "hosts.ini"
    path.write_text("a ansible_port='2222'\nb:2200\n10.0.0.1:2201 ansible_ssh_port=2300\n")
    hosts = load_inventory(path).hosts
    assert [h.port for h in hosts.values()] == [2222, 2200, 2201]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        ("yes", True),
        ("On", True),
        ("1", True),
        (1, True),
        ("t", True),
        (False, False),
        ("no", False),
        ("OFF", False),
        ("0", False),
        (0, False),
        ("f", False),
    ],
)
def test_booleans_as_ansible_reads_them(value, expected):
    assert to_bool(value) is expected


def test_credentials_and_address(tmp_path: Path):
    host = _host(
        tmp_path,
        """
ansible_host: 192.0.2.7
ansible_ssh_user: admin
ansible_ssh_pass: pw1
ansible_private_key_file: /k
ansible_become: "yes"
ansible_become_method: su
ansible_become_user: operator
ansible_become_pass: pw2
""",
    )
    creds = host.credentials
    assert host.address == "192.0.2.7"
    assert (creds.user, creds.password, creds.private_key_file) == ("admin", "pw1", "/k")
    assert (creds.become, creds.become_method, creds.become_user) == (True, "su", "operator")
    assert creds.become_password == "pw2" and creds.enable_secret is None
    assert "pw1" not in repr(host) and "pw2" not in repr(host)
    assert host.public_vars()["ansible_ssh_pass"] == "***"


def test_public_vars_mask_nested_credentials(tmp_path: Path):
    host = _host(
        tmp_path,
        "app:\n  db_password: hunter2\n  port: 5432\nusers:\n  - name: bob\n    password: s3cr3t\n",
    )
    shown = host.public_vars()
    assert shown["app"] == {"db_password": "***", "port": 5432}
    assert shown["users"] == [{"name": "bob", "password": "***"}]
    assert host.vars["app"]["db_password"] == "hunter2"


def test_network_devices_get_the_become_password_as_enable_secret(tmp_path: Path):
    host = _host(tmp_path, "ansible_network_os: ios\nansible_become_password: en")
    assert host.credentials.enable_secret == "en"


def test_defaults(tmp_path: Path):
    host = load_inventory("web1,web2:2022,").hosts["web1"]
    assert (host.address, host.port, host.platform, host.connection) == ("web1", 22, "linux", "ssh")
    assert host.groups == ("ungrouped",)
    assert host.credentials.become is False and host.user is None


def test_origin_of_each_resolved_variable(tmp_path: Path):
    source = _yaml(tmp_path, "x: host")
    (tmp_path / "host_vars").mkdir()
    (tmp_path / "host_vars" / "h1.yml").write_text("\ny: file\n")
    inventory = load_inventory(source)
    assert str(inventory.origin("h1", "x")) == f"{source}:6"
    assert str(inventory.origin("h1", "y")) == f"{tmp_path / 'host_vars' / 'h1.yml'}:2"
    assert inventory.origin("h1", "nope") is None


def test_groups_expose_depth_priority_and_vars(tmp_path: Path):
    path = tmp_path / "hosts.ini"
    path.write_text("[a]\nh\n[b:children]\na\n[b:vars]\nansible_group_priority=3\nv=1\n")
    groups = load_inventory(path).groups
    assert (groups["b"].depth, groups["a"].depth, groups["b"].priority) == (1, 2, 3)
    assert dict(groups["b"].vars) == {"v": 1}
    assert groups["a"].parents == ("b",) and groups["b"].children == ("a",)

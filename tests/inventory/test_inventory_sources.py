"""Source kinds and format details: several sources, host lists, tags, encodings, skipped files."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from ospatrol.errors import InputError
from ospatrol.inventory import load_inventory


def test_several_sources_add_up_and_each_has_its_vars_dirs(tmp_path: Path):
    first, second = tmp_path / "a", tmp_path / "b"
    for folder in (first, second):
        (folder / "group_vars").mkdir(parents=True)
    (first / "hosts.ini").write_text("[web]\nw1\n")
    (first / "group_vars" / "web.yml").write_text("from_a: 1\nboth: a\n")
    (second / "hosts.yml").write_text("web:\n  hosts:\n    w2:\n")
    (second / "group_vars" / "web.yml").write_text("both: b\n")
    inventory = load_inventory([first / "hosts.ini", second / "hosts.yml"])
    assert list(inventory.hosts) == ["w1", "w2"]
    assert dict(inventory.hosts["w2"].vars) == {"from_a": 1, "both": "b"}
    assert inventory.groups["web"].hosts == ("w1", "w2")


def test_host_list_source():
    inventory = load_inventory("web1, 192.0.2.4:2222 ,[::1]:2200,")
    assert [(h.name, h.port) for h in inventory.hosts.values()] == [
        ("web1", 22),
        ("192.0.2.4", 2222),
        ("::1", 2200),
    ]


def test_unsafe_tag_is_a_plain_string(tmp_path: Path):
    path = tmp_path / "hosts.yml"
    path.write_text("all:\n  hosts:\n    h:\n      ansible_password: !unsafe 'p{{a}}%'\n")
    assert load_inventory(path).hosts["h"].credentials.password == "p{{a}}%"


def test_undecodable_comment_lines_keep_line_numbers(tmp_path: Path):
    path = tmp_path / "hosts"
    path.write_bytes(b"# caf\xe9\n[g]\nh1\n# \xff\nh2 ansible_port=x\n")
    with pytest.raises(InputError) as info:
        load_inventory(path)
    assert info.value.line == 5


def test_file_without_extension_may_be_yaml_or_ini(tmp_path: Path):
    (tmp_path / "one").write_text("all:\n  hosts:\n    y1:\n")
    (tmp_path / "two").write_text("i1\n[g]\ni2\n")
    inventory = load_inventory(tmp_path)
    assert list(inventory.hosts) == ["y1", "i1", "i2"]


def test_unknown_yaml_keys_warn(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    path = tmp_path / "hosts.yml"
    path.write_text("all:\n  hosts:\n    h:\n  host:\n    typo: {}\n")
    with caplog.at_level(logging.WARNING, logger="ospatrol.inventory"):
        inventory = load_inventory(path)
    assert list(inventory.hosts) == ["h"]
    assert f"{path}:4" in caplog.text and "'host'" in caplog.text


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("aws_ec2.yml", "plugin: amazon.aws.aws_ec2\nregions: [eu-west-1]\n"),
        ("hosts.toml", "[web.hosts.w1]\n"),
        ("script", "#!/bin/sh\necho '{}'\n"),
    ],
)
def test_plugin_configs_toml_and_scripts_are_skipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, name: str, text: str
):
    (tmp_path / name).write_text(text)
    (tmp_path / "hosts.ini").write_text("h1\n")
    with caplog.at_level(logging.WARNING, logger="ospatrol.inventory"):
        inventory = load_inventory(tmp_path)
    assert list(inventory.hosts) == ["h1"]
    assert "skipped" in caplog.text and name in caplog.text


def test_directory_skips_ignored_names(tmp_path: Path):
    (tmp_path / "hosts.ini").write_text("h1\n")
    for ignored in ("notes.md", "old.bak", "hosts.ini~", ".hidden", "x.retry", "a.cfg"):
        (tmp_path / ignored).write_text("[[[ not an inventory\n")
    assert list(load_inventory(tmp_path).hosts) == ["h1"]


def test_empty_inventory_has_no_hosts(tmp_path: Path):
    path = tmp_path / "hosts.yml"
    path.write_text("# nothing yet\n")
    inventory = load_inventory(path)
    assert inventory.hosts == {} and inventory.select("all") == []


def test_json_that_yaml_rejects_still_loads(tmp_path: Path):
    path = tmp_path / "listing.json"
    path.write_text('{\n\t"web": {"hosts": ["w\\/1"]},\n\t"_meta": {"hostvars": {}}\n}\n')
    assert list(load_inventory(path).hosts) == ["w/1"]


def test_yaml_file_that_is_not_utf8_is_an_error(tmp_path: Path):
    path = tmp_path / "hosts.yml"
    path.write_bytes(b"all:\n  hosts:\n    caf\xe9:\n")
    with pytest.raises(InputError, match="UTF-8"):
        load_inventory(path)

"""The manager config: defaults, typed values, and errors that name file, key and line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ospatrol.config import Config, load_config
from ospatrol.errors import InputError, InputErrors


def test_defaults_without_a_file():
    config = load_config(None)
    assert config == Config()


def test_values_are_typed_and_state_dir_flag_wins(tmp_path: Path):
    path = tmp_path / "ospatrol.yml"
    path.write_text("concurrency: 8\ncommand_timeout: 5\nstate_dir: /elsewhere\n")
    config = load_config(path, state_dir=tmp_path / "state")
    assert config.concurrency == 8
    assert config.command_timeout == 5.0
    assert config.state_dir == tmp_path / "state"


def test_every_error_names_file_key_and_line(tmp_path: Path):
    path = tmp_path / "ospatrol.yml"
    path.write_text("concurrency: 8\nconcurency: 9\nhost_key_policy: yolo\nalert_level: high\n")
    with pytest.raises(InputErrors) as caught:
        load_config(path)
    lines = str(caught.value).splitlines()
    assert lines == [
        f"{path}:2: unknown setting 'concurency'",
        f"{path}:3: host_key_policy: must be one of strict, tofu, system",
        f"{path}:4: alert_level: expected int, got 'high'",
    ]


def test_one_file_serves_audit_and_manager(tmp_path: Path):
    from ospatrol.manager.config import load_manager_config

    path = tmp_path / "ospatrol.yml"
    path.write_text(
        "concurrency: 4\nhost_key_policy: strict\n"
        "syslog:\n  - {protocol: udp, listen: '127.0.0.1:5514'}\n"
        "outputs: {alerts_json: {}}\n"
    )
    assert load_config(path) == Config(concurrency=4, host_key_policy="strict")
    manager = load_manager_config(path)
    assert manager.audit == Config(concurrency=4, host_key_policy="strict")
    assert [spec.protocol for spec in manager.syslog] == ["udp"]


def test_a_typo_in_the_shared_file_is_reported_once_by_each_reader(tmp_path: Path):
    from ospatrol.manager.config import load_manager_config

    path = tmp_path / "ospatrol.yml"
    path.write_text("concurency: 4\nalert_level: high\nsyslog: []\n")
    for load in (load_config, load_manager_config):
        with pytest.raises(InputErrors) as caught:
            load(path)
        lines = str(caught.value).splitlines()
        assert len(lines) == 2, lines
        assert lines[0].startswith(f"{path}:1: ") and "concurency" in lines[0]
        assert lines[1] == f"{path}:2: alert_level: expected int, got 'high'"


def test_yaml_syntax_error_names_the_line(tmp_path: Path):
    path = tmp_path / "ospatrol.yml"
    path.write_text("concurrency: 8\nstate_dir: [unclosed\n")
    with pytest.raises(InputError) as caught:
        load_config(path)
    assert caught.value.path == str(path)
    assert caught.value.line == 3


def test_cli_reports_version_and_exits_zero():
    done = subprocess.run(
        [sys.executable, "-m", "ospatrol", "--version"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0
    assert done.stdout.startswith("ospatrol, version ")


def test_the_shipped_manager_example_is_also_a_valid_audit_config():
    example = Path(__file__).resolve().parents[1] / "deploy" / "ospatrol.yml"
    assert load_config(example).concurrency == 50

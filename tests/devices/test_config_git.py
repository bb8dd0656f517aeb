"""`config_git: true`: device config versions also committed to a git repository per device,
through the real audit CLI against the lab's simulated ASA; the observer's refusals (dry run,
incomplete fetch, host names that would leave the folder) with real git repositories."""

from __future__ import annotations

import subprocess
from pathlib import Path

from ospatrol.collect.base import CollectorResult
from ospatrol.collect.config_git import ConfigGit, file_name, repository
from ospatrol.model import Host
from ospatrol.store.records import PutState
from tests.audit.conftest import host, run_cli, write_inventory
from tests.devices.device_helpers import edited


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", f"--git-dir={repo}", *args], capture_output=True, text=True, check=True
    ).stdout


def asa_inventory(asa: dict, path: Path, **extra: object) -> Path:
    return write_inventory(
        path,
        {
            "fw1": {
                "ansible_host": asa["address"],
                "ansible_port": asa["port"],
                "ansible_user": asa["user"],
                "ansible_password": asa["password"],
                "ansible_network_os": "cisco.asa.asa",
                "ansible_connection": "network_cli",
                "ansible_become": True,
                "ansible_become_method": "enable",
                "ansible_become_password": asa["enable_password"],
                **extra,
            }
        },
    )


def test_two_audits_with_a_change_make_two_commits_with_secrets_masked(lab_simulator, tmp_path):
    asa = lab_simulator.host("cisco_asa")
    inv = asa_inventory(asa, tmp_path / "inv.yml", config_git=True)
    state = tmp_path / "state"
    args = ("audit", "-i", str(inv), "--only", "config", "--format", "json")

    dry = run_cli(state, *args, "--dry-run")
    assert host(dry.json(), "fw1")["status"] == "ok", dry.stderr
    assert not (state / "configs").exists()  # a dry run writes no git either

    assert host(run_cli(state, *args).json(), "fw1")["status"] == "ok"
    rule = "access-list OUTSIDE_IN extended permit tcp any any eq 3389"
    user = "username mallory password Hunter2Secret privilege 15"
    with edited(Path(asa["config_file"]), lambda text: text + rule + "\n" + user + "\n"):
        second = host(run_cli(state, *args).json(), "fw1")
    assert second["status"] == "ok" and second["findings"], second

    repo = state / "configs" / "fw1.git"
    assert len(git(repo, "rev-list", "main").split()) == 2
    diff = git(repo, "diff", "main~1", "main")
    added = [ln[1:] for ln in diff.splitlines() if ln.startswith("+") and not ln.startswith("+++")]
    assert added[0] == rule
    assert added[1].startswith("username mallory password ***")
    assert len(added) == 2
    assert "Hunter2Secret" not in git(repo, "log", "-p", "main")
    assert git(repo, "ls-tree", "--name-only", "main").split() == ["show_running-config"]


def _result(status: str, text: str) -> CollectorResult:
    update = PutState("show running-config", text.encode(), "d" * 64)
    return CollectorResult("config", status, updates=(update,))


def test_only_completed_results_of_opted_in_hosts_are_committed(tmp_path):
    observer = ConfigGit(tmp_path)
    on = Host("r1", "127.0.0.1", vars={"config_git": "yes"})
    off = Host("r2", "127.0.0.1")
    observer.collector_finished(on, _result("incomplete", "hostname r1\n"))
    observer.collector_finished(off, _result("ok", "hostname r2\n"))
    observer.run_finished(None)
    assert not (tmp_path / "configs").exists()
    observer.collector_finished(on, _result("ok", "hostname r1\n"))
    observer.run_finished(None)
    observer.collector_finished(on, _result("ok", "hostname r1\n"))  # same text: no commit
    observer.run_finished(None)
    repo = repository(tmp_path, "r1")
    assert len(git(repo, "rev-list", "main").split()) == 1
    assert git(repo, "show", "main:show_running-config") == "hostname r1\n"


def test_hostile_host_names_stay_inside_the_configs_folder(tmp_path):
    names = ["../../etc", "a/b", ".hidden", "..", "x\n-y", "%2F", "/"]
    repos = [repository(tmp_path, name) for name in names]
    assert len(set(repos)) == len(names)
    for repo in repos:
        assert repo.parent == tmp_path / "configs"
        assert not repo.name.startswith(".") and "/" not in repo.name
    observer = ConfigGit(tmp_path)
    observer.collector_finished(
        Host("../../evil", "127.0.0.1", vars={"config_git": True}), _result("ok", "x\n")
    )
    observer.run_finished(None)
    assert [p.name for p in (tmp_path / "configs").iterdir()] == ["%2E.%2F..%2Fevil.git"]
    assert not (tmp_path.parent / "evil.git").exists()
    assert file_name("show running-config | include x/y") == "show_running-config_include_x_y"

"""`ospatrol baseline accept|show` wiring, against the session's sshd and a tree of our own."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from ospatrol.cli import cli
from ospatrol.collect.fim import baseline_entries, fim_state
from ospatrol.store import Store
from ospatrol_lab.sshd import SshdServer


@pytest.fixture(autouse=True)
def _no_agent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)


def test_accept_all_then_some_paths_and_show(lab_sshd: SshdServer, tmp_path: Path):
    tree = tmp_path / "tree"
    (tree / "a").mkdir(parents=True)
    (tree / "a" / "one").write_text("1")
    (tree / "b").mkdir()
    (tree / "b" / "two").write_text("2")
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        "all:\n  hosts:\n    web1:\n"
        "      ansible_host: 127.0.0.1\n"
        f"      ansible_port: {lab_sshd.port}\n"
        f"      ansible_user: {lab_sshd.user}\n"
        f"      ansible_ssh_private_key_file: {lab_sshd.client_key}\n"
        f"      ospatrol_fim_paths: ['{tree}']\n"
    )
    state = tmp_path / "state"
    runner = CliRunner()

    def ospatrol(*args: str):
        return runner.invoke(cli, ["--state-dir", str(state), "baseline", *args])

    nothing = ospatrol("show", "web1")  # nothing stored yet: a user error like any other
    assert (nothing.exit_code, nothing.stderr) == (
        3,
        f"ospatrol: no baseline stored for web1 in {state}\n",
    )
    done = ospatrol("accept", "web1", "-i", str(inventory))
    assert done.exit_code == 0, done.output
    shown = ospatrol("show", "web1", "-i", str(inventory))
    assert shown.exit_code == 0
    assert {line.split("\t")[0] for line in shown.output.splitlines()} == {
        str(tree),
        f"{tree}/a",
        f"{tree}/a/one",
        f"{tree}/b",
        f"{tree}/b/two",
    }

    (tree / "a" / "one").unlink()
    (tree / "b" / "two").write_text("changed")
    assert ospatrol("accept", "web1", f"{tree}/a", "-i", str(inventory)).exit_code == 0
    with Store.open(state) as store:
        entries = baseline_entries(fim_state(store, "web1"))
    assert f"{tree}/a/one" not in entries  # accepted as deleted
    assert entries[f"{tree}/b/two"].size == 1  # outside the accepted path: unchanged

    assert ospatrol("accept", "nohost", "-i", str(inventory)).exit_code != 0
    assert ospatrol("accept", "web1", "relative", "-i", str(inventory)).exit_code == 3

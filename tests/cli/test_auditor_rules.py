"""What every auditor flags alerts by default: a real audit of the lab sshd, then a file made
setuid, one made world-writable, a new setuid file and a UID 0 line added to a watched
etc/passwd; each finding reaches the default alert level through the shipped rules (80107,
80108, 80109, 80111) and the audit exits 1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from ospatrol.cli import cli
from ospatrol_lab.sshd import SshdServer


@pytest.fixture(autouse=True)
def _no_agent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)


def test_setuid_world_writable_and_new_setuid_files_alert(lab_sshd: SshdServer, tmp_path: Path):
    tree = tmp_path / "tree"
    tree.mkdir()
    for name in ("tool", "helper"):
        (tree / name).write_text("#!/bin/sh\n")
        (tree / name).chmod(0o755)
    (tree / "etc").mkdir()
    (tree / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    inventory = tmp_path / "hosts.yml"
    host = {
        "ansible_host": "127.0.0.1",
        "ansible_port": lab_sshd.port,
        "ansible_user": lab_sshd.user,
        "ansible_ssh_private_key_file": str(lab_sshd.client_key),
        "ospatrol_fim_paths": [str(tree)],
        "ospatrol_fim_report_changes": [f"{tree}/etc/passwd"],
    }
    inventory.write_text(yaml.safe_dump({"all": {"hosts": {"web1": host}}}))
    args = ["--state-dir", str(tmp_path / "state"), "audit", "-i", str(inventory)]
    args += ["--only", "fim", "-f", "json"]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output

    (tree / "tool").chmod(0o4755)
    (tree / "helper").chmod(0o757)
    (tree / "backdoor").write_text("#!/bin/sh\n")
    (tree / "backdoor").chmod(0o4755)
    with (tree / "etc" / "passwd").open("a") as passwd:
        passwd.write("intruder:x:0:0::/root:/bin/sh\n")
    second = CliRunner().invoke(cli, args)
    assert second.exit_code == 1, second.output
    (reported,) = json.loads(second.stdout)["hosts"]
    got = {f["path"]: (f["rule"], f["level"], f["alert"]) for f in reported["findings"]}
    assert got == {
        f"{tree}/tool": (80107, 12, True),
        f"{tree}/helper": (80108, 10, True),
        f"{tree}/backdoor": (80109, 12, True),
        f"{tree}/etc/passwd": (80111, 12, True),
    }

"""The command line's promises to a new user: one error shape (`ospatrol: ...`, exit 3), option
environment variables named after the options and shown in `--help`, output files checked
before any work, `--limit` warnings as Ansible gives them, and `inventory list` safe to pipe."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from ospatrol.cli import cli
from ospatrol_lab.sshd import SshdServer

REPO = Path(__file__).resolve().parents[2]
LONG_NAME = "web01.a-rather-long-subdomain.datacenter-frankfurt.example.com"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    for name in [n for n in __import__("os").environ if n.startswith("OSPATROL_")]:
        monkeypatch.delenv(name)


def ospatrol(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, list(args), env=env, prog_name="ospatrol")


def _inventory(tmp_path: Path) -> Path:
    path = tmp_path / "hosts.yml"
    path.write_text(
        yaml.safe_dump(
            {
                "all": {
                    "children": {
                        "web": {
                            "hosts": {
                                LONG_NAME: {
                                    "ansible_host": "127.0.0.1",
                                    "ansible_port": 1,
                                    "ansible_ssh_private_key_file": "/keys/web_ed25519",
                                    "ansible_password": "hunter2",
                                }
                            }
                        },
                        "db": {"hosts": {"db01": {"ansible_host": "127.0.0.1"}}},
                    }
                }
            }
        )
    )
    return path


def test_audit_output_into_a_missing_folder_fails_before_the_audit(tmp_path: Path):
    state = tmp_path / "state"
    out = tmp_path / "nowhere" / "report.html"
    result = ospatrol(
        "--state-dir", str(state), "audit", "-i", str(_inventory(tmp_path)), "-o", str(out)
    )
    assert result.exit_code == 3
    assert result.stderr == (
        f"ospatrol: Invalid value for '-o' / '--output': folder '{out.parent}' does not exist"
        " (see 'ospatrol audit --help')\n"
    )
    assert not state.exists()  # nothing was audited, nothing stored


def test_report_output_into_a_missing_folder_is_the_same_error(tmp_path: Path):
    out = tmp_path / "nowhere" / "r.json"
    result = ospatrol("--state-dir", str(tmp_path), "report", "-o", str(out))
    assert result.exit_code == 3
    assert result.stderr.startswith("ospatrol: Invalid value for '-o' / '--output': folder ")


def test_option_envvars_are_named_after_options_and_shown_in_help(tmp_path: Path):
    for command, names in {
        "audit": ["OSPATROL_AUDIT_INVENTORY", "OSPATROL_AUDIT_FORMAT", "OSPATROL_AUDIT_OUTPUT"],
        "report": ["OSPATROL_REPORT_RUN", "OSPATROL_REPORT_FORMAT", "OSPATROL_REPORT_OUTPUT"],
    }.items():
        shown = " ".join(ospatrol(command, "--help").output.split())
        for name in names:
            assert f"env var: {name}" in shown, (command, name)
    top = " ".join(ospatrol("--help").output.split())
    assert "env var: OSPATROL_STATE_DIR" in top and "env var: OSPATROL_CONFIG" in top

    missing = tmp_path / "missing.yml"
    by_env = ospatrol("audit", env={"OSPATROL_AUDIT_INVENTORY": str(missing)})
    assert (by_env.exit_code, by_env.stderr) == (
        3,
        f"ospatrol: Invalid value for '-i' / '--inventory': Path '{missing}' does not exist."
        " (see 'ospatrol audit --help')\n",
    )
    bad_format = ospatrol(
        "audit",
        env={"OSPATROL_AUDIT_INVENTORY": str(_inventory(tmp_path)), "OSPATROL_AUDIT_FORMAT": "pdf"},
    )
    assert bad_format.exit_code == 3
    assert bad_format.stderr.startswith("ospatrol: Invalid value for '-f' / '--format': 'pdf'")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["audit"], "ospatrol: Missing option '-i' / '--inventory'. (see 'ospatrol audit --help')"),
        (
            ["report", "--run", "0"],
            "ospatrol: Invalid value for '--run': 0 is not in the range x>=1.",
        ),
        (["report"], "ospatrol: no store in {state}: run `ospatrol audit` first"),
        (["baseline", "show", "web1"], "ospatrol: no baseline stored for web1 in {state}"),
        (["nosuchcommand"], "ospatrol: No such command 'nosuchcommand'. (see 'ospatrol --help')"),
    ],
)
def test_every_user_error_has_one_shape(tmp_path: Path, args: list[str], message: str):
    state = tmp_path / "state"
    state.mkdir()
    result = ospatrol("--state-dir", str(state), *args)
    assert result.exit_code == 3
    assert result.stdout == ""
    assert result.stderr.splitlines()[0].startswith(message.format(state=state))
    assert len(result.stderr.splitlines()) == 1


def test_limit_matching_nothing_warns_like_ansible(tmp_path: Path):
    inventory = str(_inventory(tmp_path))
    result = ospatrol("inventory", "list", "-i", inventory, "--limit", "nosuch")
    assert result.exit_code == 0
    assert result.stderr == (
        "ospatrol: warning: could not match supplied host pattern, ignoring: nosuch\n"
        "ospatrol: warning: no hosts matched\n"
    )
    assert result.stdout.splitlines() == ["name\taddress\tport\tuser\tplatform\tgroups"]

    partly = ospatrol("inventory", "list", "-i", inventory, "--limit", "db,nosuch")
    assert partly.stderr == (
        "ospatrol: warning: could not match supplied host pattern, ignoring: nosuch\n"
    )
    assert [line.split("\t")[0] for line in partly.stdout.splitlines()[1:]] == ["db01"]

    audit = ospatrol("--state-dir", str(tmp_path / "s"), "audit", "-i", inventory, "-l", "nosuch")
    assert audit.exit_code == 3
    assert audit.stderr.splitlines() == [
        "ospatrol: warning: could not match supplied host pattern, ignoring: nosuch",
        f"ospatrol: no host of {inventory} matches 'nosuch' (see 'ospatrol audit --help')",
    ]


def test_piped_inventory_list_never_breaks_a_host_name(tmp_path: Path):
    result = ospatrol("inventory", "list", "-i", str(_inventory(tmp_path)))
    assert result.exit_code == 0, result.output
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert rows == [
        ["name", "address", "port", "user", "platform", "groups"],
        ["db01", "127.0.0.1", "22", "", "linux", "db"],
        [LONG_NAME, "127.0.0.1", "1", "", "linux", "web"],
    ]


def test_inventory_json_shows_key_paths_and_masks_secrets(tmp_path: Path):
    result = ospatrol("inventory", "list", "--json", "-i", str(_inventory(tmp_path)))
    (web,) = [h for h in json.loads(result.stdout) if h["name"] == LONG_NAME]
    assert web["vars"]["ansible_ssh_private_key_file"] == "/keys/web_ed25519"
    assert web["vars"]["ansible_password"] == "***"
    assert "hunter2" not in result.output


def test_readme_limit_example_selects_hosts_of_the_example_inventory():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    (pattern,) = re.findall(
        r"ospatrol inventory list -i inventory/example.yml --limit '([^']+)'", readme
    )
    result = ospatrol(
        "inventory", "list", "-i", str(REPO / "inventory" / "example.yml"), "-l", pattern
    )
    assert result.exit_code == 0 and result.stderr == ""
    assert len(result.stdout.splitlines()) > 1


def test_rules_check_rejects_a_level_above_16(tmp_path: Path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "local.xml").write_text(
        '<group name="local,">\n'
        '  <rule id="1" level="0" noalert="1">\n'
        "    <category>syslog</category>\n"
        "    <description>root</description>\n"
        "  </rule>\n"
        '  <rule id="100200" level="20">\n'
        "    <match>^x</match>\n"
        "    <description>too loud</description>\n"
        "  </rule>\n"
        '  <rule id="100201" level="16">\n'
        "    <match>^y</match>\n"
        "    <description>loudest allowed</description>\n"
        "  </rule>\n"
        "</group>\n"
    )
    (tmp_path / "d.xml").write_text('<decoder name="x">\n  <prematch>^x</prematch>\n</decoder>\n')
    result = ospatrol(
        "rules", "check", "--rules-dir", str(rules), "--decoders", str(tmp_path / "d.xml")
    )
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{rules / 'local.xml'}:6: rule 100200: level 20 is outside 0-16",
        "1 error(s)",
    ]


def _lab_inventory(tmp_path: Path, sshd: SshdServer, tree: Path) -> Path:
    path = tmp_path / "lab.yml"
    path.write_text(
        yaml.safe_dump(
            {
                "all": {
                    "hosts": {
                        "web1": {
                            "ansible_host": "127.0.0.1",
                            "ansible_port": sshd.port,
                            "ansible_user": sshd.user,
                            "ansible_ssh_private_key_file": str(sshd.client_key),
                            "ospatrol_fim_paths": [str(tree)],
                        }
                    }
                }
            }
        )
    )
    return path


def test_baseline_accept_refuses_unmonitored_and_missing_paths(lab_sshd: SshdServer, tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "kept").write_text("1")
    inventory = str(_lab_inventory(tmp_path, lab_sshd, tree))
    state = tmp_path / "state"

    def accept(*paths: str):
        return ospatrol(
            "--state-dir", str(state), "baseline", "accept", "web1", *paths, "-i", inventory
        )

    assert accept().exit_code == 0
    outside = accept("/etc/hostname")
    assert (outside.exit_code, outside.stderr) == (
        3,
        "ospatrol: /etc/hostname is not monitored on web1\n",
    )
    typo = accept(f"{tree}/kpet")
    assert (typo.exit_code, typo.stderr) == (
        3,
        f"ospatrol: {tree}/kpet does not exist on web1 nor in its baseline\n",
    )
    (tree / "kept").unlink()
    gone = accept(f"{tree}/kept")  # in the baseline, gone from the host: accepting the deletion
    assert gone.exit_code == 0, gone.stderr
    assert gone.stderr.endswith("web1: baseline accepted for 1 path(s) (1 entries scanned)\n")


def test_audit_and_report_output_say_where_they_wrote(lab_sshd: SshdServer, tmp_path: Path):
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "f").write_text("1")
    inventory = str(_lab_inventory(tmp_path, lab_sshd, tree))
    state = ["--state-dir", str(tmp_path / "state")]
    audited = tmp_path / "audit.json"
    result = ospatrol(
        *state, "audit", "-i", inventory, "--only", "fim", "-f", "json", "-o", str(audited)
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "" and result.stderr.endswith(f"report written to {audited}\n")
    report = json.loads(audited.read_text())
    assert report["summary"]["hosts"] == 1
    (web1,) = report["hosts"]  # a live run carries the inventory's platform and groups
    assert (web1["platform"], web1["groups"]) == ("linux", ["ungrouped"])

    rendered = tmp_path / "report.xml"
    again = ospatrol(*state, "report", "-f", "junit", "-o", str(rendered))
    assert (again.exit_code, again.stdout, again.stderr) == (
        0,
        "",
        f"report written to {rendered}\n",
    )
    assert rendered.read_text().startswith('<?xml version="1.0"')
    quiet = ospatrol(*state, "-q", "report", "-f", "summary", "-o", str(tmp_path / "s.txt"))
    assert (quiet.exit_code, quiet.stderr) == (0, "")
    assert (tmp_path / "s.txt").read_text().splitlines()[0] == "hosts: 1 (1 ok)"


def test_inventory_list_shows_control_characters_escaped(tmp_path: Path):
    path = tmp_path / "hosts.yml"
    path.write_text(
        'all:\n  children:\n    "[bold]grp":\n      hosts:\n        web1:\n'
        '          ansible_user: "bad\\e[2J\\tuser"\n'
    )
    result = ospatrol("inventory", "list", "-i", str(path))
    assert result.stdout.splitlines()[1].split("\t") == [
        "web1",
        "web1",
        "22",
        "bad\\x1b[2J\\x09user",
        "linux",
        "[bold]grp",
    ]

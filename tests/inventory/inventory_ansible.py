"""Run real Ansible on an inventory and read its answers (a helper of the inventory tests).

`AnsibleRunner.list()` is `ansible-inventory --list`, `list_hosts()` is `ansible all --limit P
--list-hosts`, and `limits()` evaluates many `--limit` patterns in one process through
Ansible's InventoryManager (what the `ansible` command calls). Ansible runs from an empty
working directory with its own ANSIBLE_HOME and an empty config, so no user config or
playbook-adjacent group_vars leak in, and it fails instead of skipping a source it cannot parse.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ospatrol.model import mask_secrets

BIN = Path(sys.executable).parent


def _ansible_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    config = home / "ansible.cfg"
    config.write_text("")
    env.update(
        ANSIBLE_CONFIG=str(config),
        ANSIBLE_HOME=str(home / "home"),
        ANSIBLE_LOCAL_TEMP=str(home / "tmp"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_INVENTORY_UNPARSED_FAILED="1",
        ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED="1",
    )
    return env


# What `ansible --limit P` runs: InventoryManager.subset(P) then get_hosts("all"). One process
# evaluates a whole table of patterns; `test_api_harness_matches_the_ansible_cli` checks it
# against the real `ansible --list-hosts` command for a sample.
_LIMIT_SCRIPT = """
import json, sys
from ansible.errors import AnsibleError
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader

inventory = InventoryManager(loader=DataLoader(), sources=[sys.argv[1]])
results = {}
for pattern in json.loads(sys.argv[2]):
    try:
        inventory.subset(pattern)
        results[pattern] = [h.name for h in inventory.get_hosts("all")]
    except AnsibleError as exc:
        results[pattern] = f"error: {exc}"
    inventory.subset(None)
print(json.dumps(results))
"""


class AnsibleRunner:
    """Runs Ansible commands on inventory sources, in `workdir`."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.env = _ansible_env(workdir)

    def _run(self, args: list[str]) -> subprocess.CompletedProcess:
        return subprocess.run(
            args, cwd=self.workdir, env=self.env, capture_output=True, text=True, timeout=240
        )

    def list(self, source: Path, *extra: str) -> dict:
        """`ansible-inventory -i SOURCE --list [extra]`, parsed."""
        proc = self._run([str(BIN / "ansible-inventory"), "-i", str(source), "--list", *extra])
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    def list_hosts(self, source: Path, pattern: str) -> list[str] | str:
        """`ansible -i SOURCE all --limit PATTERN --list-hosts`: host names, in order."""
        args = [str(BIN / "ansible"), "-i", str(source), "all", "--limit", pattern]
        proc = self._run([*args, "--list-hosts"])
        if proc.returncode != 0:
            if "leaves us with no hosts" in proc.stderr:
                return []
            return "error: " + proc.stderr.strip()
        lines = proc.stdout.splitlines()
        start = next(i for i, line in enumerate(lines) if line.strip().startswith("hosts ("))
        return [line.strip() for line in lines[start + 1 :] if line.strip()]

    def limits(self, source: Path, patterns: list[str]) -> dict[str, list[str] | str]:
        """Hosts each `--limit` pattern selects, in order, or "error: ..." where Ansible fails."""
        proc = self._run([sys.executable, "-c", _LIMIT_SCRIPT, str(source), json.dumps(patterns)])
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)


def ansible_view(listing: dict) -> dict[str, dict]:
    """Per host: groups (with ancestors, without `all`) and masked vars, from `--list` JSON."""
    groups = {name: body for name, body in listing.items() if name != "_meta"}
    parents: dict[str, set[str]] = {}
    for name, body in groups.items():
        for child in body.get("children", []):
            parents.setdefault(child, set()).add(name)

    def ancestors(group: str) -> set[str]:
        found = set()
        for parent in parents.get(group, ()):
            found |= {parent} | ancestors(parent)
        return found

    member: dict[str, set[str]] = {}
    for name, body in groups.items():
        for host in body.get("hosts", []):
            member.setdefault(host, set()).update({name} | ancestors(name))
    hostvars = listing["_meta"]["hostvars"]
    return {
        host: {
            "groups": sorted(names - {"all"}),
            "vars": mask_secrets(hostvars.get(host, {})),
        }
        for host, names in member.items()
    }

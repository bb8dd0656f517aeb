"""Randomised differential test: generated inventories, loaded by us and by real Ansible.

Each seed builds an INI or YAML inventory with a random group DAG, memberships, variables at
every level (all, groups with `ansible_group_priority`, hosts, group_vars/ and host_vars/ files)
and a handful of `--limit` patterns; hosts, groups, resolved vars and selections must match
`ansible-inventory --list` and Ansible's InventoryManager. Seeds are fixed, so failures repeat.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from inventory_ansible import AnsibleRunner, ansible_view

from ospatrol.cli import cli
from ospatrol.errors import InputError
from ospatrol.inventory import load_inventory

SEEDS = range(6)  # 120 seeds pass too; 6 keep the suite fast
KEYS = ("v", "w", "x")


@dataclass
class Spec:
    groups: list[str]
    parents: dict[str, list[str]]
    hosts: list[str]
    members: dict[str, list[str]]
    group_vars: dict[str, dict[str, str]]
    priority: dict[str, int]
    host_vars: dict[str, dict[str, str]]
    files: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)


def make_spec(rng: random.Random) -> Spec:
    groups = [f"g{i}" for i in range(rng.randint(4, 8))]
    parents = {g: [p for p in groups[:i] if rng.random() < 0.35] for i, g in enumerate(groups)}
    hosts = [f"h{i:02d}" for i in range(rng.randint(6, 14))]
    members = {h: rng.sample(groups, rng.choice([0, 1, 1, 2])) for h in hosts}
    group_vars = {g: {k: f"{g}-{k}" for k in KEYS if rng.random() < 0.5} for g in ["all", *groups]}
    priority = {g: rng.choice([2, 3]) for g in groups if rng.random() < 0.3}
    host_vars = {h: {k: f"{h}-{k}" for k in KEYS if rng.random() < 0.2} for h in hosts}
    files = {
        "group_vars": {
            g: {k: f"file-{g}-{k}" for k in KEYS if rng.random() < 0.4}
            for g in ["all", *groups]
            if rng.random() < 0.5
        },
        "host_vars": {h: {"x": f"file-{h}"} for h in hosts if rng.random() < 0.25},
    }
    return Spec(groups, parents, hosts, members, group_vars, priority, host_vars, files)


def write_ini(spec: Spec, path: Path) -> None:
    lines = [
        f"{h} " + " ".join(f"{k}={v}" for k, v in spec.host_vars[h].items())
        for h in spec.hosts
        if not spec.members[h]
    ]
    inline_done = {h for h in spec.hosts if not spec.members[h]}
    for group in spec.groups:
        lines.append(f"[{group}]")
        for host in spec.hosts:
            if group in spec.members[host]:
                pairs = (
                    ""
                    if host in inline_done
                    else " ".join(f"{k}={v}" for k, v in spec.host_vars[host].items())
                )
                inline_done.add(host)
                lines.append(f"{host} {pairs}".strip())
        group_vars = dict(spec.group_vars[group])
        if group in spec.priority:
            group_vars["ansible_group_priority"] = spec.priority[group]
        lines += [f"[{group}:vars]", *(f"{k}={v}" for k, v in group_vars.items())]
    for group in spec.groups:
        children = [c for c in spec.groups if group in spec.parents[c]]
        if children:
            lines += [f"[{group}:children]", *children]
    lines += ["[all:vars]", *(f"{k}={v}" for k, v in spec.group_vars["all"].items())]
    path.write_text("\n".join(lines) + "\n")


def write_yaml(spec: Spec, path: Path) -> None:
    data: dict = {
        "all": {
            "vars": spec.group_vars["all"] or None,
            "hosts": {h: spec.host_vars[h] or None for h in spec.hosts if not spec.members[h]},
        }
    }
    for group in spec.groups:
        body: dict = {}
        hosts = [h for h in spec.hosts if group in spec.members[h]]
        if hosts:
            body["hosts"] = {h: spec.host_vars[h] or None for h in hosts}
        group_vars = dict(spec.group_vars[group])
        if group in spec.priority:
            group_vars["ansible_group_priority"] = spec.priority[group]
        if group_vars:
            body["vars"] = group_vars
        children = [c for c in spec.groups if group in spec.parents[c]]
        if children:
            body["children"] = dict.fromkeys(children)
        data[group] = body or None
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def write_files(spec: Spec, folder: Path) -> None:
    for kind, entries in spec.files.items():
        for name, variables in entries.items():
            (folder / kind).mkdir(exist_ok=True)
            (folder / kind / f"{name}.yml").write_text(yaml.safe_dump(variables))


def make_patterns(rng: random.Random, spec: Spec) -> list[str]:
    grandparents = {gp for g in spec.groups for p in spec.parents[g] for gp in spec.parents[p]}
    # Ansible orders hosts below the children of a group by set iteration: subscripts only
    # where the order is defined.
    shallow = [g for g in spec.groups if g not in grandparents]
    simple = [*spec.groups, *rng.sample(spec.hosts, 3), "g*", "h0*", "~h0[0-4]", "ungrouped"]
    patterns = [rng.choice(simple) for _ in range(4)]
    for _ in range(8):
        first, second = rng.choice(simple), rng.choice(simple)
        patterns.append(f"{first}{rng.choice([':', ',', ':&', ':!', ',!'])}{second}")
    for group in rng.sample(shallow, min(3, len(shallow))):
        patterns.append(f"{group}{rng.choice(['[0]', '[-1]', '[1:]', '[0:1]'])}")
    return list(dict.fromkeys(patterns))


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> AnsibleRunner:
    return AnsibleRunner(tmp_path_factory.mktemp("ansible"))


@pytest.mark.parametrize("seed", SEEDS)
def test_random_inventory_matches_ansible(runner: AnsibleRunner, tmp_path: Path, seed: int):
    rng = random.Random(seed)
    spec = make_spec(rng)
    source = tmp_path / ("hosts.yml" if seed % 2 else "hosts.ini")
    (write_yaml if seed % 2 else write_ini)(spec, source)
    write_files(spec, tmp_path)

    expected = ansible_view(runner.list(source))
    result = CliRunner().invoke(cli, ["inventory", "list", "--json", "-i", str(source)])
    assert result.exit_code == 0, result.output
    ours = {
        r["name"]: {"groups": r["groups"], "vars": r["vars"]} for r in json.loads(result.output)
    }
    assert ours == expected

    patterns = make_patterns(rng, spec)
    selections = runner.limits(source, patterns)
    inventory = load_inventory(source)
    for pattern in patterns:
        if isinstance(selections[pattern], str):
            with pytest.raises(InputError):
                inventory.select(pattern)
            continue
        got = sorted(h.name for h in inventory.select(pattern))
        assert got == sorted(selections[pattern]), pattern

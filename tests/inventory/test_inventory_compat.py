"""`ospatrol inventory list --json` against real `ansible-inventory` and `ansible --list-hosts`.

For each test inventory, hosts, group membership and resolved vars (secrets masked the same way)
must equal `ansible-inventory --list`; for a table of `--limit` patterns covering every form,
the selected hosts must equal what `ansible all --limit PATTERN --list-hosts` selects (the
table runs through Ansible's InventoryManager in one process per inventory; a sample goes
through the `ansible` command itself). See `inventory_ansible` for how Ansible is run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from inventory_ansible import BIN, AnsibleRunner, ansible_view

from ospatrol.cli import cli
from ospatrol.errors import InputError
from ospatrol.inventory import load_inventory

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
REPO = HERE.parents[1]
LIMIT_FILE = DATA / "limit.txt"

INVENTORIES = {
    "yaml_site": DATA / "yaml_site" / "hosts.yml",
    "ini_site": DATA / "ini_site" / "hosts.ini",
    "multi_dir": DATA / "multi",
    "docs_intro_ini": DATA / "docs_intro" / "hosts.ini",
    "docs_intro_yml": DATA / "docs_intro" / "hosts.yml",
    "example_yml": REPO / "inventory" / "example.yml",
    "example_ini": REPO / "inventory" / "example.ini",
}

# Every pattern form: names, globs, ~regex, subscripts, `:`/`,` unions, `!`, `&`, @file.
PATTERNS = {
    "yaml_site": [
        "all",
        "*",
        "web",
        "web01",
        "web0*",
        "*.example.com",
        "~web0[13]",
        "~^db-",
        "~(sw|fw)",
        "db-[ab]",
        "web[0]",
        "web[-1]",
        "web[1:3]",
        "web[2:]",
        "web0[1-2]",
        "prod[0]",
        "web:db",
        "web,db",
        "prod:!db",
        "prod:&staging",
        "web:&prod:!web02",
        "!web",
        "&network",
        "network:!switches:fw1",
        "ungrouped",
        "staging[1]",
        "nosuch",
        "web:nosuch",
        "firewalls[1:2],switches[0]",
        f"@{LIMIT_FILE}",
        "localhost",
        "web[9]",
    ],
    "ini_site": [
        "all",
        "app",
        "dbs",
        "10.20.0.*",
        "10.20.0.5",
        "web[0]:db[-1]",
        "app:!web",
        "edge:&routers:!rtr1",
        "~.*\\.example\\.com",
        "ungrouped",
        "*1",
        "routers[1:]",
    ],
    "multi_dir": ["all", "web", "legacy:monitoring", "!web", "m-old*"],
    "docs_intro_ini": [
        "webservers:dbservers",
        "webservers:&staging",
        "webservers:!atlanta",
        "usa",
        "www[01:50].example.com",
        "*.example.com:!www*",
        "~(web|db).*\\.example\\.(com|org)",
        "one*.com:dbservers",
        "webservers[0]",
        "webservers[-1]",
        "webservers[0:2]",
        "webservers[1:]",
        "192.0.2.*",
        "prod:test",
        "atlanta:&raleigh",
    ],
    "docs_intro_yml": ["usa:!raleigh", "southeast[1]", "www0*", "east:west:&dbservers"],
    "example_yml": ["network", "linux:!dbservers", "access-sw[01:02]", "ios[0:1]"],
    "example_ini": ["network", "linux:!dbservers", "esx*"],
}


class AnsibleReference(AnsibleRunner):
    """The runner, with results for the test inventories cached for the module."""

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        self._listings: dict[str, dict] = {}
        self._limits: dict[str, dict[str, list[str] | str]] = {}

    def listing(self, name: str) -> dict:
        if name not in self._listings:
            self._listings[name] = self.list(INVENTORIES[name])
        return self._listings[name]

    def limit(self, name: str, pattern: str) -> list[str] | str:
        if name not in self._limits:
            self._limits[name] = self.limits(INVENTORIES[name], PATTERNS[name])
        return self._limits[name][pattern]


@pytest.fixture(scope="module")
def ansible(tmp_path_factory: pytest.TempPathFactory) -> AnsibleReference:
    return AnsibleReference(tmp_path_factory.mktemp("ansible"))


def ospatrol_json(*args: str) -> list[dict]:
    result = CliRunner().invoke(cli, ["inventory", "list", "--json", *args])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return json.loads(result.output)


def ospatrol_view(records: list[dict]) -> dict[str, dict]:
    return {r["name"]: {"groups": r["groups"], "vars": r["vars"]} for r in records}


@pytest.mark.parametrize("name", list(INVENTORIES))
def test_hosts_groups_and_vars_match_ansible_inventory(ansible: AnsibleReference, name: str):
    expected = ansible_view(ansible.listing(name))
    records = ospatrol_json("-i", str(INVENTORIES[name]))
    assert [r["name"] for r in records] == sorted(expected)
    assert ospatrol_view(records) == json.loads(json.dumps(expected))


@pytest.mark.parametrize("name", list(INVENTORIES))
def test_typed_fields_follow_the_ansible_vars(ansible: AnsibleReference, name: str):
    """address/port/user come from the vars Ansible resolved, converted once."""
    hostvars = ansible.listing(name)["_meta"]["hostvars"]
    for record in ospatrol_json("-i", str(INVENTORIES[name])):
        raw = hostvars.get(record["name"], {})
        assert record["address"] == raw.get("ansible_host", record["name"])
        assert record["port"] == int(raw.get("ansible_port", 22))
        assert record["user"] == raw.get("ansible_user")


@pytest.mark.parametrize(
    ("name", "pattern"), [(n, p) for n, patterns in PATTERNS.items() for p in patterns]
)
def test_limit_selects_the_hosts_ansible_selects(ansible: AnsibleReference, name, pattern):
    expected = ansible.limit(name, pattern)
    inventory = load_inventory(INVENTORIES[name])
    if isinstance(expected, str):
        with pytest.raises(InputError):
            inventory.select(pattern)
        return
    assert sorted(h.name for h in inventory.select(pattern)) == sorted(expected)


@pytest.mark.parametrize(
    ("name", "pattern"),
    [
        ("multi_dir", "all"),
        ("multi_dir", "legacy:monitoring"),
        ("yaml_site", "web[1:3]"),
        ("yaml_site", "web0[1-2]"),
        ("yaml_site", "web[9]"),
        ("ini_site", "10.20.0.5"),
    ],
)
def test_api_harness_matches_the_ansible_cli(ansible: AnsibleReference, name, pattern):
    cli_result = ansible.list_hosts(INVENTORIES[name], pattern)
    if isinstance(cli_result, str):
        assert ansible.limit(name, pattern).startswith("error: ")
    else:
        assert ansible.limit(name, pattern) == cli_result


@pytest.mark.parametrize("pattern", ["all", "!web", "legacy:monitoring", "m-old*"])
def test_limit_keeps_ansibles_order(ansible: AnsibleReference, pattern: str):
    """Only where Ansible's order is defined: groups no deeper than the children of `all`.

    (Below that level Ansible orders groups by set iteration, which varies between runs.)
    """
    inventory = load_inventory(INVENTORIES["multi_dir"])
    assert [h.name for h in inventory.select(pattern)] == ansible.limit("multi_dir", pattern)


def test_ansible_inventory_limit_output_agrees(ansible: AnsibleReference):
    """`ansible-inventory --list --limit` (hosts, groups, vars) equals `--limit` through our CLI."""
    source = INVENTORIES["yaml_site"]
    listing = ansible.list(source, "--limit", "web:&prod:!web02,fw1")
    records = ospatrol_json("-i", str(source), "--limit", "web:&prod:!web02,fw1")
    assert ospatrol_view(records) == json.loads(json.dumps(ansible_view(listing)))


@pytest.mark.parametrize("name", ["yaml_site", "ini_site", "multi_dir"])
def test_ansible_inventory_list_json_loads_to_the_same_hosts(
    ansible: AnsibleReference, name: str, tmp_path: Path
):
    dump = tmp_path / "listing.json"
    dump.write_text(json.dumps(ansible.listing(name)))
    original = load_inventory(INVENTORIES[name])
    reloaded = load_inventory(dump)
    assert set(reloaded.hosts) == set(original.hosts)
    for host in original.hosts.values():
        again = reloaded.hosts[host.name]
        assert again == host, host.name


def _docs_examples(tmp_path: Path) -> list[Path]:
    """The EXAMPLES blocks of ansible-core's INI and YAML inventory plugins, as files."""
    from ansible.plugins.inventory import ini, yaml

    first, second = ini.EXAMPLES.split("# Example 2")
    paths = []
    for name, text in (("ex1.ini", first), ("ex2.ini", second), ("ex.yml", yaml.EXAMPLES)):
        path = tmp_path / name
        path.write_text(text)
        paths.append(path)
    return paths


def test_ansible_docs_examples_match(ansible: AnsibleReference, tmp_path: Path):
    for path in _docs_examples(tmp_path):
        expected = ansible_view(ansible.list(path))
        assert ospatrol_view(ospatrol_json("-i", str(path))) == expected, path.name


def test_several_sources_match_ansible(ansible: AnsibleReference):
    first, second = INVENTORIES["ini_site"], INVENTORIES["multi_dir"]
    expected = ansible_view(ansible.list(first, "-i", str(second)))
    records = ospatrol_json("-i", str(first), "-i", str(second))
    assert ospatrol_view(records) == json.loads(json.dumps(expected))


def test_ansible_inventory_yaml_output_loads_to_the_same_hosts(
    ansible: AnsibleReference, tmp_path: Path
):
    source = INVENTORIES["yaml_site"]
    proc = ansible._run([str(BIN / "ansible-inventory"), "-i", str(source), "--list", "--yaml"])
    assert proc.returncode == 0, proc.stderr
    dump = tmp_path / "listing.yml"
    dump.write_text(proc.stdout)
    original, reloaded = load_inventory(source), load_inventory(dump)
    assert reloaded.hosts == original.hosts

"""An ASA in multiple-context mode, through the real audit, with both CLI drivers.

The simulator's ASA turns multiple-context when a `contexts` directory sits beside its running
config (`ospatrol_lab.sim_devices.AsaSession`): `show mode` says multiple, `show context` lists
one context per file there, `changeto context NAME` makes `show running-config` print that
file under the prompt `host/NAME#`. The config collector must store the system space and every
context apart (`context NAME: show running-config`), report a change in one context only, and
store nothing at all when a context cannot be entered or its name could carry CLI syntax.
"""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from device_helpers import simulated

from ospatrol.analysis.engine import Engine
from ospatrol.analysis.loader import Ruleset, load_ruleset
from ospatrol.audit.records import HostReport
from ospatrol.audit.run import audit
from ospatrol.collect.configs import ConfigsCollector
from ospatrol.errors import InputErrors
from ospatrol.model import Host
from ospatrol.profiles import load_profile, load_profiles
from ospatrol.store import Store
from ospatrol.transport import TransportSettings, open_transport

REPO = Path(__file__).resolve().parents[2]
CONTEXTS = ("admin", "ctx1", "ctx2")
KEYS = ["show running-config"] + [f"context {n}: show running-config" for n in CONTEXTS]


def _context_config(name: str, index: int) -> str:
    """A small context config whose access list ends in a deny (widened by the test)."""
    return (
        f"ASA Version 9.16(4)57 <context>\n!\nhostname {name}\n!\n"
        f"interface GigabitEthernet1/{index}\n nameif outside\n security-level 0\n!\n"
        f"access-list outside_in extended permit tcp any host 10.1.{index}.10 eq 443\n"
        "access-list outside_in extended deny ip any any log\n"
        "access-group outside_in in interface outside\n"
    )


@pytest.fixture(scope="module")
def ruleset() -> Ruleset:
    return load_ruleset(REPO / "rules" / "ospatrol.conf")


@pytest.fixture
def multi_asa(lab_simulator):
    """The simulator's ASA in multiple-context mode (admin, ctx1, ctx2); single again after."""
    host, known_line, config = simulated(lab_simulator, "cisco_asa")
    folder = config.with_name("contexts")
    folder.mkdir()
    for index, name in enumerate(CONTEXTS, 1):
        (folder / name).write_text(_context_config(name, index))
    try:
        yield host, known_line, folder
    finally:
        shutil.rmtree(folder)
        config.with_name("fault").unlink(missing_ok=True)


class Audits:
    """Real audits (config collector, analysis engine) of one device into one state dir."""

    def __init__(self, tmp_path: Path, known_line: str, ruleset: Ruleset) -> None:
        (tmp_path / "state").mkdir()
        self.store = Store.open(tmp_path / "state")
        known = tmp_path / "state" / "known_hosts"
        known.write_text(known_line + "\n")
        self.settings = TransportSettings(known_hosts=known, command_timeout=30)
        self.ruleset = ruleset

    def run(self, host: Host) -> HostReport:
        """The device's report of one audit."""
        opener = lambda h: open_transport(h, self.settings)  # noqa: E731
        engine = Engine(self.ruleset, hostname="manager")
        collectors = [ConfigsCollector(load_profiles())]
        record = asyncio.run(audit([host], collectors, self.store, opener, engine=engine))
        (report,) = record.hosts
        return report

    def versions(self, host: Host) -> dict[str, int]:
        """Stored config versions by key."""
        return {k: e.version for k, e in self.store.states(host.name, "config").items()}


def _driver(host: Host, driver: str) -> Host:
    return replace(host, options=replace(host.options, netdev_driver=driver))


@pytest.mark.parametrize("driver", ["netmiko", "asyncssh"])
def test_each_context_is_stored_and_a_change_reported_for_its_context_only(
    multi_asa, ruleset, tmp_path, driver
) -> None:
    host, known_line, folder = multi_asa
    host = _driver(host, driver)
    audits = Audits(tmp_path, known_line, ruleset)
    report = audits.run(host)
    assert report.status == "ok", report.error
    assert report.findings == ()
    assert audits.versions(host) == dict.fromkeys(KEYS, 1)
    stored = audits.store.state(host.name, "config", "context ctx2: show running-config")
    assert stored is not None and "hostname ctx2" in stored.text
    assert "10.1.3.10" in stored.text and "10.1.2.10" not in stored.text

    ctx2 = folder / "ctx2"
    ctx2.write_text(
        ctx2.read_text().replace("access-list outside_in extended deny ip any any log\n", "")
    )
    report = audits.run(host)
    assert report.status == "ok", report.error
    assert len(report.findings) == 1, [f.finding.event_text for f in report.findings]
    (found,) = report.findings
    assert found.finding.event_text.splitlines()[:3] == [
        "ospatrol: config changed: 'context ctx2: show running-config': kind "
        "'access rule widened' in 'access-list outside_in'",
        "@@ (top level)",
        "- access-list outside_in extended deny ip any any log",
    ]
    assert found.finding.subject == "context ctx2: running config"
    # The decoder still finds the command (with its context) and the rules give the kind its level.
    assert (found.rule, found.level) == (82000, 10)
    assert audits.versions(host) == {**dict.fromkeys(KEYS, 1), KEYS[3]: 2}


def test_a_context_name_with_cli_syntax_is_refused_and_nothing_stored(
    multi_asa, ruleset, tmp_path
) -> None:
    host, known_line, folder = multi_asa
    (folder / "ctx9;reload").write_text(_context_config("ctx9", 9))
    audits = Audits(tmp_path, known_line, ruleset)
    report = audits.run(host)
    assert report.status == "incomplete"
    (found,) = report.findings
    assert found.finding.event_text == (
        "ospatrol: scan incomplete: error: refusing security context name 'ctx9;reload': "
        "not a context name (show context)"
    )
    assert audits.versions(host) == {}


def test_a_context_that_cannot_be_entered_stores_no_context(multi_asa, ruleset, tmp_path) -> None:
    host, known_line, folder = multi_asa
    audits = Audits(tmp_path, known_line, ruleset)
    report = audits.run(host)
    assert report.status == "ok", report.error
    # ctx1 widened, then ctx2 (listed after it) cannot be entered: ctx1's change waits.
    ctx1 = folder / "ctx1"
    ctx1.write_text(
        ctx1.read_text().replace("access-list outside_in extended deny ip any any log\n", "")
    )
    folder.with_name("fault").write_text("invalid changeto context ctx2\n")
    report = audits.run(host)
    assert report.status == "incomplete"
    (found,) = report.findings
    assert found.finding.event_text.startswith(
        "ospatrol: scan incomplete: error: cannot enter context ctx2: "
    )
    assert audits.versions(host) == dict.fromkeys(KEYS, 1)
    folder.with_name("fault").unlink()
    report = audits.run(host)
    assert [f.finding.subject for f in report.findings] == ["context ctx1: running config"]


def test_a_single_context_asa_stores_its_running_config_only(
    lab_simulator, ruleset, tmp_path
) -> None:
    host, known_line, _ = simulated(lab_simulator, "cisco_asa")
    audits = Audits(tmp_path, known_line, ruleset)
    report = audits.run(host)
    assert report.status == "ok", report.error
    assert audits.versions(host) == {"show running-config": 1}


def test_security_contexts_errors_name_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "cisco_asa.yml"
    bad.write_text(
        "config:\n"
        "  commands: [show running-config]\n"
        "  security_contexts:\n"
        "    detect: show mode\n"
        "    multiple: '^Security context mode: multiple'\n"
        "    list: show context\n"
        "    name: '^[* ]?(\\S+) '\n"
        "    enter: changeto context\n"
        "    system: changeto system\n"
    )
    with pytest.raises(InputErrors) as caught:
        load_profile(bad)
    (error,) = caught.value.errors
    assert (error.path, error.line) == (str(bad), 4)
    assert "'enter' must hold {name}" in error.message
    bad.write_text(bad.read_text().replace("changeto context\n", "changeto context {name}\n"))
    with pytest.raises(InputErrors) as caught:
        load_profile(bad)
    assert "'name' needs (?P<name>...)" in str(caught.value)
    bad.write_text(bad.read_text().replace("(\\S+)", "(?P<name>\\S+)"))
    assert load_profile(bad).sections["config"].security_contexts is not None

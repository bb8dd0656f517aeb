"""Shared fixtures: the real third-party data folder and the lab's servers on 127.0.0.1.

The third-party corpus (real OSSEC/Wazuh rule sets, logs, device configs, SCA policies) is kept
outside the repository: every test that needs it takes `shared_data`, which skips with one line
saying where it looked when the folder is missing (a clone without ../shared), and fails instead
when OSPATROL_REQUIRE_TEST_DATA=1 (CI, through .ci/run, must never skip them).

Server fixtures are session-scoped: under pytest-xdist each worker starts its own, on free ports,
in its own temporary directory. Clients must pin the fixture's host key (`known_hosts`) and not
use an ssh-agent (`agent_path=None` for asyncssh), so nothing depends on the caller's environment.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from ospatrol_lab.lab import Lab
from ospatrol_lab.sshd import SshdServer
from ospatrol_lab.switch import SwitchServer

REPO = Path(__file__).resolve().parents[1]

# Property tests assert results, not speed: Hypothesis' default 200 ms deadline per example failed
# them on a loaded 2-core machine (the examples themselves are fast; the scheduler was not).
# The suite draws the same examples on every run (derandomize), so a run passes or fails on the
# code, never on the draw: differential tests against libpcre2 and OSSEC can find a difference in
# exotic input, and CI must not be where that is found first. `pytest --hypothesis-profile=explore`
# draws new examples each run to hunt for such differences.
settings.register_profile("ospatrol", deadline=None, derandomize=True)
settings.register_profile("explore", deadline=None)
settings.load_profile("ospatrol")


TEST_DATA_VAR = "OSPATROL_TEST_DATA"
REQUIRE_TEST_DATA_VAR = "OSPATROL_REQUIRE_TEST_DATA"
# Resolved once, relative to the checkout, and exported: modules that read the corpus when
# imported, and programs the tests start, see the same absolute folder.
TEST_DATA = (REPO / os.environ.get(TEST_DATA_VAR, "../shared/data")).resolve()
os.environ[TEST_DATA_VAR] = str(TEST_DATA)
MISSING = f"third-party test data not found in {TEST_DATA} (set {TEST_DATA_VAR} to where it is)"


def _required() -> bool:
    return os.environ.get(REQUIRE_TEST_DATA_VAR) == "1"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The third-party corpus: $OSPATROL_TEST_DATA (relative to the checkout), by default
    ../shared/data beside it. Missing: the test skips (fails if OSPATROL_REQUIRE_TEST_DATA=1)."""
    if TEST_DATA.is_dir():
        return TEST_DATA
    if _required():
        pytest.fail(f"{MISSING}; {REQUIRE_TEST_DATA_VAR}=1 forbids skipping", pytrace=False)
    pytest.skip(MISSING)


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):
    """A module that reads the corpus when imported (to parametrise over its files) cannot be
    imported without it: the same skip as `shared_data`'s, for the whole module."""
    report = yield
    if (
        report.failed
        and isinstance(collector, pytest.Module)
        and not TEST_DATA.is_dir()
        and not _required()
        and str(TEST_DATA) in str(report.longrepr)
    ):
        report.outcome = "skipped"
        report.longrepr = (str(collector.path), None, f"Skipped: {MISSING}")
    return report


@pytest.fixture(scope="session")
def lab_sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshdServer]:
    """A running OpenSSH server: .port, .user, .client_key, .known_hosts(_line), .tree, .log_path.

    Shared by the whole session: do not rotate its host key (use `SshdServer` under tmp_path).
    """
    with SshdServer(tmp_path_factory.mktemp("sshd")) as server:
        yield server


@pytest.fixture(scope="session")
def lab_switch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SwitchServer]:
    """A simulated Cisco IOS switch (fake-switches): .port, .user, .password, .enable_password,
    .hostname, .known_hosts_line. Its running config is shared by the session: tests that change
    it must use values of their own."""
    with SwitchServer(tmp_path_factory.mktemp("switch")) as server:
        yield server


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """The whole lab as `ospatrol lab up` starts it: .sshd, .switch, .simulator (the simulator's
    simulator.json), .simulator_devices() (one host per platform), .inventory_path,
    .known_hosts_path."""
    started = Lab(tmp_path_factory.mktemp("lab"))
    started.up()
    yield started
    started.down()


@pytest.fixture(scope="session")
def lab_simulator(tmp_path_factory: pytest.TempPathFactory):
    """The device simulator (`ospatrol_lab.simulator`) as a child process with one host per
    platform (sim-asa-01, sim-junos-01, sim-screenos-01, sim-gaia-01, sim-esxi-01):
    `.host(platform)` gives name, address, port, user, password, enable_password, config_file;
    `.known_hosts` pins their key. The running configs are shared by the session: a test that
    edits one restores it."""
    from ospatrol_lab.simulator import SimulatorProcess

    with SimulatorProcess(tmp_path_factory.mktemp("simulator")) as simulator:
        yield simulator


@pytest.fixture
def backtracking_rules(tmp_path: Path) -> dict[str, object]:
    """`load_ruleset` arguments for a rule set with one catastrophic pattern: lines of program
    `app` meet rule 100's `^(a+)+$` (exponential on a run of a's without a match), then rule
    101, the fallback, which fires when 100 does not."""
    decoders = tmp_path / "decoders.xml"
    decoders.write_text('<decoder name="app">\n  <program_name>^app$</program_name>\n</decoder>\n')
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.xml").write_text(
        '<group name="syslog">\n  <rule id="1" level="0" noalert="1">\n'
        "    <category>syslog</category>\n    <description>t</description>\n  </rule>\n"
        '  <rule id="100" level="5">\n    <decoded_as>app</decoded_as>\n'
        "    <pcre2>^(a+)+$</pcre2>\n    <description>evil</description>\n  </rule>\n"
        '  <rule id="101" level="3">\n    <decoded_as>app</decoded_as>\n'
        "    <description>fallback</description>\n  </rule>\n</group>\n"
    )
    return {"rules_dir": rules, "decoders": [decoders]}

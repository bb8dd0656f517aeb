"""Devices that misbehave, through the real audit, with both CLI drivers (netmiko, asyncssh).

The simulator's ASA is made to misbehave on `show running-config` (the `fault` file beside its
config: `ospatrol_lab.sim_cli.FAULTS`): it drops the session halfway through, rejects the
command, never shows a prompt, pages without end, or prints half the config and its prompt. Each
audit must end that device with an error naming what happened, store no version and report no
change; once the device behaves again the next audit finds nothing changed (the partial output
never became a baseline). test_configs.py covers the collector's own checks of a cut output as
plain functions; here the whole path runs: transport, collector, analysis, store.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from ospatrol.audit.run import AuditOptions, audit
from ospatrol.audit.setup import build_collectors, load_engine
from ospatrol.config import Config
from ospatrol.inventory.options import ConnectionOptions
from ospatrol.model import Credentials, Host
from ospatrol.store import Store
from ospatrol.transport import TransportSettings, open_transport

COMMAND = "show running-config"
CAP = 64 * 1024
LIMIT = 2.0
"""Seconds of the connect and command time-outs: a device that never answers costs this."""

# (fault, driver) -> what the device's error must say.
EXPECTED = {
    ("drop", "netmiko"): r"'show running-config' on .*: the device closed the session mid-output",
    ("drop", "asyncssh"): r"'show running-config' on .*: the device closed the session mid-output",
    ("invalid", "netmiko"): r"error: the device rejected the command",
    ("invalid", "asyncssh"): r"error: the device rejected the command",
    ("no-prompt", "netmiko"): r"no CLI prompt within 2 s of login",
    ("no-prompt", "asyncssh"): r"no CLI prompt within 2 s of login",
    # netmiko does not answer a pager: it waits for the prompt until the time-out.
    ("page-forever", "netmiko"): r"'show running-config' on .*: no prompt within 2 s",
    ("page-forever", "asyncssh"): (
        rf"'show running-config' on .*: output over the {CAP} byte cap "
        r"\(stopped, \d+ --More-- pages answered\)"
    ),
    ("truncated", "netmiko"): r"truncated listing: the configuration has no end line",
    ("truncated", "asyncssh"): r"truncated listing: the configuration has no end line",
}


@pytest.fixture(scope="module")
def engine():
    return load_engine()


def _device(lab_simulator, driver: str, platform: str = "cisco_asa") -> Host:
    info = lab_simulator.host(platform)
    enable = info["enable_password"] if platform == "cisco_asa" else None
    return Host(
        info["name"],
        "127.0.0.1",
        port=info["port"],
        platform=platform,
        connection="network_cli",
        credentials=Credentials(user=info["user"], password=info["password"], enable_secret=enable),
        options=ConnectionOptions(
            enable=enable is not None,
            netdev_driver=driver,
            connect_timeout=LIMIT,
            command_timeout=LIMIT,
            netdev_max_output=CAP,
        ),
    )


class Audits:
    """The config collector in real audits of one device, into one state dir."""

    def __init__(self, tmp_path: Path, lab_simulator, engine) -> None:
        state = tmp_path / "state"
        state.mkdir()
        (state / "known_hosts").write_text(lab_simulator.known_hosts.read_text())
        self.store = Store.open(state)
        self.engine = engine
        self.settings = TransportSettings(known_hosts=state / "known_hosts")
        self.collectors = build_collectors(["config"], Config(state_dir=state))

    def run(self, host: Host):
        record = asyncio.run(
            audit(
                [host],
                self.collectors,
                self.store,
                lambda h: open_transport(h, self.settings),
                engine=self.engine,
                options=AuditOptions(concurrency=1),
            )
        )
        return record.hosts[0]

    def versions(self, host: Host, command: str = COMMAND) -> list[int]:
        return [e.version for e in self.store.state_history(host.name, "config", command)]


@pytest.mark.parametrize("driver", ["netmiko", "asyncssh"])
@pytest.mark.parametrize("fault", ["drop", "invalid", "no-prompt", "page-forever", "truncated"])
def test_a_misbehaving_device_is_an_error_and_stores_nothing(
    lab_simulator, engine, tmp_path, fault, driver
):
    _misbehave(lab_simulator, engine, tmp_path, driver, "cisco_asa", COMMAND, fault)


@pytest.mark.parametrize("driver", ["netmiko", "asyncssh"])
def test_a_truncated_junos_config_is_an_error_and_stores_nothing(
    lab_simulator, engine, tmp_path, driver
):
    """Junos has no end line: its profile's completion check wants the last line to close a
    top-level block, which a config cut short does not."""
    _misbehave(
        lab_simulator, engine, tmp_path, driver, "juniper_junos", "show configuration", "truncated"
    )


def _misbehave(lab_simulator, engine, tmp_path, driver, platform, command, fault) -> None:
    host = _device(lab_simulator, driver, platform)
    audits = Audits(tmp_path, lab_simulator, engine)
    first = audits.run(host)
    assert (first.status, first.error) == ("ok", "")
    assert audits.versions(host, command) == [1]

    fault_file = Path(lab_simulator.host(platform)["config_file"]).with_name("fault")
    fault_file.write_text(f"{fault} {command}\n")
    try:
        broken = audits.run(host)
    finally:
        fault_file.unlink()
    assert broken.status != "ok"
    expected = EXPECTED[fault, driver].replace(COMMAND, command)
    assert re.search(expected, broken.error), broken.error
    assert audits.versions(host, command) == [1]
    texts = [f.finding.event_text for f in broken.findings]
    assert not any(t.startswith("ospatrol: config changed") for t in texts), texts

    # The device behaves again: nothing changed since the last complete config.
    again = audits.run(host)
    assert (again.status, again.findings) == ("ok", ())
    assert audits.versions(host, command) == [1]

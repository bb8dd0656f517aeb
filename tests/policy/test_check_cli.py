"""`ospatrol check` through the CLI: hosts of an inventory over SSH, JSON and JUnit output, exit
status, an unreachable host reported as such, waivers."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

import pytest

from tests.audit.conftest import lab_host, run_cli, write_inventory


@pytest.fixture
def refusing_port() -> Iterator[int]:
    """A loopback port bound and not listening for the whole test: connections are refused
    (a port found free and closed again could be taken by another test's server)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def test_check_hosts_json_junit_and_an_unreachable_host(
    lab_sshd, tmp_path: Path, shared_data, refusing_port: int
):
    policy = shared_data / "sca" / "wazuh-4.x" / "sca_unix_audit.yml"
    dead = {"ansible_host": "127.0.0.1", "ansible_port": refusing_port, "ansible_user": "x"}
    inv = write_inventory(tmp_path / "inv.yml", {"web1": lab_host(lab_sshd), "dead": dead})
    state = tmp_path / "state"
    result = run_cli(state, "check", "-p", str(policy), "-i", str(inv), "-f", "json")
    assert result.returncode == 2, result.stderr  # a host could not be checked
    hosts = {h["name"]: h for h in json.loads(result.stdout)["hosts"]}
    assert hosts["dead"]["error"] and not hosts["dead"]["policies"]
    (run,) = hosts["web1"]["policies"]
    assert run["id"] == "unix_audit" and run["applicable"] and run["round_trips"] <= 3
    assert len(run["checks"]) == 23
    failed = [c for c in run["checks"] if c["status"] == "failed"]
    passed = [c for c in run["checks"] if c["status"] == "passed"]
    assert run["score"] == round(100 * len(passed) / (len(passed) + len(failed)), 1)
    assert all(c["remediation"] for c in failed)

    only_web = run_cli(
        state, "check", "-p", str(policy), "-i", str(inv), "-l", "web1", "-f", "junit"
    )
    assert only_web.returncode == (1 if failed else 0)
    suites = ElementTree.fromstring(only_web.stdout)
    cases = suites.findall("./testsuite/testcase")
    assert len(cases) == 23
    assert len(suites.findall("./testsuite/testcase/failure")) == len(failed)


def test_waivers_turn_failures_into_waived_and_expired_ones_are_findings(
    lab_sshd, tmp_path: Path, shared_data
):
    policy = shared_data / "sca" / "wazuh-4.x" / "sca_unix_audit.yml"
    inv = write_inventory(tmp_path / "inv.yml", {"web1": lab_host(lab_sshd)})
    state = tmp_path / "state"
    first = run_cli(state, "check", "-p", str(policy), "-i", str(inv), "-f", "json")
    checks = json.loads(first.stdout)["hosts"][0]["policies"][0]["checks"]
    failed = [c["id"] for c in checks if c["status"] == "failed"]
    assert failed, "the lab host is expected to fail some unix_audit checks"
    entries = "".join(
        f"  - {{host: 'web*', check: {cid}, justification: accepted, expires: 2999-01-01}}\n"
        for cid in failed
    )
    waivers = tmp_path / "waivers.yml"
    waivers.write_text("waivers:\n" + entries)
    waived = run_cli(
        state, "check", "-p", str(policy), "-i", str(inv), "--waivers", str(waivers), "-f", "json"
    )
    assert waived.returncode == 0, waived.stderr
    statuses = {c["id"]: c for c in json.loads(waived.stdout)["hosts"][0]["policies"][0]["checks"]}
    assert {statuses[c]["status"] for c in failed} == {"waived"}
    assert statuses[failed[0]]["waiver"] == "accepted (until 2999-01-01)"

    waivers.write_text(waivers.read_text().replace("2999-01-01", "2000-01-01", 1))
    expired = run_cli(state, "check", "-p", str(policy), "-i", str(inv), "--waivers", str(waivers))
    assert expired.returncode == 1
    assert (
        f"{waivers}:2: waiver of check {failed[0]} for web* expired on 2000-01-01" in expired.stderr
    )


def test_waiver_errors_name_the_line(tmp_path: Path, shared_data):
    policy = shared_data / "sca" / "wazuh-4.x" / "sca_unix_audit.yml"
    waivers = tmp_path / "waivers.yml"
    waivers.write_text(
        "waivers:\n"
        "  - {host: a, check: 3000, justification: ok, expires: 2030-01-01}\n"
        "  - host: b\n    check: 999999\n"
        "    justification: no such check\n    expires: 2030-01-01\n"
        "  - {host: c, check: 3001, justification: bad date, expires: 'next tuesday'}\n"
    )
    config = tmp_path / "r.cfg"
    config.write_text("hostname r1\n")
    result = run_cli(
        tmp_path / "state",
        "check",
        "-p",
        str(policy),
        "--config",
        str(config),
        "--platform",
        "cisco_ios",
        "--waivers",
        str(waivers),
    )
    assert result.returncode == 3
    assert f"{waivers}:4: waiver: unknown check id '999999'" in result.stderr
    assert f"{waivers}:7: waiver: bad date 'next tuesday'" in result.stderr

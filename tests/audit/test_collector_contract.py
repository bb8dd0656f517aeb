"""The collector contract: collectors return updates, the audit commits them with their findings.

Real transports (local, the lab sshd) and the real store; the collectors here are test
collectors standing for any collector (one that keeps state and reports, one whose transport
fails mid-run), not stand-ins for the code under test, which is the audit.
"""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ospatrol.audit.history import load_run
from ospatrol.audit.records import exit_status
from ospatrol.audit.run import AuditOptions, audit
from ospatrol.collect.base import CollectorResult, StateView
from ospatrol.collect.fim import FimCollector, baseline_entries, fim_state
from ospatrol.model import Alert, Event, Finding, Host, from_dict, to_dict
from ospatrol.report import run_to_dict
from ospatrol.store import PutState, Store
from ospatrol.transport import TransportSettings, Unreachable, open_transport
from tests.audit.conftest import lab_host, run_cli, write_inventory


class Remembers:
    """Keeps a counter per host in the generic state table and reports each change."""

    name = "remembers"

    async def collect(self, host: Host, transport, state: StateView) -> CollectorResult:
        result = await transport.run("echo changed")
        before = state.get("counter")
        count = int(before.text) + 1 if before else 1
        finding = Finding(host.name, self.name, "changed", "counter", event_text=result.stdout)
        update = PutState("counter", str(count).encode(), str(count))
        return CollectorResult(self.name, "ok", (finding,), updates=(update,))


class LosesConnection:
    """Fails the way a dropped connection does, after its sibling has finished."""

    name = "loses"

    async def collect(self, host: Host, transport, state: StateView) -> CollectorResult:
        await asyncio.sleep(0.05)
        raise Unreachable("connection lost")


def _local(tmp_path: Path, **extra) -> Host:
    return Host("me", "localhost", connection="local", vars=extra)


def _opener(tmp_path: Path):
    settings = TransportSettings(known_hosts=tmp_path / "known_hosts")
    return lambda host: open_transport(host, settings)


def test_a_failing_collector_keeps_its_siblings_findings_and_their_state(tmp_path: Path):
    """The lost-findings bug: a sibling's transport error used to drop every finding of the
    host while the other collector's state had already moved."""
    with Store.open(tmp_path / "state") as store:
        record = asyncio.run(
            audit([_local(tmp_path)], [Remembers(), LosesConnection()], store, _opener(tmp_path))
        )
        (report,) = record.hosts
        outcomes = {c.name: c.status for c in report.collectors}
        assert outcomes == {"remembers": "ok", "loses": "incomplete"}
        kinds = [(f.finding.collector, f.finding.kind) for f in report.findings]
        assert kinds == [("remembers", "changed"), ("loses", "incomplete")]
        assert "unreachable: connection lost" in report.findings[1].finding.event_text
        # The state moved and the finding that goes with it is stored in the same run.
        assert store.state("me", "remembers", "counter").text == "1"
        stored = store.findings(run_id=record.id)
        assert [(s.finding.collector, s.finding.kind) for s in stored] == kinds
        # The failing collector wrote nothing.
        assert store.states("me", "loses") == {}


def test_state_is_versioned_and_updates_of_an_incomplete_collector_are_not_applied(tmp_path):
    class Incomplete(Remembers):
        async def collect(self, host, transport, state):
            result = await super().collect(host, transport, state)
            return CollectorResult(self.name, "incomplete", result.findings, "x", result.updates)

    with Store.open(tmp_path / "state") as store:
        for _ in range(2):
            asyncio.run(audit([_local(tmp_path)], [Remembers()], store, _opener(tmp_path)))
        asyncio.run(audit([_local(tmp_path)], [Incomplete()], store, _opener(tmp_path)))
        history = store.state_history("me", "remembers", "counter")
        assert [(e.version, e.text) for e in history] == [(1, "1"), (2, "2")]
        assert history[1].run is not None


def test_dry_run_writes_nothing_and_reads_the_existing_state(tmp_path: Path):
    state_dir = tmp_path / "state"
    with Store.open_for_reading(state_dir) as store:
        options = AuditOptions(dry_run=True)
        record = asyncio.run(
            audit([_local(tmp_path)], [Remembers()], store, _opener(tmp_path), options=options)
        )
    assert record.id is None and not state_dir.exists()
    assert [f.finding.kind for f in record.hosts[0].findings] == ["changed"]
    assert not record.baseline_changed, "a dry run moves no baseline"


def test_audit_dry_run_on_a_fresh_state_dir_leaves_it_absent(lab_sshd, tmp_path: Path):
    """`--dry-run` checks a first-contact host key without pinning it and creates nothing."""
    watched = tmp_path / "tree"
    (watched / "etc").mkdir(parents=True)
    (watched / "etc" / "a.conf").write_text("a = 1\n")
    inv = write_inventory(
        tmp_path / "inv.yml", {"web1": lab_host(lab_sshd, ospatrol_fim_paths=[str(watched)])}
    )
    state = tmp_path / "state"
    result = run_cli(state, "audit", "-i", str(inv), "--dry-run", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["hosts"][0]["status"] == "ok"
    assert not state.exists() or list(state.iterdir()) == []


def test_stored_run_re_renders_with_rules_descriptions_durations_and_alerts(lab_sshd, tmp_path):
    watched = tmp_path / "tree"
    (watched / "etc").mkdir(parents=True)
    (watched / "etc" / "a.conf").write_text("a = 1\n")
    inv = write_inventory(
        tmp_path / "inv.yml", {"web1": lab_host(lab_sshd, ospatrol_fim_paths=[str(watched)])}
    )
    state = tmp_path / "state"
    args = ("audit", "-i", str(inv), "--only", "fim", "--format", "json")
    assert run_cli(state, *args).returncode == 0
    (watched / "etc" / "a.conf").write_text("a = 2\n")
    live = run_cli(state, *args).json()
    stored = run_cli(state, "report", "--run", str(live["run"]["id"]), "--format", "json").json()

    def shown(report: dict) -> list:
        return [
            (f["rule"], f["level"], f["description"], f["event"])
            for h in report["hosts"]
            for f in h["findings"]
        ]

    assert shown(stored) == shown(live) and shown(live)
    assert all(f[2] for f in shown(live)), "every finding carries its rule's description"
    live_host, stored_host = live["hosts"][0], stored["hosts"][0]
    assert stored_host["duration"] == pytest.approx(live_host["duration"], abs=1e-6)
    assert stored_host["collectors"] == live_host["collectors"]
    with Store.open(state) as store:
        alerts = store.alerts(run=live["run"]["id"])
    assert [(a.rule_id, a.level) for a in alerts] == [(f[0], f[1]) for f in shown(live)]
    assert from_dict(Alert, alerts[0].alert).event.location == "agentless:web1:fim"


def test_killed_run_keeps_what_it_committed_and_is_marked_interrupted(tmp_path: Path):
    """SIGKILL after a collector committed: its findings and state stay, the run is shown as
    interrupted on the next look, never as a finished run."""
    state_dir = tmp_path / "state"
    script = f"""
import asyncio, sys
sys.path.insert(0, {str(Path(__file__).parent.parent.parent)!r})
from tests.audit.test_collector_contract import Remembers, _local, _opener
from ospatrol.audit.run import audit
from ospatrol.store import Store
from pathlib import Path

class Hangs:
    name = "hangs"
    async def collect(self, host, transport, state):
        print("committed", flush=True)
        await asyncio.sleep(3600)

async def main():
    tmp = Path({str(tmp_path)!r})
    with Store.open(tmp / "state") as store:
        await audit([_local(tmp)], [Remembers(), Hangs()], store, _opener(tmp))

asyncio.run(main())
"""
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "committed"
        # Remembers finished first (Hangs only prints once it runs): wait for its commit.
        with Store.open(state_dir) as store:
            for _ in range(100):
                if store.state("me", "remembers", "counter"):
                    break
                asyncio.run(asyncio.sleep(0.05))
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    with Store.open(state_dir) as store:
        record = load_run(store)
        assert record.status == "interrupted"
        assert run_to_dict(record)["run"]["status"] == "interrupted" and exit_status(record) == 2
        assert store.state("me", "remembers", "counter").text == "1"
        (host,) = record.hosts
        assert [f.finding.kind for f in host.findings] == ["changed"]
        assert host.error.startswith("interrupted")


def test_non_utf8_output_is_stored_and_read_back_losslessly(tmp_path: Path):
    odd = b"gecos \xff\xfe caf\xe9".decode("utf-8", "surrogateescape")

    class Odd(Remembers):
        async def collect(self, host, transport, state):
            finding = Finding(host.name, self.name, "changed", odd, diff=odd, event_text=odd)
            update = PutState(odd, odd.encode("utf-8", "surrogateescape"), "d")
            return CollectorResult(self.name, "ok", (finding,), updates=(update,))

    with Store.open(tmp_path / "state") as store:
        record = asyncio.run(audit([_local(tmp_path)], [Odd()], store, _opener(tmp_path)))
        assert record.hosts[0].status == "ok"
        (stored,) = store.findings(run_id=record.id)
        assert stored.finding.event_text == odd and stored.finding.diff == odd
        assert store.state("me", "remembers", odd).text == odd


def test_state_dir_and_database_are_private(tmp_path: Path):
    with Store.open(tmp_path / "state"):
        pass
    assert (tmp_path / "state").stat().st_mode & 0o777 == 0o700
    for path in (tmp_path / "state").iterdir():
        assert path.stat().st_mode & 0o077 == 0, path


def test_fim_findings_and_baseline_commit_together(tmp_path: Path):
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "f").write_text("1")
    host = _local(tmp_path, ospatrol_fim_paths=[str(tree)])
    with Store.open(tmp_path / "state") as store:
        asyncio.run(audit([host], [FimCollector(), LosesConnection()], store, _opener(tmp_path)))
        (tree / "f").write_text("22")
        record = asyncio.run(
            audit([host], [FimCollector(), LosesConnection()], store, _opener(tmp_path))
        )
        fim = [f.finding for f in record.hosts[0].findings if f.finding.collector == "fim"]
        assert [f.kind for f in fim] == ["changed"]
        assert baseline_entries(fim_state(store, "me"))[str(tree / "f")].size == 2
        assert [s.finding.kind for s in store.findings(run_id=record.id, collector="fim")] == [
            "changed"
        ]


@pytest.mark.parametrize(
    "record",
    [
        Host("w", "10.0.0.1", vars={"a": [1, {"b": 2}]}, groups=("web",)),
        Event("text", "agentless:w:fim", "w", extra={"diff": "-a\n+b"}),
        Alert(
            550,
            7,
            "changed",
            Event("t", "l"),
            groups=("syscheck",),
            fields={"srcip": "1.2.3.4"},
            previous_output=("x",),
        ),
        Finding("w", "fim", "changed", "/etc/hosts", diff="d", event_text="e"),
    ],
)
def test_records_survive_pickle_and_a_json_round_trip(record):
    assert pickle.loads(pickle.dumps(record)) == record
    assert from_dict(type(record), json.loads(json.dumps(to_dict(record)))) == record


class Modal:
    """Holds the session in a mode for a while, as a device collector in `changeto context`."""

    def __init__(self, name: str, log: list[str]) -> None:
        self.name, self.log = name, log

    async def collect(self, host: Host, transport, state: StateView) -> CollectorResult:
        self.log.append(f"{self.name} enters")
        await asyncio.sleep(0.05)
        await transport.run("true")
        self.log.append(f"{self.name} leaves")
        return CollectorResult(self.name, "ok")


@pytest.mark.parametrize("sessions", [1, 4])
def test_collectors_take_turns_on_a_one_session_transport(tmp_path: Path, sessions: int):
    """A device CLI (max_parallel 1) has one session whose mode a collector changes: its
    collectors run one after the other; on a host with parallel sessions they overlap."""
    from contextlib import asynccontextmanager
    from dataclasses import replace

    settings = TransportSettings(known_hosts=tmp_path / "known_hosts")

    @asynccontextmanager
    async def opener(host: Host):
        async with open_transport(host, settings) as transport:
            transport.capabilities = replace(transport.capabilities, max_parallel=sessions)
            yield transport

    log: list[str] = []
    with Store.open(tmp_path / "state") as store:
        asyncio.run(audit([_local(tmp_path)], [Modal("a", log), Modal("b", log)], store, opener))
    if sessions == 1:
        assert log == ["a enters", "a leaves", "b enters", "b leaves"]
    else:
        assert log[:2] == ["a enters", "b enters"]


def test_a_host_timeout_keeps_what_finished_and_names_the_rest(tmp_path: Path):
    """`ospatrol_host_timeout` bounds the whole host: collectors that finished are kept and
    committed, the one still running is incomplete, and the host says why."""
    from dataclasses import replace

    from ospatrol.inventory.options import ConnectionOptions

    class Slow(Remembers):
        name = "slow"

        async def collect(self, host, transport, state):
            await asyncio.sleep(30)

    host = replace(_local(tmp_path), options=ConnectionOptions(host_timeout=0.5))
    with Store.open(tmp_path / "state") as store:
        record = asyncio.run(audit([host], [Remembers(), Slow()], store, _opener(tmp_path)))
        (report,) = record.hosts
        assert report.status == "incomplete"
        assert report.error == "timeout: host not audited within 0.5 s"
        assert {c.name: c.status for c in report.collectors} == {
            "remembers": "ok",
            "slow": "incomplete",
        }
        assert store.state("me", "remembers", "counter").text == "1"


def test_audit_policy_option_runs_that_policy_through_the_cis_collector(lab_sshd, tmp_path):
    policy = tmp_path / "tiny.yml"
    policy.write_text(
        "policy: {id: tiny, file: tiny.yml, name: Tiny, description: two checks, "
        "platforms: [linux]}\n"
        "checks:\n"
        "- {id: tiny-1, title: echo answers, condition: all, rules: ['c:echo yes -> r:^yes$']}\n"
        "- {id: tiny-2, title: echo says no, condition: all, rules: ['c:echo no -> r:^yes$']}\n"
    )
    tree = tmp_path / "tree"
    tree.mkdir()
    inv = write_inventory(
        tmp_path / "inv.yml", {"web1": lab_host(lab_sshd, ospatrol_walk_roots=[str(tree)])}
    )
    state = tmp_path / "state"
    result = run_cli(
        state, "audit", "-i", str(inv), "--only", "commands", "--policy", str(policy), "-f", "json"
    )
    assert result.returncode in (0, 1), result.stderr
    (host,) = result.json()["hosts"]
    texts = [f["event"] for f in host["findings"] if f["collector"] == "cis"]
    assert any("policy 'tiny' check 'tiny-2'" in t and "check failed" in t for t in texts)
    assert not any("tiny-1" in t for t in texts)
    with Store.open(state) as store:
        rows = {r.check_id: r.status for r in store.check_results("web1", policy="tiny")}
    assert rows == {"tiny-1": "passed", "tiny-2": "failed"}

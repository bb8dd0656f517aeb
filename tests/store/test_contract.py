"""The store contract: what every backend must do, through the protocols only.

Parametrised over backends (`BACKENDS`): a PostgreSQL store later is one more entry here and
passes the same tests. Nothing below touches SQL or a backend's private methods.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ospatrol.model import Alert, Event, Finding, Host, from_dict, to_dict
from ospatrol.store import FileContent, PutFimContents, PutFimSnapshot, PutState, SetFimListing
from ospatrol.store.protocols import AlertStore, AuditStore, RunStore, StateStore
from ospatrol.store.sqlite import Store

BACKENDS: dict[str, Callable[[Path], AuditStore]] = {"sqlite": lambda tmp: Store.open(tmp)}


@pytest.fixture(params=sorted(BACKENDS))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AuditStore]:
    opened = BACKENDS[request.param](tmp_path / "state")
    yield opened
    opened.close()


def test_runs_hosts_and_findings_round_trip(store: RunStore):
    run = store.start_run({"limit": "web*"})
    store.touch_host(Host("web1", "10.0.0.1", platform="linux"))
    odd = "caf\udce9 \x1b[2J"
    finding = Finding("web1", "fim", "changed", odd, detail=odd, diff=odd, event_text=odd)
    described = "Integrity checksum changed."
    store.add_findings(run, [finding], rule=550, level=7, description=described)
    store.set_run_host(
        run, "web1", "ok", duration=1.25, collectors=[("fim", "ok", ""), ("commands", "ok", "")]
    )
    store.finish_run(run, "ok")
    (stored,) = store.findings(run_id=run)
    assert stored.finding == finding
    assert (stored.rule, stored.level, stored.description) == (
        550,
        7,
        "Integrity checksum changed.",
    )
    (host,) = store.run_hosts(run)
    assert (host.duration, host.collectors) == (1.25, (("fim", "ok", ""), ("commands", "ok", "")))
    assert store.run(run).status == "ok" and [h.name for h in store.hosts()] == ["web1"]
    assert store.mark_interrupted() == []


def test_alerts_are_kept_whole_and_filtered(store: AlertStore):
    event = Event("Integrity checksum changed for: '/etc/hosts'", "agentless:web1:fim", "web1")
    low = Alert(554, 5, "new file", event, groups=("syscheck",))
    high = Alert(550, 7, "changed", event, fields={"file": "/etc/hosts"}, groups=("syscheck",))
    store.add_alert(low)
    store.add_alert(high, run=3)
    assert [a.rule_id for a in store.alerts(level=6)] == [550]
    assert [a.rule_id for a in store.alerts(rule=554)] == [554]
    (of_run,) = store.alerts(run=3)
    assert from_dict(Alert, of_run.alert) == high
    assert store.alerts(host="web2") == [] and len(store.alerts(since=event.time)) == 2


def test_alerts_added_in_a_batch_are_kept_whole(store: AlertStore):
    odd = "caf\udce9 \x1b[2J é"
    extra = {"syslog": {"pri": 13, "sd": {"origin@1": {"ip": "10.0.0.1"}}}}
    events = [
        Event(f"Failed password for root from 10.0.0.{n} {odd}", "syslog:10.0.0.9", "fw1", 1e9 + n,
              "syslog", extra)
        for n in range(3)
    ]  # fmt: skip
    alerts = [
        Alert(5710 + n, 5 + n, "sshd", ev, ("syslog", "sshd"), {"srcip": f"10.0.0.{n}"},
              decoder="sshd", previous_output=(odd,), alert_id=f"1.{n}", mitre=("T1110",))
        for n, ev in enumerate(events)
    ]  # fmt: skip
    store.add_alerts(alerts, run=4)
    store.add_alerts([])
    stored = store.alerts(run=4)
    assert [from_dict(Alert, a.alert) for a in stored] == alerts
    # the same document a record's `to_dict` gives, once through JSON
    assert [a.alert for a in stored] == [json.loads(json.dumps(to_dict(a))) for a in alerts]
    assert [(a.level, a.host, a.text, a.fields) for a in stored] == [
        (5 + n, "fw1", events[n].text, {"srcip": f"10.0.0.{n}"}) for n in range(3)
    ]
    assert [a.rule_id for a in store.alerts(level=7)] == [5712]


def test_old_alerts_are_pruned_and_the_rest_kept(store: AlertStore):
    def alert(when: float, rule: int) -> Alert:
        return Alert(rule, 5, "sshd", Event("Failed password", "syslog:10.0.0.9", "fw1", when))

    store.add_alerts([alert(1000.0 + n, 1) for n in range(7)] + [alert(2000.0, 2)])
    store.add_alert(alert(999.0, 3), run=1)
    assert store.prune_alerts(1003.0) == 4
    assert [(a.rule_id, a.time) for a in store.alerts()] == [
        *((1, 1000.0 + n) for n in range(3, 7)),
        (2, 2000.0),
    ]
    assert store.prune_alerts(1003.0) == 0
    assert store.prune_alerts(3000.0) == 5 and store.alerts() == []


def test_collector_state_is_versioned_per_key(store: StateStore):
    for blob in (b"v1", b"v2"):
        store.apply_updates("r1", "configs", [PutState("running", blob, blob.decode())], run=9)
    store.apply_updates("r1", "configs", [PutState("version", b"15.2", "d")])
    assert store.state("r1", "configs", "running").blob == b"v2"
    assert [e.version for e in store.state_history("r1", "configs", "running")] == [1, 2]
    assert store.state_version("r1", "configs", "running", 1).run == 9
    assert sorted(store.states("r1", "configs")) == ["running", "version"]
    assert store.states("r1", "fim") == {} and store.state("r2", "configs", "running") is None


def test_fim_snapshot_and_contents_are_written_only_through_updates(store: StateStore):
    content = FileContent("/etc/a", b"x=1\n", 4)
    store.apply_updates(
        "h", "fim", [PutFimSnapshot(1, b"packed", "d1"), PutFimContents((content,), replace=True)]
    )
    assert (store.fim_snapshot("h").records, store.fim_snapshot("h").listing) == (b"packed", "d1")
    store.apply_updates("h", "fim", [SetFimListing(None), PutFimContents(removed=("/etc/a",))])
    assert store.fim_snapshot("h").listing is None and store.fim_contents("h") == {}
    store.apply_updates("h", "fim", [PutFimSnapshot(0, b"", None)])
    assert store.fim_snapshot("h") is None


def test_a_transaction_commits_all_or_nothing(store: AuditStore):
    with pytest.raises(RuntimeError), store.transaction():
        store.apply_updates("h", "commands", [PutState("uname", b"Linux", "d")])
        raise RuntimeError("collector crashed mid-commit")
    assert store.state("h", "commands", "uname") is None

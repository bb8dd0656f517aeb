"""A stored run rebuilt for `ospatrol report` says which collector did not finish, as the live
run did."""

from __future__ import annotations

from pathlib import Path

from ospatrol.audit.history import load_run
from ospatrol.collect.base import incomplete_finding
from ospatrol.model import Host
from ospatrol.store import Store


def test_stored_run_shows_the_collector_whose_scan_was_incomplete(tmp_path: Path):
    with Store.open(tmp_path / "state") as store:
        run = store.start_run({"collectors": ["fim", "commands"]})
        for name in ("web1", "web2", "web3"):
            store.touch_host(Host(name=name, address="127.0.0.1"))
        # Every collector reports its own incomplete finding; the run records each outcome.
        fim = incomplete_finding("web1", "timeout: no listing", collector="fim")
        commands = incomplete_finding("web2", "truncated listing", collector="commands")
        host = incomplete_finding("web3", "unreachable: connection refused")
        store.add_findings(run, [fim, commands, host], level=7)
        store.set_run_host(
            run,
            "web1",
            "incomplete",
            fim.detail,
            collectors=[("fim", "incomplete", fim.detail), ("commands", "ok", "")],
        )
        store.set_run_host(
            run,
            "web2",
            "incomplete",
            commands.detail,
            collectors=[("fim", "ok", ""), ("commands", "incomplete", commands.detail)],
        )
        store.set_run_host(run, "web3", "unreachable", host.detail)
        store.finish_run(run, "incomplete")

        record = load_run(store)

    outcomes = {h.name: {c.name: (c.status, c.error) for c in h.collectors} for h in record.hosts}
    assert outcomes["web1"] == {"fim": ("incomplete", fim.detail), "commands": ("ok", "")}
    assert outcomes["web2"] == {"fim": ("ok", ""), "commands": ("incomplete", commands.detail)}
    assert outcomes["web3"] == {}

"""The SQLite store: migrations (empty and older databases), WAL mode, transactions, round trips."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from ospatrol.collect.fim import baseline_entries, fim_state, replace_baseline, update_baseline
from ospatrol.collect.fim_records import FileEntry
from ospatrol.model import Alert, Event, Finding, Host
from ospatrol.store import (
    SCHEMA_VERSION,
    FileContent,
    PutState,
    Store,
    StoreError,
)
from ospatrol.store.sqlite import connect, migrate


def fim_baseline(store: Store, host: str) -> dict[str, FileEntry]:
    return baseline_entries(fim_state(store, host))


def entry(path: str, **kw) -> FileEntry:
    values = dict(type="f", size=10, mode=0o644, uid=0, gid=0, owner="root", group="root")
    values.update(kw)
    return FileEntry(path=path, **values)


def test_empty_state_dir_gets_a_migrated_wal_database(tmp_path: Path):
    with Store.open(tmp_path / "state") as store:
        assert store.schema_version == SCHEMA_VERSION
        assert store.journal_mode == "wal"
    assert (tmp_path / "state" / "ospatrol.db").is_file()


def test_older_database_is_migrated_and_keeps_its_data(tmp_path: Path):
    db = tmp_path / "ospatrol.db"
    conn = connect(db)
    assert migrate(conn, target=1) == 1
    conn.execute(
        "INSERT INTO fim_baseline (host, path, type, size, mode, uid, gid, mtime, inode, sha256) "
        "VALUES ('web1', '/etc/hosts', 'f', 5, 420, 0, 0, 1.5, 7, 'abc')"
    )
    conn.close()
    with Store(db) as store:
        assert store.schema_version == SCHEMA_VERSION > 1
        kept = fim_baseline(store, "web1")["/etc/hosts"]
        assert (kept.size, kept.mode, kept.inode, kept.sha256, kept.md5) == (5, 420, 7, "abc", None)


def test_database_from_a_newer_version_is_refused_untouched(tmp_path: Path):
    db = tmp_path / "ospatrol.db"
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer"):
        Store(db)
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
    assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
    conn.close()


def test_baseline_round_trip_and_atomic_replacement(tmp_path: Path):
    with Store.open(tmp_path) as store:
        first = [
            entry("/etc/a", sha256="1" * 64, mtime=1.25, inode=3, ctime=2.5),
            entry("/etc/l", type="l", link_target="/etc/a"),
        ]
        replace_baseline(store, "h", first, [FileContent("/etc/a", b"x=1\n", 4)])
        replace_baseline(store, "other", [entry("/etc/z")])
        assert fim_baseline(store, "h") == {e.path: e for e in first}
        assert store.fim_contents("h")["/etc/a"].content == b"x=1\n"

        with pytest.raises(RuntimeError), store.transaction():
            replace_baseline(store, "h", [entry("/etc/new")], [])
            raise RuntimeError("interrupted")
        assert set(fim_baseline(store, "h")) == {"/etc/a", "/etc/l"}
        assert set(store.fim_contents("h")) == {"/etc/a"}

        odd = b"/etc/\xff\n".decode("utf-8", "surrogateescape")  # not UTF-8: kept as bytes
        update_baseline(store, "h", [entry(odd, type="l", link_target=odd)])
        assert fim_baseline(store, "h")[odd].link_target == odd
        update_baseline(store, "h", [entry("/etc/b")], removed=["/etc/l", odd])
        assert set(fim_baseline(store, "h")) == {"/etc/a", "/etc/b"}
        assert set(fim_baseline(store, "other")) == {"/etc/z"}
        assert store.fim_snapshot("h") and store.fim_snapshot("nobody") is None


def test_runs_findings_events_alerts_round_trip(tmp_path: Path):
    with Store.open(tmp_path) as store:
        store.touch_host(Host(name="web1", address="10.0.0.1"))
        assert [h.name for h in store.hosts()] == ["web1"]
        run = store.start_run({"limit": "web*"})
        store.set_run_host(run, "web1", "incomplete", "unreachable: refused")
        with pytest.raises(ValueError):
            store.set_run_host(run, "web1", "bogus")
        finding = Finding(
            host="web1",
            collector="fim",
            kind="changed",
            subject="/etc/hosts",
            diff="-a\n+b",
            event_text="Integrity checksum changed for: '/etc/hosts'",
        )
        (fid,) = store.add_findings(run, [finding])
        store.set_finding_alert(fid, 550, 7)
        store.finish_run(run, "done")

        info = store.run(run)
        assert info.status == "done" and info.finished and info.options == {"limit": "web*"}
        assert store.run_hosts(run)[0].status == "incomplete"
        (stored,) = store.findings(run_id=run, host="web1")
        assert stored.finding == finding and (stored.rule, stored.level) == (550, 7)
        assert store.findings(host="nobody") == []

        event = Event(text="x", location="agentless:web1:fim", host="web1", extra={"kind": "added"})
        store.add_event(event)
        assert store.events(host="web1")[0].extra == {"kind": "added"}
        assert len(store.events(host="web1", since=event.time)) == 1
        assert store.events(host="web1", since=event.time + 1) == []
        assert store.events(host="web2", since=event.time) == []
        store.add_alert(Alert(rule_id=554, level=5, description="new file", event=event))
        (alert,) = store.alerts(since=0)
        assert store.alerts(host="web1", since=event.time + 1) == []
        assert (alert.rule_id, alert.location, alert.groups) == (554, event.location, ())

        store.apply_updates("web1", "commands", [PutState("uname -a", b"Linux", "ab")])
        store.apply_updates("web1", "commands", [PutState("uname -a", b"Linux 2", "cd")])
        assert store.state("web1", "commands", "uname -a").text == "Linux 2"
        assert list(store.states("web1", "commands")) == ["uname -a"]


def test_second_process_waits_for_the_writer_instead_of_failing(tmp_path: Path):
    """A writer in another process holding the lock briefly must not make us fail or corrupt."""
    with Store.open(tmp_path) as store:
        script = (
            "import sys, time; from ospatrol.store import Store\n"
            "from ospatrol.collect.fim import replace_baseline\n"
            "from ospatrol.collect.fim_records import FileEntry\n"
            f"s = Store.open({str(tmp_path)!r})\n"
            "with s.transaction():\n"
            "    replace_baseline(s, 'h', [FileEntry('/x', 'f', 1, 420, 0, 0)])\n"
            "    print('locked', flush=True); time.sleep(0.5)\n"
        )
        proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "locked"
        replace_baseline(store, "h2", [entry("/y")])  # waits on busy_timeout, then writes
        assert proc.wait(timeout=10) == 0
        assert set(fim_baseline(store, "h")) == {"/x"}
        assert set(fim_baseline(store, "h2")) == {"/y"}

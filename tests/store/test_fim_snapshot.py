"""FIM baselines stored as one snapshot row per host: the migration from per-file rows, the
listing digest, and what invalidates it."""

from __future__ import annotations

import os
from pathlib import Path

from ospatrol.collect.fim import (
    baseline_entries,
    fim_state,
    replace_baseline,
    snapshot_updates,
    update_baseline,
)
from ospatrol.collect.fim_records import FileEntry, entry_record, record_entry
from ospatrol.store import FileContent, SetFimListing, Store
from ospatrol.store.sqlite import connect, migrate


def fim_baseline(store: Store, host: str) -> dict[str, FileEntry]:
    return baseline_entries(fim_state(store, host))


def fim_listing(store: Store, host: str) -> tuple[int, str | None] | None:
    snapshot = store.fim_snapshot(host)
    return None if snapshot is None else (snapshot.entries, snapshot.listing)


def test_rows_of_schema_3_become_a_snapshot_with_exact_values(tmp_path: Path):
    db = tmp_path / "ospatrol.db"
    conn = connect(db)
    assert migrate(conn, target=3) == 3
    odd = os.fsencode("/etc/caf") + b"\xe9"
    conn.executemany(
        "INSERT INTO fim_baseline (host, path, type, size, mode, uid, gid, owner, grp, mtime, "
        "inode, link_target, sha256, sha1, md5, ctime) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                "web1",
                "/etc/hosts",
                "f",
                5,
                0o644,
                0,
                0,
                "root",
                "root",
                1741014000.123456789,
                7,
                "",
                "ab" * 32,
                None,
                "cd" * 16,
                0.1,
            ),
            ("web1", odd, "l", 3, 0o4755, 1, 2, "", "adm", 1.0, 8, odd, None, None, None, 0),
            (
                "db1",
                "/etc/x",
                "d",
                4096,
                0o700,
                0,
                0,
                "root",
                "root",
                -5.5,
                9,
                "",
                None,
                None,
                None,
                2.5,
            ),
        ],
    )
    conn.close()
    with Store(db) as store:
        web = fim_baseline(store, "web1")
        assert web["/etc/hosts"] == FileEntry(
            "/etc/hosts",
            "f",
            5,
            0o644,
            0,
            0,
            "root",
            "root",
            1741014000.123456789,
            7,
            "",
            "ab" * 32,
            None,
            "cd" * 16,
            0.1,
        )
        name = os.fsdecode(odd)
        assert web[name] == FileEntry(name, "l", 3, 0o4755, 1, 2, "", "adm", 1.0, 8, name)
        assert fim_baseline(store, "db1")["/etc/x"].mtime == -5.5
        assert fim_listing(store, "web1") == (2, None)
        assert fim_baseline(store, "nobody") == {} and fim_listing(store, "nobody") is None


def test_records_round_trip_entries():
    entry = FileEntry("/a\nb", "f", 1, 0o600, 3, 4, "u", "g", 1.25, 9, "", "ff", None, None, 2.0)
    assert record_entry(entry_record(entry)) == entry


def test_listing_digest_is_dropped_by_any_other_write(tmp_path: Path):
    with Store.open(tmp_path) as store:
        records = [entry_record(FileEntry("/etc/a", "f", 1, 0o644, 0, 0, sha256="aa"))]
        store.apply_updates(
            "h", "fim", snapshot_updates(records, [FileContent("/etc/a", b"x", 1)], "d1")
        )
        assert fim_listing(store, "h") == (1, "d1")
        update_baseline(store, "h", [FileEntry("/etc/b", "f", 2, 0o644, 0, 0)])
        assert fim_listing(store, "h") == (2, None)
        store.apply_updates("h", "fim", [SetFimListing("d2")])
        replace_baseline(store, "h", fim_baseline(store, "h").values())
        assert fim_listing(store, "h") == (2, None)
        replace_baseline(store, "h", [])
        assert store.fim_snapshot("h") is None and fim_listing(store, "h") is None

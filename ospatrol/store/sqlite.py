"""The SQLite store: schema, forward migrations and every query OSPatrol runs (the one SQL place).

One connection per process, in WAL mode with a busy timeout, so readers never block the writer and a
second process (a CLI `baseline show` beside a running manager) waits instead of corrupting. Calls
are short and synchronous; from asyncio they run on the loop thread, which serialises them. Writes
go through `transaction()` (BEGIN IMMEDIATE: the write lock is taken up front, so two processes
cannot both read-then-write); a method called outside one opens its own. Never `await` inside a
`with store.transaction():` block: another coroutine's writes would join it.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ospatrol.errors import OSPatrolError
from ospatrol.model import Alert, Event, Finding, Host
from ospatrol.store.records import (
    RECORD_FIELDS,
    RUN_HOST_STATUSES,
    CommandOutput,
    FileContent,
    FileEntry,
    FimRecord,
    HostInfo,
    RunHost,
    RunInfo,
    StoredAlert,
    StoredEvent,
    StoredFinding,
    entry_record,
    record_entry,
)

DB_NAME = "ospatrol.db"
BUSY_TIMEOUT_MS = 10_000

# Forward migrations: MIGRATIONS[i] takes a database from user_version i to i + 1. Append only;
# never edit a step that has shipped.
MIGRATIONS: list[list[str]] = [
    # 1: initial schema
    [
        """CREATE TABLE hosts (
            name TEXT PRIMARY KEY,
            address TEXT NOT NULL,
            platform TEXT NOT NULL,
            first_seen REAL NOT NULL,
            last_seen REAL NOT NULL)""",
        """CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            started REAL NOT NULL,
            finished REAL,
            status TEXT NOT NULL DEFAULT 'running',
            options TEXT NOT NULL DEFAULT '{}')""",
        """CREATE TABLE run_hosts (
            run INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            host TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('ok', 'incomplete', 'unreachable', 'error')),
            error TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (run, host))""",
        """CREATE TABLE findings (
            id INTEGER PRIMARY KEY,
            run INTEGER REFERENCES runs(id) ON DELETE CASCADE,
            host TEXT NOT NULL,
            collector TEXT NOT NULL,
            kind TEXT NOT NULL,
            subject TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT '',
            diff TEXT,
            rule INTEGER,
            level INTEGER,
            event_text TEXT NOT NULL,
            created REAL NOT NULL)""",
        """CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            time REAL NOT NULL,
            host TEXT NOT NULL,
            location TEXT NOT NULL,
            source TEXT NOT NULL,
            text TEXT NOT NULL,
            extra TEXT NOT NULL DEFAULT '{}')""",
        """CREATE TABLE alerts (
            id INTEGER PRIMARY KEY,
            time REAL NOT NULL,
            rule_id INTEGER NOT NULL,
            level INTEGER NOT NULL,
            description TEXT NOT NULL,
            host TEXT NOT NULL,
            location TEXT NOT NULL,
            text TEXT NOT NULL,
            groups TEXT NOT NULL DEFAULT '[]',
            fields TEXT NOT NULL DEFAULT '{}')""",
        """CREATE TABLE fim_baseline (
            host TEXT NOT NULL,
            path TEXT NOT NULL,
            type TEXT NOT NULL,
            size INTEGER NOT NULL,
            mode INTEGER NOT NULL,
            uid INTEGER NOT NULL,
            gid INTEGER NOT NULL,
            owner TEXT NOT NULL DEFAULT '',
            grp TEXT NOT NULL DEFAULT '',
            mtime REAL NOT NULL,
            inode INTEGER NOT NULL,
            link_target TEXT NOT NULL DEFAULT '',
            sha256 TEXT,
            PRIMARY KEY (host, path)) WITHOUT ROWID""",
        """CREATE TABLE fim_content (
            host TEXT NOT NULL,
            path TEXT NOT NULL,
            content BLOB NOT NULL,
            size INTEGER NOT NULL,
            PRIMARY KEY (host, path))""",
        """CREATE TABLE command_outputs (
            host TEXT NOT NULL,
            command TEXT NOT NULL,
            output TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            updated REAL NOT NULL,
            PRIMARY KEY (host, command))""",
    ],
    # 2: optional legacy hashes (OSSEC's md5/sha1 pairs) and the indexes reports query by
    [
        "ALTER TABLE fim_baseline ADD COLUMN sha1 TEXT",
        "ALTER TABLE fim_baseline ADD COLUMN md5 TEXT",
        "CREATE INDEX findings_run ON findings (run)",
        "CREATE INDEX findings_host ON findings (host, collector)",
        "CREATE INDEX alerts_time ON alerts (time)",
        "CREATE INDEX events_time ON events (time)",
    ],
    # 3: inode change time, so FIM rehashes a file whose mtime was forged back (touch -d)
    ["ALTER TABLE fim_baseline ADD COLUMN ctime REAL NOT NULL DEFAULT 0"],
    # 4: one FIM row per host instead of one per file: the baseline as NUL-separated records (see
    # `FimRecord`), written and read in one piece (a row per file cost more than the whole rest of
    # an audit), plus the digest of the listing it was built from, so an unchanged host is
    # recognised without parsing anything. Floats get 17 significant digits: they read back equal.
    [
        """CREATE TABLE fim_snapshot (
            host TEXT PRIMARY KEY,
            entries INTEGER NOT NULL,
            records BLOB NOT NULL,
            listing TEXT)""",
        """INSERT INTO fim_snapshot (host, entries, records)
            SELECT host, count(*), CAST(group_concat(
                CAST(path AS TEXT) || char(0) || size || char(0) || printf('%o', mode) || char(0)
                || uid || char(0) || gid || char(0) || printf('%!.17g', mtime) || char(0)
                || printf('%!.17g', ctime) || char(0) || inode || char(0) || type || char(0)
                || CAST(link_target AS TEXT) || char(0) || owner || char(0) || grp || char(0)
                || coalesce(sha256, '') || char(0) || coalesce(sha1, '') || char(0)
                || coalesce(md5, ''), char(0)) AS BLOB)
            FROM fim_baseline GROUP BY host""",
        "DROP TABLE fim_baseline",
    ],
]
SCHEMA_VERSION = len(MIGRATIONS)


class StoreError(OSPatrolError):
    """The store cannot be opened or used (unreadable, busy for too long, from a newer version)."""


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Bring `conn`'s schema forward to `target`, one transaction per step. Returns the version.

    A database newer than this code is refused, never touched.
    """
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    if current > SCHEMA_VERSION:
        raise StoreError(
            f"database schema version {current} is newer than this OSPatrol knows "
            f"({SCHEMA_VERSION}); refusing to use it"
        )
    for version in range(current, target):
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Re-read under the write lock: another process may have migrated meanwhile.
            if conn.execute("PRAGMA user_version").fetchone()[0] != version:
                conn.execute("ROLLBACK")
                continue
            for statement in MIGRATIONS[version]:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return conn.execute("PRAGMA user_version").fetchone()[0]


def connect(path: Path) -> sqlite3.Connection:
    """Open the database file with OSPatrol's settings (WAL, busy timeout, foreign keys)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we issue BEGIN/COMMIT ourselves. check_same_thread=False lets
        # a thread pool (netmiko) call in; `Store` serialises access with a lock.
        conn = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
        )
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise StoreError(f"{path}: cannot switch to WAL mode (got {mode})")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot open database: {exc}") from exc
    return conn


def _db_path(path: str) -> str | bytes:
    """A path as stored: text, or the raw bytes when the name is not valid UTF-8.

    FIM keeps such names as surrogate-escaped `str`s, which SQLite text cannot hold.
    """
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return path.encode("utf-8", "surrogateescape")
    return path


def _py_path(value: str | bytes) -> str:
    return value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else value


def _pack(records: Iterable[FimRecord]) -> bytes:
    """Records as one blob: every field, NUL-separated (no path or name can hold a NUL)."""
    # Joined a record at a time: faster than one join over a chain of every field.
    return "\0".join(map("\0".join, records)).encode("utf-8", "surrogateescape")


def _unpack(blob: bytes) -> dict[str, FimRecord]:
    fields = bytes(blob).decode("utf-8", "surrogateescape").split("\0")
    if len(fields) % RECORD_FIELDS:
        raise StoreError(f"corrupt FIM baseline: {len(fields)} fields")
    return {r[0]: r for r in zip(*[iter(fields)] * RECORD_FIELDS, strict=True)}


class Store:
    """OSPatrol's persistent state. Open with `Store.open(state_dir)`; close with `close()`."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._conn = connect(self.path)
        self._lock = threading.RLock()
        self._depth = 0
        try:
            migrate(self._conn)
        except sqlite3.Error as exc:
            self._conn.close()
            raise StoreError(f"{self.path}: cannot migrate database: {exc}") from exc
        except BaseException:
            self._conn.close()
            raise

    @classmethod
    def open(cls, state_dir: Path) -> Store:
        """The store of `state_dir` (`<state_dir>/ospatrol.db`), created and migrated as needed."""
        return cls(Path(state_dir) / DB_NAME)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return self._conn.execute("PRAGMA user_version").fetchone()[0]

    @property
    def journal_mode(self) -> str:
        return self._conn.execute("PRAGMA journal_mode").fetchone()[0]

    # -- transactions -------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside commit together or not at all. Nested blocks join the outer one."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise StoreError(f"{self.path}: database is busy: {exc}") from exc
            self._depth = 1
            try:
                yield
            except BaseException:
                self._depth = 0
                self._conn.execute("ROLLBACK")
                raise
            self._depth = 0
            self._conn.execute("COMMIT")

    def _query(self, sql: str, params: Iterable[Any] = ()) -> list[tuple]:
        with self._lock:
            return self._conn.execute(sql, tuple(params)).fetchall()

    # -- hosts --------------------------------------------------------------------------------

    def touch_host(self, host: Host, when: float | None = None) -> None:
        """Record that `host` was audited (first and last seen)."""
        now = time.time() if when is None else when
        with self.transaction():
            self._conn.execute(
                "INSERT INTO hosts (name, address, platform, first_seen, last_seen) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
                "address = excluded.address, platform = excluded.platform, "
                "last_seen = excluded.last_seen",
                (host.name, host.address, host.platform, now, now),
            )

    def hosts(self) -> list[HostInfo]:
        rows = self._query(
            "SELECT name, address, platform, first_seen, last_seen FROM hosts ORDER BY name"
        )
        return [HostInfo(*row) for row in rows]

    # -- runs ---------------------------------------------------------------------------------

    def start_run(self, options: Mapping[str, Any] | None = None) -> int:
        """Open an audit run; `options` (JSON-able, no secrets) records how it was invoked."""
        with self.transaction():
            cur = self._conn.execute(
                "INSERT INTO runs (started, options) VALUES (?, ?)",
                (time.time(), json.dumps(dict(options or {}), sort_keys=True, default=str)),
            )
            return int(cur.lastrowid)

    def finish_run(self, run_id: int, status: str) -> None:
        with self.transaction():
            self._conn.execute(
                "UPDATE runs SET finished = ?, status = ? WHERE id = ?",
                (time.time(), status, run_id),
            )

    def run(self, run_id: int) -> RunInfo | None:
        rows = self._query(
            "SELECT id, started, finished, status, options FROM runs WHERE id = ?", (run_id,)
        )
        return self._run(rows[0]) if rows else None

    def runs(self, limit: int = 20) -> list[RunInfo]:
        """The most recent runs, newest first."""
        rows = self._query(
            "SELECT id, started, finished, status, options FROM runs ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [self._run(row) for row in rows]

    @staticmethod
    def _run(row: tuple) -> RunInfo:
        return RunInfo(row[0], row[1], row[2], row[3], json.loads(row[4]))

    def set_run_host(self, run_id: int, host: str, status: str, error: str = "") -> None:
        """Record how `host` fared in run `run_id` (replaces an earlier record of the same run)."""
        if status not in RUN_HOST_STATUSES:
            raise ValueError(f"run host status must be one of {RUN_HOST_STATUSES}, not {status!r}")
        with self.transaction():
            self._conn.execute(
                "INSERT OR REPLACE INTO run_hosts (run, host, status, error) VALUES (?, ?, ?, ?)",
                (run_id, host, status, error),
            )

    def run_hosts(self, run_id: int) -> list[RunHost]:
        rows = self._query(
            "SELECT run, host, status, error FROM run_hosts WHERE run = ? ORDER BY host", (run_id,)
        )
        return [RunHost(*row) for row in rows]

    # -- findings, events, alerts ---------------------------------------------------------------

    def add_findings(
        self,
        run_id: int | None,
        findings: Iterable[Finding],
        *,
        rule: int | None = None,
        level: int | None = None,
    ) -> list[int]:
        """Record findings (of run `run_id`, or None outside a run); returns their ids in order."""
        now = time.time()
        ids: list[int] = []
        with self.transaction():
            for f in findings:
                cur = self._conn.execute(
                    "INSERT INTO findings (run, host, collector, kind, subject, detail, diff, "
                    "rule, level, event_text, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        run_id,
                        f.host,
                        f.collector,
                        f.kind,
                        f.subject,
                        f.detail,
                        f.diff,
                        rule,
                        level,
                        f.event_text,
                        now,
                    ),
                )
                ids.append(int(cur.lastrowid))
        return ids

    def set_finding_alert(self, finding_id: int, rule: int | None, level: int | None) -> None:
        """Attach the rule and level analysis gave a recorded finding."""
        with self.transaction():
            self._conn.execute(
                "UPDATE findings SET rule = ?, level = ? WHERE id = ?", (rule, level, finding_id)
            )

    def findings(
        self, *, run_id: int | None = None, host: str | None = None, collector: str | None = None
    ) -> list[StoredFinding]:
        where, params = _filters(run=run_id, host=host, collector=collector)
        rows = self._query(
            "SELECT id, run, host, collector, kind, subject, detail, diff, event_text, rule, "
            f"level, created FROM findings{where} ORDER BY id",
            params,
        )
        return [
            StoredFinding(
                id=r[0],
                run=r[1],
                finding=Finding(
                    host=r[2],
                    collector=r[3],
                    kind=r[4],
                    subject=r[5],
                    detail=r[6],
                    diff=r[7],
                    event_text=r[8],
                ),
                rule=r[9],
                level=r[10],
                created=r[11],
            )
            for r in rows
        ]

    def add_event(self, event: Event) -> int:
        with self.transaction():
            cur = self._conn.execute(
                "INSERT INTO events (time, host, location, source, text, extra) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    event.time,
                    event.host,
                    event.location,
                    event.source,
                    event.text,
                    json.dumps(dict(event.extra), sort_keys=True, default=str),
                ),
            )
            return int(cur.lastrowid)

    def events(self, *, host: str | None = None, since: float | None = None) -> list[StoredEvent]:
        where, params = _filters(host=host, since=since)
        rows = self._query(
            f"SELECT id, time, host, location, source, text, extra FROM events{where} ORDER BY id",
            params,
        )
        return [StoredEvent(*r[:6], extra=json.loads(r[6])) for r in rows]

    def add_alert(self, alert: Alert) -> int:
        ev = alert.event
        with self.transaction():
            cur = self._conn.execute(
                "INSERT INTO alerts (time, rule_id, level, description, host, location, text, "
                "groups, fields) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    ev.time,
                    alert.rule_id,
                    alert.level,
                    alert.description,
                    ev.host,
                    ev.location,
                    ev.text,
                    json.dumps(list(alert.groups)),
                    json.dumps(dict(alert.fields), sort_keys=True),
                ),
            )
            return int(cur.lastrowid)

    def alerts(self, *, host: str | None = None, since: float | None = None) -> list[StoredAlert]:
        where, params = _filters(host=host, since=since)
        rows = self._query(
            "SELECT id, time, rule_id, level, description, host, location, text, groups, fields "
            f"FROM alerts{where} ORDER BY id",
            params,
        )
        return [
            StoredAlert(*r[:8], groups=tuple(json.loads(r[8])), fields=json.loads(r[9]))
            for r in rows
        ]

    # -- FIM baseline -------------------------------------------------------------------------

    def fim_baseline(self, host: str) -> dict[str, FileEntry]:
        """The accepted state of `host`'s files, by path (empty when never scanned)."""
        return {p: record_entry(r) for p, r in sorted(self.fim_records(host).items())}

    def fim_records(self, host: str) -> dict[str, FimRecord]:
        """`fim_baseline` as records (what FIM itself works with), by path."""
        rows = self._query("SELECT records FROM fim_snapshot WHERE host = ?", (host,))
        return _unpack(rows[0][0]) if rows else {}

    def fim_listing(self, host: str) -> tuple[int, str | None] | None:
        """(entries, listing digest) of `host`'s baseline; None when it has none.

        The digest is None unless the baseline was built from that listing and nothing in it
        would be fetched again (every regular file hashed, every kept content present)."""
        rows = self._query("SELECT entries, listing FROM fim_snapshot WHERE host = ?", (host,))
        return rows[0] if rows else None

    def has_fim_baseline(self, host: str) -> bool:
        return self.fim_listing(host) is not None

    def replace_fim_baseline(
        self,
        host: str,
        entries: Iterable[FileEntry],
        contents: Iterable[FileContent] | None = None,
    ) -> None:
        """Make `entries` (and, when given, `contents`) the whole baseline of `host`, atomically."""
        self.replace_fim_records(host, [entry_record(e) for e in entries], contents)

    def replace_fim_records(
        self,
        host: str,
        records: Collection[FimRecord],
        contents: Iterable[FileContent] | None = None,
        listing: str | None = None,
    ) -> None:
        """`replace_fim_baseline` with records, and the digest of the listing they come from."""
        with self.transaction():
            self._put_records(host, records, listing)
            if contents is not None:
                self._conn.execute("DELETE FROM fim_content WHERE host = ?", (host,))
                self._put_contents(host, contents)

    def set_fim_listing(self, host: str, listing: str | None) -> None:
        """Record that `host`'s baseline stands for the listing with digest `listing`."""
        with self.transaction():
            self._conn.execute(
                "UPDATE fim_snapshot SET listing = ? WHERE host = ?", (listing, host)
            )

    def update_fim_entries(
        self,
        host: str,
        entries: Iterable[FileEntry],
        removed: Iterable[str] = (),
        contents: Iterable[FileContent] = (),
    ) -> None:
        """Accept some paths only: upsert `entries`/`contents`, drop `removed` paths, atomically."""
        with self.transaction():
            records = self.fim_records(host)
            gone = list(removed)
            for path in gone:
                records.pop(path, None)
            records.update((e.path, entry_record(e)) for e in entries)
            self._put_records(host, records.values(), None)
            self._conn.executemany(
                "DELETE FROM fim_content WHERE host = ? AND path = ?",
                [(host, _db_path(p)) for p in gone],
            )
            self._put_contents(host, contents)

    def _put_records(self, host: str, records: Collection[FimRecord], listing: str | None) -> None:
        if not records:
            self._conn.execute("DELETE FROM fim_snapshot WHERE host = ?", (host,))
            return
        self._conn.execute(
            "INSERT OR REPLACE INTO fim_snapshot (host, entries, records, listing) "
            "VALUES (?, ?, ?, ?)",
            (host, len(records), _pack(records), listing),
        )

    def _put_contents(self, host: str, contents: Iterable[FileContent]) -> None:
        self._conn.executemany(
            "INSERT OR REPLACE INTO fim_content (host, path, content, size) VALUES (?, ?, ?, ?)",
            ((host, _db_path(c.path), c.content, c.size) for c in contents),
        )

    def fim_contents(self, host: str) -> dict[str, FileContent]:
        """The kept contents (masked, capped) of `host`'s `report_changes` files, by path."""
        rows = self._query(
            "SELECT path, content, size FROM fim_content WHERE host = ? ORDER BY path", (host,)
        )
        return {_py_path(r[0]): FileContent(_py_path(r[0]), bytes(r[1]), r[2]) for r in rows}

    # -- command outputs ----------------------------------------------------------------------

    def command_output(self, host: str, command: str) -> CommandOutput | None:
        rows = self._query(
            "SELECT host, command, output, sha256, updated FROM command_outputs "
            "WHERE host = ? AND command = ?",
            (host, command),
        )
        return CommandOutput(*rows[0]) if rows else None

    def command_outputs(self, host: str) -> dict[str, CommandOutput]:
        rows = self._query(
            "SELECT host, command, output, sha256, updated FROM command_outputs "
            "WHERE host = ? ORDER BY command",
            (host,),
        )
        return {r[1]: CommandOutput(*r) for r in rows}

    def set_command_output(self, host: str, command: str, output: str, sha256: str) -> None:
        """Store the latest (scrubbed) output of `command` on `host`."""
        with self.transaction():
            self._conn.execute(
                "INSERT OR REPLACE INTO command_outputs (host, command, output, sha256, updated) "
                "VALUES (?, ?, ?, ?, ?)",
                (host, command, output, sha256, time.time()),
            )


def _filters(*, since: float | None = None, **columns: Any) -> tuple[str, list[Any]]:
    """A WHERE clause for the columns whose value is not None, and `time >= since` when given
    (column names are ours, not input)."""
    used = [(f"{name} = ?", value) for name, value in columns.items() if value is not None]
    if since is not None:
        used.append(("time >= ?", since))
    if not used:
        return "", []
    return " WHERE " + " AND ".join(test for test, _ in used), [v for _, v in used]

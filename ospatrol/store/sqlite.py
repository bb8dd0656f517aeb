"""The SQLite store: schema, forward migrations and every query OSPatrol runs (the one SQL place).

One connection per process, in WAL mode with a busy timeout, so readers never block the writer and a
second process (a CLI `baseline show` beside a running manager) waits instead of corrupting. Calls
are short and synchronous; from asyncio they run on the loop thread, which serialises them. Writes
go through `transaction()` (BEGIN IMMEDIATE: the write lock is taken up front, so two processes
cannot both read-then-write); a method called outside one opens its own. Never `await` inside a
`with store.transaction():` block: another coroutine's writes would join it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ospatrol.errors import OSPatrolError
from ospatrol.jsontext import dumps
from ospatrol.model import Alert, Event, Finding, Host
from ospatrol.store.records import (
    RUN_HOST_STATUSES,
    FileContent,
    FimSnapshot,
    HostInfo,
    PolicyScore,
    PutCheckResults,
    PutFimContents,
    PutFimSnapshot,
    PutState,
    RunHost,
    RunInfo,
    SetFimListing,
    StateEntry,
    StateUpdate,
    StoredAlert,
    StoredCheckResult,
    StoredEvent,
    StoredFinding,
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
    # 5: collectors return state updates that the audit applies: one generic versioned table
    # (host, collector, key) for every collector that keeps versions (command outputs move in);
    # what the live report knew kept for re-rendering (rule descriptions, durations, collector
    # outcomes); alerts tied to their run with the whole alert; the pid of a running run, so a
    # killed one can be told from a live one.
    [
        """CREATE TABLE collector_state (
            host TEXT NOT NULL,
            collector TEXT NOT NULL,
            key TEXT NOT NULL,
            version INTEGER NOT NULL,
            digest TEXT NOT NULL,
            blob BLOB NOT NULL,
            time REAL NOT NULL,
            run INTEGER,
            PRIMARY KEY (host, collector, key, version))""",
        """INSERT INTO collector_state (host, collector, key, version, digest, blob, time)
            SELECT host, 'commands', command, 1, sha256, CAST(output AS BLOB), updated
            FROM command_outputs""",
        "DROP TABLE command_outputs",
        "ALTER TABLE findings ADD COLUMN description TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE run_hosts ADD COLUMN duration REAL NOT NULL DEFAULT 0",
        "ALTER TABLE run_hosts ADD COLUMN collectors TEXT NOT NULL DEFAULT '[]'",
        "ALTER TABLE alerts ADD COLUMN run INTEGER",
        "ALTER TABLE alerts ADD COLUMN alert TEXT",
        "ALTER TABLE runs ADD COLUMN pid INTEGER",
        "CREATE INDEX alerts_run ON alerts (run)",
    ],
    # 6: policy check outcomes per run (the policy collector's `PutCheckResults`), for results,
    # regressions and the score trend of each policy on each host.
    [
        """CREATE TABLE check_results (
            run INTEGER,
            host TEXT NOT NULL,
            policy TEXT NOT NULL,
            check_id TEXT NOT NULL,
            status TEXT NOT NULL,
            reason TEXT NOT NULL,
            evidence TEXT NOT NULL,
            time REAL NOT NULL)""",
        "CREATE INDEX check_results_host ON check_results (host, policy, run)",
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
    """Open the database file with OSPatrol's settings (WAL, busy timeout, foreign keys).

    A new state dir is made 0700 and the database files 0600: baselines hold file contents and
    command outputs that only the auditor should read.
    """
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not path.exists():
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
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
        for suffix in ("-wal", "-shm"):
            side = path.with_name(path.name + suffix)
            if side.exists():
                side.chmod(0o600)
    except (sqlite3.Error, OSError) as exc:
        raise StoreError(f"{path}: cannot open database: {exc}") from exc
    return conn


def _db_text(text: str | None) -> str | bytes | None:
    """Text as stored: itself, or its raw bytes when it is not valid UTF-8.

    Collectors keep bytes that are not UTF-8 (a file name, a GECOS field, a device banner) as
    surrogate-escaped `str`s, which SQLite text cannot hold; stored as bytes they come back
    unchanged (`_py_text`), so nothing is lost and nothing raises.
    """
    if text is None:
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape")
    return text


def _py_text(value: str | bytes | None) -> Any:
    return value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else value


def _json(value: Any) -> str:
    """JSON text that SQLite can hold whatever the value's strings contain (lone surrogates
    become `\\udcXX` escapes, which `json.loads` turns back into the same string)."""
    return dumps(value, sort_keys=True)


_ALERT_FIELDS = tuple(f.name for f in dataclasses.fields(Alert))
_EVENT_FIELDS = tuple(f.name for f in dataclasses.fields(Event))


def _alert_document(alert: Alert) -> dict[str, Any]:
    """What `to_dict(alert)` gives once in JSON, without `dataclasses.asdict`'s recursive deep
    copy (which cost more than analysing the event: the manager stores thousands a second)."""
    document = _fields_of(alert, _ALERT_FIELDS)
    document["event"] = _fields_of(alert.event, _EVENT_FIELDS)
    return document


def _fields_of(record: Any, names: tuple[str, ...]) -> dict[str, Any]:
    """A dataclass instance's fields by name: a copy of its dict when that holds exactly them
    (a plain instance; one call instead of a getattr per field), else field by field."""
    state = getattr(record, "__dict__", None)
    if state is not None and len(state) == len(names):
        return dict(state)
    return {name: getattr(record, name) for name in names}


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_INSERT_ALERT = (
    "INSERT INTO alerts (time, rule_id, level, description, host, location, text, groups, fields, "
    "run, alert) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _alert_row(alert: Alert, run: int | None) -> tuple:
    event = alert.event
    return (
        event.time,
        alert.rule_id,
        alert.level,
        alert.description,
        event.host,
        _db_text(event.location),
        _db_text(event.text),
        _json(list(alert.groups)),
        _json(alert.fields),
        run,
        _json(_alert_document(alert)),
    )


class Store:
    """OSPatrol's persistent state. Open with `Store.open(state_dir)`; close with `close()`."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if str(path) == ":memory:":
            self._conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        else:
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

    @classmethod
    def open_for_reading(cls, state_dir: Path) -> Store:
        """A store for a run that must write nothing (`--dry-run`, `--check`): the state dir's
        database when there is one, else an empty one in memory; no file or folder is created.

        Writes are the caller's to avoid; the audit makes none in a dry run.
        """
        path = Path(state_dir) / DB_NAME
        return cls(path if path.exists() else Path(":memory:"))

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
                "INSERT INTO runs (started, options, pid) VALUES (?, ?, ?)",
                (time.time(), _json(dict(options or {})), os.getpid()),
            )
            return int(cur.lastrowid)

    def mark_interrupted(self) -> list[int]:
        """Close every run still `running` whose process is gone (killed, OOM, reboot) as
        `interrupted`; returns their ids. What such a run committed (findings with their
        baselines) stays, so `ospatrol report` shows it, marked interrupted."""
        with self.transaction():
            rows = self._conn.execute(
                "SELECT id, pid FROM runs WHERE status = 'running'"
            ).fetchall()
            dead = [run_id for run_id, pid in rows if not _pid_alive(pid)]
            self._conn.executemany(
                "UPDATE runs SET status = 'interrupted', finished = coalesce(finished, ?) "
                "WHERE id = ?",
                [(time.time(), run_id) for run_id in dead],
            )
        return dead

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

    def set_run_host(
        self,
        run_id: int,
        host: str,
        status: str,
        error: str = "",
        *,
        duration: float = 0.0,
        collectors: Sequence[tuple[str, str, str]] = (),
    ) -> None:
        """Record how `host` fared in run `run_id` (replaces an earlier record of the same run):
        its status, error, duration and each collector's (name, status, error)."""
        if status not in RUN_HOST_STATUSES:
            raise ValueError(f"run host status must be one of {RUN_HOST_STATUSES}, not {status!r}")
        with self.transaction():
            self._conn.execute(
                "INSERT OR REPLACE INTO run_hosts (run, host, status, error, duration, collectors) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (run_id, host, status, _db_text(error), duration, _json([*map(list, collectors)])),
            )

    def run_hosts(self, run_id: int) -> list[RunHost]:
        rows = self._query(
            "SELECT run, host, status, error, duration, collectors FROM run_hosts WHERE run = ? "
            "ORDER BY host",
            (run_id,),
        )
        return [
            RunHost(
                r[0], r[1], r[2], _py_text(r[3]), r[4], tuple(tuple(c) for c in json.loads(r[5]))
            )
            for r in rows
        ]

    # -- findings, events, alerts ---------------------------------------------------------------

    def add_findings(
        self,
        run_id: int | None,
        findings: Iterable[Finding],
        *,
        rule: int | None = None,
        level: int | None = None,
        description: str = "",
    ) -> list[int]:
        """Record findings (of run `run_id`, or None outside a run) with the rule, level and rule
        description analysis gave them; returns their ids in order."""
        now = time.time()
        ids: list[int] = []
        with self.transaction():
            for f in findings:
                cur = self._conn.execute(
                    "INSERT INTO findings (run, host, collector, kind, subject, detail, diff, "
                    "rule, level, event_text, created, description) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        run_id,
                        f.host,
                        f.collector,
                        f.kind,
                        _db_text(f.subject),
                        _db_text(f.detail),
                        _db_text(f.diff),
                        rule,
                        level,
                        _db_text(f.event_text),
                        now,
                        description,
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
            f"level, created, description FROM findings{where} ORDER BY id",
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
                    subject=_py_text(r[5]),
                    detail=_py_text(r[6]),
                    diff=_py_text(r[7]),
                    event_text=_py_text(r[8]),
                ),
                rule=r[9],
                level=r[10],
                created=r[11],
                description=r[12],
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
                    _db_text(event.text),
                    _json(dict(event.extra)),
                ),
            )
            return int(cur.lastrowid)

    def events(self, *, host: str | None = None, since: float | None = None) -> list[StoredEvent]:
        where, params = _filters(host=host, since=since)
        rows = self._query(
            f"SELECT id, time, host, location, source, text, extra FROM events{where} ORDER BY id",
            params,
        )
        return [StoredEvent(*r[:5], _py_text(r[5]), extra=json.loads(r[6])) for r in rows]

    def add_alert(self, alert: Alert, *, run: int | None = None) -> int:
        """Record `alert` (of audit run `run`, or None for syslog and agents) whole."""
        with self.transaction():
            cur = self._conn.execute(_INSERT_ALERT, _alert_row(alert, run))
            return int(cur.lastrowid)

    def add_alerts(self, alerts: Iterable[Alert], *, run: int | None = None) -> None:
        """Record many alerts at once, in one transaction (the manager: one call a batch)."""
        with self.transaction():
            self._conn.executemany(_INSERT_ALERT, [_alert_row(alert, run) for alert in alerts])

    def prune_alerts(self, before: float, *, chunk: int = 5000) -> int:
        """Delete alerts older than `before` (epoch seconds); returns how many. Deleted in
        chunks of `chunk`, each its own transaction, so writers (the manager's workers) wait
        at most one chunk for the lock."""
        removed = 0
        while True:
            with self.transaction():
                cur = self._conn.execute(
                    "DELETE FROM alerts WHERE id IN "
                    "(SELECT id FROM alerts WHERE time < ? ORDER BY id LIMIT ?)",
                    (before, chunk),
                )
            removed += cur.rowcount
            if cur.rowcount < chunk:
                return removed

    def alerts(
        self,
        *,
        host: str | None = None,
        since: float | None = None,
        level: int | None = None,
        rule: int | None = None,
        run: int | None = None,
    ) -> list[StoredAlert]:
        """Stored alerts, oldest first: of `host`, since a time, at `level` or above, of `rule`,
        of audit run `run` (each filter only when given)."""
        where, params = _filters(host=host, since=since, rule_id=rule, run=run)
        if level is not None:
            where = f"{where} AND level >= ?" if where else " WHERE level >= ?"
            params.append(level)
        rows = self._query(
            "SELECT id, time, rule_id, level, description, host, location, text, groups, fields, "
            f"run, alert FROM alerts{where} ORDER BY id",
            params,
        )
        return [
            StoredAlert(
                *r[:6],
                location=_py_text(r[6]),
                text=_py_text(r[7]),
                groups=tuple(json.loads(r[8])),
                fields=json.loads(r[9]),
                run=r[10],
                alert=json.loads(r[11]) if r[11] else None,
            )
            for r in rows
        ]

    # -- collector state ----------------------------------------------------------------------

    _STATE_COLUMNS = "key, version, digest, blob, time, run"

    @staticmethod
    def _state(row: tuple) -> StateEntry:
        return StateEntry(_py_text(row[0]), row[1], row[2], bytes(row[3]), row[4], row[5])

    def state(self, host: str, collector: str, key: str) -> StateEntry | None:
        """The latest version of `key` in `collector`'s state of `host`."""
        rows = self._query(
            f"SELECT {self._STATE_COLUMNS} FROM collector_state WHERE host = ? AND collector = ? "
            "AND key = ? ORDER BY version DESC LIMIT 1",
            (host, collector, _db_text(key)),
        )
        return self._state(rows[0]) if rows else None

    def states(self, host: str, collector: str) -> dict[str, StateEntry]:
        """The latest version of every key of `collector`'s state of `host`, by key."""
        rows = self._query(
            f"SELECT {self._STATE_COLUMNS} FROM collector_state AS s WHERE host = ? "
            "AND collector = ? AND version = (SELECT max(version) FROM collector_state "
            "WHERE host = s.host AND collector = s.collector AND key = s.key) ORDER BY key",
            (host, collector),
        )
        return {e.key: e for e in map(self._state, rows)}

    def state_history(self, host: str, collector: str, key: str) -> list[StateEntry]:
        """Every version of `key`, oldest first."""
        rows = self._query(
            f"SELECT {self._STATE_COLUMNS} FROM collector_state WHERE host = ? AND collector = ? "
            "AND key = ? ORDER BY version",
            (host, collector, _db_text(key)),
        )
        return [self._state(r) for r in rows]

    def state_version(self, host: str, collector: str, key: str, version: int) -> StateEntry | None:
        rows = self._query(
            f"SELECT {self._STATE_COLUMNS} FROM collector_state WHERE host = ? AND collector = ? "
            "AND key = ? AND version = ?",
            (host, collector, _db_text(key), version),
        )
        return self._state(rows[0]) if rows else None

    def fim_snapshot(self, host: str) -> FimSnapshot | None:
        """`host`'s FIM baseline as the FIM collector packed it; None when it has none."""
        rows = self._query(
            "SELECT entries, records, listing FROM fim_snapshot WHERE host = ?", (host,)
        )
        return FimSnapshot(rows[0][0], bytes(rows[0][1]), rows[0][2]) if rows else None

    def fim_contents(self, host: str) -> dict[str, FileContent]:
        """The kept contents (masked, capped) of `host`'s `report_changes` files, by path."""
        rows = self._query(
            "SELECT path, content, size FROM fim_content WHERE host = ? ORDER BY path", (host,)
        )
        return {_py_text(r[0]): FileContent(_py_text(r[0]), bytes(r[1]), r[2]) for r in rows}

    def apply_updates(
        self, host: str, collector: str, updates: Iterable[StateUpdate], run: int | None = None
    ) -> None:
        """Write a collector's updates for `host`, atomically (joins an open transaction)."""
        now = time.time()
        with self.transaction():
            for update in updates:
                if isinstance(update, PutState):
                    self._put_state(host, collector, update, now, run)
                elif isinstance(update, PutFimSnapshot):
                    self._put_snapshot(host, update)
                elif isinstance(update, SetFimListing):
                    self._conn.execute(
                        "UPDATE fim_snapshot SET listing = ? WHERE host = ?",
                        (update.listing, host),
                    )
                elif isinstance(update, PutFimContents):
                    self._put_contents(host, update)
                elif isinstance(update, PutCheckResults):
                    self._conn.executemany(
                        "INSERT INTO check_results (run, host, policy, check_id, status, reason, "
                        "evidence, time) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        [
                            (
                                run,
                                host,
                                update.policy,
                                r.check_id,
                                r.status,
                                r.reason,
                                r.evidence,
                                now,
                            )
                            for r in update.rows
                        ],
                    )
                else:
                    raise TypeError(f"not a state update: {update!r}")

    def _put_state(
        self, host: str, collector: str, update: PutState, now: float, run: int | None
    ) -> None:
        key = _db_text(update.key)
        self._conn.execute(
            "INSERT INTO collector_state (host, collector, key, version, digest, blob, time, run) "
            "VALUES (?, ?, ?, (SELECT coalesce(max(version), 0) + 1 FROM collector_state "
            "WHERE host = ? AND collector = ? AND key = ?), ?, ?, ?, ?)",
            (host, collector, key, host, collector, key, update.digest, update.blob, now, run),
        )

    def _put_snapshot(self, host: str, update: PutFimSnapshot) -> None:
        if not update.entries:
            self._conn.execute("DELETE FROM fim_snapshot WHERE host = ?", (host,))
            return
        self._conn.execute(
            "INSERT OR REPLACE INTO fim_snapshot (host, entries, records, listing) "
            "VALUES (?, ?, ?, ?)",
            (host, update.entries, update.records, update.listing),
        )

    def _put_check_results(
        self, host: str, update: PutCheckResults, now: float, run: int | None
    ) -> None:
        self._conn.executemany(
            "INSERT INTO check_results (run, host, policy, check_id, status, reason, evidence, "
            "time) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (run, host, update.policy, r.check_id, r.status, r.reason, r.evidence, now)
                for r in update.rows
            ],
        )

    def check_results(
        self, host: str, policy: str | None = None, run: int | None = None
    ) -> list[StoredCheckResult]:
        """Check outcomes of `host` (one policy, one run when given), oldest run first."""
        where, params = _filters(host=host, policy=policy, run=run)
        rows = self._query(
            "SELECT run, host, policy, check_id, status, reason, evidence, time "
            f"FROM check_results{where} ORDER BY time, rowid",
            params,
        )
        return [StoredCheckResult(*r) for r in rows]

    def policy_scores(self, host: str, policy: str) -> list[PolicyScore]:
        """Passed and failed counts of `policy` on `host`, one per run, oldest first: the trend."""
        rows = self._query(
            "SELECT run, max(time), sum(status = 'passed'), sum(status = 'failed') "
            "FROM check_results WHERE host = ? AND policy = ? GROUP BY run ORDER BY max(time)",
            (host, policy),
        )
        return [PolicyScore(r[0], r[1], r[2], r[3]) for r in rows]

    def _put_contents(self, host: str, update: PutFimContents) -> None:
        if update.replace:
            self._conn.execute("DELETE FROM fim_content WHERE host = ?", (host,))
        self._conn.executemany(
            "DELETE FROM fim_content WHERE host = ? AND path = ?",
            [(host, _db_text(p)) for p in update.removed],
        )
        self._conn.executemany(
            "INSERT OR REPLACE INTO fim_content (host, path, content, size) VALUES (?, ?, ?, ?)",
            ((host, _db_text(c.path), c.content, c.size) for c in update.contents),
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

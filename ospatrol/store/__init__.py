"""OSPatrol's persistent state (SQLite in WAL mode): baselines, runs, findings, events, alerts.

All SQL lives in `ospatrol.store.sqlite`; this package exports the `Store` and its records.
"""

from ospatrol.store.records import (
    CommandOutput,
    FileContent,
    FileEntry,
    HostInfo,
    RunHost,
    RunInfo,
    StoredAlert,
    StoredEvent,
    StoredFinding,
)
from ospatrol.store.sqlite import DB_NAME, SCHEMA_VERSION, Store, StoreError

__all__ = [
    "DB_NAME",
    "SCHEMA_VERSION",
    "CommandOutput",
    "FileContent",
    "FileEntry",
    "HostInfo",
    "RunHost",
    "RunInfo",
    "Store",
    "StoreError",
    "StoredAlert",
    "StoredEvent",
    "StoredFinding",
]

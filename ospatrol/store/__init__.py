"""OSPatrol's persistent state (SQLite in WAL mode): runs, findings, alerts, collector state.

Callers depend on the small protocols of `ospatrol.store.protocols` (runs and findings, alerts,
collector state, host keys); `ospatrol.store.sqlite.Store` implements them and is the one place
that knows SQL.
"""

from ospatrol.store.records import (
    FileContent,
    FimSnapshot,
    HostInfo,
    PutFimContents,
    PutFimSnapshot,
    PutState,
    RunHost,
    RunInfo,
    SetFimListing,
    StateEntry,
    StateUpdate,
    StoredAlert,
    StoredEvent,
    StoredFinding,
)
from ospatrol.store.sqlite import DB_NAME, SCHEMA_VERSION, Store, StoreError

__all__ = [
    "DB_NAME",
    "SCHEMA_VERSION",
    "FileContent",
    "FimSnapshot",
    "HostInfo",
    "PutFimContents",
    "PutFimSnapshot",
    "PutState",
    "RunHost",
    "RunInfo",
    "SetFimListing",
    "StateEntry",
    "StateUpdate",
    "Store",
    "StoreError",
    "StoredAlert",
    "StoredEvent",
    "StoredFinding",
]

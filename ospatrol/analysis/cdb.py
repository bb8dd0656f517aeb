"""OSSEC lists (`<list>` in ossec.conf, `<list field=... lookup=...>` in rules).

OSSEC compiles each `key:value` text file into a CDB database with ossec-makelists; we read the
text source directly (the CDB is only a cache of it). Lookups follow lists_list.c: plain key
lookups, key+value (the value tested against `check_value`), and address lookups that try the
whole IP and then shorter dotted prefixes (`10.1.2.3`, `10.1.2`, `10.1`, `10`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ospatrol.analysis.patterns import Pattern
from ospatrol.errors import InputError


@dataclass(frozen=True)
class CdbList:
    """One list: keys mapped to (possibly empty) values."""

    name: str
    entries: dict[str, str]

    def get(self, key: str) -> str | None:
        return self.entries.get(key)

    def get_address(self, address: str) -> str | None:
        """Value of the longest dotted prefix of `address` that is a key, else None."""
        parts = address.strip().split(".")
        while parts:
            value = self.entries.get(".".join(parts))
            if value is not None:
                return value
            parts.pop()
        return None

    def lookup(self, kind: str, value: str, check: Pattern | None) -> bool:
        """Evaluate one `<list lookup=kind>` against a field value."""
        address = kind.startswith(("address_", "not_address_"))
        found = self.get_address(value) if address else self.get(value)
        if kind in ("not_match_key", "not_address_match_key"):
            return found is None
        if found is None:
            return False
        if kind in ("match_key_value", "address_match_key_value"):
            if check is None:
                return bool(found)
            return check.test(found) != check.negate
        return True


def list_key(name: str) -> str:
    """The name rules and ossec.conf use for a list, without a `.cdb` suffix."""
    name = name.strip()
    return name[:-4] if name.endswith(".cdb") else name


def load_list(name: str, path: Path) -> CdbList:
    """Read a `key:value` list source; lines without a colon are keys with an empty value."""
    source = path if path.suffix != ".cdb" else path.with_suffix("")
    try:
        text = source.read_bytes().decode("utf-8", errors="replace")
    except OSError as exc:
        raise InputError(
            f"list {name!r}: cannot read {source}: {exc.strerror}", str(source)
        ) from None
    entries: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition(":")
        entries[key.strip()] = value.strip()
    return CdbList(list_key(name), entries)

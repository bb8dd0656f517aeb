"""Where the shipped data folders live, in a wheel (`ospatrol/_data/`) or in a source checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
DATA_DIRS = ("inventory", "checks", "cis", "rules", "templates", "playbooks")


def data_dir(name: str) -> Path:
    """Return the folder of shipped data `name` (one of `DATA_DIRS`)."""
    if name not in DATA_DIRS:
        raise ValueError(f"unknown data folder {name!r}")
    installed = _PACKAGE / "_data" / name
    if installed.is_dir():
        return installed
    return _PACKAGE.parent / name

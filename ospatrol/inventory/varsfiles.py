"""`group_vars/` and `host_vars/` beside an inventory source, found and read as Ansible does.

For an entity NAME the first of `NAME`, `NAME.yml`, `NAME.yaml`, `NAME.json` that exists wins;
when it is a directory, every file in it (recursively, sorted, skipping hidden files, `~`
backups and files with other extensions) is read in order and later files override earlier
ones. Empty files are ignored; anything else must be a mapping of variables.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ospatrol.errors import InputError
from ospatrol.inventory.data import Origin, Var
from ospatrol.inventory.yamlinv import key_line, load_yaml

VARS_EXTENSIONS = (".yml", ".yaml", ".json")


class VarsFiles:
    """Reads and caches the vars files of one inventory directory."""

    def __init__(self, basedir: Path) -> None:
        self.basedir = basedir
        self._files: dict[Path, dict[str, Var]] = {}
        self._layers: dict[tuple[str, str], list[dict[str, Var]]] = {}

    def vars_for(self, kind: str, name: str) -> list[dict[str, Var]]:
        """The layers, lowest precedence first, that `kind` (`group_vars`...) holds for `name`."""
        key = (kind, name)
        if key not in self._layers:
            folder = self.basedir / kind
            if name.startswith("/") or not folder.is_dir():
                self._layers[key] = []
            else:
                paths = find_vars_files(folder, name)
                self._layers[key] = [layer for path in paths if (layer := self._read(path))]
        return self._layers[key]

    def _read(self, path: Path) -> dict[str, Var]:
        if path not in self._files:
            self._files[path] = read_vars_file(path)
        return self._files[path]


def find_vars_files(folder: Path, name: str) -> list[Path]:
    for suffix in ("", *VARS_EXTENSIONS):
        candidate = folder / f"{name}{suffix}"
        if candidate.is_dir():
            return _dir_files(candidate)
        if candidate.exists():
            return [candidate]
    return []


def _dir_files(folder: Path) -> list[Path]:
    found: list[Path] = []
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if entry.name.startswith(".") or entry.name.endswith("~"):
            continue
        if entry.is_dir() and not entry.suffix:
            found.extend(_dir_files(entry))
        elif entry.is_file() and (not entry.suffix or entry.suffix in VARS_EXTENSIONS):
            found.append(entry)
    return found


def read_vars_file(path: Path) -> dict[str, Var]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read: {exc}", str(path)) from None
    data: Any = load_yaml(text, str(path))
    if not data:
        return {}
    if not isinstance(data, dict):
        raise InputError("a vars file must be a mapping of variable names to values", str(path), 1)
    return {key: Var(value, Origin(str(path), key_line(data, key))) for key, value in data.items()}

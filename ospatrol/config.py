"""The audit settings of the one config file (`-c ospatrol.yml`): typed defaults, errors naming
file, key and line.

`ospatrol audit` and `ospatrol manager` read the same file: the top-level settings below are the
audit's (scheduled audits use them too), the sections (`syslog:`, `outputs:`, ...) are the
manager's (`ospatrol.manager.config`). Each reader checks its own keys and knows the other's
names, so a typo is still an error in both while one file serves both commands."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_type_hints

from ospatrol.errors import InputError, InputErrors
from ospatrol.manager.sections import MANAGER_SECTIONS
from ospatrol.yamlfile import LineDict, load_yaml_file

HOST_KEY_POLICIES = ("strict", "tofu", "system")


@dataclass(frozen=True)
class Config:
    """Manager settings. Every field can be set in the YAML file under the same name."""

    state_dir: Path = Path("var/ospatrol")
    concurrency: int = 50
    connect_timeout: float = 10.0
    command_timeout: float = 60.0
    host_key_policy: str = "tofu"
    alert_level: int = 7
    """Findings whose alert level reaches this count as findings for exit codes and mail."""


# Each setting's type, read from the dataclass so a new field needs no second entry here.
_TYPES: dict[str, type] = get_type_hints(Config)


SETTINGS: tuple[str, ...] = tuple(_TYPES)
"""The top-level keys that are audit settings (the manager's reader accepts them)."""


def load_config(path: Path | None, state_dir: Path | None = None) -> Config:
    """Load `path` (or defaults when None). `state_dir` from the command line wins over the file."""
    values: dict[str, Any] = {}
    if path is not None:
        data = load_yaml_file(path)
        if data is not None:
            if not isinstance(data, LineDict):
                raise InputError("the config must be a mapping of settings", str(path), 1)
            values = settings_from(data, str(path), skip=MANAGER_SECTIONS)
    if state_dir is not None:
        values["state_dir"] = state_dir
    return Config(**values)


def settings_from(data: LineDict, path: str, *, skip: Collection[str]) -> dict[str, Any]:
    """The audit settings in `data` (a whole config file), checked; keys in `skip` (another
    reader's) are left alone, any other unknown key is an error. Raises InputErrors naming file
    and line."""
    errors: list[InputError] = []
    values: dict[str, Any] = {}
    for key, raw in data.items():
        line = data.line_of(key)
        if key in skip:
            continue
        if key not in _TYPES:
            errors.append(InputError(f"unknown setting {key!r}", path, line))
            continue
        wanted = _TYPES[key]
        try:
            if wanted is int and isinstance(raw, bool):
                raise ValueError
            value = wanted(raw)
        except (TypeError, ValueError):
            errors.append(InputError(f"{key}: expected {wanted.__name__}, got {raw!r}", path, line))
            continue
        if key == "host_key_policy" and value not in HOST_KEY_POLICIES:
            errors.append(
                InputError(f"{key}: must be one of {', '.join(HOST_KEY_POLICIES)}", path, line)
            )
            continue
        values[key] = value
    if errors:
        raise InputErrors(errors)
    return values

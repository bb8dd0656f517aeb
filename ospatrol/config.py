"""The manager's YAML config: known keys, typed defaults, errors naming file, key and line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_type_hints

from ospatrol.errors import InputError, InputErrors
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


def load_config(path: Path | None, state_dir: Path | None = None) -> Config:
    """Load `path` (or defaults when None). `state_dir` from the command line wins over the file."""
    values: dict[str, Any] = {}
    if path is not None:
        values = _parse(path)
    if state_dir is not None:
        values["state_dir"] = state_dir
    return Config(**values)


def _parse(path: Path) -> dict[str, Any]:
    data = load_yaml_file(path)
    if data is None:
        return {}
    if not isinstance(data, LineDict):
        raise InputError("the config must be a mapping of settings", str(path), 1)
    errors: list[InputError] = []
    values: dict[str, Any] = {}
    for key, raw in data.items():
        line = data.line_of(key)
        if key not in _TYPES:
            errors.append(InputError(f"unknown setting {key!r}", str(path), line))
            continue
        wanted = _TYPES[key]
        try:
            if wanted is int and isinstance(raw, bool):
                raise ValueError
            value = wanted(raw)
        except (TypeError, ValueError):
            errors.append(
                InputError(f"{key}: expected {wanted.__name__}, got {raw!r}", str(path), line)
            )
            continue
        if key == "host_key_policy" and value not in HOST_KEY_POLICIES:
            errors.append(
                InputError(f"{key}: must be one of {', '.join(HOST_KEY_POLICIES)}", str(path), line)
            )
            continue
        values[key] = value
    if errors:
        raise InputErrors(errors)
    return values

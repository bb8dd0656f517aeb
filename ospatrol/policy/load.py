"""One entry point for every policy format: `load_policy(path)` picks the loader by file type."""

from __future__ import annotations

from pathlib import Path

from ospatrol.errors import InputError
from ospatrol.policy.model import Policy
from ospatrol.policy.rootcheck import load_rootcheck
from ospatrol.policy.sca import load_yaml_policy

YAML_SUFFIXES = (".yml", ".yaml")


def load_policy(path: Path) -> Policy:
    """A rootcheck text policy (`.txt`) or a YAML policy (SCA 4.x/5.x or native)."""
    if path.suffix in YAML_SUFFIXES:
        return load_yaml_policy(path)
    if path.suffix == ".txt":
        return load_rootcheck(path)
    raise InputError(
        "unknown policy type: expected .yml/.yaml (SCA, native) or .txt (rootcheck)", str(path)
    )


def load_policies(paths: list[Path]) -> list[Policy]:
    """Each file of `paths` (directories: their policy files, sorted)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.suffix in (*YAML_SUFFIXES, ".txt"))
        else:
            files.append(path)
    return [load_policy(p) for p in files]

"""Helpers for the policy tests: the shared third-party policies, and policies written per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from ospatrol.policy.load import load_policy
from ospatrol.policy.model import Policy

UNIX_ROOTCHECK_SKIP = ("win", "acsc", "rootkit")
"""Windows and Office rootcheck policies, and the rootkit databases (not policies)."""


def sca_policies(data: Path) -> list[Path]:
    return sorted((data / "sca").glob("wazuh-*/*.yml"))


def rootcheck_policies(data: Path) -> list[Path]:
    files = sorted((data / "ossec" / "rootcheck").glob("*.txt"))
    files += sorted((data / "sca" / "rootcheck-4.x").glob("*.txt"))
    return [f for f in files if not any(word in f.name for word in UNIX_ROOTCHECK_SKIP)]


@pytest.fixture(scope="session")
def shared_policies(shared_data: Path) -> list[Path]:
    """Every Wazuh SCA policy and every Unix OSSEC rootcheck policy of the shared data."""
    return sca_policies(shared_data) + rootcheck_policies(shared_data)


@pytest.fixture(scope="session")
def loaded_policies(shared_policies: list[Path]) -> dict[Path, Policy]:
    """The shared policies, loaded once for the session."""
    return {path: load_policy(path) for path in shared_policies}


def write_policy(folder: Path, text: str, name: str = "policy.yml") -> Path:
    path = folder / name
    path.write_text(text)
    return path

"""Fixtures for the analysis tests: the OSSEC 4.3 and 3.3.0 stock rule sets (shared data)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ospatrol.analysis import pcre
from ospatrol.analysis.loader import Ruleset, load_ruleset
from ospatrol.analysis.logtest import provision_wazuh_home


@pytest.fixture(scope="session", autouse=True)
def _private_ruleset_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """`ospatrol logtest` processes started by the tests cache compiled rule sets here, not in
    the caller's ~/.cache."""
    before = os.environ.get("OSPATROL_CACHE_DIR")
    os.environ["OSPATROL_CACHE_DIR"] = str(tmp_path_factory.mktemp("ruleset-cache"))
    yield
    if before is None:
        os.environ.pop("OSPATROL_CACHE_DIR", None)
    else:
        os.environ["OSPATROL_CACHE_DIR"] = before


@pytest.fixture(scope="session")
def ossec43(shared_data: Path) -> dict[str, Path]:
    base = shared_data / "ossec"
    return {
        "conf": base / "etc" / "ossec-server.conf",
        "rules": base / "rules",
        "decoders": base / "decoders" / "decoder.xml",
        "tests": base / "tests" / "ossec-testing" / "tests",
        "logtesting": base / "tests" / "logtesting",
    }


@pytest.fixture(scope="session")
def ossec330(shared_data: Path) -> dict[str, Path]:
    base = shared_data / "ossec" / "legacy-3.3.0"
    return {
        "conf": base / "etc" / "ossec-server.conf",
        "rules": base / "etc" / "rules",
        "decoders": base / "etc" / "decoder.xml",
        "tests": base / "contrib" / "ossec-testing" / "tests",
    }


def _cli_args(files: dict[str, Path]) -> list[str]:
    return [
        "--ossec-conf",
        str(files["conf"]),
        "--rules-dir",
        str(files["rules"]),
        "--decoders",
        str(files["decoders"]),
    ]


@pytest.fixture
def stock(ossec43: dict[str, Path]) -> list[str]:
    """The command-line options (`logtest`, `rules check`) that load the 4.3 rule set."""
    return _cli_args(ossec43)


@pytest.fixture
def legacy(ossec330: dict[str, Path]) -> list[str]:
    """The command-line options that load the 3.3.0 rule set."""
    return _cli_args(ossec330)


@pytest.fixture(scope="session")
def ruleset43(ossec43: dict[str, Path]) -> Ruleset:
    return load_ruleset(ossec43["conf"], rules_dir=ossec43["rules"], decoders=ossec43["decoders"])


@pytest.fixture(scope="session")
def ruleset330(ossec330: dict[str, Path]) -> Ruleset:
    return load_ruleset(
        ossec330["conf"], rules_dir=ossec330["rules"], decoders=ossec330["decoders"]
    )


@pytest.fixture(scope="session")
def wazuh_home(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Wazuh 4.14's ruleset installed as its runtests.py provisions /var/ossec, once a session."""
    return provision_wazuh_home(shared_data / "wazuh", tmp_path_factory.mktemp("wazuh") / "ossec")


@pytest.fixture(scope="session")
def wazuh_ruleset(wazuh_home: Path) -> Ruleset:
    """That installation's rule set, loaded once a session (tests build their own engines)."""
    return load_ruleset(wazuh_home / "etc" / "ossec.conf", home=wazuh_home, cache=True)


@pytest.fixture(params=["re2", "pure"])
def linear(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Runs a test with the optional RE2 pre-check (skipped where google-re2 is missing) and
    without it (the pure path); True when RE2 is in use."""
    if request.param == "pure":
        monkeypatch.setattr(pcre, "_re2", None)
        return False
    if pcre._re2 is None:
        pytest.skip("google-re2 not installed")
    return True

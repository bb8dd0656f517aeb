"""Corpus tests without the corpus: a clone without ../shared skips them with one line saying
where it looked; with OSPATROL_REQUIRE_TEST_DATA=1 (CI) the same run fails instead."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Two tests that read the corpus through the `shared_data` fixture, one of them via another
# fixture (ossec43) that builds on it.
CORPUS_TESTS = [
    "tests/analysis/test_predecode.py::test_all_cases_found",
    "tests/analysis/test_ossec_suites.py::test_ossec_43_testing_suite",
]


def _pytest(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OSPATROL_")}
    environ.update(env)
    plain = ["-p", "no:cacheprovider", "-p", "no:xdist", "-o", "addopts=-rs"]
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", *plain, *CORPUS_TESTS],
        cwd=REPO,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_missing_corpus_skips_each_test_with_where_it_looked(tmp_path: Path):
    missing = tmp_path / "no-corpus"
    proc = _pytest(tmp_path, OSPATROL_TEST_DATA=str(missing))
    assert proc.returncode == 0, proc.stdout
    assert "2 skipped" in proc.stdout
    reason = f"third-party test data not found in {missing} (set OSPATROL_TEST_DATA to where it is)"
    skipped = [line for line in proc.stdout.splitlines() if line.startswith("SKIPPED")]
    assert len(skipped) == 2 and all(line.endswith(reason) for line in skipped), proc.stdout


def test_required_corpus_fails_the_run_when_missing(tmp_path: Path):
    missing = tmp_path / "no-corpus"
    proc = _pytest(tmp_path, OSPATROL_TEST_DATA=str(missing), OSPATROL_REQUIRE_TEST_DATA="1")
    assert proc.returncode == 1, proc.stdout
    assert "2 errors" in proc.stdout and "skipped" not in proc.stdout
    assert "OSPATROL_REQUIRE_TEST_DATA=1 forbids skipping" in proc.stdout


def test_a_relative_corpus_path_is_taken_from_the_checkout(tmp_path: Path, shared_data: Path):
    # .ci/run passes ../shared/data; any other relative path means the same from the checkout.
    relative = os.path.relpath(shared_data, REPO)
    proc = _pytest(tmp_path, OSPATROL_TEST_DATA=relative, OSPATROL_REQUIRE_TEST_DATA="1")
    assert proc.returncode == 0, proc.stdout
    assert "2 passed" in proc.stdout


IMPORT_TIME_READER = """
import os
from pathlib import Path

CASES = sorted((Path(os.environ["OSPATROL_TEST_DATA"]) / "syslog").iterdir())


def test_case():
    assert CASES
"""
BROKEN = """
import no_such_module_here


def test_never():
    pass
"""


def test_a_module_reading_the_corpus_at_import_skips_and_other_errors_stay(tmp_path: Path):
    # Modules that parametrise over corpus files read them when imported: without the corpus
    # the whole module skips with the same line; an unrelated import error is still an error.
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "conftest.py").write_text((REPO / "tests" / "conftest.py").read_text())
    (tests / "test_reader.py").write_text(IMPORT_TIME_READER)
    (tests / "test_broken.py").write_text(BROKEN)
    missing = tmp_path / "no-corpus"
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OSPATROL_")}
    environ["OSPATROL_TEST_DATA"] = str(missing)
    command = [sys.executable, "-m", "pytest", "-q", "-rsE", "-p", "no:cacheprovider", "tests"]
    proc = subprocess.run(
        command, cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2, proc.stdout  # the broken module: a collection error
    reason = f"third-party test data not found in {missing} (set OSPATROL_TEST_DATA to where it is)"
    assert f"SKIPPED [1] tests/test_reader.py: {reason}" in proc.stdout
    assert "ERROR tests/test_broken.py" in proc.stdout
    assert "ERROR tests/test_reader.py" not in proc.stdout

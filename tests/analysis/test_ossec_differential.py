"""The differential test against the real OSSEC 4.3 binary (bench/diff_ossec.py), slow-marked.

Runs only when asked for (`pytest -m slow tests/analysis/test_ossec_differential.py`) and where
the oracle is built (../shared/oracle/build-ossec.sh, as root); the full run over every corpus is
`bench/diff_ossec.py` itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "bench" / "diff_ossec.py"
ORACLE = Path(os.environ.get("OSSEC_ORACLE", "/tmp/ossec-oracle/ossec")) / "bin" / "ossec-logtest"


@pytest.mark.slow
@pytest.mark.parametrize("corpus", ["loghub/OpenSSH", "loghub/Linux", "elastic_integrations"])
def test_every_line_agrees_with_the_ossec_binary(request: pytest.FixtureRequest, corpus: str):
    if "slow" not in (request.config.option.markexpr or ""):
        pytest.skip("slow: run with -m slow")
    if not os.access(ORACLE, os.X_OK):
        pytest.skip(f"no OSSEC oracle at {ORACLE} (../shared/oracle/build-ossec.sh, as root)")
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--corpus", corpus, "--show", "10"],
        capture_output=True,
        text=True,
        errors="replace",
        cwd=REPO,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    _, compared, differing = proc.stdout.strip().rsplit("\n", 1)[-1].split()
    assert int(compared) > 0 and int(differing) == 0, proc.stdout

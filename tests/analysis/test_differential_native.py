"""Pure against compiled: every corpus and the hostile lines give the same results either way.

The mypyc build of the hot modules (ospatrol/analysis/native.py) must never change a verdict.
Each rule set's lines go through two fresh interpreters, OSPATROL_NATIVE=1 (compiled) and =0
(pure), and every event's pre-decoding (hostname, program name, log), decoder, fields, rule,
level and alert (with its id, which counts alerts: one event more or less shifts every later
one) must be identical. Lines: every corpus of ../shared/data/logs as raw bytes (CR, tabs and
bad UTF-8 kept; at most LINES_PER_CORPUS of each, spread over it, which keeps the test to a few
CPU-seconds), plus their hostile variants (hostile_lines.py), and for Wazuh's rule set its own
test lines and hostile variants of some of them.
Skipped without a fresh compiled build (`make install` builds it where mypyc is installed).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from hostile_lines import SEED, corpus_lines, hostile_set, mutated

from ospatrol.analysis import native
from ospatrol.analysis.logtest import read_wazuh_cases

LINES_PER_CORPUS = 400
HOSTILE_PER_CORPUS = 8
OWN_HOSTILE = 40

# Runs in a fresh interpreter: loads the rule set named by the spec file, prints whether the
# engine is compiled, then one JSON array per line (pre-decoding, verdict, alert id).
_RUN = """
import json, sys
from pathlib import Path
from ospatrol.analysis import native
from ospatrol.analysis.engine import Engine
from ospatrol.analysis.logtest import result_json
from ospatrol.cli.logtest_cmd import load_chosen_ruleset

spec = json.loads(Path(sys.argv[1]).read_text())
home = Path(spec["home"]) if spec["home"] else None
conf = Path(spec["conf"]) if spec["conf"] else None
rules = Path(spec["rules"]) if spec["rules"] else None
decoders = tuple(Path(p) for p in spec["decoders"])
engine = Engine(load_chosen_ruleset(home, conf, rules, decoders, cache=True), hostname="diff")
out = [json.dumps({"compiled": native.active()})]
for line in spec["lines"]:
    r = engine.process_line(line, when=1700000000.0)
    alert = r.alert.alert_id if r.alert else None
    out.append(json.dumps([r.hostname, r.program_name, r.log, json.loads(result_json(r)), alert]))
sys.stdout.write("\\n".join(out) + "\\n")
"""


def _texts(lines: list[bytes]) -> list[str]:
    """Lines as the logtest command reads them (bytes that are not UTF-8 kept as escapes)."""
    return [line.decode("utf-8", "surrogateescape") for line in lines]


def _run(spec: dict, tmp_path: Path, mode: str) -> list[str]:
    path = tmp_path / f"spec-{mode}.json"
    path.write_text(json.dumps(spec))  # ASCII: lone surrogates travel as \\udcxx escapes
    proc = subprocess.run(
        [sys.executable, "-c", _RUN, str(path)],
        capture_output=True,
        env={**os.environ, "OSPATROL_NATIVE": mode},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-3000:]
    first, *events = proc.stdout.decode().splitlines()
    assert json.loads(first) == {"compiled": mode == "1"}
    return events


def _rule_sets(shared_data: Path, wazuh_home: Path) -> dict[str, tuple[dict, list[str]]]:
    """Rule set name -> (how to load it, lines of its own besides the corpora)."""
    ossec = shared_data / "ossec"
    return {
        "ossec-4.3": (
            {
                "home": None,
                "conf": str(ossec / "etc" / "ossec-server.conf"),
                "rules": str(ossec / "rules"),
                "decoders": [str(ossec / "decoders" / "decoder.xml")],
            },
            [],
        ),
        "ospatrol": ({"home": None, "conf": None, "rules": None, "decoders": []}, []),
        "wazuh": (
            {
                "home": str(wazuh_home),
                "conf": None,
                "rules": None,
                "decoders": [],
            },
            [
                case.log
                for case in read_wazuh_cases(
                    (shared_data / "wazuh" / "ruleset" / "testing" / "tests").glob("*")
                )
            ],
        ),
    }


@pytest.mark.parametrize("rule_set", ["ossec-4.3", "ospatrol", "wazuh"])
def test_compiled_and_pure_engines_agree_on_every_corpus_and_hostile_line(
    rule_set: str, shared_data: Path, wazuh_home: Path, tmp_path: Path
) -> None:
    if native.fresh_build() is None:
        pytest.skip("no fresh compiled build (make install builds it where mypyc is installed)")
    spec, own = _rule_sets(shared_data, wazuh_home)[rule_set]
    logs = shared_data / "logs"
    corpora = corpus_lines(logs, at_most=LINES_PER_CORPUS).values()
    lines = [line for corpus in corpora for line in corpus]
    # Its own lines' hostile variants too (Wazuh's: JSON, Windows events, `<pcre2>` on bytes).
    own += _texts(mutated([line.encode() for line in own], OWN_HOSTILE, random.Random(SEED)))
    texts = own + _texts(lines + hostile_set(logs, HOSTILE_PER_CORPUS))
    spec["lines"] = texts
    compiled = _run(spec, tmp_path, "1")
    pure = _run(spec, tmp_path, "0")
    assert len(compiled) == len(pure) == len(texts)
    differing = [
        f"{texts[i]!r}:\n  compiled {c}\n  pure     {p}"
        for i, (c, p) in enumerate(zip(compiled, pure, strict=True))
        if c != p
    ]
    assert not differing, f"{len(differing)} of {len(texts)} events differ:\n" + "\n".join(
        differing[:10]
    )
    # The comparison is about something: most lines decode, and some alert.
    verdicts = [json.loads(event)[3] for event in compiled]
    assert sum(v["decoder"] is not None for v in verdicts) > len(texts) // 4
    assert any(v["alert"] for v in verdicts)

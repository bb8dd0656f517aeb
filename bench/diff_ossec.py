"""Differential test: every log corpus through the real OSSEC 4.3 binary and through OSPatrol.

Each corpus file of `../shared/data/logs/` is fed, as raw bytes (CRLF endings, tabs and any other
byte kept), to `ossec-logtest` (built by `../shared/oracle/build-ossec.sh`; run as root) and to
`ospatrol logtest`, both with OSSEC 4.3's stock rule set and the same hostname. Both outputs are
parsed with the same reader, event by event, and compared on what the three phases print:
pre-decoding (full event, hostname, program name, log), the decoder and every decoded field, and
the rule and level.

    .venv/bin/python bench/diff_ossec.py [--corpus TEXT] [--show N]

Prints one row per corpus (events compared, events differing, by phase) and up to N differing
events each (default 3); exits 1 when any event differs, 2 when the oracle is not built (one
line). tests/analysis/test_ossec_differential.py runs it on the loghub corpora (slow-marked).
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("OSPATROL_TEST_DATA", REPO.parent / "shared" / "data"))
ORACLE = Path(os.environ.get("OSSEC_ORACLE", "/tmp/ossec-oracle/ossec"))
LOGTEST = ORACLE / "bin" / "ossec-logtest"
OSSEC = DATA / "ossec"
# Files under logs/ that are not logs: metadata, and the parsed (expected-output) halves.
NOT_LOGS = re.compile(r"(\.(csv|md|jsonl)|/(LICENSE|COMMIT|CITATION)|/parsed/.*)$")
PHASE1 = "**Phase 1: Completed pre-decoding."
_FIELD = re.compile(r"^       ([^:]+): '(.*)'$")


def corpora(root: Path) -> list[Path]:
    """Every log file under `root`, in path order."""
    return sorted(p for p in root.rglob("*") if p.is_file() and not NOT_LOGS.search(p.as_posix()))


def parse_events(output: bytes) -> list[dict[str, str | None]]:
    """The events of an ossec-logtest style output, each as {label: value}: the phase 1 labels,
    'decoder' (None without a match), every decoded field as 'field:NAME', 'rule' and 'level'."""
    text = output.decode("utf-8", errors="surrogateescape")
    events = []
    for chunk in text.split(PHASE1)[1:]:
        event: dict[str, str | None] = {"decoder": None, "rule": None, "level": None}
        phase = 1
        for line in chunk.split("\n"):
            if line.startswith("**Phase 2"):
                phase = 2
            elif line.startswith("**Phase 3"):
                phase = 3
            found = _FIELD.match(line)
            if found is None:
                continue
            label, value = found.groups()
            if phase == 2 and label == "decoder" and value == "(null)":
                continue  # the 4.3 binary prints this after "No decoder matched."
            if phase == 2 and label != "decoder":
                label = f"field:{label}"
            elif phase == 3:
                label = {"Rule id": "rule", "Level": "level"}.get(label, f"rule:{label}")
            event[label] = value
        events.append(event)
    return events


def run_ossec(corpus: Path) -> list[dict[str, str | None]]:
    proc = subprocess.run(
        [str(LOGTEST), "-D", str(ORACLE)],
        stdin=corpus.open("rb"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        check=True,
    )
    return parse_events(proc.stdout)


def run_ospatrol(corpus: Path, hostname: str) -> list[dict[str, str | None]]:
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "ospatrol", "logtest", "--hostname", hostname),
            *("--ossec-conf", str(OSSEC / "etc" / "ossec-server.conf")),
            *("--rules-dir", str(OSSEC / "rules")),
            *("--decoders", str(OSSEC / "decoders" / "decoder.xml")),
        ],
        stdin=corpus.open("rb"),
        capture_output=True,
        cwd=REPO,
        check=True,
    )
    return parse_events(proc.stdout)


def phase_of(label: str) -> str:
    if label in ("decoder",) or label.startswith("field:"):
        return "decoding"
    if label in ("rule", "level") or label.startswith("rule:"):
        return "rule"
    return "pre-decoding"


def compare(corpus: Path, hostname: str, show: int) -> tuple[int, int, Counter[str]]:
    """(events compared, events differing, differing events per phase); prints examples."""
    theirs = run_ossec(corpus)
    ours = run_ospatrol(corpus, hostname)
    by_phase: Counter[str] = Counter()
    differing = 0
    if len(theirs) != len(ours):
        print(f"  {corpus.name}: OSSEC printed {len(theirs)} events, OSPatrol {len(ours)}")
        by_phase["event count"] += 1
    for index, (want, got) in enumerate(zip(theirs, ours, strict=False)):
        labels = sorted(set(want) | set(got))
        wrong = [label for label in labels if want.get(label) != got.get(label)]
        if not wrong:
            continue
        differing += 1
        for phase in {phase_of(label) for label in wrong}:
            by_phase[phase] += 1
        if differing <= show:
            print(f"  event {index + 1}: {want.get('full event')!r}")
            for label in wrong:
                print(f"    {label}: OSSEC {want.get(label)!r}, OSPatrol {got.get(label)!r}")
    return min(len(theirs), len(ours)), differing, by_phase


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default="", help="only corpora whose path contains TEXT")
    parser.add_argument("--show", type=int, default=3, help="differing events shown per corpus")
    args = parser.parse_args()
    if not os.access(LOGTEST, os.X_OK):
        print(f"skipped: no OSSEC oracle at {LOGTEST} (../shared/oracle/build-ossec.sh)")
        return 2
    hostname = socket.gethostname().split(".", 1)[0]
    root = DATA / "logs"
    total = total_diff = 0
    rows = []
    for corpus in corpora(root):
        if args.corpus not in corpus.as_posix():
            continue
        print(corpus.relative_to(root))
        compared, differing, by_phase = compare(corpus, hostname, args.show)
        total += compared
        total_diff += differing
        rows.append((str(corpus.relative_to(root)), compared, differing, by_phase))
    print(f"\n{'corpus':58} {'events':>7} {'differ':>7}  by phase")
    for name, compared, differing, by_phase in rows:
        phases = ", ".join(f"{k} {v}" for k, v in sorted(by_phase.items()))
        print(f"{name:58} {compared:7} {differing:7}  {phases}")
    print(f"{'total':58} {total:7} {total_diff:7}")
    failed = total_diff or any(by_phase for *_, by_phase in rows)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Analysis engine throughput: events per CPU-second and peak memory, per rule set and corpus.

Runs the engine (decoding, rules, correlation) over the 100k-line synthetic syslog corpus and
every loghub corpus, once with OSSEC 4.3's stock rule set (loaded as `ospatrol logtest
--ossec-conf ... --rules-dir ... --decoders ...` loads it) and once with OSPatrol's own rule set.
Each rule set runs in a child process so its peak RSS is its own.

    .venv/bin/python bench/bench_analysis.py [--quick]

`--quick` cuts every corpus to its first 10,000 lines. Prints one row per (rule set, corpus):
events, CPU seconds, events per CPU-second, its ratio to the 25,000 ev/s bar, alerts, then the
load time and peak RSS of each rule set. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / ".." / "shared" / "data"
OSSEC = DATA / "ossec"
BAR = 25_000
QUICK_LINES = 10_000
RULESETS = ("ossec-4.3", "ospatrol")


def corpora() -> list[tuple[str, Path]]:
    """(name, path) of every corpus: the synthetic syslog file first, then loghub's."""
    found = [("syslog100k", DATA / "logs" / "generated" / "syslog100k.log")]
    for folder in sorted((DATA / "logs" / "loghub").iterdir()):
        if folder.is_dir():
            found.extend((folder.name, log) for log in sorted(folder.glob("*.log")))
    return found


def load(name: str):
    from ospatrol.analysis.loader import load_ruleset

    if name == "ospatrol":
        return load_ruleset(REPO / "rules" / "ospatrol.conf")
    return load_ruleset(
        OSSEC / "etc" / "ossec-server.conf",
        rules_dir=OSSEC / "rules",
        decoders=OSSEC / "decoders" / "decoder.xml",
    )


def read_lines(path: Path, limit: int | None) -> list[str]:
    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        lines = [line.rstrip("\r\n") for line in handle]
    return lines[:limit] if limit else lines


def worker(ruleset_name: str, quick: bool) -> dict:
    """Measure one rule set over every corpus (runs in its own process)."""
    from ospatrol.analysis.engine import Engine
    from ospatrol.model import Event

    started = time.process_time()
    ruleset = load(ruleset_name)
    load_seconds = time.process_time() - started
    rows = []
    for corpus, path in corpora():
        lines = read_lines(path, QUICK_LINES if quick else None)
        engine = Engine(ruleset, hostname="bench")
        alerts = 0
        now = 1_700_000_000.0
        started = time.process_time()
        for line in lines:
            result = engine.process(
                Event(text=line, location="/var/log/syslog", time=now, source="bench")
            )
            if result.alert is not None:
                alerts += 1
            now += 0.01
        seconds = time.process_time() - started
        rows.append(
            {"corpus": corpus, "events": len(lines), "cpu_seconds": seconds, "alerts": alerts}
        )
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "ruleset": ruleset_name,
        "load_seconds": load_seconds,
        "peak_kib": peak_kib,
        "rows": rows,
    }


def run_child(ruleset_name: str, quick: bool) -> dict:
    args = [sys.executable, __file__, "--worker", ruleset_name]
    if quick:
        args.append("--quick")
    proc = subprocess.run(args, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{ruleset_name}: worker failed\n{proc.stderr}")
    return json.loads(proc.stdout)


def report(results: list[dict]) -> None:
    header = (
        f"{'rule set':<10} {'corpus':<12} {'events':>8} {'cpu s':>7} "
        f"{'ev/cpu-s':>9} {'x bar':>6} {'alerts':>7}"
    )
    print(header)
    print("-" * len(header))
    for result in results:
        for row in result["rows"]:
            rate = row["events"] / row["cpu_seconds"] if row["cpu_seconds"] else float("inf")
            print(
                f"{result['ruleset']:<10} {row['corpus']:<12} {row['events']:>8} "
                f"{row['cpu_seconds']:>7.2f} {rate:>9.0f} {rate / BAR:>6.2f} {row['alerts']:>7}"
            )
    print()
    for result in results:
        events = sum(r["events"] for r in result["rows"])
        seconds = sum(r["cpu_seconds"] for r in result["rows"])
        print(
            f"{result['ruleset']}: load {result['load_seconds']:.2f} CPU-s, "
            f"all corpora {events / seconds:.0f} ev/CPU-s ({events / seconds / BAR:.2f} x {BAR}), "
            f"peak RSS {result['peak_kib'] / 1024:.0f} MiB"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"first {QUICK_LINES} lines only")
    parser.add_argument("--worker", choices=RULESETS, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.worker:
        sys.path.insert(0, str(REPO))
        print(json.dumps(worker(options.worker, options.quick)))
        return
    report([run_child(name, options.quick) for name in RULESETS])


if __name__ == "__main__":
    main()

"""The Wazuh 4.x ruleset: events per CPU-second on Wazuh's own test lines, and start-up.

Provisions a Wazuh installation folder as ruleset/testing/runtests.py does (see
`ospatrol.analysis.logtest.provision_wazuh_home`), loads the whole ruleset once, and runs every
log line of the suite's ini files (geoip files skipped) through one engine, `--rounds` times.
Then it times `ospatrol logtest -D HOME -U ...` on one line, as runtests.py starts it once per
case: the first start (compiling the ruleset, filling the cache) and the next ones (cached).

    .venv/bin/python bench/bench_wazuh.py [--rounds N]

Prints lines, CPU seconds, events per CPU-second (overall and per pass; the first pass of a
second engine, and of an engine on the rule set read back from the rule cache), the slowest
lines, and the start-up times.
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("OSPATROL_TEST_DATA", REPO.parent / "shared" / "data"))


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="passes over the test lines")
    args = parser.parse_args()
    from ospatrol.analysis import native
    from ospatrol.analysis.engine import Engine
    from ospatrol.analysis.loader import load_ruleset
    from ospatrol.analysis.logtest import provision_wazuh_home, read_wazuh_cases

    with tempfile.TemporaryDirectory() as tmp:
        home = provision_wazuh_home(DATA / "wazuh", Path(tmp) / "ossec")
        started = time.process_time()
        ruleset = load_ruleset(home / "etc" / "ossec.conf", home=home)
        load_cpu = time.process_time() - started
        cases = read_wazuh_cases((DATA / "wazuh" / "ruleset" / "testing" / "tests").glob("*"))
        lines = [line for case in cases for line in case.log.split("\n") if line]
        engine = Engine(ruleset, hostname="wazuh")
        slowest: list[tuple[float, str]] = []
        rounds: list[float] = []
        for _ in range(args.rounds):
            started = time.process_time()
            for line in lines:
                before = time.process_time()
                engine.process_line(line)
                slowest.append((time.process_time() - before, line))
            rounds.append(time.process_time() - started)
        cpu = sum(rounds)
        events = len(lines) * args.rounds
        mode = "compiled" if native.active() else "pure"
        print(f"engine: {mode} hot modules (ospatrol.analysis.native; OSPATROL_NATIVE=0: pure)")
        print(f"ruleset: {len(ruleset.rules)} rules, compiled in {load_cpu:.2f} CPU-s")
        print(f"lines: {len(lines)} x {args.rounds} rounds = {events} events, {cpu:.2f} CPU-s")
        print(f"events per CPU-second: {events / cpu:,.0f}")
        # The first pass also compiles the patterns it is the first to need (`regex` and RE2
        # programs are compiled on first use; a fresh rule set has its `re` ones compiled at
        # load); later passes are a long-running manager's rate.
        print(
            "per pass: "
            + ", ".join(f"{len(lines) / seconds:,.0f}" for seconds in rounds)
            + " events per CPU-second"
        )
        # Where the first pass's extra time goes: a second engine on the same, now warm, rule
        # set (every program compiled) builds only its own per-event-kind caches again.
        started = time.process_time()
        second = Engine(ruleset, hostname="wazuh")
        for line in lines:
            second.process_line(line)
        warm = time.process_time() - started
        print(
            f"first pass of a second engine on the warm rule set: {len(lines) / warm:,.0f} "
            "events per CPU-second (what remains is the engine's own caches, not patterns)"
        )
        # A process that reads the rule set from the rule cache (logtest, a restarted manager)
        # gets its `re` programs rebuilt from the code the cache keeps (`reprograms`); its RE2
        # and `regex` programs compile on first use: its first pass.
        os.environ["OSPATROL_CACHE_DIR"] = str(Path(tmp) / "cache-in-process")
        load_ruleset(home / "etc" / "ossec.conf", home=home, cache=True)
        reread = load_ruleset(home / "etc" / "ossec.conf", home=home, cache=True)
        cached = Engine(reread, hostname="wazuh")
        started = time.process_time()
        for line in lines:
            cached.process_line(line)
        unpickled = time.process_time() - started
        print(
            f"first pass on the rule set read from the rule cache: {len(lines) / unpickled:,.0f} "
            "events per CPU-second (re programs restored; RE2 and regex ones compiled on use)"
        )
        timeouts = ruleset.regex_timeouts()
        print(f"patterns that hit the time budget: {len(timeouts)} {sorted(timeouts)[:5]}")
        slowest.sort(reverse=True)
        for seconds, line in slowest[:5]:
            print(f"  {seconds * 1000:7.2f} ms  {line[:100]}")

        env = dict(os.environ, OSPATROL_CACHE_DIR=str(Path(tmp) / "cache"))
        line = lines[0].encode() + b"\n"
        for label in ("first start (compiles, fills the cache)", "cached start", "cached start"):
            before_cpu, before = _children_cpu(), time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "ospatrol", "logtest", "-D", str(home), "-q"],
                input=line,
                capture_output=True,
                env=env,
                check=False,
            )
            wall = time.perf_counter() - before
            print(
                f"logtest -D start-up, {label}: {wall:.2f} s wall, "
                f"{_children_cpu() - before_cpu:.2f} CPU-s"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())

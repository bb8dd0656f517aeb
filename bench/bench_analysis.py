"""Analysis engine throughput against the real OSSEC binary: events per CPU-second, side by side.

For every rule set (OSSEC 4.3's stock rules, OSSEC 3.3.0's, OSPatrol's own) and every corpus of
`../shared/data/logs/`, feeds the same bytes on stdin to `ossec-logtest -q` (the C original,
built by `../shared/oracle/build-ossec.sh` when missing and we are root) and to `ospatrol
logtest -q`, both with stdout and stderr to /dev/null, in alternating runs. Each tool's CPU time
(user + system, from the child's own rusage) is taken net of its start-up, measured the same way
on an empty input; the best of `--repeat` runs counts. Small corpora are repeated until they
reach `--min-lines` lines so start-up noise stays small against the work.

    .venv/bin/python bench/bench_analysis.py [--quick] [--repeat N] [--rulesets a,b]
                                             [--corpora x,y] [--no-oracle] [--pure]

Prints one row per (rule set, corpus): events, both tools' events per CPU-second and the ratio
OSPatrol / OSSEC; then each tool's start-up CPU-seconds and wall seconds per rule set and
OSPatrol's peak RSS. OSPatrol runs as installed: with the compiled hot modules `make install`
builds (ospatrol.analysis.native) when they are fresh, which the first line says; `--pure` adds
a column without them (OSPATROL_NATIVE=0). Not part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("OSPATROL_TEST_DATA", REPO / ".." / "shared" / "data")).resolve()
LOGS = SHARED / "logs"
OSSEC = SHARED / "ossec"
LEGACY = OSSEC / "legacy-3.3.0"
BUILD_SCRIPT = SHARED.parent / "oracle" / "build-ossec.sh"
ORACLE_HOME = Path("/tmp/ossec-oracle/ossec")
ORACLE = ORACLE_HOME / "bin" / "ossec-logtest"
QUICK_LINES = 10_000


@dataclass(frozen=True)
class RuleSet:
    """A rule set as both tools load it: OSPatrol's options and the files of an OSSEC home."""

    name: str
    ospatrol_args: tuple[str, ...]
    conf: Path  # whose <rules> block the OSSEC home's ossec.conf gets
    rules: Path  # copied to HOME/rules
    decoders: tuple[tuple[Path, str], ...]  # (file, path inside HOME)


def _conf(own: Path) -> str:
    """OSPatrol's load order without its comments."""
    return re.sub(r"<!--.*?-->", "", (own / "ospatrol.conf").read_text(), flags=re.S)


def rulesets() -> list[RuleSet]:
    own = REPO / "rules"
    return [
        RuleSet(
            "ossec-4.3",
            (
                "--ossec-conf",
                str(OSSEC / "etc" / "ossec-server.conf"),
                "--rules-dir",
                str(OSSEC / "rules"),
                "--decoders",
                str(OSSEC / "decoders" / "decoder.xml"),
            ),
            OSSEC / "etc" / "ossec-server.conf",
            OSSEC / "rules",
            ((OSSEC / "decoders" / "decoder.xml", "etc/decoder.xml"),),
        ),
        RuleSet(
            "ossec-3.3.0",
            (
                "--ossec-conf",
                str(LEGACY / "etc" / "ossec-server.conf"),
                "--rules-dir",
                str(LEGACY / "etc" / "rules"),
                "--decoders",
                str(LEGACY / "etc" / "decoder.xml"),
            ),
            LEGACY / "etc" / "ossec-server.conf",
            LEGACY / "etc" / "rules",
            ((LEGACY / "etc" / "decoder.xml", "etc/decoder.xml"),),
        ),
        RuleSet(
            "ospatrol",
            ("--ossec-conf", str(own / "ospatrol.conf")),
            own / "ospatrol.conf",
            own / "rules",
            tuple(
                (own / inside, inside)
                for inside in re.findall(r"<decoder>\s*(\S+?)\s*</decoder>", _conf(own))
            ),
        ),
    ]


def corpora() -> list[tuple[str, list[Path]]]:
    """(name, files) of every corpus: the synthetic syslog file, each loghub log, and the metron,
    elastic and vmware sets (their raw sample files together)."""
    found: list[tuple[str, list[Path]]] = [("syslog100k", [LOGS / "generated" / "syslog100k.log"])]
    for folder in sorted((LOGS / "loghub").iterdir()):
        if folder.is_dir():
            found.extend((folder.name, [log]) for log in sorted(folder.glob("*.log")))
    metron = sorted((LOGS / "apache_metron").glob("*/raw/*"))
    elastic = sorted((LOGS / "elastic_integrations").glob("*/*.log"))
    vmware = sorted(p for p in (LOGS / "vmware_esxi").rglob("*") if p.is_file())
    found += [("metron", metron), ("elastic", elastic), ("vmware", vmware)]
    return [(name, files) for name, files in found if files]


def build_input(files: list[Path], min_lines: int, limit: int | None, folder: Path) -> Path:
    """One input file: the corpus' raw bytes (CRLF, tabs kept), repeated up to `min_lines`."""
    lines: list[bytes] = []
    for path in files:
        data = path.read_bytes()
        lines.extend(line + b"\n" for line in data.split(b"\n") if line.strip())
    if limit:
        lines = lines[:limit]
    copies = max(1, -(-min_lines // max(1, len(lines))))
    out = folder / f"input-{len(list(folder.iterdir()))}.log"
    out.write_bytes(b"".join(lines) * copies)
    return out


def oracle_available(build: bool) -> bool:
    if ORACLE.exists():
        return True
    if not build or os.geteuid() != 0 or not BUILD_SCRIPT.exists():
        return False
    print(f"building the OSSEC oracle with {BUILD_SCRIPT} ...", file=sys.stderr)
    proc = subprocess.run(["bash", str(BUILD_SCRIPT)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        print(f"oracle build failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
    return ORACLE.exists()


def oracle_home(ruleset: RuleSet, folder: Path) -> Path:
    """An OSSEC home (ossec-logtest chroots into it) holding this rule set."""
    home = folder / f"ossec-{ruleset.name}"
    shutil.copytree(ORACLE_HOME, home, ignore=shutil.ignore_patterns("bin", "rules", "logs"))
    (home / "logs").mkdir()
    shutil.copytree(ruleset.rules, home / "rules")
    decoder_tags = ""
    for source, inside in ruleset.decoders:
        (home / inside).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, home / inside)
        decoder_tags += f"    <decoder>{inside}</decoder>\n"
    conf = re.sub(r"<!--.*?-->", "", ruleset.conf.read_text(), flags=re.S)
    block = conf[conf.index("<rules>") + len("<rules>") : conf.index("</rules>")]
    block = "\n".join(line for line in block.splitlines() if "<decoder>" not in line)
    (home / "etc" / "ossec.conf").write_text(
        f"<ossec_config>\n  <rules>\n{decoder_tags}{block}\n  </rules>\n</ossec_config>\n"
    )
    return home


def run(
    args: list[str], stdin: Path, env: dict[str, str] | None = None
) -> tuple[float, float, int]:
    """(CPU seconds, wall seconds, peak RSS KiB) of one child, output discarded."""
    with stdin.open("rb") as source:
        started = time.perf_counter()
        # From a neutral folder: `python -m` puts the working directory first on sys.path.
        proc = subprocess.Popen(
            args,
            stdin=source,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
            cwd=stdin.parent,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1, 2, 3, 255):
        raise SystemExit(f"{args[0]} failed with {proc.returncode} on {stdin}")
    return usage.ru_utime + usage.ru_stime, wall, usage.ru_maxrss


def _installed_mode() -> str:
    """Whether `ospatrol logtest` will run the compiled hot modules (ospatrol.analysis.native)."""
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import ospatrol.analysis.engine, ospatrol.analysis.native as n; print(n.active())",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.stdout.strip() == "True":
        return "compiled hot modules (make install's mypyc build)"
    return "pure modules (no fresh compiled build)"


def count_events(path: Path) -> int:
    return sum(1 for line in path.read_bytes().split(b"\n") if line.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"first {QUICK_LINES} lines only")
    parser.add_argument("--repeat", type=int, default=3, help="runs per tool; the best counts")
    parser.add_argument("--min-lines", type=int, default=20_000, help="repeat small corpora")
    parser.add_argument("--rulesets", help="comma-separated names (default: all)")
    parser.add_argument("--corpora", help="comma-separated names (default: all)")
    parser.add_argument("--no-oracle", action="store_true", help="OSPatrol only")
    parser.add_argument("--no-build", action="store_true", help="never build the oracle")
    parser.add_argument(
        "--pure",
        action="store_true",
        help="also OSPatrol without its compiled modules (OSPATROL_NATIVE=0)",
    )
    options = parser.parse_args()

    chosen = [
        r for r in rulesets() if not options.rulesets or r.name in options.rulesets.split(",")
    ]
    wanted = [c for c in corpora() if not options.corpora or c[0] in options.corpora.split(",")]
    # A misspelt name would otherwise leave its rows out without a word ("own" for "ospatrol").
    for option, names, known in (
        ("--rulesets", options.rulesets, [r.name for r in rulesets()]),
        ("--corpora", options.corpora, [name for name, _ in corpora()]),
    ):
        unknown = sorted(set((names or "").split(",")) - set(known) - {""})
        if unknown:
            parser.error(f"{option}: unknown {', '.join(unknown)} (known: {', '.join(known)})")
    with_oracle = not options.no_oracle and oracle_available(not options.no_build)
    if not with_oracle and not options.no_oracle:
        print("note: no OSSEC oracle (not built, not root); OSPatrol figures only\n")
    ospatrol = [sys.executable, "-m", "ospatrol", "logtest", "-q", "--hostname", "bench"]
    best = lambda runs: min(runs, key=lambda r: r[0])  # noqa: E731

    with tempfile.TemporaryDirectory(prefix="bench-analysis-") as tmp:
        folder = Path(tmp)
        # OSPatrol as installed: bytecode cached (PYTHONDONTWRITEBYTECODE would recompile every
        # module at every start), in a folder of its own.
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = str(folder / "pycache")
        env["OSPATROL_CACHE_DIR"] = str(folder / "cache")
        inputs = folder / "inputs"
        inputs.mkdir()
        empty = inputs / "empty.log"
        empty.write_bytes(b"")
        limit = QUICK_LINES if options.quick else None
        prepared = [
            (name, build_input(files, options.min_lines, limit, inputs), len(files))
            for name, files in wanted
        ]
        pure = {**env, "OSPATROL_NATIVE": "0"} if options.pure else None
        print(f"OSPatrol as installed: {_installed_mode()}\n")
        header = (
            f"{'rule set':<12} {'corpus':<12} {'events':>7} {'OSSEC ev/cpu-s':>15} "
            f"{'OSPatrol ev/cpu-s':>18} {'ratio':>6}"
        ) + (f" {'pure ev/cpu-s':>15} {'ratio':>6}" if pure else "")
        print(header)
        print("-" * len(header))
        startups = []
        for ruleset in chosen:
            ours = [*ospatrol, *ruleset.ospatrol_args]
            theirs = None
            if with_oracle:
                home = oracle_home(ruleset, folder)
                theirs = [
                    str(ORACLE),
                    "-q",
                    "-D",
                    str(home),
                    "-c",
                    str(home / "etc" / "ossec.conf"),
                ]
            # Start-up, alternating; the first OSPatrol run fills its caches (compiled rule set,
            # bytecode), so it is extra.
            run(ours, empty, env)
            ours_start, theirs_start = [], []
            for _ in range(max(options.repeat, 3)):
                ours_start.append(run(ours, empty, env))
                if theirs:
                    theirs_start.append(run(theirs, empty))
            ours_base = best(ours_start)
            theirs_base = best(theirs_start) if theirs else None
            pure_base = None
            if pure:
                run(ours, empty, pure)
                pure_base = best([run(ours, empty, pure) for _ in range(3)])
            startups.append((ruleset.name, ours_base, theirs_base))
            peak = 0
            for corpus, path, _ in prepared:
                events = count_events(path)
                ours_runs, theirs_runs, pure_runs = [], [], []
                for _ in range(options.repeat):
                    ours_runs.append(run(ours, path, env))
                    if theirs:
                        theirs_runs.append(run(theirs, path))
                    if pure:
                        pure_runs.append(run(ours, path, pure))
                ours_cpu = max(best(ours_runs)[0] - ours_base[0], 1e-6)
                peak = max(peak, max(r[2] for r in ours_runs))
                ours_rate = events / ours_cpu
                if theirs and theirs_base:
                    theirs_cpu = max(best(theirs_runs)[0] - theirs_base[0], 1e-6)
                    theirs_rate = events / theirs_cpu
                    their_text = f"{theirs_rate:>15,.0f}"
                    ratio = f"{ours_rate / theirs_rate:>6.2f}"
                else:
                    theirs_rate = 0.0
                    their_text, ratio = f"{'-':>15}", f"{'-':>6}"
                pure_text = ""
                if pure and pure_base:
                    pure_rate = events / max(best(pure_runs)[0] - pure_base[0], 1e-6)
                    pure_ratio = f"{pure_rate / theirs_rate:>6.2f}" if theirs_rate else "-"
                    pure_text = f" {pure_rate:>15,.0f} {pure_ratio:>6}"
                print(
                    f"{ruleset.name:<12} {corpus:<12} {events:>7} {their_text} "
                    f"{ours_rate:>18,.0f} {ratio}{pure_text}",
                    flush=True,
                )
            startups[-1] = (*startups[-1], peak)
        print()
        print("start-up (empty input, best run): CPU-s / wall-s; OSPatrol peak RSS on the corpora")
        for name, ours_base, theirs_base, peak in startups:
            theirs_text = (
                f"OSSEC {theirs_base[0]:.3f} / {theirs_base[1]:.3f}" if theirs_base else "OSSEC -"
            )
            print(
                f"  {name:<12} OSPatrol {ours_base[0]:.3f} / {ours_base[1]:.3f}   {theirs_text}"
                f"   RSS {peak / 1024:.0f} MiB"
            )


if __name__ == "__main__":
    main()

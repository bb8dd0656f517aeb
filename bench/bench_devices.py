"""Benchmark `ospatrol audit` of many network devices against a bare netmiko thread pool.

    .venv/bin/python bench/bench_devices.py [--quick] [--sizes 100,500] [--workers 64]
        [--concurrency 64] [--rounds 2] [--changed 0.1] [--drivers netmiko,asyncssh]

Setup: one device simulator process (`ospatrol_lab.simulator`, `--count N --platform
cisco_asa`: one SSH listener per device on 127.0.0.1, ~3 KB running configs), started once for
the largest size; a size N audits its first N devices. Measured, each in a fresh process so peak
RSS and CPU are per measurement:

- ospatrol first audit, once per CLI driver (`--drivers`: `ospatrol_netdev_driver` netmiko, the
  default, and asyncssh): the real pipeline of `ospatrol audit` (an Ansible YAML inventory read
  by the inventory loader, `network_cli` + `ansible_become` enable, the default collectors, the
  analysis engine, the store, the JSON report) over the netdev transport: every config fetched,
  normalised, masked and stored;
- ospatrol re-audit after `--changed` of the devices got a new access-list line: every config
  compared, the changed ones diffed, their events analysed and stored;
- the bare pool: `ThreadPoolExecutor(--workers)` of netmiko `ConnectHandler` (`fast_cli`,
  `global_delay_factor` 0.01, enable) fetching `show running-config` from the same devices and
  doing nothing with it: the floor netmiko sets at that concurrency.

ospatrol and the bare pool run alternately `--rounds` times (the machine is shared and noisy);
the best round of each counts and the range is printed. Figures: wall time (the audit alone, and
with start-up: loading the inventory, rules and profiles), devices per second, controller CPU per
device (the measuring process only: the simulator is another process and is not counted), peak
RSS, and the ratios against the targets (issue 10). The bare pool's time starts after netmiko is
imported; the audit's includes importing its transport (asyncssh or netmiko: lazily, at the first
connection), so the ratio is printed with and without ospatrol's start-up. Not part of pytest.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import yaml

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))

from bench_audit import _cpu_self, _proc_cpu, fmt, peak_rss_mb, run_worker  # noqa: E402

TARGETS = {100: 2.0, 500: 6.0}
"""Wall seconds allowed for N devices, normalising, storing, diffing and analysing included."""
MAX_RATIO = 1.3
"""ospatrol's wall time at most this many times the bare netmiko pool's."""
MAX_CPU_MS = 10.0
MAX_RSS_MB = 400.0
"""Peak RSS of the 500-device audit."""
NEW_RULE = "access-list OUTSIDE_IN extended permit tcp any host 10.20.30.80 eq 8443"


# ---------------------------------------------------------------- workers


def ospatrol_worker(spec: dict) -> dict:
    """`ospatrol audit -i INVENTORY -f json` as the CLI runs it, timed in this process."""
    from ospatrol.audit.setup import audit_configured, parse_only
    from ospatrol.cli.options import select_hosts
    from ospatrol.config import Config
    from ospatrol.inventory import load_inventory
    from ospatrol.report import render

    cpu0, wall0 = _cpu_self(), time.perf_counter()
    config = Config(state_dir=Path(spec["state_dir"]), concurrency=spec["concurrency"])
    hosts = select_hosts(load_inventory(Path(spec["inventory"])), spec["limit"])
    names = parse_only(None)
    timing: dict = {}

    class Clock:
        """Marks when the first host starts: what came before is start-up."""

        def run_started(self, *_: object) -> None:
            timing.setdefault("cpu", _cpu_self())
            timing.setdefault("wall", time.perf_counter())

        def __getattr__(self, _name: str):
            return lambda *_a: None

    record = audit_configured(
        hosts,
        names,
        config,
        None,
        dry_run=False,
        lock_wait=0,
        options={"inventory": spec["inventory"], "limit": spec["limit"], "only": list(names)},
        observers=[Clock()],
    )
    report = render(record, "json")
    wall, cpu = time.perf_counter() - wall0, _cpu_self() - cpu0
    statuses: dict[str, int] = {}
    for h in record.hosts:
        statuses[h.status] = statuses.get(h.status, 0) + 1
    # Devices reported changed (a change is one finding per block and kind of change).
    changed = sum(
        any(f.finding.event_text.startswith("ospatrol: config changed") for f in h.findings)
        for h in record.hosts
    )
    return {
        "wall": wall,
        "cpu": cpu,
        "audit_wall": wall - (timing["wall"] - wall0),
        "audit_cpu": cpu - (timing["cpu"] - cpu0),
        "rss_mb": peak_rss_mb(),
        "statuses": statuses,
        "errors": sorted({h.error for h in record.hosts if h.error})[:3],
        "changed": changed,
        "report_bytes": len(report),
    }


def bare_worker(spec: dict) -> dict:
    """A bare netmiko pool: log in, enable, `show running-config`, disconnect; nothing else."""
    from concurrent.futures import ThreadPoolExecutor

    from netmiko import ConnectHandler

    def fetch(device: dict) -> int:
        conn = ConnectHandler(
            device_type="cisco_asa",
            host=device["address"],
            port=device["port"],
            username=device["user"],
            password=device["password"],
            secret=device["enable_password"],
            fast_cli=True,
            global_delay_factor=0.01,
            allow_agent=False,
            use_keys=False,
            ssh_strict=False,
            system_host_keys=False,
        )
        try:
            conn.enable()
            return len(conn.send_command("show running-config"))
        finally:
            conn.disconnect()

    cpu0, wall0 = _cpu_self(), time.perf_counter()
    sizes: list[int] = []
    failed: list[str] = []
    with ThreadPoolExecutor(max_workers=spec["workers"]) as pool:
        futures = [pool.submit(fetch, d) for d in spec["devices"]]
        for future in futures:
            try:
                sizes.append(future.result())
            except Exception as exc:  # a failed device is counted, not fatal
                failed.append(f"{type(exc).__name__}: {str(exc)[:80]}")
    wall, cpu = time.perf_counter() - wall0, _cpu_self() - cpu0
    return {
        "wall": wall,
        "cpu": cpu,
        "rss_mb": peak_rss_mb(),
        "ok": len(sizes),
        "errors": failed[:3],
        "bytes": sum(sizes),
    }


WORKERS = {"ospatrol": ospatrol_worker, "bare": bare_worker}


# ---------------------------------------------------------------- setup


def write_inventory(path: Path, devices: list[dict], driver: str) -> None:
    """The devices as an Ansible YAML inventory, as `ospatrol lab up` writes the lab's, with
    `ospatrol_netdev_driver: DRIVER`."""
    hosts = {
        d["name"]: {
            "ansible_host": d["address"],
            "ansible_port": d["port"],
            "ansible_user": d["user"],
            "ansible_password": d["password"],
            "ansible_become": True,
            "ansible_become_method": "enable",
            "ansible_become_password": d["enable_password"],
        }
        for d in devices
    }
    group = {
        "vars": {
            "ansible_connection": "network_cli",
            "ansible_network_os": "cisco.asa.asa",
            "ospatrol_netdev_driver": driver,
        },
        "hosts": hosts,
    }
    path.write_text(yaml.safe_dump({"all": {"children": {"asa": group}}}, sort_keys=False))


def change_configs(devices: list[dict], share: float, seed: int) -> int:
    """Append an access-list line to `share` of the devices' running configs (a real change for
    the re-audit to diff); returns how many."""
    picked = random.Random(seed).sample(devices, round(len(devices) * share))
    for device in picked:
        path = Path(device["config_file"])
        path.write_text(path.read_text() + f"{NEW_RULE}\n")
    return len(picked)


def restore_configs(devices: list[dict]) -> None:
    for device in devices:
        path = Path(device["config_file"])
        text = path.read_text()
        if NEW_RULE in text:
            path.write_text(text.replace(f"{NEW_RULE}\n", ""))


# ---------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 20 devices, 1 round")
    parser.add_argument("--sizes", default="100,500")
    parser.add_argument("--workers", type=int, default=64, help="bare pool threads (50-100)")
    parser.add_argument("--concurrency", type=int, default=64, help="ospatrol audit concurrency")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--changed", type=float, default=0.1)
    parser.add_argument(
        "--drivers", default="netmiko,asyncssh", help="ospatrol_netdev_driver values to run"
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        spec = json.loads(Path(args.worker).read_text())
        print(json.dumps(WORKERS[spec["kind"]](spec)))
        return
    sizes = [20] if args.quick else [int(s) for s in args.sizes.split(",")]
    rounds = 1 if args.quick else args.rounds

    from ospatrol_lab.simulator import SimulatorProcess

    tmp = Path(tempfile.mkdtemp(prefix="obd-", dir="/tmp"))
    simulator = SimulatorProcess(
        tmp / "sim", ["--count", str(max(sizes)), "--platform", "cisco_asa"], timeout=300
    )
    rows = []
    try:
        info = simulator.start()
        devices = info["hosts"]
        size = Path(devices[0]["config_file"]).stat().st_size
        print(
            f"simulator: {len(devices)} ASA devices (pid {simulator.pid}), configs ~{size} B; "
            f"bare pool {args.workers} workers, ospatrol concurrency {args.concurrency}",
            flush=True,
        )
        for n in sizes:
            rows.append(bench_size(devices[:n], info, tmp, args, rounds, simulator.pid))
    finally:
        simulator.stop()
    report(rows)
    shutil.rmtree(tmp, ignore_errors=True)


def measured(spec: dict, tmp: Path, sim_pid: int) -> dict:
    """One worker run, with the CPU the simulator spent meanwhile (not the controller's: shown so
    that a saturated simulator is seen, not mistaken for a slow controller)."""
    before = _proc_cpu(sim_pid)
    result = run_worker(spec, tmp, Path(__file__))
    result["sim_cpu"] = _proc_cpu(sim_pid) - before
    return result


def bench_size(devices: list[dict], info: dict, tmp: Path, args, rounds: int, sim_pid: int) -> dict:
    n = len(devices)
    drivers = args.drivers.split(",")
    row: dict = {"n": n, "drivers": drivers, "bare": []}
    for driver in drivers:
        write_inventory(tmp / f"inventory-{n}-{driver}.yml", devices, driver)
        row[f"first:{driver}"], row[f"again:{driver}"] = [], []
    for r in range(rounds):
        bare = {"kind": "bare", "devices": devices, "workers": args.workers}
        # Alternate who goes first, so neither always meets a warmer or colder machine.
        order = ["bare", *drivers] if r % 2 == 0 else [*drivers, "bare"]
        line = [f"N={n} round {r + 1}:"]
        for kind in order:
            if kind == "bare":
                row["bare"].append(measured(bare, tmp, sim_pid))
                m = row["bare"][-1]
                line.append(f"bare pool {fmt(m['wall'], 's')} ({m['ok']} ok)")
                errors = m["errors"]
            else:
                first, again = audit_twice(devices, info, tmp, args, kind, r, sim_pid)
                row[f"first:{kind}"].append(first)
                row[f"again:{kind}"].append(again)
                line.append(
                    f"{kind} first {fmt(first['wall'], 's')} {first['statuses']}, "
                    f"re-audit {fmt(again['wall'], 's')} "
                    f"({again['changed']}/{again['expected_changed']} changed)"
                )
                errors = first["errors"] + again["errors"]
            if errors:
                line.append(f"errors: {errors[:3]}")
        print("; ".join(line), flush=True)
    return row


def audit_twice(
    devices: list[dict], info: dict, tmp: Path, args, driver: str, r: int, sim_pid: int
) -> tuple[dict, dict]:
    """A first audit into a new state dir, then a re-audit after `--changed` devices changed."""
    n = len(devices)
    state = tmp / f"state-{n}-{driver}-{r}"
    state.mkdir()
    # The devices' keys pinned, as after a first contact.
    shutil.copy(info["known_hosts"], state / "known_hosts")
    spec = {
        "kind": "ospatrol",
        "state_dir": str(state),
        "inventory": str(tmp / f"inventory-{n}-{driver}.yml"),
        "limit": None,
        "concurrency": args.concurrency,
    }
    first = measured(spec, tmp, sim_pid)
    changed = change_configs(devices, args.changed, seed=r)
    try:
        again = measured(spec, tmp, sim_pid)
    finally:
        restore_configs(devices)
    again["expected_changed"] = changed
    return first, again


def _best(runs: list[dict], key: str = "wall") -> dict:
    return min(runs, key=lambda m: m[key])


def _range(runs: list[dict], key: str = "wall") -> str:
    values = sorted(m[key] for m in runs)
    return f"{values[0]:.2f}" if len(values) == 1 else f"{values[0]:.2f}-{values[-1]:.2f}"


def report(rows: list[dict]) -> None:
    print("\n== results (best round; range over rounds; CPU = controller CPU per device)")
    print(
        f"{'N':>5} {'run':<26} {'wall s':>8} {'range':>11} {'audit s':>8} {'dev/s':>7} "
        f"{'CPU/dev ms':>10} {'RSS MB':>7} {'sim CPU s':>9}"
    )
    for row in rows:
        n = row["n"]
        labels = [("bare netmiko pool", "bare")]
        for driver in row["drivers"]:
            labels = [
                (f"ospatrol {driver} first", f"first:{driver}"),
                (f"ospatrol {driver} re-audit", f"again:{driver}"),
                *labels,
            ]
        for label, key in sorted(labels, key=lambda lk: lk[1] == "bare"):
            m = _best(row[key])
            audit = m.get("audit_wall", m["wall"])
            cpu = m.get("audit_cpu", m["cpu"])
            print(
                f"{n:>5} {label:<26} {m['wall']:>8.2f} {_range(row[key]):>11} {audit:>8.2f} "
                f"{n / audit:>7.1f} {1000 * cpu / n:>10.2f} {m['rss_mb']:>7.0f} "
                f"{m['sim_cpu']:>9.2f}"
            )
        bare = _best(row["bare"])
        target = TARGETS.get(n)
        for driver in row["drivers"]:
            first, again = _best(row[f"first:{driver}"]), _best(row[f"again:{driver}"])
            worst = max(first["wall"], again["wall"])
            cpu_ms = 1000 * max(first["audit_cpu"], again["audit_cpu"]) / n
            audit = max(first["audit_wall"], again["audit_wall"])
            verdicts = [
                f"{driver}: wall {worst:.2f} s" + (f" (target <= {target:g} s)" if target else ""),
                f"vs bare pool {worst / bare['wall']:.2f}x with start-up, "
                f"{audit / bare['wall']:.2f}x audit alone (target <= {MAX_RATIO:g}x)",
                f"CPU {cpu_ms:.1f} ms/device (target <= {MAX_CPU_MS:g})",
            ]
            if n >= 500:
                rss = max(first["rss_mb"], again["rss_mb"])
                verdicts.append(f"RSS {rss:.0f} MB (target < {MAX_RSS_MB:g})")
            print("      " + "; ".join(verdicts))


if __name__ == "__main__":
    main()

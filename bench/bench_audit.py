"""Benchmark `ospatrol audit` against Ansible doing the same work, and the manager's memory.

    .venv/bin/python bench/bench_audit.py [--quick] [--sizes 50,200] [--files 1000]
        [--sim-hosts 1000] [--no-ansible] [--no-sim]

Setup: one real OpenSSH server on 127.0.0.1 (`ospatrol_lab.sshd.SshdServer` in a temp dir) and a
tree of `--files` files. N host aliases all point at it (separate connections per alias), each
watching the whole tree. Measured, each in a fresh process so peak RSS is per measurement:

- ospatrol first audit (FIM baseline: list + hash every file) and re-audit of the unchanged tree,
  and the floor: the same hosts with one `true` command (connection, orchestration, store);
- Ansible (ansible-core, forks=50, pipelining, a ControlPath per alias so each alias has its own
  SSH connection), fast way: `shell: find TREE -type f -print0 | xargs -0 sha256sum`, and
  idiomatic way: `find` module with `get_checksum: true, checksum_algorithm: sha256`;
- ospatrol auditing `--sim-hosts` simulated ESXi hosts (`ospatrol_lab.simulator`, one process,
  one port per host) with the command-diff collector: the manager's peak RSS.

Controller CPU is the measuring process's own CPU (`getrusage(RUSAGE_SELF)`) for ospatrol and
the reaped children's (`RUSAGE_CHILDREN`: ansible-playbook, its forks and ssh clients) plus the
CPU of the persistent ssh control masters (read from /proc before they are closed) for Ansible.
The sshd side (the "hosts") is not counted for either. Not part of pytest.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
TICKS = os.sysconf("SC_CLK_TCK")
TARGETS = {"cpu_first": 15.0, "wall_first": 4.0, "wall_reaudit": 10.0, "rss_sim_mb": 300.0}


# ---------------------------------------------------------------- worker: one ospatrol audit


def _cpu_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM). Not ru_maxrss: Linux carries that over exec from the
    forking parent, so a small worker would report its parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(spec: dict) -> dict:
    """Run one ospatrol audit as `spec` says; return wall, CPU and peak RSS of this process."""
    from ospatrol.audit import AuditOptions, audit
    from ospatrol.audit.setup import build_collectors, transport_opener
    from ospatrol.collect.commands import CommandsCollector, CommandSpec
    from ospatrol.config import Config
    from ospatrol.model import Credentials, Host
    from ospatrol.store import Store

    config = Config(state_dir=Path(spec["state_dir"]), concurrency=spec.get("concurrency", 50))
    config.state_dir.mkdir(parents=True, exist_ok=True)
    hosts = [
        Host(
            name=h["name"],
            address=h["address"],
            port=h["port"],
            platform=h.get("platform", "linux"),
            credentials=Credentials(
                user=h["user"], password=h.get("password"), private_key_file=h.get("key")
            ),
            vars=h.get("vars", {}),
        )
        for h in spec["hosts"]
    ]
    if spec["collector"] == "fim":
        collectors = build_collectors(["fim"], config)
    else:
        commands = [CommandSpec(c) for c in spec["commands"]]
        platforms = {h.platform for h in hosts}
        collectors = [
            CommandsCollector({p: commands for p in platforms}, batch=spec.get("batch", True))
        ]
    store = Store.open(config.state_dir)
    cpu0, wall0 = _cpu_self(), time.perf_counter()
    record = asyncio.run(
        audit(
            hosts,
            collectors,
            store,
            transport_opener(config),
            options=AuditOptions(concurrency=config.concurrency),
        )
    )
    wall, cpu = time.perf_counter() - wall0, _cpu_self() - cpu0
    store.close()
    statuses: dict[str, int] = {}
    for h in record.hosts:
        statuses[h.status] = statuses.get(h.status, 0) + 1
    errors = sorted({h.error for h in record.hosts if h.error})[:3]
    return {
        "wall": wall,
        "cpu": cpu,
        "rss_mb": peak_rss_mb(),
        "statuses": statuses,
        "errors": errors,
        "findings": sum(len(h.findings) for h in record.hosts),
    }


def run_worker(spec: dict, tmp: Path, script: Path = Path(__file__)) -> dict:
    """Run `script --worker SPEC` in a fresh process (its own peak RSS and CPU); its last line
    of output, JSON, is the result."""
    spec_file = tmp / f"spec-{time.monotonic_ns()}.json"
    spec_file.write_text(json.dumps(spec))
    proc = subprocess.run(
        [sys.executable, str(script), "--worker", str(spec_file)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"worker failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- setup


def make_tree(root: Path, files: int) -> None:
    rng = random.Random(1)
    for i in range(files):
        folder = root / f"d{i % 20:02}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{i:05}.conf").write_bytes(rng.randbytes(rng.randint(200, 4000)))


def ssh_hosts(sshd, n: int, tree: Path) -> list[dict]:
    return [
        {
            "name": f"h{i:04}",
            "address": "127.0.0.1",
            "port": sshd.port,
            "user": sshd.user,
            "key": str(sshd.client_key),
            "vars": {"ospatrol_fim_paths": [str(tree)]},
        }
        for i in range(n)
    ]


# ---------------------------------------------------------------- Ansible


PLAYBOOK_FAST = """
- hosts: all
  gather_facts: false
  tasks:
    - shell: find {tree} -type f -print0 | xargs -0 sha256sum
      register: sums
      changed_when: false
"""

PLAYBOOK_IDIOMATIC = """
- hosts: all
  gather_facts: false
  tasks:
    - find:
        paths: {tree}
        recurse: true
        get_checksum: true
        checksum_algorithm: sha256
      register: found
"""


def ansible_inventory(path: Path, sshd, n: int, cp_dir: Path) -> None:
    lines = ["[all]"]
    for i in range(n):
        lines.append(
            f"h{i:04} ansible_host=127.0.0.1 ansible_port={sshd.port} ansible_user={sshd.user} "
            f"ansible_ssh_private_key_file={sshd.client_key} "
            f"ansible_control_path={cp_dir}/h{i:04}"
        )
    path.write_text("\n".join(lines) + "\n")


def _control_masters(cp_dir: Path) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if cmdline.startswith("ssh") and str(cp_dir) in cmdline:
            pids.append(int(entry.name))
    return pids


def _proc_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def close_masters(cp_dir: Path) -> float:
    """CPU seconds of the ssh control masters serving `cp_dir`; then stop them (ours)."""
    pids = _control_masters(cp_dir)
    cpu = sum(_proc_cpu(pid) for pid in pids)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    return cpu


def run_ansible(playbook: str, inventory: Path, tmp: Path, cp_dir: Path, forks: int) -> dict:
    book = tmp / "play.yml"
    book.write_text(playbook)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SSH_", "ANSIBLE_"))}
    env.update(
        HOME=str(tmp),
        ANSIBLE_HOME=str(tmp / "ansible"),
        ANSIBLE_LOCAL_TEMP=str(tmp / "ansible" / "tmp"),
        ANSIBLE_PIPELINING="True",
        ANSIBLE_FORKS=str(forks),
        ANSIBLE_HOST_KEY_CHECKING="False",
        ANSIBLE_SSH_ARGS=(
            "-o ControlMaster=auto -o ControlPersist=60s "
            f"-o UserKnownHostsFile={tmp / 'known_hosts'} -o StrictHostKeyChecking=no"
        ),
        ANSIBLE_PYTHON_INTERPRETER="/usr/bin/python3",
        # Print nothing per host: the results stay in Ansible (as `register` keeps them), and
        # the callback's formatting of 1,000 hashes per host is not charged to Ansible.
        ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default",
        ANSIBLE_DISPLAY_OK_HOSTS="False",
        ANSIBLE_DISPLAY_SKIPPED_HOSTS="False",
    )
    cp_dir.mkdir(parents=True, exist_ok=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall0 = time.perf_counter()
    log = tmp / "ansible.log"
    with log.open("w") as out:
        proc = subprocess.run(
            [str(ANSIBLE_PLAYBOOK), "-i", str(inventory), str(book)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            check=False,
        )
    wall = time.perf_counter() - wall0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    masters = close_masters(cp_dir)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime) + masters
    if proc.returncode != 0:
        print(log.read_text()[-3000:], file=sys.stderr)
    return {"wall": wall, "cpu": cpu, "ok": proc.returncode == 0, "masters_cpu": masters}


# ---------------------------------------------------------------- simulator


def start_simulator(directory: Path, count: int) -> tuple[subprocess.Popen, dict]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ospatrol_lab.simulator",
            "--dir",
            str(directory),
            "--count",
            str(count),
            "--platform",
            "esxi",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    ready = directory / "simulator.json"
    deadline = time.monotonic() + 120
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise SystemExit(f"simulator did not start: {proc.stderr.read().decode()[-2000:]}")
        time.sleep(0.2)
    return proc, json.loads(ready.read_text())


# ---------------------------------------------------------------- main


def fmt(value: float, unit: str = "") -> str:
    return f"{value:.3f}{unit}" if value < 10 else f"{value:.1f}{unit}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 5 hosts, 100 files")
    parser.add_argument("--sizes", default="50,200")
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--sim-hosts", type=int, default=1000)
    parser.add_argument("--forks", type=int, default=50)
    parser.add_argument("--no-ansible", action="store_true")
    parser.add_argument("--no-sim", action="store_true")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(Path(args.worker).read_text()))))
        return
    sizes = [5] if args.quick else [int(s) for s in args.sizes.split(",")]
    files = 100 if args.quick else args.files
    sim_hosts = 20 if args.quick else args.sim_hosts

    from ospatrol_lab.sshd import SshdServer

    # Short paths: ssh control sockets must fit in sun_path (108 bytes).
    tmp = Path(tempfile.mkdtemp(prefix="ob-", dir="/tmp"))
    sshd = SshdServer(tmp / "sshd")
    results: list[dict] = []
    try:
        sshd.start()
        tree = tmp / "tree"
        make_tree(tree, files)
        print(f"sshd on 127.0.0.1:{sshd.port}; tree of {files} files; forks={args.forks}")
        for n in sizes:
            results.append(bench_size(n, sshd, tree, tmp, args))
        sim = None if args.no_sim else bench_simulator(sim_hosts, tmp)
    finally:
        sshd.stop()
    report(results, sim, files)
    shutil.rmtree(tmp, ignore_errors=True)


def bench_size(n: int, sshd, tree: Path, tmp: Path, args) -> dict:
    hosts = ssh_hosts(sshd, n, tree)
    state = tmp / f"state-{n}"
    spec = {"state_dir": str(state), "hosts": hosts, "collector": "fim"}
    first = run_worker(spec, tmp)
    again = run_worker(spec, tmp)
    # The floor: connect, run one command, analyse and store, with no collector work.
    floor_spec = {
        "state_dir": str(tmp / f"floor-{n}"),
        "hosts": hosts,
        "collector": "commands",
        "commands": ["true"],
    }
    floor = run_worker(floor_spec, tmp)
    row = {"n": n, "first": first, "again": again, "floor": floor}
    print(
        f"N={n}: ospatrol first {fmt(first['wall'], 's')} ({first['statuses']}), "
        f"re-audit {fmt(again['wall'], 's')} ({again['statuses']})",
        flush=True,
    )
    if first["errors"]:
        print(f"  errors: {first['errors']}")
    if not args.no_ansible and ANSIBLE_PLAYBOOK.exists():
        cp_dir = tmp / f"cp{n}"
        inventory = tmp / f"hosts-{n}.ini"
        ansible_inventory(inventory, sshd, n, cp_dir)
        row["fast"] = run_ansible(
            PLAYBOOK_FAST.format(tree=tree), inventory, tmp, cp_dir, args.forks
        )
        print(f"  ansible fast {fmt(row['fast']['wall'], 's')}", flush=True)
        row["idiomatic"] = run_ansible(
            PLAYBOOK_IDIOMATIC.format(tree=tree), inventory, tmp, cp_dir, args.forks
        )
        print(f"  ansible find module {fmt(row['idiomatic']['wall'], 's')}", flush=True)
    return row


def bench_simulator(count: int, tmp: Path) -> dict:
    directory = tmp / "sim"
    proc, info = start_simulator(directory, count)
    try:
        hosts = [
            {
                "name": h["name"],
                "address": h["address"],
                "port": h["port"],
                "platform": "esxi",
                "user": h["user"],
                "password": h["password"],
            }
            for h in info["hosts"]
        ]
        spec = {
            "state_dir": str(tmp / "state-sim"),
            "hosts": hosts,
            "collector": "commands",
            "batch": False,
            "commands": [
                "esxcli system version get",
                "vim-cmd vmsvc/getallvms",
                "cat /etc/ssh/sshd_config",
            ],
        }
        first = run_worker(spec, tmp)
        print(
            f"simulator: {count} ESXi hosts in {fmt(first['wall'], 's')}, "
            f"peak RSS {first['rss_mb']:.0f} MB ({first['statuses']})",
            flush=True,
        )
        return {"n": count, "first": first}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)


def report(rows: list[dict], sim: dict | None, files: int) -> None:
    print(f"\n== results ({files} files per host; CPU = controller CPU seconds per host)")
    header = f"{'N':>5} {'tool':<24} {'wall s':>8} {'hosts/s':>8} {'CPU/host ms':>11} {'RSS MB':>7}"
    print(header)
    for row in rows:
        n = row["n"]
        for label, key in (
            ("ospatrol first audit", "first"),
            ("ospatrol re-audit", "again"),
            ("ospatrol floor (1 cmd)", "floor"),
            ("ansible shell+sha256sum", "fast"),
            ("ansible find module", "idiomatic"),
        ):
            m = row.get(key)
            if not m:
                continue
            rss = f"{m['rss_mb']:.0f}" if "rss_mb" in m else "-"
            print(
                f"{n:>5} {label:<24} {m['wall']:>8.2f} {n / m['wall']:>8.1f} "
                f"{1000 * m['cpu'] / n:>11.1f} {rss:>7}"
            )
        if "fast" in row:
            first, again, fast, idio = row["first"], row["again"], row["fast"], row["idiomatic"]
            ratios = {
                "cpu_first": fast["cpu"] / first["cpu"],
                "wall_first": fast["wall"] / first["wall"],
                "wall_reaudit": fast["wall"] / again["wall"],
            }
            print(
                f"      ratios vs ansible fast: CPU first {ratios['cpu_first']:.1f}x "
                f"(target {TARGETS['cpu_first']:g}x), wall first {ratios['wall_first']:.1f}x "
                f"(target {TARGETS['wall_first']:g}x), wall re-audit "
                f"{ratios['wall_reaudit']:.1f}x (target {TARGETS['wall_reaudit']:g}x); "
                f"vs find module: CPU {idio['cpu'] / first['cpu']:.1f}x, "
                f"wall {idio['wall'] / first['wall']:.1f}x"
            )
    if sim:
        m = sim["first"]
        print(
            f"{sim['n']:>5} {'ospatrol sim (ESXi)':<24} {m['wall']:>8.2f} "
            f"{sim['n'] / m['wall']:>8.1f} {1000 * m['cpu'] / sim['n']:>11.1f} "
            f"{m['rss_mb']:>7.0f}   (target RSS < {TARGETS['rss_sim_mb']:g} MB)"
        )


if __name__ == "__main__":
    main()

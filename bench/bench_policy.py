"""Benchmark the policy engine: Wazuh's CIS Debian 12 policy (207 checks) on 50 simulated hosts
and on the lab's real sshd.

    .venv/bin/python bench/bench_policy.py [--hosts 50] [--policy PATH]

- lab sshd: the policy over a real OpenSSH connection to this machine (`ospatrol_lab.sshd`),
  as `ospatrol check` runs it: every command really runs. Prints wall time, checks per second
  and exec round-trips.
- simulated hosts: N SSH servers' worth of connections to one asyncssh server on 127.0.0.1 that
  answers the policy's scripts from a recording of this machine (the facts the lab run fetched),
  so what is measured is OSPatrol's side -- planning, one script per round, SSH, framing,
  parsing, evaluation -- for N hosts at once, not N copies of `sshd -T` competing for 2 cores.
  The recorded answers go through the same framing and parser as real ones; a host whose
  statuses differ from the lab run's is an error.

Targets (issue 11): at most 3 exec round-trips per host for the whole policy; 50 hosts < 20 s.
Not part of pytest.
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import asyncssh  # noqa: E402

from ospatrol.model import Credentials, Host  # noqa: E402
from ospatrol.policy.facts import Facts  # noqa: E402
from ospatrol.policy.gather import ITEM_CAP, marker_of  # noqa: E402
from ospatrol.policy.load import load_policy  # noqa: E402
from ospatrol.policy.runner import Gatherer, run_policy  # noqa: E402
from ospatrol.transport import TransportSettings, open_transport  # noqa: E402

DEFAULT_POLICY = REPO.parent / "shared" / "data" / "sca" / "wazuh-4.x" / "cis_debian12.yml"
TARGET_ROUND_TRIPS = 3
TARGET_SECONDS_50 = 20.0


def answer(script: str, facts: Facts) -> bytes:
    """The framed stdout a host with `facts` gives for one of our scripts."""
    out = bytearray()
    nonce = ""
    items: list[tuple[str, str, str]] = []
    commands: dict[str, str] = {}
    for line in script.splitlines():
        if line.startswith("M=__OSPATROL_POLICY_"):
            nonce = line.removeprefix("M=__OSPATROL_POLICY_").removesuffix("__")
        words = shlex.split(line) if line[:3] in ("_r ", "_x ", "_f ", "_l ") else []
        if words[:1] == ["_r"]:
            commands[words[1]] = words[3]
        elif words[:1] in (["_x"], ["_f"], ["_l"]):
            items.append((words[0][1].upper(), words[1], words[2]))
    marker = marker_of(nonce).encode()

    def emit(kind: str, index: str, status: str, data: bytes = b"") -> None:
        data = data[:ITEM_CAP]
        out.extend(
            b"%s %s %s %s 0 %d\n"
            % (marker, kind.encode(), index.encode(), status.encode(), len(data))
        )
        out.extend(data)

    for kind, index, path in items:
        fact = facts.paths.get(path)
        if kind == "L":
            listing = facts.listings.get(path)
            if listing is None:
                emit("L", index, "n")
            else:
                emit("L", index, "0", b"".join(os_bytes(p) + b"\0" for p in listing))
        elif fact is None:
            emit(kind, index, "n")
        else:
            emit(kind, index, fact.state, os_bytes(fact.content or "") if kind == "F" else b"")
    for index, command in commands.items():
        if index == "w":
            continue
        fact = facts.commands.get(command)
        if fact is None:
            emit("C", index, "127", b"sh: not found\n")
        else:
            emit("C", index, "T" if fact.timed_out else str(fact.status), os_bytes(fact.output))
    count = len(items) + len(commands)
    out.extend(b"%s END %d\n" % (marker, count))
    return bytes(out)


def os_bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


class _Server(asyncssh.SSHServer):
    def begin_auth(self, username: str) -> bool:
        return False


def recorded_server(facts: Facts):
    async def handle(process: asyncssh.SSHServerProcess) -> None:
        # The transport may wrap `sh -s` in its host-side time-out guard; the script is stdin.
        script = (await process.stdin.read()).decode("utf-8", "surrogateescape")
        if "sh -s" not in (process.command or "") or "M=__OSPATROL_POLICY_" not in script:
            process.exit(127)
            return
        process.stdout.write(answer(script, facts))
        process.exit(0)

    return handle


async def run_one(host: Host, known_hosts: Path, policy):
    async with open_transport(host, TransportSettings(known_hosts=known_hosts)) as transport:
        gatherer = Gatherer(transport)
        run = await run_policy(policy, transport, gatherer)
        return run, gatherer.facts, transport.commands_run


async def lab_run(policy, tmp: Path):
    from ospatrol_lab.sshd import SshdServer

    with SshdServer(tmp / "sshd") as sshd:
        host = Host(
            name="lab",
            address="127.0.0.1",
            port=sshd.port,
            credentials=Credentials(user=sshd.user, private_key_file=str(sshd.client_key)),
        )
        started = time.perf_counter()
        run, facts, execs = await run_one(host, sshd.known_hosts, policy)
        return run, facts, execs, time.perf_counter() - started


async def simulated_run(policy, facts: Facts, hosts: int, tmp: Path, expected: dict[str, str]):
    key = asyncssh.generate_private_key("ssh-ed25519")
    server = await asyncssh.create_server(
        _Server,
        "127.0.0.1",
        0,
        server_host_keys=[key],
        process_factory=recorded_server(facts),
        encoding=None,
    )
    port = server.sockets[0].getsockname()[1]
    known = tmp / "known_hosts_sim"
    known.write_text(f"[127.0.0.1]:{port} {key.export_public_key().decode()}")
    try:
        started = time.perf_counter()
        results = await asyncio.gather(
            *(
                run_one(
                    Host(
                        name=f"sim{i:03d}",
                        address="127.0.0.1",
                        port=port,
                        credentials=Credentials(user="bench", password="bench"),
                    ),
                    known,
                    policy,
                )
                for i in range(hosts)
            )
        )
        elapsed = time.perf_counter() - started
    finally:
        server.close()
    for run, _facts, _execs in results:
        statuses = {o.check_id: o.status for o in run.outcomes}
        differ = sorted(k for k in expected if statuses.get(k) != expected[k])
        if differ:
            shown = ", ".join(f"{k}: {expected[k]} -> {statuses.get(k)}" for k in differ[:5])
            raise SystemExit(f"{run.host}: statuses differ from the lab run ({shown})")
    return results, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--policy", type=Path, default=DEFAULT_POLICY)
    args = parser.parse_args()
    policy = load_policy(args.policy)
    checks = len(policy.checks)
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        run, facts, execs, lab_seconds = asyncio.run(lab_run(policy, tmp))
        expected = {o.check_id: o.status for o in run.outcomes}
        counts = {s: list(expected.values()).count(s) for s in sorted(set(expected.values()))}
        print(f"policy: {policy.id} ({checks} checks), {args.policy}")
        print(
            f"lab sshd (real commands): {lab_seconds:.2f} s, {checks / lab_seconds:.0f} checks/s,"
            f" {run.round_trips} round-trips ({execs} exec requests), statuses {counts}"
        )
        results, elapsed = asyncio.run(simulated_run(policy, facts, args.hosts, tmp, expected))
    trips = sorted({r.round_trips for r, _, _ in results})
    execs_sim = sorted({e for _, _, e in results})
    print(
        f"{args.hosts} simulated hosts: {elapsed:.2f} s, "
        f"{args.hosts * checks / elapsed:.0f} checks/s,"
        f" round-trips per host {trips} (exec requests {execs_sim})"
    )
    ok_trips = max([*trips, run.round_trips]) <= TARGET_ROUND_TRIPS
    print(
        f"target: <= {TARGET_ROUND_TRIPS} round-trips per host: {'met' if ok_trips else 'MISSED'}"
    )
    if args.hosts == 50:
        ok_time = elapsed < TARGET_SECONDS_50
        print(f"target: 50 hosts < {TARGET_SECONDS_50:g} s: {'met' if ok_time else 'MISSED'}")


if __name__ == "__main__":
    main()

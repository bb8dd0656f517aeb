"""SSH device simulator for the lab: network devices and ESXi hosts with no real simulator.

One asyncio process serves many simulated hosts, each on its own port on 127.0.0.1, answering
like Cisco ASA (`cisco_asa`, also for PIX/FWSM), Juniper Junos (`juniper_junos`), Juniper
ScreenOS (`juniper_screenos`), Check Point Gaia (`checkpoint_gaia`) and VMware ESXi (`esxi`):
interactive shells with a PTY (prompts, echo, enable, paging until `terminal pager 0` /
`set cli screen-length 0` / `set console page 0` / `set clienv rows 0`, config mode) and exec
requests (how ESXi is driven: `esxcli ...`, `vim-cmd ...`, `cat FILE`; unknown commands print
to stderr and exit 127). Outputs come from the profiles in `lab/ospatrol_lab/devices/`. The ESXi
host has a small busybox-like sh (`sim_shell`, `sim_tools`: `sh -c`, lists, pipes, `for`,
`$(...)`, `find`/`stat -c`/`sha256sum`/`getent` over a read-only file tree), so OSPatrol's
command batches and file-integrity scans run against it unchanged.

Command line (used by `ospatrol lab up`)::

    python -m ospatrol_lab.simulator --dir DIR [--per-platform N | --count N --platform P]
        [--user U] [--password P] [--enable-password E]

runs in the foreground until SIGTERM/SIGINT. Once every port listens it writes, atomically,
`DIR/simulator.json`::

    {"pid": 1234, "known_hosts": "DIR/known_hosts", "host_key": "DIR/ssh_host_ed25519_key.pub",
     "hosts": [{"name": "sim-asa-01", "platform": "cisco_asa", "address": "127.0.0.1",
                "port": 40001, "user": "admin", "password": "...", "enable_password": "...",
                "config_file": "DIR/hosts/sim-asa-01/running-config"}, ...]}

and removes it again on a clean exit. `DIR/known_hosts` has a line per `[127.0.0.1]:port`; one
ed25519 host key (`DIR/ssh_host_ed25519_key`, kept across restarts) serves every host.
`enable_password` is the ASA `enable` and the Gaia `expert` password (ScreenOS has no enable
mode; the field is set for it too). Host names are `sim-<short>-NN` (asa, junos, screenos, gaia,
esxi).

State: each host's running config is the file `DIR/hosts/NAME/running-config` (created from the
profile with the host name filled in, kept if it exists). It is re-read on every request, so a test
or an operator can edit it to provoke a diff; config-mode changes (ASA `configure terminal`,
Junos `configure`/`set`/`commit`, ScreenOS `set`/`unset`, Gaia `set`/`add`/`delete`) write it.
For ESXi the file is `/etc/vmware/esx.conf` (`/adv/...` lines feed `esxcli system settings
advanced list -o ...`; its size, mtime and hash show in file-integrity scans), and its VMs are
the YAML list `DIR/hosts/NAME/vms` (`vms_file` in simulator.json; id, name, file, guest,
version, annotation, state), which `vim-cmd vmsvc/getallvms` and `vim-cmd vmsvc/power.getstate`
read on every request: edit it to register, unregister or power a VM. Volatile lines
(clocks, uptimes, counters, ASA `Cryptochecksum`, Junos `## Last changed`, Gaia `Exported by
... on`) change on every call.

In-process API (tests, benchmarks)::

    sim = DeviceSimulator(directory)
    hosts = await sim.start([SimHost("sim-asa-01", "cisco_asa", port=0, ...)])  # ports resolved
    ...
    await sim.stop()

and `SimulatorProcess(directory, ["--count", "1000", "--platform", "esxi"])` with `.start()`
(returns the `simulator.json` document), `.host(platform)`, `.known_hosts`, `.stop()` runs the
command line as a child process in its own session (`Lab` and the `lab_simulator` pytest
fixture use it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hmac
import json
import logging
import os
import resource
import signal
import sys
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path

import asyncssh
import yaml

from ospatrol.errors import InputError, OSPatrolError
from ospatrol_lab.process import ChildServer, known_hosts_line, spawn_detached, write_atomic
from ospatrol_lab.sim_cli import HostState, crlf
from ospatrol_lab.sim_devices import make_session, vms_file
from ospatrol_lab.sim_profile import PLATFORMS, HostVars, load_profile, render

log = logging.getLogger(__name__)

ADDRESS = "127.0.0.1"
READ_SIZE = 65536


@dataclass(frozen=True)
class SimHost:
    """One simulated host; `port` 0 means any free port (the started copy has the real one)."""

    name: str
    platform: str
    port: int = 0
    user: str = "admin"
    password: str = "lab-password"
    enable_password: str = "lab-enable"

    def __repr__(self) -> str:
        return f"SimHost(name={self.name!r}, platform={self.platform!r}, port={self.port})"


def make_hosts(
    per_platform: int = 1,
    platform: str | None = None,
    count: int | None = None,
    user: str = "admin",
    password: str = "lab-password",
    enable_password: str = "lab-enable",
) -> list[SimHost]:
    """The host list of a run: `count` hosts of `platform`, or `per_platform` of each platform."""
    plan = [(platform, count or 0)] if platform else [(p, per_platform) for p in PLATFORMS]
    hosts = []
    for name, n in plan:
        short = load_profile(name).short
        width = max(2, len(str(n)))
        hosts.extend(
            SimHost(f"sim-{short}-{i:0{width}d}", name, 0, user, password, enable_password)
            for i in range(1, n + 1)
        )
    return hosts


class _Server(asyncssh.SSHServer):
    """Password authentication against one simulated host's credentials."""

    def __init__(self, host: SimHost) -> None:
        self._host = host

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        user_ok = hmac.compare_digest(username.encode(), self._host.user.encode())
        return user_ok and hmac.compare_digest(password.encode(), self._host.password.encode())


class DeviceSimulator:
    """Serve simulated hosts from this process, one SSH listener each on 127.0.0.1."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.hosts: list[SimHost] = []
        self.known_hosts = self.directory / "known_hosts"
        self.host_key_path = self.directory / "ssh_host_ed25519_key"
        self._acceptors: list[asyncssh.SSHAcceptor] = []
        self._states: dict[str, HostState] = {}

    def config_file(self, name: str) -> Path:
        """The running-config file of host `name`."""
        return self.directory / "hosts" / name / "running-config"

    async def start(self, hosts: list[SimHost]) -> list[SimHost]:
        """Listen for every host; return them with their real ports (also in `self.hosts`)."""
        names = [h.name for h in hosts]
        if len(set(names)) != len(names):
            raise InputError("simulated host names must be unique (each has its own config file)")
        self.directory.mkdir(parents=True, exist_ok=True)
        _raise_fd_limit(len(hosts) * 3 + 256)
        key = self._host_key()
        started = []
        try:
            for index, host in enumerate(hosts, start=1):
                state = self._prepare(host, index)
                acceptor = await asyncssh.create_server(
                    partial(_Server, host),
                    ADDRESS,
                    host.port,
                    server_host_keys=[key],
                    process_factory=partial(_serve, state),
                    line_editor=False,
                    encoding="utf-8",
                    errors="replace",
                    reuse_address=True,
                    login_timeout=30,
                )
                self._acceptors.append(acceptor)
                port = acceptor.sockets[0].getsockname()[1]
                started.append(replace(host, port=port))
        except BaseException:
            await self.stop()
            raise
        self.hosts = started
        public = key.export_public_key("openssh").decode()
        lines = [known_hosts_line(h.port, public, ADDRESS) + "\n" for h in started]
        write_atomic(self.known_hosts, "".join(lines))
        return started

    def _host_key(self) -> asyncssh.SSHKey:
        if self.host_key_path.exists():
            return asyncssh.read_private_key(self.host_key_path)
        key = asyncssh.generate_private_key("ssh-ed25519")
        key.write_private_key(self.host_key_path)
        os.chmod(self.host_key_path, 0o600)
        key.write_public_key(self.host_key_path.with_name(self.host_key_path.name + ".pub"))
        return key

    def _prepare(self, host: SimHost, index: int) -> HostState:
        profile = load_profile(host.platform)
        hvars = HostVars(host.name, host.user, index)
        path = self.config_file(host.name)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, render(profile.config, hvars).rstrip("\n") + "\n")
        vms = vms_file(path)
        if profile.vms and not vms.exists():
            listed = [{**vm, "name": render(str(vm.get("name", "")), hvars)} for vm in profile.vms]
            write_atomic(vms, yaml.safe_dump(listed, sort_keys=False, allow_unicode=True))
        state = HostState(hvars, profile, path, host.password, host.enable_password)
        self._states[host.name] = state
        return state

    async def stop(self) -> None:
        """Stop listening and drop every open session."""
        acceptors, self._acceptors = self._acceptors, []
        for acceptor in acceptors:
            acceptor.close()
        for acceptor in acceptors:
            with contextlib.suppress(Exception):
                await acceptor.wait_closed()

    def describe(self) -> dict:
        """The `simulator.json` document for the started hosts."""
        hosts = []
        for host in self.hosts:
            entry = asdict(host)
            entry["address"] = ADDRESS
            entry["config_file"] = str(self.config_file(host.name))
            if load_profile(host.platform).vms:
                entry["vms_file"] = str(vms_file(self.config_file(host.name)))
            hosts.append(entry)
        return {
            "pid": os.getpid(),
            "known_hosts": str(self.known_hosts),
            "host_key": str(self.host_key_path) + ".pub",
            "hosts": hosts,
        }


async def _serve(state: HostState, process: asyncssh.SSHServerProcess) -> None:
    """One SSH session: an exec request or an interactive CLI until exit or disconnect."""
    session = make_session(state)
    status = 0
    try:
        if process.command is not None:
            out, err, status = session.run_exec(process.command)
            if process.get_terminal_type():
                out, err = crlf(out), crlf(err)
            process.stdout.write(out)
            if err:
                process.stderr.write(err)
        else:
            process.stdout.write(session.start())
            while not session.closed:
                try:
                    data = await process.stdin.read(READ_SIZE)
                except asyncssh.TerminalSizeChanged:
                    continue
                except asyncssh.BreakReceived:
                    data = "\x03"
                if not data:
                    break
                reply = session.feed(data)
                if reply:
                    process.stdout.write(reply)
                    await process.stdout.drain()
        await process.stdout.drain()
    except (OSError, asyncssh.Error, asyncio.CancelledError):
        return
    except Exception:
        # A bug in a command must cost that session, not the simulator.
        log.exception("simulated session on %s failed", state.vars.name)
        status = 1
    with contextlib.suppress(Exception):
        process.exit(status)


class SimulatorError(RuntimeError):
    """The simulator's child process did not start (the message has its log's tail)."""


class SimulatorProcess(ChildServer):
    """The simulator as a child process (`python -m ospatrol_lab.simulator`), for the lab, fixtures
    and benchmarks that must not share their event loop or GIL with it."""

    stop_timeout = 10.0

    def __init__(self, directory: Path, args: list[str] | None = None, timeout: float = 60) -> None:
        self.directory = Path(directory)
        self.args = args if args is not None else ["--per-platform", "1"]
        self.timeout = timeout
        self.info: dict = {}
        self.log_path = self.directory / "simulator.log"

    @property
    def hosts(self) -> list[dict]:
        return list(self.info.get("hosts", []))

    @property
    def known_hosts(self) -> Path:
        return Path(self.info["known_hosts"])

    def host(self, platform: str, index: int = 0) -> dict:
        """The `index`-th host of `platform` as `simulator.json` lists it."""
        return [h for h in self.hosts if h["platform"] == platform][index]

    def start(self) -> dict:
        """Start the child and wait until it wrote `simulator.json`; return that document."""
        self.directory.mkdir(parents=True, exist_ok=True)
        ready = self.directory / "simulator.json"
        ready.unlink(missing_ok=True)
        command = [sys.executable, "-m", "ospatrol_lab.simulator", "--dir", str(self.directory)]
        self._proc = spawn_detached([*command, *self.args], self.log_path)
        try:
            started = self._wait_ready(ready.exists, self.timeout, 0.05)
        except TimeoutError:
            started = False
        if not started:
            tail = self.log_path.read_text(errors="replace")[-2000:]
            raise SimulatorError(f"device simulator did not start (log {self.log_path}):\n{tail}")
        self.info = json.loads(ready.read_text())
        return self.info


def _raise_fd_limit(needed: int) -> None:
    """One listening socket per host: lift the soft open-files limit towards the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m ospatrol_lab.simulator", description="Simulated SSH devices for the lab."
    )
    parser.add_argument("--dir", required=True, type=Path, help="state directory")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--per-platform", type=int, default=None, help="hosts of each platform")
    group.add_argument("--count", type=int, default=None, help="hosts of --platform")
    parser.add_argument("--platform", choices=PLATFORMS, help="the platform of --count hosts")
    parser.add_argument("--user", default="admin")
    parser.add_argument("--password", default="lab-password")
    parser.add_argument("--enable-password", default="lab-enable")
    args = parser.parse_args(argv)
    if (args.count is None) != (args.platform is None):
        parser.error("--count and --platform go together")
    return args


async def _run(args: argparse.Namespace) -> None:
    hosts = make_hosts(
        per_platform=args.per_platform or 1,
        platform=args.platform,
        count=args.count,
        user=args.user,
        password=args.password,
        enable_password=args.enable_password,
    )
    simulator = DeviceSimulator(args.dir)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    await simulator.start(hosts)
    state_file = args.dir / "simulator.json"
    # It holds the lab's passwords: readable by its owner only.
    write_atomic(state_file, json.dumps(simulator.describe(), indent=1) + "\n", 0o600)
    print(f"simulator: {len(hosts)} hosts listening; see {state_file}", file=sys.stderr)
    try:
        await stopping.wait()
    finally:
        state_file.unlink(missing_ok=True)
        await simulator.stop()


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m ospatrol_lab.simulator`."""
    args = _parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("asyncssh").setLevel(logging.ERROR)
    try:
        asyncio.run(_run(args))
    except (OSError, OSPatrolError) as err:
        print(f"simulator: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

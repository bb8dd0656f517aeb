"""The local lab as a whole: start, inspect and stop its servers; write its Ansible inventory.

`Lab(directory).up()` starts, on 127.0.0.1 and free ports, an OpenSSH server (`sshd/`), a
simulated Cisco IOS switch (`switch/`) and the device simulator (`sim/`, one host per
platform). Each runs detached in its own session with a pid file `NAME.pid`; `lab.json` records
what `up` started (pid-file path, ports, and the command-line arguments that identify the
process), so `down` and `status` work from another process and `down` never signals a pid that
has since been reused by something else. `up` then writes `inventory.yml` (groups `linux`,
`ios`, and one group per simulated platform) and `known_hosts`.

The tests use the same code through the `lab` fixture; `ospatrol lab` is a thin wrapper.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ospatrol.errors import OSPatrolError
from ospatrol_lab.process import STOP_TIMEOUT, port_accepts, port_free, write_atomic
from ospatrol_lab.simulator import SimulatorError, SimulatorProcess
from ospatrol_lab.sshd import SshdServer
from ospatrol_lab.switch import SwitchServer, fake_switches_missing

STATE_FILE = "lab.json"
# Ports of the last lab in this directory, reused when free: the audit store pins host keys per
# address and port, and the lab's keys persist in its directory, so stable ports keep the pins.
PORTS_FILE = "ports.json"
SIMULATOR_TIMEOUT = 60.0


class LabError(OSPatrolError):
    """The lab could not be started (a server failed); names the server and its log."""


@dataclass(frozen=True)
class Service:
    """One process `up` started: how to find it again and what it should be listening on."""

    name: str
    pid_file: Path
    ports: tuple[int, ...]
    match: tuple[str, ...]  # arguments its command line must contain (guards against pid reuse)
    log: Path

    def pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def alive(self) -> bool:
        """True when the pid file names a live process whose command line is still ours."""
        pid = self.pid()
        return pid is not None and _cmdline_matches(pid, self.match)

    def to_json(self) -> dict[str, Any]:
        return {
            "pid_file": str(self.pid_file),
            "ports": list(self.ports),
            "match": list(self.match),
            "log": str(self.log),
        }

    @classmethod
    def from_json(cls, name: str, data: dict[str, Any]) -> Service:
        return cls(
            name,
            Path(data["pid_file"]),
            tuple(int(p) for p in data["ports"]),
            tuple(data["match"]),
            Path(data["log"]),
        )


@dataclass(frozen=True)
class ServiceStatus:
    """What `status` reports about one service; `accepting` lists ports that accept now."""

    name: str
    pid: int | None
    alive: bool
    ports: tuple[int, ...]
    accepting: tuple[int, ...]

    @property
    def healthy(self) -> bool:
        return self.alive and set(self.accepting) == set(self.ports)


# Per simulated platform: the group vars that make the host an Ansible-style network device.
SIMULATED_PLATFORM_VARS: dict[str, dict[str, str]] = {
    "cisco_asa": {"ansible_network_os": "cisco.asa.asa", "ansible_connection": "network_cli"},
    "juniper_junos": {
        "ansible_network_os": "junipernetworks.junos.junos",
        "ansible_connection": "network_cli",
    },
    "juniper_screenos": {"ansible_network_os": "screenos", "ansible_connection": "network_cli"},
    "checkpoint_gaia": {
        "ansible_network_os": "check_point.gaia.checkpoint",
        "ansible_connection": "network_cli",
    },
    "esxi": {"ansible_connection": "ssh"},
}


# Files of the lab host's tree (sshd.py `_make_tree`) whose content is kept and diffed, as the
# linux profile's report_changes does for a host's /etc, plus the app's config (masked secret).
TREE_REPORT_CHANGES = ("etc/passwd", "etc/group", "etc/shadow", "etc/hosts", "etc/app/*")

# Platforms whose privileged mode is `enable` with a password (Ansible become_method enable).
# The simulator gives every host an enable password; elsewhere it is not an Ansible become.
ENABLE_PLATFORMS = frozenset({"cisco_asa"})


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    # A zombie has an empty command line: it counts as gone.
    return [arg.decode(errors="replace") for arg in raw.split(b"\0") if arg]


def _cmdline_matches(pid: int, match: tuple[str, ...]) -> bool:
    """True when `match` appears, as consecutive words, in the command line of `pid`.

    Compared word by word on the joined line because sshd retitles itself into one argument
    ("sshd: /usr/sbin/sshd -D -e -f CONFIG [listener] ...").
    """
    words = " ".join(_cmdline(pid)).split()
    wanted = " ".join(match).split()
    if not words or not wanted:
        return False
    return any(words[i : i + len(wanted)] == wanted for i in range(len(words) - len(wanted) + 1))


def _stop_pid(pid: int, match: tuple[str, ...]) -> bool:
    """SIGTERM (then SIGKILL) `pid` if its command line still matches; True if it was ours."""
    if not _cmdline_matches(pid, match):
        return False
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline:
        if not _cmdline_matches(pid, match):
            return True
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    return True


@dataclass
class Lab:
    """A lab directory; `up()` fills in the servers, `load()` reads back what `up` recorded."""

    directory: Path
    sshd: SshdServer | None = None
    switch: SwitchServer | None = None
    # The simulator's own simulator.json, when it runs; kept out of repr: it holds passwords.
    simulator: dict[str, Any] | None = field(default=None, repr=False)
    services: dict[str, Service] = field(default_factory=dict)
    _simulator_process: SimulatorProcess | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.directory = Path(self.directory).resolve()

    @property
    def inventory_path(self) -> Path:
        return self.directory / "inventory.yml"

    @property
    def known_hosts_path(self) -> Path:
        return self.directory / "known_hosts"

    @property
    def state_path(self) -> Path:
        return self.directory / STATE_FILE

    def load(self) -> bool:
        """Read what `up` recorded; False when this directory holds no lab."""
        try:
            data = json.loads(self.state_path.read_text())
            self.services = {
                name: Service.from_json(name, svc) for name, svc in data["services"].items()
            }
        except FileNotFoundError:
            return False
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise OSPatrolError(f"{self.state_path}: unreadable lab state ({exc!r})") from exc
        return True

    def status(self) -> list[ServiceStatus]:
        """One entry per recorded service (empty when no lab was started here)."""
        if not self.services:
            self.load()
        result = []
        for svc in self.services.values():
            alive = svc.alive()
            accepting = tuple(p for p in svc.ports if alive and port_accepts(p))
            result.append(ServiceStatus(svc.name, svc.pid(), alive, svc.ports, accepting))
        return result

    def is_up(self) -> bool:
        states = self.status()
        return bool(states) and all(s.healthy for s in states)

    def up(self) -> None:
        """Start every server, then write inventory.yml and known_hosts. Undone on failure."""
        missing = fake_switches_missing()
        if missing:
            raise LabError(missing)
        self.directory.mkdir(parents=True, exist_ok=True)
        try:
            self._start_sshd()
            self._start_switch()
            self._start_simulator()
            self._write_state()
            self._write_known_hosts()
            self._write_inventory()
        except BaseException:
            self._write_state()
            self.down()
            raise

    def down(self) -> list[str]:
        """Stop what `up` started here (verified by command line); names of those stopped."""
        if not self.services:
            self.load()
        stopped = []
        for svc in reversed(list(self.services.values())):
            pid = svc.pid()
            if pid is not None and _stop_pid(pid, svc.match):
                stopped.append(svc.name)
            svc.pid_file.unlink(missing_ok=True)
        # Reap our own children when the lab was started in this process (tests).
        for server in (self._simulator_process, self.switch, self.sshd):
            if server is not None:
                server.stop()
        self.state_path.unlink(missing_ok=True)
        self.services = {}
        return stopped

    def _previous_port(self, name: str) -> int:
        """The port `name` had in the last lab here, if still free; else 0 (pick any)."""
        try:
            port = int(json.loads((self.directory / PORTS_FILE).read_text())[name])
        except (OSError, ValueError, KeyError, TypeError):
            return 0
        return port if port_free(port) else 0

    def _start_sshd(self) -> None:
        self.sshd = SshdServer(self.directory / "sshd", port=self._previous_port("sshd"))
        self.sshd.start()
        self._record(
            "sshd",
            self.sshd.pid,
            (self.sshd.port,),
            ("-f", str(self.sshd.config_path)),
            self.sshd.log_path,
        )

    def _start_switch(self) -> None:
        # Fresh secrets per lab: they end up only in the lab's own inventory file.
        self.switch = SwitchServer(
            self.directory / "switch",
            port=self._previous_port("switch"),
            password=secrets.token_urlsafe(12),
            enable_password=secrets.token_urlsafe(12),
        )
        self.switch.start()
        self._record(
            "switch",
            self.switch.pid,
            (self.switch.port,),
            # its ready file, in this lab's directory: when the switch picked its port, its
            # command line says `--port 0`
            ("--ready", str(self.switch.ready_path)),
            self.switch.log_path,
        )

    def _start_simulator(self) -> None:
        sim_dir = self.directory / "sim"
        self._simulator_process = SimulatorProcess(
            sim_dir, ["--per-platform", "1"], timeout=SIMULATOR_TIMEOUT
        )
        try:
            self.simulator = self._simulator_process.start()
        except SimulatorError as exc:
            raise LabError(str(exc)) from exc
        self._record(
            "simulator",
            self._simulator_process.pid,
            tuple(int(d["port"]) for d in self.simulator_devices()),
            ("-m", "ospatrol_lab.simulator", "--dir", str(sim_dir)),
            self._simulator_process.log_path,
        )

    def simulator_devices(self) -> list[dict[str, Any]]:
        """The simulated hosts, as the simulator's ready file lists them (name, platform, address,
        port, user, password, enable_password, config_file)."""
        return list((self.simulator or {}).get("hosts", []))

    def _record(
        self, name: str, pid: int | None, ports: tuple[int, ...], match: tuple[str, ...], log: Path
    ) -> None:
        if pid is None:
            raise LabError(f"{name} exited right after starting (log {log})")
        pid_file = self.directory / f"{name}.pid"
        pid_file.write_text(f"{pid}\n")
        self.services[name] = Service(name, pid_file, ports, match, log)

    def _write_state(self) -> None:
        data = {"services": {name: svc.to_json() for name, svc in self.services.items()}}
        self.state_path.write_text(json.dumps(data, indent=2) + "\n")
        ports = {name: svc.ports[0] for name, svc in self.services.items() if len(svc.ports) == 1}
        (self.directory / PORTS_FILE).write_text(json.dumps(ports) + "\n")

    def _write_known_hosts(self) -> None:
        lines = [self.sshd.known_hosts_line, self.switch.known_hosts_line]
        if self.simulator and self.simulator.get("known_hosts"):
            lines += Path(self.simulator["known_hosts"]).read_text().splitlines()
        self.known_hosts_path.write_text("\n".join(line for line in lines if line) + "\n")

    def inventory(self) -> dict[str, Any]:
        """The lab's Ansible YAML inventory, as data."""
        children: dict[str, Any] = {
            "linux": {
                "hosts": {
                    "lab-linux": {
                        "ansible_host": "127.0.0.1",
                        "ansible_port": self.sshd.port,
                        "ansible_user": self.sshd.user,
                        "ansible_ssh_private_key_file": str(self.sshd.client_key),
                        "ansible_ssh_common_args": (
                            f"-o UserKnownHostsFile={self.known_hosts_path} "
                            "-o StrictHostKeyChecking=yes"
                        ),
                        # The lab host watches its own tree, which `make run` edits to show
                        # a change; the machine's real /etc is not the lab's to touch. The
                        # profile's report_changes globs name /etc/...: the same files in the
                        # tree keep their (masked) content, so a change shows a diff.
                        "ospatrol_fim_paths": [str(self.sshd.tree)],
                        "ospatrol_fim_report_changes": [
                            f"{self.sshd.tree}/{glob}" for glob in TREE_REPORT_CHANGES
                        ],
                    }
                }
            },
            "ios": {
                "hosts": {
                    "lab-ios": {
                        "ansible_host": "127.0.0.1",
                        "ansible_port": self.switch.port,
                        "ansible_network_os": "cisco.ios.ios",
                        "ansible_connection": "network_cli",
                        "ansible_user": self.switch.user,
                        "ansible_password": self.switch.password,
                        "ansible_become": True,
                        "ansible_become_method": "enable",
                        "ansible_become_password": self.switch.enable_password,
                    }
                }
            },
        }
        for device in self.simulator_devices():
            platform = device["platform"]
            group = children.setdefault(
                platform,
                {
                    "vars": {
                        "ospatrol_platform": platform,
                        **SIMULATED_PLATFORM_VARS.get(platform, {}),
                    },
                    "hosts": {},
                },
            )
            host = {
                "ansible_host": device.get("address", "127.0.0.1"),
                "ansible_port": int(device["port"]),
                "ansible_user": device["user"],
                "ansible_password": device["password"],
            }
            if platform in ENABLE_PLATFORMS and device.get("enable_password"):
                host["ansible_become"] = True
                host["ansible_become_method"] = "enable"
                host["ansible_become_password"] = device["enable_password"]
            group["hosts"][device["name"]] = host
        return {"all": {"children": children}}

    def _write_inventory(self) -> None:
        text = "# Written by `ospatrol lab up`: the local lab, on 127.0.0.1 (lab-only secrets).\n"
        text += yaml.safe_dump(self.inventory(), sort_keys=False)
        # It holds the lab's passwords.
        write_atomic(self.inventory_path, text, 0o600)

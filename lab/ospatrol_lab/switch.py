"""A simulated Cisco IOS switch (the `fake-switches` package) over SSH on 127.0.0.1.

`SwitchServer` starts it as a child process, `python -m ospatrol_lab.switch`, because it runs a
Twisted reactor, which must stay out of the test process and of asyncio. The launcher builds the
generic Cisco core (privileged mode behind an enable password, `show running-config`,
`configure terminal`) and serves it with the package's SSH realm, but with a host key of our own
(the package ships one fixed, public key) and passwords as Twisted expects them: the login password
as bytes, the enable password as str (the stock launcher passes bytes there, so `enable` never
matches).

Passwords go to the child through the environment, not its command line, so `ps` does not show
them; the command-line options exist for manual use.

The child picks and binds its own port (`--port 0`) and then writes it to `--ready FILE`: the
parent waits for that file, never for "something accepts on the port", which another process
that took a port picked by the parent would also satisfy.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh

from ospatrol_lab.process import (
    ChildServer,
    known_hosts_line,
    lab_ports,
    no_lab_port,
    spawn_detached,
    write_atomic,
)

START_TIMEOUT = 20.0
ENV_PASSWORD = "OSPATROL_LAB_SWITCH_PASSWORD"
ENV_ENABLE = "OSPATROL_LAB_SWITCH_ENABLE"


class SwitchError(RuntimeError):
    """The simulated switch could not be started."""


def fake_switches_missing() -> str | None:
    """Why the switch cannot run here (one line saying how to fix it), or None when it can."""
    if importlib.util.find_spec("fake_switches") is not None:
        return None
    # Its release pins Twisted[conch]<17, which does not build on Python 3.11; the lab declares
    # the dependencies fake-switches really needs, so it goes in without its own.
    return "the lab's switch needs fake-switches: pip install --no-deps 'fake-switches==1.5.0'"


@dataclass
class SwitchServer(ChildServer):
    """One simulated IOS switch; `port` 0 lets it pick one. After `start()`, `port` and
    `known_hosts_line` are set."""

    directory: Path
    port: int = 0
    user: str = "admin"
    password: str = field(default="lab-password", repr=False)
    enable_password: str = field(default="lab-enable", repr=False)
    hostname: str = "lab-ios"
    host_key: Path = field(init=False)
    log_path: Path = field(init=False)
    ready_path: Path = field(init=False)
    known_hosts_line: str = field(init=False, default="")

    def __post_init__(self) -> None:
        self.directory = Path(self.directory).resolve()
        self.host_key = self.directory / "switch_host_key"
        self.log_path = self.directory / "switch.log"
        self.ready_path = self.directory / "switch.ready"

    def command(self) -> list[str]:
        """The launcher's argument list (passwords travel in `environment()`)."""
        return [
            sys.executable,
            "-m",
            "ospatrol_lab.switch",
            "--port",
            str(self.port),
            "--user",
            self.user,
            "--hostname",
            self.hostname,
            "--host-key",
            str(self.host_key),
            "--ready",
            str(self.ready_path),
        ]

    def environment(self) -> dict[str, str]:
        return {**os.environ, ENV_PASSWORD: self.password, ENV_ENABLE: self.enable_password}

    def start(self) -> None:
        """Start the launcher and return once the port accepts connections."""
        missing = fake_switches_missing()
        if missing:
            raise SwitchError(missing)
        self.directory.mkdir(parents=True, exist_ok=True)
        if not self.host_key.exists():
            key = asyncssh.generate_private_key("ssh-ed25519")
            self.host_key.write_bytes(key.export_private_key("openssh"))
            self.host_key.chmod(0o600)
        public = asyncssh.read_private_key(self.host_key).export_public_key("openssh").decode()
        self.ready_path.unlink(missing_ok=True)
        self._proc = spawn_detached(self.command(), self.log_path, self.environment())
        try:
            started = self._wait_ready(self.ready_path.exists, START_TIMEOUT, 0.05)
        except TimeoutError:
            message = (
                f"fake-switches did not listen within {START_TIMEOUT:g} s:\n{self._log_tail()}"
            )
            raise SwitchError(message) from None
        if not started:
            raise SwitchError(f"fake-switches exited at start:\n{self._log_tail()}")
        self.port = json.loads(self.ready_path.read_text())["port"]
        self.known_hosts_line = known_hosts_line(self.port, public)


def _ios_core(hostname: str, enable_password: str):
    """fake-switches' generic Cisco core, plus IOS `end` (netmiko leaves config mode with it),
    numbered ACLs (`access-list 150 permit ...`, `no access-list 150`) and `line vty 0 4` blocks
    with `transport input` and `access-class`, which the stock core lacks and the config
    classification tests change."""
    from fake_switches.cisco.cisco_core import CiscoSwitchCore
    from fake_switches.cisco.command_processor.config import ConfigCommandProcessor
    from fake_switches.cisco.command_processor.config_interface import (
        ConfigInterfaceCommandProcessor,
    )
    from fake_switches.cisco.command_processor.config_vlan import ConfigVlanCommandProcessor
    from fake_switches.cisco.command_processor.config_vrf import ConfigVRFCommandProcessor
    from fake_switches.cisco.command_processor.enabled import EnabledCommandProcessor
    from fake_switches.command_processing.base_command_processor import BaseCommandProcessor
    from fake_switches.switch_factory import SwitchFactory

    class ConfigLine(BaseCommandProcessor):
        """`line vty 0 4` mode: `transport input ...`, `access-class ...` (with `no`)."""

        def init(self, switch_configuration, terminal_controller, logger, piping, *args):
            super().init(switch_configuration, terminal_controller, logger, piping)
            self.block = args[0]

        def get_prompt(self) -> str:
            return self.switch_configuration.name + "(config-line)#"

        def _set(self, keyword: str, line: str | None) -> None:
            kept = [ln for ln in self.block if not ln.startswith(keyword)]
            self.block[:] = kept + ([line] if line else [])

        def do_transport(self, *args: str) -> None:
            self._set(" transport input", " transport " + " ".join(args))

        def do_no_transport(self, *_args: str) -> None:
            self._set(" transport input", None)

        def do_access_class(self, *args: str) -> None:
            self._set(" access-class", " access-class " + " ".join(args))

        def do_no_access_class(self, *_args: str) -> None:
            self._set(" access-class", None)

        def do_exit(self) -> None:
            self.is_done = True

    class ConfigWithEnd(ConfigCommandProcessor):
        def do_end(self, *_args: str) -> None:
            # Sub-modes (interface, vlan) pass commands they do not know up to this processor,
            # so `end` typed anywhere in configuration mode lands here and leaves it.
            self.is_done = True

        def do_line(self, *args: str) -> None:
            blocks = _extra(self.switch_configuration, "lines")
            self.move_to(ConfigLine(), blocks.setdefault("line " + " ".join(args), []))

        def do_no_line(self, *args: str) -> None:
            # Real IOS keeps its vty lines; the lab drops the block so a test leaves the
            # switch's running config exactly as it found it.
            _extra(self.switch_configuration, "lines").pop("line " + " ".join(args), None)

        def do_access_list(self, number: str, *rest: str) -> None:
            entries = _extra(self.switch_configuration, "acls").setdefault(number, [])
            entries.append(" ".join(("access-list", number, *rest)))

        def do_no_access_list(self, number: str, *_rest: str) -> None:
            _extra(self.switch_configuration, "acls").pop(number, None)

    class EnabledWithExtras(EnabledCommandProcessor):
        def show_run(self) -> None:
            # The stock running config, with numbered ACLs and line blocks before its `end`.
            acls = _extra(self.switch_configuration, "acls")
            lines = _extra(self.switch_configuration, "lines")
            extra = [entry for number in sorted(acls) for entry in acls[number]]
            extra += ["!"] if extra else []
            for header, block in lines.items():
                extra += [header, *block, "!"]
            write = self.write_line

            def write_line(data: str) -> None:
                if data == "end":
                    for line in extra:
                        write(line)
                write(data)

            self.write_line = write_line
            try:
                super().show_run()
            finally:
                del self.write_line

    class IosCore(CiscoSwitchCore):
        def new_command_processor(self):
            return EnabledWithExtras(
                config=ConfigWithEnd(
                    config_vlan=ConfigVlanCommandProcessor(),
                    config_vrf=ConfigVRFCommandProcessor(),
                    config_interface=ConfigInterfaceCommandProcessor(),
                )
            )

    return SwitchFactory(mapping={"ios": IosCore}).get("ios", hostname, enable_password)


def _extra(switch_configuration, name: str) -> dict:
    """A table the stock switch configuration lacks, kept on it (one switch, one table)."""
    if not hasattr(switch_configuration, "ospatrol_" + name):
        setattr(switch_configuration, "ospatrol_" + name, {})
    return getattr(switch_configuration, "ospatrol_" + name)


def _listen(reactor, ssh_factory, port: int):
    """Listen on 127.0.0.1:port, or when port is 0 on the first port of the lab's range that
    binds (outside the ephemeral range, so the lab can have it again: see `lab_ports`)."""
    from twisted.internet.error import CannotListenError

    for candidate in [port] if port else lab_ports():
        try:
            return reactor.listenTCP(candidate, ssh_factory, interface="127.0.0.1")
        except CannotListenError:
            if port:
                raise
    raise no_lab_port()


def serve(
    port: int,
    user: str,
    password: str,
    enable_password: str,
    hostname: str,
    host_key: Path | None,
    ready: Path | None = None,
) -> None:
    """Run one IOS switch on 127.0.0.1:port (0: a port of the lab's range) until terminated
    (blocks); once it listens, `ready` (written atomically) holds {"port": N}."""
    from fake_switches.transports.ssh_service import SSHDemoRealm, getRSAKeys
    from twisted.conch.ssh import factory, keys
    from twisted.cred import checkers, portal
    from twisted.internet import reactor

    core = _ios_core(hostname, enable_password)
    ssh_factory = factory.SSHFactory()
    ssh_factory.portal = portal.Portal(SSHDemoRealm(core))
    ssh_factory.portal.registerChecker(
        checkers.InMemoryUsernamePasswordDatabaseDontUse(**{user: password.encode()})
    )
    if host_key is not None:
        private = keys.Key.fromFile(str(host_key))
    else:
        private = keys.Key.fromString(getRSAKeys()[1].encode())
    key_type = private.sshType()
    ssh_factory.privateKeys = {key_type: private}
    ssh_factory.publicKeys = {key_type: private.public()}
    port = _listen(reactor, ssh_factory, port).getHost().port
    logging.getLogger(__name__).warning("switch %s listening on 127.0.0.1:%d", hostname, port)
    if ready is not None:
        write_atomic(ready, json.dumps({"port": port}))
    reactor.run()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ospatrol_lab.switch", description=__doc__)
    parser.add_argument("--port", type=int, required=True, help="0: any port of the lab's range")
    parser.add_argument("--user", default="admin")
    parser.add_argument("--password", default=os.environ.get(ENV_PASSWORD))
    parser.add_argument("--enable-password", default=os.environ.get(ENV_ENABLE))
    parser.add_argument("--hostname", default="lab-ios")
    parser.add_argument("--host-key", type=Path, help="OpenSSH private key (default: stock RSA)")
    parser.add_argument("--ready", type=Path, help='file to write {"port": N} to once listening')
    args = parser.parse_args(argv)
    if not args.password or not args.enable_password:
        parser.error(f"--password/--enable-password (or {ENV_PASSWORD}/{ENV_ENABLE}) required")
    # fake-switches logs every line typed at INFO, including the enable password: keep WARNING.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    serve(
        args.port,
        args.user,
        args.password,
        args.enable_password,
        args.hostname,
        args.host_key,
        args.ready,
    )


if __name__ == "__main__":
    main()

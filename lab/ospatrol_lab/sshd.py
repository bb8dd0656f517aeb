"""A throwaway OpenSSH server on 127.0.0.1: the lab's Unix host and the tests' real SSH peer.

Everything lives in one directory: `sshd_config`, host keys (ed25519 + rsa), the client key and
its `authorized_keys`, the pid file, the log (sshd's stderr, LogLevel VERBOSE) and a small file
`tree/` for integrity-monitoring tests. The daemon runs in the foreground (`-D -e`) in its own
session, so it outlives neither more nor less than whoever stops it: the test fixture, or
`ospatrol lab down` through the pid file.

sshd not run as root can only log in the user running it; as root it logs in root by key only.
"""

from __future__ import annotations

import os
import pwd
import re
import subprocess
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import asyncssh

from ospatrol_lab.process import (
    BIND_ATTEMPTS,
    ChildServer,
    free_port,
    known_hosts_line,
    port_accepts,
    spawn_detached,
)

SSHD = Path("/usr/sbin/sshd")
START_TIMEOUT = 10.0
# The tree's secrets (see `_make_tree`): a sha512-crypt-shaped hash and a database password.
LAB_PASSWORD_HASH = "$6$labsalt$" + "Lab0nlyHash" * 7 + "Lab0nlyHa"
LAB_DB_PASSWORD = "lab-db-Secret-7Qx"


class SshdError(RuntimeError):
    """sshd could not be started (missing binary, bad config, died at start)."""


@cache
def sshd_version(binary: Path = SSHD) -> tuple[int, int]:
    """OpenSSH's (major, minor) version, from `sshd -V` (which prints it on stderr)."""
    out = subprocess.run([str(binary), "-V"], capture_output=True, text=True, check=False)
    match = re.search(r"OpenSSH_(\d+)\.(\d+)", out.stderr + out.stdout)
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


def _write_key(key: asyncssh.SSHKey, private: Path) -> Path:
    """Write an OpenSSH private key (mode 0600, as sshd and ssh demand) and its `.pub`."""
    private.write_bytes(key.export_private_key("openssh"))
    private.chmod(0o600)
    public = private.with_name(private.name + ".pub")
    public.write_bytes(key.export_public_key("openssh"))
    return public


def _make_tree(root: Path) -> None:
    """A small tree to watch, laid out like a host's /etc: account files (a shadow file with a
    password hash, a config holding a secret, for the masking of content diffs), an executable,
    a symlink, a nested directory."""
    (root / "etc" / "app").mkdir(parents=True, exist_ok=True)
    (root / "bin").mkdir(exist_ok=True)
    (root / "etc" / "hosts").write_text("127.0.0.1 localhost\n")
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (root / "etc" / "group").write_text("root:x:0:\nwheel:x:10:root\n")
    # Lab-only secrets (public: they are in this file), the same on every start so an unchanged
    # lab audits clean: what masking must keep out of content diffs and the store.
    shadow = root / "etc" / "shadow"
    shadow.write_text(f"root:{LAB_PASSWORD_HASH}:19000:0:99999:7:::\n")
    shadow.chmod(0o640)
    (root / "etc" / "app" / "app.conf").write_text(
        f"listen = 127.0.0.1\nlog_level = info\ndb_password = {LAB_DB_PASSWORD}\n"
    )
    tool = root / "bin" / "tool"
    tool.write_text("#!/bin/sh\necho tool\n")
    tool.chmod(0o755)
    link = root / "bin" / "tool-link"
    if not link.is_symlink():
        link.symlink_to("tool")


@dataclass
class SshdServer(ChildServer):
    """One sshd with its own keys and config under `directory`; `port` 0 picks a free port."""

    directory: Path
    port: int = 0
    user: str = field(init=False, default="")
    client_key: Path = field(init=False)
    host_key_pub: Path = field(init=False)
    known_hosts_line: str = field(init=False, default="")
    known_hosts: Path = field(init=False)
    tree: Path = field(init=False)
    home: Path = field(init=False)
    config_path: Path = field(init=False)
    log_path: Path = field(init=False)
    pid_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.directory = Path(self.directory).resolve()
        self.user = pwd.getpwuid(os.getuid()).pw_name
        self.client_key = self.directory / "client_ed25519"
        self.host_key_pub = self.directory / "ssh_host_ed25519_key.pub"
        self.known_hosts = self.directory / "known_hosts"
        self.tree = self.directory / "tree"
        self.home = self.directory / "home"
        self.config_path = self.directory / "sshd_config"
        self.log_path = self.directory / "sshd.log"
        self.pid_path = self.directory / "sshd.pid"

    def start(self) -> None:
        """Prepare keys and config, start sshd and return once its port accepts connections."""
        if not SSHD.exists():
            raise SshdError(f"{SSHD} not found: run scripts/system-deps.sh (openssh-server)")
        self.directory.mkdir(parents=True, exist_ok=True)
        if os.getuid() == 0:
            # sshd refuses to start as root without its privilege-separation directory.
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        self._prepare_keys()
        _make_tree(self.tree)
        self.home.mkdir(exist_ok=True)
        wanted = self.port
        for _attempt in range(BIND_ATTEMPTS):
            self.port = wanted or free_port()
            self._write_config()
            if self._launch():
                self._write_known_hosts()
                return
            if wanted:
                break
        raise SshdError(f"sshd did not start on 127.0.0.1:{self.port}:\n{self._log_tail()}")

    def stop(self) -> None:
        """Stop the daemon (sessions already open end with their connections)."""
        if self._proc is not None:
            super().stop()
            self.pid_path.unlink(missing_ok=True)

    def rotate_host_key(self) -> None:
        """Replace the host keys (a "changed host key" for clients); restart if running."""
        running = self._proc is not None
        if running:
            self.stop()
        for name in ("ssh_host_ed25519_key", "ssh_host_rsa_key"):
            (self.directory / name).unlink(missing_ok=True)
        self._prepare_keys()
        if running:
            self.start()
        elif self.port:
            self._write_known_hosts()

    def _prepare_keys(self) -> None:
        if not (self.directory / "ssh_host_ed25519_key").exists():
            _write_key(
                asyncssh.generate_private_key("ssh-ed25519"),
                self.directory / "ssh_host_ed25519_key",
            )
        if not (self.directory / "ssh_host_rsa_key").exists():
            _write_key(
                asyncssh.generate_private_key("ssh-rsa", key_size=2048),
                self.directory / "ssh_host_rsa_key",
            )
        if not self.client_key.exists():
            public = _write_key(asyncssh.generate_private_key("ssh-ed25519"), self.client_key)
            authorized = self.directory / "authorized_keys"
            authorized.write_bytes(public.read_bytes())
            authorized.chmod(0o600)

    def _write_config(self) -> None:
        d = self.directory
        lines = [
            f"ListenAddress 127.0.0.1:{self.port}",
            f"HostKey {d / 'ssh_host_ed25519_key'}",
            f"HostKey {d / 'ssh_host_rsa_key'}",
            f"AuthorizedKeysFile {d / 'authorized_keys'}",
            f"PidFile {self.pid_path}",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PubkeyAuthentication yes",
            "UsePAM no",
            "StrictModes no",
            # Room for the 200-concurrent-connection tests: no random early drops.
            "MaxStartups 1000:30:1000",
            "MaxSessions 100",
            "LogLevel VERBOSE",
            "UseDNS no",
            "PrintMotd no",
            "Subsystem sftp internal-sftp",
            # A HOME of its own: bash run by sshd sources ~/.bashrc even for `ssh host cmd`, and
            # a developer's rc (pyenv init, ...) would add ~0.3 s to every command of every test.
            f"SetEnv HOME={self.home}",
        ]
        if os.getuid() == 0:
            lines.append("PermitRootLogin prohibit-password")
        else:
            lines.append(f"AllowUsers {self.user}")
        if sshd_version() >= (9, 8):
            # Newer sshd penalises source addresses after failed logins; tests fail on purpose.
            lines.append("PerSourcePenalties no")
        self.config_path.write_text("\n".join(lines) + "\n")

    def _launch(self) -> bool:
        """Start sshd; True once it accepts on self.port, False when it died (port taken?)."""
        self.pid_path.unlink(missing_ok=True)
        command = [str(SSHD), "-D", "-e", "-f", str(self.config_path)]
        self._proc = spawn_detached(command, self.log_path)
        try:
            # The pid file is written once the listening socket is bound.
            return self._wait_ready(
                lambda: self.pid_path.exists() and port_accepts(self.port), START_TIMEOUT, 0.05
            )
        except TimeoutError:
            message = f"sshd did not accept on 127.0.0.1:{self.port}:\n{self._log_tail()}"
            raise SshdError(message) from None

    def _write_known_hosts(self) -> None:
        self.known_hosts_line = known_hosts_line(self.port, self.host_key_pub.read_text())
        self.known_hosts.write_text(self.known_hosts_line + "\n")

"""Transport test fixtures: a Host for an sshd, settings pinned under tmp_path, no ssh-agent."""

from __future__ import annotations

from pathlib import Path

import pytest

from ospatrol.model import Credentials, Host
from ospatrol.transport import TransportSettings
from ospatrol_lab.sshd import SshdServer


@pytest.fixture(autouse=True)
def _no_agent(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing from the caller's environment may log us in."""
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    monkeypatch.delenv("SSH_ASKPASS", raising=False)
    monkeypatch.delenv("DISPLAY", raising=False)


def _ssh_host(server: SshdServer, name: str = "lab", **kw) -> Host:
    creds = kw.pop("credentials", None) or Credentials(
        user=server.user, private_key_file=str(server.client_key)
    )
    return Host(name=name, address="127.0.0.1", port=server.port, credentials=creds, **kw)


def _settings(tmp_path: Path, *, pin: SshdServer | None = None, **kw) -> TransportSettings:
    """Settings with their own known_hosts under tmp_path; `pin` pre-pins that server's key."""
    known = tmp_path / "state" / "known_hosts"
    known.parent.mkdir(parents=True, exist_ok=True)
    if pin is not None:
        known.write_text(pin.known_hosts_line + "\n")
    return TransportSettings(known_hosts=known, **kw)


@pytest.fixture
def ssh_host():
    """`ssh_host(server, name="lab", **host_fields)`: a Host logging in to `server` by key."""
    return _ssh_host


@pytest.fixture
def settings():
    """`settings(tmp_path, pin=server, **fields)`: TransportSettings with their own known_hosts."""
    return _settings

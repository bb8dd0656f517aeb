"""The transport through the real CLI: quiet stderr, refused ssh arguments, endless output."""

from __future__ import annotations

import subprocess
import time
import warnings

from cryptography.utils import CryptographyDeprecationWarning

from ospatrol.cli import quiet_dsa_deprecation
from ospatrol.transport.base import DEFAULT_MAX_OUTPUT
from tests.audit.conftest import host, lab_host, run_cli, write_checks, write_inventory


def test_an_ssh_audit_prints_no_dsa_deprecation_and_names_refused_arguments(lab_sshd, tmp_path):
    checks = write_checks(tmp_path / "checks", ["echo hi"])
    args = "-o ControlPersist=60s -o StrictHostKeyChecking=no"
    inv = write_inventory(
        tmp_path / "inv.yml", {"web1": lab_host(lab_sshd, ansible_ssh_common_args=args)}
    )
    state = tmp_path / "state"
    (state).mkdir()
    (state / "known_hosts").write_text(lab_sshd.known_hosts_line + "\n")
    ran = run_cli(
        state,
        "audit",
        "-i",
        str(inv),
        "--only",
        "commands",
        "--checks",
        str(checks),
        "--format",
        "json",
    )
    assert ran.returncode == 0, ran.stderr
    assert host(ran.json(), "web1")["status"] == "ok"
    assert "Deprecat" not in ran.stderr
    warned = [line for line in ran.stderr.splitlines() if line.startswith("WARNING")]
    assert warned == [
        "WARNING ospatrol.inventory.options: host web1: ssh argument '-o ControlPersist=60s' is "
        "not supported and is ignored (honoured: UserKnownHostsFile, StrictHostKeyChecking, "
        "ProxyJump/-J, Ciphers, KexAlgorithms, MACs, HostKeyAlgorithms, Port/-p, "
        "IdentityFile/-i, ConnectTimeout)"
    ]


def test_only_the_dsa_deprecation_is_silenced():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet_dsa_deprecation()
        warnings.warn(
            "DSA is deprecated and support will be removed",
            CryptographyDeprecationWarning,
            stacklevel=1,
        )
        warnings.warn("Blowfish has been deprecated", CryptographyDeprecationWarning, stacklevel=1)
        warnings.warn("DSA is deprecated", DeprecationWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == ["Blowfish has been deprecated", "DSA is deprecated"]


def test_endless_output_is_stopped_at_the_cap_and_reported_as_such(lab_sshd, tmp_path):
    marker = f"endless-{tmp_path.name}"
    checks = write_checks(tmp_path / "checks", [f"yes {marker}"])
    inv = write_inventory(tmp_path / "inv.yml", {"web1": lab_host(lab_sshd)})
    state = tmp_path / "state"
    state.mkdir()
    (state / "known_hosts").write_text(lab_sshd.known_hosts_line + "\n")
    started = time.monotonic()
    ran = run_cli(
        state,
        "audit",
        "-i",
        str(inv),
        "--only",
        "commands",
        "--checks",
        str(checks),
        "--format",
        "json",
    )
    elapsed = time.monotonic() - started
    web1 = host(ran.json(), "web1")
    assert web1["status"] == "incomplete", ran.stderr
    events = [f["event"] for f in web1["findings"]]
    assert events == [
        "ospatrol: scan incomplete: truncated listing: output over the size cap "
        f"({DEFAULT_MAX_OUTPUT} bytes kept)"
    ]
    assert elapsed < 30  # was 5 min 48 s: the whole 64 MB scrubbed line by line for 80 chars
    ps = subprocess.run(["ps", "-ww", "-eo", "args"], capture_output=True, text=True, check=True)
    assert not [line for line in ps.stdout.splitlines() if line == f"yes {marker}"]

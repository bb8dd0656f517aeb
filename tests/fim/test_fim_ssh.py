"""FIM against a real sshd: each kind of change gives exactly its findings; failures change nothing.

The watched tree is this test's own (under tmp_path), reached through the session's sshd: the
shared lab tree is never modified. Tests that stop sshd start their own.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import replace
from pathlib import Path

import pytest

from ospatrol.collect.fim import FimCollector, FimScan, baseline_entries, fim_state
from ospatrol.collect.fim_listing import content_command, hash_commands, parse_hashes
from ospatrol.inventory.options import ConnectionOptions
from ospatrol.model import Credentials, Host
from ospatrol.store import Store
from ospatrol.transport import TransportError, TransportSettings, open_transport
from ospatrol_lab.sshd import SshdServer


@pytest.fixture(autouse=True)
def _no_agent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)


def make_tree(root: Path) -> Path:
    (root / "etc" / "app").mkdir(parents=True)
    (root / "etc" / "hosts").write_text("127.0.0.1 localhost\n")
    (root / "etc" / "app" / "app.conf").write_text("listen = 1\npassword = hunter2\n")
    (root / "etc" / "shadow").write_text("root:$6$salt$hash:19000:0:99999:7:::\n")
    (root / "etc" / "cache").mkdir()
    (root / "etc" / "cache" / "blob").write_text("x")
    (root / "etc" / "editor.swp").write_text("swap")
    (root / "etc" / "tool").write_text("#!/bin/sh\n")
    (root / "etc" / "link").symlink_to("hosts")
    return root


class Lab:
    """A watched tree, a store and a way to scan them through an sshd."""

    def __init__(
        self, server: SshdServer, tmp_path: Path, tree_in: Path | None = None, **host_vars
    ) -> None:
        self.server = server
        self.tree = make_tree((tree_in or tmp_path) / "tree")
        if tree_in is not None:
            # readable by any audit user, whatever the umask
            for path in [self.tree, *self.tree.rglob("*")]:
                if not path.is_symlink():
                    path.chmod(0o755 if path.is_dir() else 0o644)
        self.store = Store.open(tmp_path / "state")
        known = tmp_path / "state" / "known_hosts"
        known.write_text(server.known_hosts_line + "\n")
        self.settings = TransportSettings(known_hosts=known)
        fim_vars = {
            "ospatrol_fim_paths": [str(self.tree)],
            "ospatrol_fim_exclude": ["*.swp", f"{self.tree}/etc/cache", {"regex": r"/ignored\d$"}],
            "ospatrol_fim_report_changes": [f"{self.tree}/etc/*"],
            **host_vars,
        }
        self.host = Host(
            name="web1",
            address="127.0.0.1",
            port=server.port,
            credentials=Credentials(user=server.user, private_key_file=str(server.client_key)),
            vars=fim_vars,
        )
        self.fim = FimCollector()

    def scan(self, *, dry_run: bool = False, host: Host | None = None) -> FimScan:
        """Scan; unless `dry_run`, commit a completed scan's updates as the audit does."""
        host = host or self.host

        async def run() -> FimScan:
            async with open_transport(host, self.settings) as transport:
                return await self.fim.scan(host, transport, fim_state(self.store, host.name))

        scan = asyncio.run(run())
        if not dry_run and scan.result.status == "ok":
            self.store.apply_updates(host.name, "fim", scan.result.updates)
        return scan

    def baseline(self) -> dict:
        return baseline_entries(fim_state(self.store, "web1"))

    def contents(self) -> dict:
        return fim_state(self.store, "web1").fim_contents()

    def texts(self, scan: FimScan) -> list[str]:
        assert scan.result.status == "ok", scan.result.error
        return [f.event_text.replace(str(self.tree), "T") for f in scan.result.findings]


@pytest.fixture
def lab(lab_sshd: SshdServer, tmp_path: Path) -> Lab:
    lab = Lab(lab_sshd, tmp_path)
    first = lab.scan()
    assert first.first and first.result.findings == () and first.result.baseline_changed
    yield lab
    lab.store.close()


def test_first_scan_records_and_unchanged_rescan_hashes_nothing(lab: Lab):
    paths = set(lab.baseline())
    t = str(lab.tree)
    assert f"{t}/etc/hosts" in paths and f"{t}/etc/link" in paths
    assert not any("swp" in p or "/cache" in p for p in paths)
    hosts = lab.baseline()[f"{t}/etc/hosts"]
    assert (hosts.owner, hosts.group, hosts.sha256 is not None) == ("root", "root", True)
    again = lab.scan()
    assert again.result.findings == () and not again.result.baseline_changed
    assert again.stats.hashed == 0 and again.stats.commands == 1


def test_content_change_gives_one_finding_with_masked_diff(lab: Lab):
    (lab.tree / "etc" / "app" / "app.conf").write_text("listen = 2\npassword = swordfish\n")
    scan = lab.scan()
    (text,) = lab.texts(scan)
    lines = text.splitlines()
    assert lines[0] == "Integrity checksum changed for: 'T/etc/app/app.conf'"
    assert lines[1] == "Size changed from '30' to '32'"
    assert lines[2].startswith("Old sha256sum was: '") and lines[3].startswith(
        "New sha256sum is : '"
    )
    assert lines[4:] == [
        "What changed:",
        "@@ -1,2 +1,2 @@",
        "-listen = 1",
        "+listen = 2",
        " password = ***",
    ]
    assert "hunter2" not in text and "swordfish" not in text
    assert scan.stats.hashed == 1
    stored = lab.contents()[f"{lab.tree}/etc/app/app.conf"].content
    assert b"swordfish" not in stored and b"password = ***" in stored
    assert lab.scan().result.findings == ()


def test_shadow_hash_field_never_stored_or_shown(lab: Lab):
    (lab.tree / "etc" / "shadow").write_text("root:$6$new$other:19001:0:99999:7:::\n")
    (text,) = lab.texts(lab.scan())
    assert "$6$" not in text and "-root:***:19000" in text and "+root:***:19001" in text
    assert b"$6$" not in lab.contents()[f"{lab.tree}/etc/shadow"].content


def test_a_custom_checks_folder_without_mask_still_masks_shadow_hashes(lab: Lab, tmp_path: Path):
    checks = tmp_path / "checks"
    checks.mkdir()
    (checks / "linux.yml").write_text("fim:\n  paths: [/etc]\n")
    lab.fim = FimCollector.from_checks(checks)
    (lab.tree / "etc" / "shadow").write_text("root:$6$new$other:19001:0:99999:7:::\n")
    (lab.tree / "etc" / "app" / "app.conf").write_text("export DB_PASSWORD=swordfish\n")
    texts = "\n".join(lab.texts(lab.scan()))
    assert "+root:***:19001" in texts and "+export DB_PASSWORD=***" in texts
    assert "$6$" not in texts and "swordfish" not in texts
    stored = lab.contents()
    assert b"$6$" not in stored[f"{lab.tree}/etc/shadow"].content
    assert b"swordfish" not in stored[f"{lab.tree}/etc/app/app.conf"].content


def test_mode_change(lab: Lab):
    os.chmod(lab.tree / "etc" / "tool", 0o755)
    scan = lab.scan()
    assert lab.texts(scan) == [
        "Integrity checksum changed for: 'T/etc/tool'\n"
        "Permissions changed from 'rw-r--r--' to 'rwxr-xr-x'"
    ]
    assert scan.result.findings[0].kind == "attributes" and scan.stats.hashed == 1


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another uid needs root")
def test_owner_and_group_change(lab: Lab):
    os.chown(lab.tree / "etc" / "hosts", 1, 1)
    assert lab.texts(lab.scan()) == [
        "Integrity checksum changed for: 'T/etc/hosts'\n"
        "Ownership was '0', now it is '1'\n"
        "Group ownership was '0', now it is '1'"
    ]


def test_added_deleted_odd_names_and_symlink_target(lab: Lab):
    odd = "new\nline 'quoted' \"double\" $(x) *"
    (lab.tree / "etc" / odd).write_text("odd\n")
    (lab.tree / "etc" / "hosts").unlink()
    (lab.tree / "etc" / "hosts").write_text("127.0.0.1 localhost\n")  # same content, new inode
    (lab.tree / "etc" / "tool").unlink()
    (lab.tree / "etc" / "link").unlink()
    (lab.tree / "etc" / "link").symlink_to("shadow")
    (lab.tree / "etc" / "cache" / "more").write_text("excluded dir")
    (lab.tree / "etc" / "ignored7").write_text("excluded by regex")
    assert lab.texts(lab.scan()) == [
        "Integrity checksum changed for: 'T/etc/link'\n"
        "Symbolic link target changed from 'hosts' to 'shadow'",
        "New file 'T/etc/new\\x0aline 'quoted' \"double\" $(x) *' added to the file system.",
        "File 'T/etc/tool' was deleted. Unable to retrieve checksum.",
    ]
    assert f"{lab.tree}/etc/{odd}" in lab.baseline()
    assert lab.scan().result.findings == ()


def test_names_that_are_not_utf8(lab: Lab):
    raw = os.path.join(os.fsencode(lab.tree), b"etc", b"caf\xe9")
    with open(raw, "wb") as handle:
        handle.write(b"latin-1 name\n")
    scan = lab.scan()
    assert lab.texts(scan) == ["New file 'T/etc/caf\\xe9' added to the file system."]
    assert os.fsdecode(raw) in lab.baseline()
    with open(raw, "ab") as handle:
        handle.write(b"more\n")
    (changed,) = lab.scan().result.findings
    assert changed.subject.endswith("/etc/caf\\xe9") and changed.kind == "changed"


def test_dry_run_compares_but_writes_nothing(lab: Lab):
    before = lab.baseline()
    (lab.tree / "etc" / "hosts").write_text("changed\n")
    dry = lab.scan(dry_run=True)
    assert [f.kind for f in dry.result.findings] == ["changed"]
    assert dry.result.baseline_changed and lab.baseline() == before
    assert [f.kind for f in lab.scan().result.findings] == ["changed"]


@pytest.mark.parametrize(
    ("vars_", "reason"),
    [
        ({"ospatrol_command_timeout": 0.001}, "timeout: "),
        ({"ospatrol_fim_paths": ["/usr"]}, "truncated listing: "),
    ],
)
def test_timeout_or_truncated_listing_is_one_incomplete_finding(lab: Lab, vars_, reason):
    before = lab.baseline()
    (lab.tree / "etc" / "tool").unlink()
    host = replace(lab.host, vars={**lab.host.vars, **vars_})
    if "ospatrol_command_timeout" in vars_:
        # Transports read typed options (built by the inventory from this var), not vars.
        timeout = vars_["ospatrol_command_timeout"]
        host = replace(host, options=ConnectionOptions(command_timeout=timeout))
    if "ospatrol_fim_paths" in vars_:
        lab.settings = replace(lab.settings, max_output=2000)
    scan = lab.scan(host=host)
    (finding,) = scan.result.findings
    assert scan.result.status == "incomplete" and scan.entries is None
    assert (finding.kind, finding.collector) == ("incomplete", "fim")
    assert finding.event_text.startswith("ospatrol: scan incomplete: " + reason)
    assert lab.baseline() == before


def test_a_vanished_tree_is_incomplete_not_a_flood_of_deletions(lab: Lab):
    import shutil

    before = lab.baseline()
    shutil.rmtree(lab.tree)
    scan = lab.scan()
    assert scan.result.status == "incomplete"
    assert [f.event_text for f in scan.result.findings] == [
        "ospatrol: scan incomplete: error: the listing is empty"
    ]
    assert lab.baseline() == before


def test_sshd_down_changes_nothing_and_next_scan_reports_only_real_changes(tmp_path: Path):
    server = SshdServer(tmp_path / "sshd")
    server.start()
    try:
        lab = Lab(server, tmp_path)
        lab.scan()
        before = lab.baseline()
        (lab.tree / "etc" / "tool").unlink()
        server.stop()
        with pytest.raises(TransportError) as info:
            lab.scan()
        assert info.value.reason.startswith("unreachable: connection refused")
        assert lab.baseline() == before
        server.start()
        assert lab.texts(lab.scan()) == [
            "File 'T/etc/tool' was deleted. Unable to retrieve checksum."
        ]
    finally:
        server.stop()


def test_busybox_style_listing_sees_the_same_tree(lab: Lab, tmp_path: Path):
    """The stat/loop fallback (busybox, BSD) agrees with GNU find on what the tree holds."""
    gnu = lab.baseline()
    profile = lab.fim.profiles["linux"]
    busybox = replace(profile.fim, tools="busybox")
    fallback = FimCollector(
        {"linux": replace(profile, sections={**profile.sections, "fim": busybox})}
    )
    other = Store.open(tmp_path / "other")
    lab.fim, lab.store = fallback, other
    scan = lab.scan()
    assert scan.first and scan.entries is not None

    def essence(entries):
        return {
            p: (e.type, e.size if e.type != "d" else 0, e.mode, e.uid, e.link_target, e.sha256)
            for p, e in entries.items()
        }

    assert essence(scan.entries) == essence(gnu)
    other.close()


def test_optional_sha1_and_md5_are_recorded_and_reported(lab: Lab, tmp_path: Path):
    import hashlib

    profile = lab.fim.profiles["linux"]
    hashes = replace(profile.fim, hashes=("sha256", "sha1", "md5"))
    lab.fim = FimCollector(
        {"linux": replace(profile, sections={**profile.sections, "fim": hashes})}
    )
    lab.store = Store.open(tmp_path / "other")
    lab.scan()
    data = (lab.tree / "etc" / "hosts").read_bytes()
    entry = lab.baseline()[f"{lab.tree}/etc/hosts"]
    assert (entry.sha256, entry.sha1, entry.md5) == (
        hashlib.sha256(data).hexdigest(),
        hashlib.sha1(data).hexdigest(),
        hashlib.md5(data).hexdigest(),
    )
    (lab.tree / "etc" / "hosts").write_text("127.0.0.2 localhost\n")  # same size
    (text,) = lab.texts(lab.scan())
    assert [line.split(":")[0] for line in text.splitlines()[1:7]] == [
        "Old sha256sum was",
        "New sha256sum is ",
        "Old sha1sum was",
        "New sha1sum is ",
        "Old md5sum was",
        "New md5sum is ",
    ]
    lab.store.close()


# --- what a scan cannot see (issue 8: items 3, 5, 11, 12) -------------------------------------


def _kinds(scan: FimScan) -> list[str]:
    return [f.kind for f in scan.result.findings]


def test_an_unreadable_directory_is_kept_not_deleted_and_a_change_in_it_shows_later(
    unprivileged_sshd: SshdServer, tmp_path: Path, open_dir: Path
):
    lab = Lab(unprivileged_sshd, tmp_path, tree_in=open_dir)
    assert lab.scan().result.findings == ()
    app = lab.tree / "etc" / "app"
    app.chmod(0o700)  # root's: the audit user can no longer enter it
    (app / "app.conf").write_text("listen = 7\npassword = hunter2\n")  # same size, tampered
    scan = lab.scan()
    assert lab.texts(scan) == [
        "Integrity checksum changed for: 'T/etc/app'\n"
        "Permissions changed from 'rwxr-xr-x' to 'rwx------'",
        "ospatrol: scan incomplete: error: cannot read directory 'T/etc/app': "
        "its entries are kept from the last scan",
    ]
    assert _kinds(scan) == ["attributes", "unreadable"]
    assert f"{lab.tree}/etc/app/app.conf" in lab.baseline()
    app.chmod(0o755)
    (text, _permissions) = sorted(lab.texts(lab.scan()), reverse=True)
    assert text.startswith("Integrity checksum changed for: 'T/etc/app/app.conf'\nOld sha256sum")
    assert "-listen = 1\n+listen = 7" in text
    lab.store.close()


def test_a_file_the_audit_user_cannot_read_is_one_finding_every_scan(
    unprivileged_sshd: SshdServer, tmp_path: Path, open_dir: Path
):
    lab = Lab(unprivileged_sshd, tmp_path, tree_in=open_dir)
    private = lab.tree / "etc" / "private.key"
    private.write_text("root only\n")
    private.chmod(0o600)
    for _ in range(2):
        scan = lab.scan()
        assert lab.texts(scan) == [
            "ospatrol: scan incomplete: error: cannot hash 'T/etc/private.key': "
            "a change that keeps its size would go unseen"
        ]
    assert lab.baseline()[str(private)].sha256 is None
    lab.store.close()


def _deep_file(root: Path, depth: int = 20) -> str:
    """A file whose path is past PATH_MAX (4096 bytes), made with directory descriptors."""
    fd = os.open(root, os.O_RDONLY)
    for _ in range(depth):
        os.mkdir("d" * 250, dir_fd=fd)
        inner = os.open("d" * 250, os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = inner
    out = os.open("deep.conf", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
    os.write(out, b"value = 1\n")
    os.close(out)
    os.close(fd)
    return str(root) + ("/" + "d" * 250) * depth + "/deep.conf"


def _rewrite_deep(path: str, data: bytes) -> None:
    parts = path.split("/")
    fd = os.open("/", os.O_RDONLY)
    for part in filter(None, parts[:-1]):
        inner = os.open(part, os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = inner
    out = os.open(parts[-1], os.O_WRONLY | os.O_TRUNC, dir_fd=fd)
    os.write(out, data)
    os.close(out)
    os.close(fd)


def test_a_path_past_path_max_is_hashed_from_its_directory(lab: Lab):
    deep = _deep_file(lab.tree / "etc")
    assert len(deep) > 4096
    lab.scan()
    assert lab.baseline()[deep].sha256
    _rewrite_deep(deep, b"value = 2\n")  # same size
    (changed,) = lab.scan().result.findings
    assert changed.kind == "changed" and changed.subject == deep
    assert "Old sha256sum was" in changed.event_text


def test_hashing_skips_fifos_and_devices_that_replaced_a_listed_file(lab: Lab):
    fifo = lab.tree / "etc" / "fifo"
    os.mkfifo(fifo)
    paths = [str(fifo), "/dev/zero", str(lab.tree / "etc" / "hosts")]

    async def run() -> tuple[dict[str, dict[str, str]], int | None]:
        async with open_transport(lab.host, lab.settings) as transport:
            (batch,) = hash_commands(paths, ("sha256",), "gnu")
            hashed = await transport.run(batch.command, timeout=20)
            content = await transport.run(content_command(str(fifo), 100), timeout=20)
            return parse_hashes(hashed.stdout_bytes), content.exit_status

    digests, content_status = asyncio.run(run())
    assert set(digests["sha256"]) == {str(lab.tree / "etc" / "hosts")}
    assert content_status != 0


def test_a_watched_path_that_is_a_link_to_a_directory_is_followed(lab_sshd, tmp_path: Path):
    lab = Lab(lab_sshd, tmp_path)
    link = tmp_path / "watched"
    link.symlink_to(lab.tree / "etc", target_is_directory=True)
    host = replace(lab.host, vars={**lab.host.vars, "ospatrol_fim_paths": [str(link)]})
    lab.store = Store.open(tmp_path / "linked")
    lab.scan(host=host)
    baseline = lab.baseline()
    assert baseline[str(link)].type == "l" and baseline[str(link)].link_target == str(
        lab.tree / "etc"
    )
    assert baseline[f"{link}/hosts"].type == "f" and baseline[f"{link}/app/app.conf"].sha256
    (lab.tree / "etc" / "hosts").write_text("127.0.0.9 localhost\n")
    (finding,) = lab.scan(host=host).result.findings
    assert finding.kind == "changed" and finding.subject == f"{link}/hosts"
    lab.store.close()


def test_a_link_into_a_watched_tree_is_not_listed_twice(lab_sshd, tmp_path: Path):
    """Merged /usr: /bin -> usr/bin with /usr/bin watched too lists /usr/bin once."""
    lab = Lab(lab_sshd, tmp_path)
    link = tmp_path / "bin"
    link.symlink_to(lab.tree / "etc", target_is_directory=True)
    paths = [str(link), str(lab.tree / "etc")]
    host = replace(lab.host, vars={**lab.host.vars, "ospatrol_fim_paths": paths})
    lab.store = Store.open(tmp_path / "merged")
    lab.scan(host=host)
    baseline = lab.baseline()
    assert baseline[str(link)].type == "l" and f"{lab.tree}/etc/hosts" in baseline
    assert not any(p.startswith(f"{link}/") for p in baseline)
    lab.store.close()

"""The checks/ profile loader (fim sections) and the pure FIM pieces: listing parsing, texts."""

from __future__ import annotations

from pathlib import Path

import pytest

from ospatrol.collect.fim_compare import compare, unified_diff
from ospatrol.collect.fim_listing import (
    END,
    ListingError,
    hash_commands,
    listing_command,
    parse_hashes,
    parse_listing,
)
from ospatrol.collect.fim_records import FileEntry
from ospatrol.errors import InputErrors
from ospatrol.model import Host
from ospatrol.profiles import load_profile, load_profiles, profile_for
from ospatrol.profiles.fim import Exclude


def test_shipped_profiles_load_for_every_platform():
    profiles = load_profiles()
    assert {"linux", "bsd", "esxi"} <= set(profiles)
    assert profiles["linux"].fim.tools == "gnu" and profiles["esxi"].fim.tools == "busybox"
    assert profile_for(profiles, "freebsd") is profiles["bsd"]
    # Device platforms have profiles too (config: sections); `ios` is an alias of cisco_ios.
    assert profile_for(profiles, "ios") is profiles["cisco_ios"]
    assert profiles["cisco_ios"].fim is None
    assert profile_for(profiles, "no_such_platform") is None


def test_every_error_names_file_and_line(tmp_path: Path):
    path = tmp_path / "linux.yml"
    path.write_text(
        "fim:\n"
        "  paths:\n"
        "    - etc\n"
        "    - {path: /bin, recurse: maybe}\n"
        "  exclude:\n"
        "    - {regex: '(unclosed'}\n"
        "  hashes: [sha256, crc32]\n"
        "  colour: blue\n"
        "commands: {kept: raw}\n"
    )
    with pytest.raises(InputErrors) as info:
        load_profile(path)
    # A plain string in a list has no line of its own: its list's key line is named.
    # Every section's errors: the commands section's too.
    assert [e.path for e in info.value.errors] == [str(path)] * 6
    assert [e.line for e in info.value.errors] == [8, 2, 4, 6, 7, 9]
    assert "colour" in str(info.value) and "crc32" in str(info.value)


def test_host_vars_replace_paths_and_add_excludes():
    profile = load_profiles()["linux"].fim
    host = Host("h", "a", vars={"ospatrol_fim_paths": ["/srv"], "ospatrol_fim_exclude": "*.log"})
    tuned = profile.for_host(host)
    assert [p.path for p in tuned.paths] == ["/srv"]
    assert tuned.exclude[-1] == Exclude("*.log") and tuned.excluded("/srv/a.log")
    with pytest.raises(InputErrors, match="host bad"):
        profile.for_host(Host("bad", "a", vars={"ospatrol_fim_paths": ["relative"]}))


def test_listing_command_quotes_paths_and_prunes_globs():
    profile = load_profiles()["linux"].fim.for_host(
        Host("h", "a", vars={"ospatrol_fim_paths": ["/it's here"], "ospatrol_fim_exclude": "x*"})
    )
    command = listing_command(profile)
    assert "find '/it'\"'\"'s here'" in command
    assert "-name 'x*'" in command and "-path /etc/mtab" in command and END in command


def test_truncated_or_malformed_listing_is_refused():
    one = b"/a\x005\x00644\x000\x000\x001.5\x001.5\x007\x00f\x00\x00"
    assert parse_listing(one + f"\n{END} 0\n".encode(), "gnu")[0].mode == 0o644
    with pytest.raises(ListingError, match="truncated listing: end marker"):
        parse_listing(one, "gnu")
    with pytest.raises(ListingError, match="truncated listing"):
        parse_listing(one[:-6] + f"\n{END} 0\n".encode(), "gnu")
    with pytest.raises(ListingError):
        parse_hashes(b"__OSPATROL_ALG__ sha256\x00abc  /a\x00")
    with pytest.raises(ListingError, match=r"^error: find or stat cannot be run"):
        parse_listing(f"\n{END} 127\n".encode(), "gnu")


def test_hash_commands_chunk_and_parse():
    paths = [f"/d/{i:05d} 'x'" for i in range(8000)]
    batches = hash_commands(paths, ["sha256", "md5"], "gnu")
    assert len(batches) > 1 and sum(len(b.paths) for b in batches) == len(paths)
    out = b"__OSPATROL_ALG__ sha256\x00ab  /a\nb\x00__OSPATROL_ALG__ md5\x00cd  /a\nb\x00" + (
        f"{END} 0\n".encode()
    )
    assert parse_hashes(out) == {"sha256": {"/a\nb": "ab"}, "md5": {"/a\nb": "cd"}}


def test_diff_is_capped_like_agentlessd():
    old = "".join(f"{i}\n" for i in range(100)).encode()
    diff = unified_diff(old, b"").splitlines()
    assert len(diff) == 41 and diff[-1] == "More changes..."


def test_directories_report_attributes_only():
    profile = load_profiles()["linux"].fim
    d = FileEntry("/etc/d", "d", 4096, 0o755, 0, 0, mtime=1)
    moved = FileEntry("/etc/d", "d", 8192, 0o700, 0, 0, mtime=2)
    assert compare("h", {d.path: d}, {}, profile) == []
    (finding,) = compare("h", {d.path: d}, {d.path: moved}, profile)
    assert finding.kind == "attributes"
    assert finding.event_text == (
        "Integrity checksum changed for: '/etc/d'\n"
        "Permissions changed from 'rwxr-xr-x' to 'rwx------'"
    )


def test_watched_mtime_uses_ctime_layout():
    from dataclasses import replace

    profile = replace(load_profiles()["linux"].fim, attributes=("mtime",))
    old = FileEntry("/var/www/index.html", "f", 5, 0o644, 0, 0, mtime=1741014000.5)
    new = replace(old, mtime=1741017600.25)
    (finding,) = compare("h", {old.path: old}, {new.path: new}, profile)
    assert finding.event_text == (
        "Integrity checksum changed for: '/var/www/index.html'\n"
        "Old modification time was: 'Mon Mar  3 15:00:00 2025', "
        "now it is 'Mon Mar  3 16:00:00 2025'"
    )
    assert finding.kind == "changed"


def test_collect_over_local_transport_and_hosts_it_does_not_apply_to(tmp_path: Path):
    import asyncio

    from ospatrol.collect.fim import FimCollector, fim_state
    from ospatrol.store import Store
    from ospatrol.transport import TransportSettings, open_transport

    (tmp_path / "tree").mkdir()
    (tmp_path / "tree" / "f").write_text("1")
    settings = TransportSettings(known_hosts=tmp_path / "known_hosts")
    fim = FimCollector()
    hosts = {
        "local": Host(
            "me",
            "localhost",
            connection="local",
            vars={"ospatrol_fim_paths": [str(tmp_path / "tree")]},
        ),
        "switch": Host(
            "sw1",
            "localhost",
            connection="local",
            platform="ios",
            vars={"ospatrol_fim_paths": ["/etc"]},
        ),
        "bad": Host("bad", "localhost", connection="local", vars={"ospatrol_fim_paths": 7}),
    }

    async def collect(host: Host, store: Store):
        async with open_transport(host, settings) as transport:
            result = await fim.collect(host, transport, fim_state(store, host.name))
        if result.status == "ok":
            store.apply_updates(host.name, "fim", result.updates)
        return result

    with Store.open(tmp_path / "state") as store:
        results = {k: asyncio.run(collect(h, store)) for k, h in hosts.items()}
        (tmp_path / "tree" / "f").write_text("22")
        again = asyncio.run(collect(hosts["local"], store))
    assert results["local"].status == "ok" and results["local"].baseline_changed
    assert [f.kind for f in again.findings] == ["changed"]
    assert (results["switch"].status, results["switch"].findings) == ("ok", ())
    assert results["bad"].status == "error" and "host bad" in results["bad"].error

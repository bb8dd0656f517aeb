"""The fast paths of FIM: an unchanged listing skips the work, and never hides a change."""

from __future__ import annotations

import asyncio
import os
import pwd
from pathlib import Path

import pytest

from ospatrol.collect.fim import FimCollector, FimScan, fim_state
from ospatrol.collect.fim_listing import (
    END,
    NAMES,
    anchored_prefix,
    listing_records,
    split_listing,
)
from ospatrol.model import Host
from ospatrol.store import Store
from ospatrol.transport import TransportSettings, open_transport


class Local:
    """A tree scanned through the local transport, with its store."""

    def __init__(self, tmp_path: Path) -> None:
        self.tree = tmp_path / "tree"
        (self.tree / "etc").mkdir(parents=True)
        (self.tree / "etc" / "a.conf").write_text("a = 1\n")
        (self.tree / "etc" / "blob").write_bytes(b"\0binary")
        (self.tree / "etc" / "tmp.log").write_text("log\n")
        self.store = Store.open(tmp_path / "state")
        self.settings = TransportSettings(known_hosts=tmp_path / "known_hosts")
        self.fim = FimCollector()

    def host(self, **extra) -> Host:
        fim_vars = {"ospatrol_fim_paths": [str(self.tree)], **extra}
        return Host("me", "localhost", connection="local", vars=fim_vars)

    def scan(self, host: Host | None = None) -> FimScan:
        host = host or self.host()

        async def run() -> FimScan:
            async with open_transport(host, self.settings) as transport:
                return await self.fim.scan(host, transport, fim_state(self.store, host.name))

        scan = asyncio.run(run())
        if scan.result.status == "ok":
            self.store.apply_updates(host.name, "fim", scan.result.updates)
        return scan

    def listing_digest(self) -> str | None:
        return fim_state(self.store, "me").fim_snapshot().listing


@pytest.fixture
def local(tmp_path: Path):
    local = Local(tmp_path)
    yield local
    local.store.close()


def test_first_scan_is_one_command_then_an_unchanged_scan_is_one_command(local):
    first = local.scan()
    assert first.first and first.stats.commands == 1  # listing with hashes and names
    entry = first.entries[f"{local.tree}/etc/a.conf"]
    assert entry.owner == pwd.getpwuid(os.getuid()).pw_name and entry.sha256
    assert local.listing_digest() is not None
    again = local.scan()
    assert again.stats.commands == 1 and again.result.findings == ()
    assert again.entries == first.entries and not again.result.baseline_changed


def test_a_profile_change_is_not_hidden_by_an_unchanged_listing(local):
    local.scan()
    narrower = local.host(ospatrol_fim_exclude=["*.log"])
    (finding,) = local.scan(narrower).result.findings
    assert finding.kind == "deleted" and finding.subject.endswith("/etc/tmp.log")
    assert local.scan(narrower).result.findings == ()


def test_no_digest_while_a_kept_content_is_missing(local):
    host = local.host(ospatrol_fim_report_changes=[f"{local.tree}/etc/*"])
    local.scan(host)
    # The binary file's content is never kept: every scan must look again, as before.
    assert local.listing_digest() is None
    assert local.scan(host).stats.contents == 1
    (local.tree / "etc" / "a.conf").write_text("a = 2\n")
    (finding,) = local.scan(host).result.findings
    assert "-a = 1" in finding.event_text and "+a = 2" in finding.event_text


def test_names_section_is_found_after_entries_that_look_like_it():
    marker = f"{NAMES}\n".encode()
    entry = b"/t/l\x001\x00777\x000\x000\x001.0\x001.0\x005\x00l\x00" + marker + b"x\x00"
    names = b"root:x:0:0::/root:/bin/sh\n__OSPATROL_ALG__\nwheel:x:0:\n"
    listing = split_listing(entry + marker + names + f"\n{END} 0\n".encode())
    assert listing.body == entry and listing.users == {"0": "root"}
    assert listing.groups == {"0": "wheel"}
    assert split_listing(marker + f"\n{END} 0\n".encode()).body == b""
    # A later scan's listing has no names section: such a link target is just a link target.
    later = split_listing(entry + f"\n{END} 0\n".encode(), names=False)
    assert later.body == entry and later.users is None
    assert listing_records(later, "gnu")[0][9] == marker.decode() + "x"


def test_first_scan_hashes_what_inline_hashing_may_not_in_one_more_command(local):
    (local.tree / "etc" / "sub").mkdir()
    (local.tree / "etc" / "sub" / "kept").write_text("k\n")
    (local.tree / "etc" / "sub" / "gone7").write_text("excluded\n")
    # Anchored: the inline pass leaves all of etc/sub out; the regex drops only gone7.
    anchored = local.host(ospatrol_fim_exclude=[{"regex": f"^{local.tree}/etc/sub/(gone\\d)$"}])
    scan = local.scan(anchored)
    assert scan.stats.commands == 2 and scan.stats.hashed == 4
    files = {p: e for p, e in scan.entries.items() if e.type == "f"}
    assert len(files) == 4 and all(e.sha256 for e in files.values())
    assert f"{local.tree}/etc/sub/gone7" not in scan.entries


def test_an_unanchored_regex_exclude_means_hashing_apart(tmp_path: Path):
    local = Local(tmp_path)
    scan = local.scan(local.host(ospatrol_fim_exclude=[{"regex": r"\.log$"}]))
    assert scan.stats.commands == 2 and f"{local.tree}/etc/tmp.log" not in scan.entries
    local.store.close()


@pytest.mark.parametrize(
    ("pattern", "prefix"),
    [
        (r"^/etc/(blkid\.tab|random-seed)(\.old)?$", "/etc/"),
        (r"^/etc/x?", "/etc/"),
        (r"^/etc/x+", "/etc/x"),
        (r"\A/srv\.d/", "/srv.d/"),
        (r"^/a[|]b", "/a"),
        (r"^/a|/b", None),
        (r"/ignored\d$", None),
        (r"(?i)^/etc", None),
    ],
)
def test_anchored_prefix(pattern, prefix):
    assert anchored_prefix(pattern) == prefix


def test_exclusion_test_agrees_with_the_profile_under_the_watched_paths():
    from ospatrol.collect.fim import exclusion_test
    from ospatrol.profiles import load_profiles

    excludes = [
        "*.swp",
        "/etc/mtab",
        "/srv/app/cache/*",
        "/srv/app/[ab].tmp",
        "/x/y",
        {"regex": r"^/etc/(blkid\.tab|random-seed)(\.old)?$"},
        {"regex": r"^/srv/app/log\d+$"},
        {"regex": r"\.bak$"},
        {"regex": r"^/srv/ap|zz"},
    ]
    paths = [
        "/srv/app",
        "/srv/app/etc/mtab",
        "/srv/app/etc/mtab2",
        "/srv/app/x/y",
        "/srv/app/cache/z",
        "/srv/app/a.tmp",
        "/srv/app/c.tmp",
        "/srv/app/log12",
        "/srv/app/log",
        "/srv/app/f.bak",
        "/srv/app/e.swp",
        "/srv/app/zz",
        "/srv/app/plain",
        "/etc/mtab",
        "/etc/random-seed",
        "/etc/hosts",
    ]
    base = load_profiles()["linux"].fim
    for watched in (["/srv/app"], ["/etc", "/srv"], ["/"]):
        host = Host(
            "h", "a", vars={"ospatrol_fim_paths": watched, "ospatrol_fim_exclude": excludes}
        )
        profile = base.for_host(host)
        fast = exclusion_test(profile)
        under = [
            p for p in paths if any(p == w or p.startswith(w.rstrip("/") + "/") for w in watched)
        ]
        assert under and [fast(p) for p in under] == [profile.excluded(p) for p in under]


def test_inflate_passes_plain_output_and_refuses_bombs_and_cut_streams():
    import gzip

    from ospatrol.collect.fim_listing import ListingError, inflate

    plain = f"/a\0\n{END} 0\n".encode()
    assert inflate(plain, 10) == plain
    packed = gzip.compress(b"x" * 10_000)
    assert inflate(packed, 10_000) == b"x" * 10_000
    with pytest.raises(ListingError, match="size cap"):
        inflate(packed, 9_999)
    with pytest.raises(ListingError, match="truncated listing"):
        inflate(packed[:-12], 10_000)

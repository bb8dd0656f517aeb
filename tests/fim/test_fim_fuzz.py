"""Hostile bytes (issue 8, "Done when"): arbitrary file names, link targets, contents and command
outputs through the listing parser, the hash and name parsers, the command framing, the diffs
and the scrubber: no exception but the parsers' own `ListingError`, nothing lost, and no control
character of a name in an event text."""

from __future__ import annotations

import contextlib
import re

from hypothesis import given
from hypothesis import strategies as st

from ospatrol.collect.commands import (
    CommandSpec,
    normalise,
    parse_batch,
)
from ospatrol.collect.commands import (
    changed_finding as command_finding,
)
from ospatrol.collect.fim_compare import (
    added_finding,
    deleted_finding,
    unhashable_finding,
    unified_diff,
    unreadable_finding,
)
from ospatrol.collect.fim_listing import (
    ALG,
    END,
    ListingError,
    listing_records,
    parse_hashes,
    parse_names,
    split_listing,
)
from ospatrol.collect.fim_records import record_entry
from ospatrol.scrub import base_scrubber

NAME = st.binary(min_size=1, max_size=40).filter(lambda b: b"\0" not in b and b"/" not in b)
TARGET = st.binary(max_size=40).filter(lambda b: b"\0" not in b)
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def _decoded(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _gnu_entry(path: bytes, kind: bytes, target: bytes) -> bytes:
    fields = [path, b"12", b"644", b"0", b"0", b"1.5", b"2.5", b"7", kind, target]
    return b"".join(f + b"\0" for f in fields)


@given(st.lists(st.tuples(NAME, st.sampled_from([b"f", b"l", b"d", b"p"]), TARGET), max_size=8))
def test_any_names_and_link_targets_survive_the_listing_byte_for_byte(entries) -> None:
    paths = [b"/w/" + name for name, _, _ in entries]
    body = b"".join(_gnu_entry(p, k, t) for p, (_, k, t) in zip(paths, entries, strict=True))
    listing = split_listing(body + f"\n{END} 0\n".encode(), "t0k3n", names=False)
    records = listing_records(listing, "gnu")
    assert [r[0].encode("utf-8", "surrogateescape") for r in records] == paths
    assert [r[9].encode("utf-8", "surrogateescape") for r in records] == [t for *_, t in entries]
    for record in records:
        entry = record_entry((*record, "root", "root", "", "", ""))
        for finding in (added_finding("h", entry), deleted_finding("h", entry)):
            assert not CONTROL.search(finding.event_text) and not CONTROL.search(finding.subject)


@given(st.binary(max_size=300), st.booleans(), st.booleans())
def test_any_listing_output_parses_or_is_a_listing_error(output: bytes, names: bool, hashes: bool):
    for tail in (b"", f"\n{END} 0\n".encode(), f"\n{END} 1\n".encode()):
        with contextlib.suppress(ListingError):
            listing = split_listing(output + tail, "t0k3n", names=names, hashes=hashes)
            listing_records(listing, "gnu")
            listing_records(listing, "busybox")


@given(st.binary(max_size=300))
def test_any_hash_or_names_output_parses_or_is_a_listing_error(output: bytes) -> None:
    for data in (output, f"{ALG} sha256\0".encode() + output + f"{END} 0\n".encode()):
        with contextlib.suppress(ListingError):
            parse_hashes(data)
    parse_names(output)


@given(st.lists(NAME, min_size=1, max_size=4))
def test_unreadable_directories_come_back_whole(names: list[bytes]) -> None:
    paths = [b"/w/" + n for n in names]
    entry = _gnu_entry(b"/w", b"d", b"")
    section = b"__OSPATROL_UNREADABLE_t0k3n__\0" + b"".join(p + b"\0" for p in paths)
    listing = split_listing(entry + section + f"\n{END} 1\n".encode(), "t0k3n", names=False)
    assert [p.encode("utf-8", "surrogateescape") for p in listing.unreadable] == paths
    assert [r[0] for r in listing_records(listing, "gnu")] == ["/w"]
    for path in listing.unreadable:
        for finding in (unreadable_finding("h", path), unhashable_finding("h", path)):
            assert not CONTROL.search(finding.event_text)


@given(st.lists(st.binary(max_size=60), min_size=1, max_size=3))
def test_any_command_output_is_framed_back_unchanged_and_normalised(outputs: list[bytes]) -> None:
    nonce = "0123456789abcdef"
    marker = f"__OSPATROL_{nonce}__"
    stdout = "".join(
        f"{marker} BEGIN {i}\n{_decoded(out)}\n{marker} END {i} 0\n"
        for i, out in enumerate(outputs)
    )
    batch = parse_batch(stdout + f"{marker} DONE {len(outputs)}\n", nonce, len(outputs))
    assert batch.complete
    assert [batch.outputs[i].output for i in range(len(outputs))] == list(map(_decoded, outputs))
    spec = CommandSpec("cat /etc/x", sort=True)
    current = normalise(batch.outputs[0].output, spec)
    finding = command_finding("h", spec, "", current)
    assert finding.event_text.startswith("ospatrol: command output changed: 'cat /etc/x'\n")


@given(st.binary(max_size=400), st.binary(max_size=400))
def test_content_diffs_keep_every_byte(old: bytes, new: bytes) -> None:
    diff = unified_diff(old, new)
    added = [line[1:] for line in diff.split("\n") if line.startswith("+")]
    removed = [line[1:] for line in diff.split("\n") if line.startswith("-")]
    for line in added:
        assert line.encode("utf-8", "surrogateescape") in new
    for line in removed:
        assert line.encode("utf-8", "surrogateescape") in old


# No rule word can form from these bytes (the words are letters, `$`, `:`, `<`, `-` ...).
QUIET = st.binary(max_size=400).map(lambda b: bytes(c for c in b if c < 0x21 or c > 0x7E))


@given(QUIET)
def test_the_scrubber_loses_nothing_that_is_not_a_secret(data: bytes) -> None:
    assert base_scrubber().data(data, "/etc/x") == data


@given(st.binary(max_size=400))
def test_the_scrubber_takes_any_bytes(data: bytes) -> None:
    masked = base_scrubber().data(data, "/etc/x")
    assert masked.count(b"\n") <= data.count(b"\n")

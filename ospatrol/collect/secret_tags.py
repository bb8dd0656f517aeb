"""Keyed tags of masked lines: how a changed secret is noticed although it is never stored.

A device config is stored with its secrets masked (`ospatrol.scrub`), so a new enable secret,
SNMP community or pre-shared key leaves the stored text as it was: without more, an attacker who
changes only a secret hides the change. For every line the scrubber masked, the config collector
also keeps a tag: the first `TAG_HEX` hex digits of HMAC-SHA256(key, the line as the device
sent it). Line and tag are compared with the previous run's; a masked line whose text stayed but
whose tag moved is reported as a changed secret.

What the tags leak: the key is 32 random bytes in the state dir's `KEY_FILE` (mode 0600), not
in the database, so the stored tags alone say nothing about a secret. With the key as well, a
tag is a weak test of guesses: 16 bits, so one wrong guess in 65,536 passes it too. A long
dictionary is then left with many candidates, but a short one (the 10,000 commonest passwords)
is narrowed to about the right one: keep the key file as private as the inventory's
credentials. A tag misses a change with the same odds, 1 in 65,536. A run without the key (a dry
run before any real run) keeps and compares no tags.
"""

from __future__ import annotations

import difflib
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path

from ospatrol.errors import InputError

KEY_FILE = "secret-tags.key"
KEY_BYTES = 32
TAG_HEX = 4
"""Hex digits kept of each tag (16 bits): see the module docstring for why so few."""

Tags = dict[str, list[str]]
"""Masked line -> the tag of each line of that text, in the order they occur."""


def load_key(state_dir: Path, *, create: bool) -> bytes | None:
    """The state dir's tag key; made (0600, atomically) when absent and `create`, else None.
    A key file of the wrong size is refused (InputError naming it) rather than used."""
    path = Path(state_dir) / KEY_FILE
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        if not create:
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_bytes(KEY_BYTES)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key)
        return key
    if len(key) != KEY_BYTES:
        raise InputError(
            f"a secret tag key is {KEY_BYTES} bytes, this file has {len(key)} "
            "(delete it to start new tags: the next audit records them silently)",
            str(path),
        )
    return key


def tag_lines(original: Sequence[str], masked: Sequence[str], key: bytes) -> Tags:
    """The tags of the lines masking changed. The two are aligned line by line where masking
    kept the number of lines; a rule that spans lines (a PEM private key's body masked as one
    `***`) gives its region one tag, on the region's first masked line."""
    tags: Tags = {}
    matcher = difflib.SequenceMatcher(None, original, masked, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal" or j1 == j2:
            continue
        if i2 - i1 == j2 - j1:
            pairs = list(zip(original[i1:i2], masked[j1:j2], strict=True))
        else:
            pairs = [("\n".join(original[i1:i2]), masked[j1])]
        for before, after in pairs:
            raw = before.encode("utf-8", "surrogateescape")
            digest = hmac.new(key, raw, hashlib.sha256).hexdigest()[:TAG_HEX]
            tags.setdefault(after, []).append(digest)
    return tags


def changed(
    old: Mapping[str, Sequence[str]], new: Mapping[str, Sequence[str]]
) -> list[tuple[str, int]]:
    """(masked line, which occurrence of it) of every line that is in both versions as often
    but whose secret moved. A line whose count changed is an added or removed line, which the
    text diff already shows."""
    out = []
    for line, tags in new.items():
        before = old.get(line)
        if before is not None and len(before) == len(tags):
            out.extend(
                (line, n) for n, (a, b) in enumerate(zip(before, tags, strict=True)) if a != b
            )
    return out


def encode(tags: Tags) -> bytes:
    return json.dumps(tags, sort_keys=True, ensure_ascii=True).encode("ascii")


def decode(blob: bytes) -> Tags:
    """Stored tags; anything that is not the shape `encode` writes reads as no tags."""
    try:
        data = json.loads(blob.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {
        line: list(tags)
        for line, tags in data.items()
        if isinstance(tags, list) and all(isinstance(t, str) for t in tags)
    }

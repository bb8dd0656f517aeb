"""Our own decoders' patterns rewritten for the engine's gates against the patterns they replace:
the same match (end and groups) on every text, hostile ones included (rules/decoders/ is ours;
the rewrites only spread a leading alternation over `^` so that each alternative starts with
plain text, which the prefix gate settles with `startswith` instead of a regex call)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ospatrol.analysis.gates import prefix_gate
from ospatrol.analysis.patterns import compile_pattern
from ospatrol.paths import data_dir

PHRASES = (
    "Received disconnect from",
    "Disconnected from",
    "Connection closed by",
    "Connection reset by",
)
# (file, the pattern as it was, the pattern now in the file).
REWRITES = [
    (
        "unix.xml",
        r"^(?:Invalid|Illegal) user ",
        r"^Invalid user |^Illegal user ",
    ),
    (
        "unix.xml",
        r"^(?:Received disconnect from|Disconnected from|Connection closed by|Connection reset by)"
        r" (?:invalid |authenticating )?user ",
        "|".join(
            f"^{phrase} {who}user "
            for phrase in PHRASES
            for who in ("invalid ", "authenticating ", "")
        ),
    ),
    (
        "unix.xml",
        "^(?:" + "|".join(PHRASES) + ") ",
        "|".join(f"^{phrase} " for phrase in PHRASES),
    ),
    (
        "unix.xml",
        r"^(?:FAILED|Successful) su for ",
        r"^FAILED su for |^Successful su for ",
    ),
]

_WORDS = st.sampled_from(
    [
        *PHRASES,
        *("Invalid", "Illegal", "invalid", "authenticating", "user", "USER", "FAILED"),
        *("Successful", "su", "for", "root", "1.2.3.4", "port", "22", "\udc80", "\u017f", ""),
    ]
)
_TEXT = st.lists(
    _WORDS | st.sampled_from([" ", "  ", "\t", ":", "\xa0", "\u2028", "\u212a"]), max_size=12
).map("".join)


def _outcome(pattern, text: str):
    found = pattern.search(text)
    return None if found is None else (found.end, found.groups)


@pytest.mark.parametrize(("name", "old", "new"), REWRITES)
def test_rewrite_is_in_the_file_and_gated(name: str, old: str, new: str) -> None:
    text = (data_dir("rules") / "decoders" / name).read_text()
    assert f"<prematch_pcre2>{new}</prematch_pcre2>" in text
    assert old not in text
    assert prefix_gate(compile_pattern("pcre2", new), pcre2=True) is not None


@settings(max_examples=300)
@given(text=_TEXT, index=st.integers(0, len(REWRITES) - 1))
def test_rewrite_matches_as_the_old_pattern(text: str, index: int) -> None:
    _, old, new = REWRITES[index]
    assert _outcome(compile_pattern("pcre2", new), text) == _outcome(
        compile_pattern("pcre2", old), text
    )


def test_rewrites_on_real_logs(shared_data: Path) -> None:
    lines = (shared_data / "logs/loghub/OpenSSH/OpenSSH_2k.log").read_bytes()
    texts = [t.split(": ", 1)[-1] for t in lines.decode("utf-8", "surrogateescape").split("\n")]
    for _, old, new in REWRITES:
        before, after = compile_pattern("pcre2", old), compile_pattern("pcre2", new)
        assert [_outcome(after, t) for t in texts] == [_outcome(before, t) for t in texts]


@pytest.mark.parametrize(
    "text",
    [
        f"{phrase}{space}{who}user{end}"
        for phrase in (*PHRASES, "Invalid", "Illegal", "FAILED su for", "Successful su for")
        for who in ("", "invalid ", "authenticating ", "Invalid ")
        for space in (" ", "  ")
        for end in (" root 1.2.3.4 port 22", "", " ")
    ],
)
def test_rewrites_on_each_spelling(text: str) -> None:
    for _, old, new in REWRITES:
        before, after = compile_pattern("pcre2", old), compile_pattern("pcre2", new)
        assert _outcome(after, text) == _outcome(before, text)
        assert _outcome(after, text.upper()) == _outcome(before, text.upper())

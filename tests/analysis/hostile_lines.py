"""Hostile log lines for the differential tests: real corpus lines, mutated the way attackers and
broken senders mutate them, plus Unicode case-folding traps with what OSSEC 4.3 answers.

`corpus_lines(root)` reads every corpus of ../shared/data/logs (bench/diff_ossec.py's list) as
raw bytes; `mutated(lines)` derives the hostile set from them, deterministically (seeded), so a
failure names a line that can be replayed. `CASE_FOLD_TRAPS` holds (dialect, pattern, text,
OSSEC's verdict) rows recorded from the real ossec-logtest 4.3 (test_hostile_ossec.py checks
them against the binary again); test_hostile_casefold.py checks the patterns against them.
"""

from __future__ import annotations

import importlib.util
import random
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]
SEED = 1206


def diff_ossec() -> ModuleType:
    """bench/diff_ossec.py (its corpus list and its reader of ossec-logtest output)."""
    spec = importlib.util.spec_from_file_location("diff_ossec", REPO / "bench" / "diff_ossec.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def corpus_lines(root: Path, *, at_most: int | None = None) -> dict[str, list[bytes]]:
    """Every corpus under `root` (relative name -> its lines as raw bytes); with `at_most`, a
    longer corpus keeps lines spread evenly over it (every n-th), no more than that many."""
    out = {}
    for path in diff_ossec().corpora(root):
        lines = path.read_bytes().split(b"\n")
        if lines and not lines[-1]:
            lines.pop()
        if at_most is not None and len(lines) > at_most:
            lines = lines[:: -(-len(lines) // at_most)]
        out[str(path.relative_to(root))] = lines
    return out


# Characters a lowercasing gate and a case-insensitive matcher may fold differently.
FOLD_SWAPS = ((b"s", "ſ"), (b"k", "\u212a"), (b"i", "İ"), (b"I", "ı"), (b"e", "É"), (b"S", "ſ"))
CONTROL = (b"\x01", b"\x07", b"\x08", b"\x1b", b"\x1f", b"\x7f")
BAD_UTF8 = (b"\xff\xfe", b"\xc3(", b"\x80", b"\xc0\xaf", b"\xed\xa0\x80")


def _header(line: bytes) -> bytes:
    """The line up to its first ': ' (a syslog header with its program name), or the line."""
    cut = line.find(b": ")
    return line[: cut + 1] if cut > 0 else line


def mutations(line: bytes, rng: random.Random) -> list[bytes]:
    """Hostile variants of one line (none contains a newline)."""
    at = rng.randrange(len(line) + 1)
    out = [
        line + b"\r",
        line + b"\r\r",
        line.replace(b" ", b"\t", 2),
        line[:at] + b"\x00" + line[at:],
        b"\x00" + line,
        line[:at] + rng.choice(CONTROL) + line[at:],
        line[:at] + rng.choice(BAD_UTF8) + line[at:],
        line + b"\xe2\x84",  # a multibyte character cut short at the end
        line[: max(2, len(line) // 3)],
        line[: max(2, (2 * len(line)) // 3)],
        _header(line),
        _header(line) + b" ",
        line.replace(b":", b":::", 1),
        line.replace(b"[", b"[[[", 1).replace(b"]", b"]]]", 1),
        b"[" * 40 + line,
        line + b":" * 40,
        line.replace(b": ", b":", 1),
        line.upper(),
    ]
    for plain, trap in FOLD_SWAPS:
        if plain in line:
            out.append(line.replace(plain, trap.encode()))
    return [m for m in out if m and b"\n" not in m]


def mutated(lines: list[bytes], per_corpus: int, rng: random.Random) -> list[bytes]:
    """`per_corpus` lines of `lines` (seeded choice), each with all its mutations."""
    chosen = [line for line in lines if len(line) > 3]
    chosen = rng.sample(chosen, min(per_corpus, len(chosen)))
    return [m for line in chosen for m in mutations(line, rng)]


def hostile_set(root: Path, per_corpus: int = 12) -> list[bytes]:
    """The hostile lines of every corpus under `root`, deterministic for a given data set."""
    rng = random.Random(SEED)
    out: list[bytes] = []
    for lines in corpus_lines(root).values():
        out += mutated(lines, per_corpus, rng)
    return out


# Case-folding traps: the pattern holds `pat` where the text holds `text` (marker letters around
# them keep each row to one rule). Dialects as the rule elements that carry them:
#   match        <match>q..a{pat}b          OS_Match, unanchored literal
#   match^       <match>^q..a{pat}b         OS_Match, anchored literal
#   match^|      <match>^q..a{pat}b|^qq     OS_Match, anchored literals (two alternatives)
#   match$       <match>q..a{pat}b1$        OS_Match, literal anchored at the end
#   match^$      <match>^q..a{pat}b1$       OS_Match, literal anchored at both ends
#   regex        <regex>q..a{pat}b          OS_Regex without regex syntax
#   regex^       <regex>^q..a{pat}b         OS_Regex without regex syntax, anchored
#   regex$       <regex>q..a{pat}b1$        OS_Regex without regex syntax, anchored at the end
#   regex^$      <regex>^q..a{pat}b1$       OS_Regex without regex syntax, anchored at both ends
#   regex\d      <regex>q..a{pat}b\d        OS_Regex through the regex engine
#   regex\w      <regex>^w\w+q..            OS_Regex class \w (ASCII letters, caseless)
#   pcre2        <pcre2>q..a{pat}b          PCRE2 (OSSEC compiles it without UTF)
# OSSEC 4.3 turns OS_Match/OS_Regex into PCRE2 compiled with UTF|CASELESS (Unicode simple case
# folding), except anchored patterns (`^x`, `x$`) that its "could be optimized" checks accept,
# which run as strncasecmp & co. (bytes, ASCII-only folding): for OS_Match one alternative
# without inner `^`/`$` (os_match_compile.c), for OS_Regex only the characters
# [A-Za-z0-9 !"#%&',/:;<=>@_`~-] (os_regex_compile.c). `<pcre2>` is compiled without UTF.
FOLD_PAIRS = (
    ("s", "ſ"),
    ("ſ", "s"),
    ("S", "ſ"),
    ("k", "\u212a"),
    ("\u212a", "k"),
    ("i", "İ"),
    ("İ", "i"),
    ("i", "ı"),
    ("ı", "i"),
    ("I", "ı"),
    ("é", "É"),
    ("É", "é"),
    ("µ", "μ"),
    ("μ", "µ"),
    ("\u212b", "å"),
    ("å", "\u212b"),
    ("σ", "ς"),
    ("ς", "σ"),
    ("ß", "ẞ"),
    ("ẞ", "ß"),
    ("ss", "ß"),
    ("ß", "ss"),
    ("ǆ", "ǅ"),
    ("ǅ", "ǆ"),
    ("ﬀ", "ff"),
    ("ff", "ﬀ"),
    ("θ", "ϑ"),
    ("ϑ", "θ"),
)
DIALECTS = (
    "match",
    "match^",
    "match^|",
    "regex",
    "regex^",
    "regex\\d",
    "regex\\w",
    "pcre2",
    "match$",
    "match^$",
    "regex$",
    "regex^$",
)
# What ossec-logtest 4.3 answered (built from ../shared/oracle, 2026-12-06; the `$` dialects
# recorded the same way in session 5): the rows that match.
# Every other row of FOLD_PAIRS x DIALECTS does not match in OSSEC.
OSSEC_MATCHES = {
    ("match", "S", "ſ"),
    ("match", "k", "\u212a"),
    ("match", "s", "ſ"),
    ("match", "µ", "μ"),
    ("match", "É", "é"),
    ("match", "ß", "ẞ"),
    ("match", "å", "\u212b"),
    ("match", "é", "É"),
    ("match", "ſ", "s"),
    ("match", "ǅ", "ǆ"),
    ("match", "ǆ", "ǅ"),
    ("match", "θ", "ϑ"),
    ("match", "μ", "µ"),
    ("match", "ς", "σ"),
    ("match", "σ", "ς"),
    ("match", "ϑ", "θ"),
    ("match", "ẞ", "ß"),
    ("match", "\u212a", "k"),
    ("match", "\u212b", "å"),
    ("match^|", "S", "ſ"),
    ("match^|", "k", "\u212a"),
    ("match^|", "s", "ſ"),
    ("match^|", "µ", "μ"),
    ("match^|", "É", "é"),
    ("match^|", "ß", "ẞ"),
    ("match^|", "å", "\u212b"),
    ("match^|", "é", "É"),
    ("match^|", "ſ", "s"),
    ("match^|", "ǅ", "ǆ"),
    ("match^|", "ǆ", "ǅ"),
    ("match^|", "θ", "ϑ"),
    ("match^|", "μ", "µ"),
    ("match^|", "ς", "σ"),
    ("match^|", "σ", "ς"),
    ("match^|", "ϑ", "θ"),
    ("match^|", "ẞ", "ß"),
    ("match^|", "\u212a", "k"),
    ("match^|", "\u212b", "å"),
    ("regex", "S", "ſ"),
    ("regex", "k", "\u212a"),
    ("regex", "s", "ſ"),
    ("regex", "µ", "μ"),
    ("regex", "É", "é"),
    ("regex", "ß", "ẞ"),
    ("regex", "å", "\u212b"),
    ("regex", "é", "É"),
    ("regex", "ſ", "s"),
    ("regex", "ǅ", "ǆ"),
    ("regex", "ǆ", "ǅ"),
    ("regex", "θ", "ϑ"),
    ("regex", "μ", "µ"),
    ("regex", "ς", "σ"),
    ("regex", "σ", "ς"),
    ("regex", "ϑ", "θ"),
    ("regex", "ẞ", "ß"),
    ("regex", "\u212a", "k"),
    ("regex", "\u212b", "å"),
    ("regex\\d", "S", "ſ"),
    ("regex\\d", "k", "\u212a"),
    ("regex\\d", "s", "ſ"),
    ("regex\\d", "µ", "μ"),
    ("regex\\d", "É", "é"),
    ("regex\\d", "ß", "ẞ"),
    ("regex\\d", "å", "\u212b"),
    ("regex\\d", "é", "É"),
    ("regex\\d", "ſ", "s"),
    ("regex\\d", "ǅ", "ǆ"),
    ("regex\\d", "ǆ", "ǅ"),
    ("regex\\d", "θ", "ϑ"),
    ("regex\\d", "μ", "µ"),
    ("regex\\d", "ς", "σ"),
    ("regex\\d", "σ", "ς"),
    ("regex\\d", "ϑ", "θ"),
    ("regex\\d", "ẞ", "ß"),
    ("regex\\d", "\u212a", "k"),
    ("regex\\d", "\u212b", "å"),
    ("regex\\w", "S", "ſ"),
    ("regex\\w", "k", "\u212a"),
    ("regex\\w", "s", "ſ"),
    ("regex^", "µ", "μ"),
    ("regex^", "É", "é"),
    ("regex^", "ß", "ẞ"),
    ("regex^", "å", "\u212b"),
    ("regex^", "é", "É"),
    ("regex^", "ǅ", "ǆ"),
    ("regex^", "ǆ", "ǅ"),
    ("regex^", "θ", "ϑ"),
    ("regex^", "μ", "µ"),
    ("regex^", "ς", "σ"),
    ("regex^", "σ", "ς"),
    ("regex^", "ϑ", "θ"),
    ("regex^", "ẞ", "ß"),
    ("regex^", "\u212b", "å"),
    ("regex$", "µ", "μ"),
    ("regex$", "É", "é"),
    ("regex$", "ß", "ẞ"),
    ("regex$", "å", "\u212b"),
    ("regex$", "é", "É"),
    ("regex$", "ǅ", "ǆ"),
    ("regex$", "ǆ", "ǅ"),
    ("regex$", "θ", "ϑ"),
    ("regex$", "μ", "µ"),
    ("regex$", "ς", "σ"),
    ("regex$", "σ", "ς"),
    ("regex$", "ϑ", "θ"),
    ("regex$", "ẞ", "ß"),
    ("regex$", "\u212b", "å"),
    ("regex^$", "µ", "μ"),
    ("regex^$", "É", "é"),
    ("regex^$", "ß", "ẞ"),
    ("regex^$", "å", "\u212b"),
    ("regex^$", "é", "É"),
    ("regex^$", "ǅ", "ǆ"),
    ("regex^$", "ǆ", "ǅ"),
    ("regex^$", "θ", "ϑ"),
    ("regex^$", "μ", "µ"),
    ("regex^$", "ς", "σ"),
    ("regex^$", "σ", "ς"),
    ("regex^$", "ϑ", "θ"),
    ("regex^$", "ẞ", "ß"),
    ("regex^$", "\u212b", "å"),
}


def trap_marker(index: int, dialect: str) -> str:
    """The letters that make a trap row's pattern and text unique."""
    return f"q{index}z{DIALECTS.index(dialect)}z"


def trap_pattern(index: int, dialect: str, pat: str) -> tuple[str, str]:
    """(pattern kind for `compile_pattern`, pattern source) of a trap row."""
    tag = trap_marker(index, dialect)
    return {
        "match": ("osmatch", f"{tag}a{pat}b"),
        "match^": ("osmatch", f"^{tag}a{pat}b"),
        "match^|": ("osmatch", f"^{tag}a{pat}b|^qq"),
        "regex": ("osregex", f"{tag}a{pat}b"),
        "regex^": ("osregex", f"^{tag}a{pat}b"),
        "regex\\d": ("osregex", f"{tag}a{pat}b\\d"),
        "regex\\w": ("osregex", f"^w\\w+{tag}"),
        "pcre2": ("pcre2", f"{tag}a{pat}b"),
        "match$": ("osmatch", f"{tag}a{pat}b1$"),
        "match^$": ("osmatch", f"^{tag}a{pat}b1$"),
        "regex$": ("osregex", f"{tag}a{pat}b1$"),
        "regex^$": ("osregex", f"^{tag}a{pat}b1$"),
    }[dialect]


def trap_text(index: int, dialect: str, text: str) -> str:
    """The text of a trap row: what the pattern is tested on (the log, after pre-decoding)."""
    tag = trap_marker(index, dialect)
    return f"w{text}{tag}" if dialect == "regex\\w" else f"{tag}a{text}b1"


def case_fold_traps() -> list[tuple[int, str, str, str, bool]]:
    """(row index, dialect, pattern char(s), text char(s), OSSEC matches) for every trap."""
    return [
        (index, dialect, pat, text, (dialect, pat, text) in OSSEC_MATCHES)
        for index, (pat, text) in enumerate(FOLD_PAIRS)
        for dialect in DIALECTS
        if dialect != "regex\\w" or pat in ("s", "S", "k", "i", "I")
    ]

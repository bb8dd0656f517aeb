"""The `re` programs the rule cache keeps (`reprograms`): a program rebuilt from its recorded
code is the program `re` compiled, in what it is (flags, code, groups, pattern) and in what it
does on any text; a cached rule set gets every program back; a table made for another `re`
is never restored, and a damaged one drops the entry."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from test_patterns_lowered import TEXT, regexes

from ospatrol.analysis import casefold, reprograms, rulecache
from ospatrol.analysis.engine import Engine
from ospatrol.analysis.loader import Ruleset, load_ruleset
from ospatrol.analysis.matchers import RegexPattern
from ospatrol.analysis.pcre import lowered_program, translate_pcre2

FLAGS = [re.IGNORECASE | re.ASCII, re.IGNORECASE, re.ASCII, 0]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("OSPATROL_CACHE_DIR", str(folder))
    monkeypatch.delenv("OSPATROL_RULESET_CACHE", raising=False)
    return folder / "rulesets"


def _same_program(rebuilt: re.Pattern[str], program: re.Pattern[str]) -> None:
    # Pattern equality compares flags, code and pattern; groups are compared here.
    assert rebuilt == program
    assert (rebuilt.groups, rebuilt.groupindex) == (program.groups, program.groupindex)


def _same_answers(rebuilt: re.Pattern[str], program: re.Pattern[str], texts: list[str]) -> None:
    for text in texts:
        for method in ("search", "match", "fullmatch"):
            found, expected = getattr(rebuilt, method)(text), getattr(program, method)(text)
            assert (found and (found.regs, found.groups())) == (
                expected and (expected.regs, expected.groups())
            ), (program.pattern, method, text)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(regexes(), st.sampled_from(FLAGS), st.lists(TEXT, min_size=1, max_size=6))
def test_a_rebuilt_program_is_the_compiled_one(source: str, flags: int, texts: list[str]) -> None:
    """Fast programs (as `RegexPattern` compiles them, from PCRE2 syntax translated) and the
    lowered programs `pcre.lowered_program` makes from parsed patterns (no pattern string)."""
    translated = translate_pcre2(source)
    with reprograms.recording() as record:
        try:
            program = re.compile(translated, flags)
        except re.error:
            assume(False)
            return
        lowered = lowered_program(translated, bool(flags & re.ASCII))
    made = [program] if lowered is None else [program, lowered]
    for compiled in made:
        args = record.args(compiled)
        assert args is not None
        rebuilt = reprograms.rebuild(args)
        _same_program(rebuilt, compiled)
        _same_answers(rebuilt, compiled, [*texts, *(text.lower() for text in texts)])


def test_named_groups_and_inline_flags_come_back() -> None:
    with reprograms.recording() as record:
        program = re.compile(r"(?x) user=(?P<user> \S+ ) (?:from)? (?P<host>\w+)?", re.I)
    rebuilt = reprograms.rebuild(record.args(program))  # type: ignore[arg-type]
    _same_program(rebuilt, program)
    assert rebuilt.flags & re.VERBOSE
    _same_answers(rebuilt, program, ["USER=root", "x user=admin fromhost", "user="])


def test_programs_compiled_before_recording_are_recorded_again() -> None:
    """`re`'s own cache would hand back an earlier program without compiling it."""
    before = re.compile(r"cached (\d+) times")
    with reprograms.recording() as record:
        again = re.compile(r"cached (\d+) times")
    assert record.args(again) is not None
    _same_program(reprograms.rebuild(record.args(again)), before)  # type: ignore[arg-type]


def _regex_patterns(ruleset: Ruleset) -> list[RegexPattern]:
    return [p for p in ruleset.patterns() if isinstance(p, RegexPattern)]


def _load(files: dict[str, Path]) -> Ruleset:
    return load_ruleset(
        files["conf"], rules_dir=files["rules"], decoders=files["decoders"], cache=True
    )


def test_a_cached_rule_set_gets_every_program_back(cache: Path, ossec43: dict[str, Path]) -> None:
    fresh = _load(ossec43)
    cached = _load(ossec43)
    assert cached is not fresh
    pairs = list(zip(_regex_patterns(fresh), _regex_patterns(cached), strict=True))
    assert sum(made.programs()[0] is not None for made, _ in pairs) > 500
    assert sum(made.programs()[1] is not None for made, _ in pairs) > 100
    for made, restored in pairs:
        assert made.source == restored.source
        assert made.programs() == restored.programs()


def _recorded(ossec43: dict[str, Path]) -> tuple[Ruleset, reprograms.Programs]:
    """The 4.3 rule set compiled while recording, and the table the cache would keep."""
    with reprograms.recording() as record:
        ruleset = load_ruleset(
            ossec43["conf"], rules_dir=ossec43["rules"], decoders=ossec43["decoders"]
        )
    return ruleset, reprograms.collect(ruleset, record)


def _entry_with(
    cache: Path, ossec43: dict[str, Path], ruleset: Ruleset, programs: reprograms.Programs
) -> Path:
    """The 4.3 rule set's cache entry, rewritten to hold `ruleset` with `programs`."""
    _load(ossec43)
    (entry,) = cache.glob(f"*{rulecache.SUFFIX}")
    rulecache.write_entry(entry, ruleset, programs)
    return entry


def _verdicts(ruleset: Ruleset, lines: list[str]) -> list[tuple]:
    engine = Engine(ruleset, hostname="melancia")
    results = [engine.process_line(line, when=1.7e9) for line in lines]
    return [(r.decoder, r.rule and r.rule.id, dict(r.fields)) for r in results]


def test_a_table_made_for_another_re_is_not_restored(
    cache: Path, ossec43: dict[str, Path], ruleset43: Ruleset, shared_data: Path
) -> None:
    """Another fingerprint (another Python, another `_sre`): the programs compile on first
    use, as without a table, and nothing is read from the foreign code."""
    ruleset, (stamp, kept) = _recorded(ossec43)
    assert stamp == reprograms.fingerprint() and len(kept) > 500
    entry = _entry_with(cache, ossec43, ruleset, (bytes(32), kept))
    cached = rulecache.read_entry(entry)
    assert cached is not None
    assert all(p.programs() == (None, None) for p in _regex_patterns(cached))
    log = shared_data / "logs" / "loghub" / "OpenSSH" / "OpenSSH_2k.log"
    sample = log.read_text().splitlines()[:300]
    assert _verdicts(cached, sample) == _verdicts(ruleset43, sample)


def test_a_damaged_table_drops_the_entry(cache: Path, ossec43: dict[str, Path]) -> None:
    """Code `_sre` refuses (here: every program cut short) means no entry, not a crash."""
    ruleset, (stamp, kept) = _recorded(ossec43)
    damaged = [
        (pattern, fast and (*fast[:2], fast[2][:-8], *fast[3:]), None) for pattern, fast, _ in kept
    ]
    entry = _entry_with(cache, ossec43, ruleset, (stamp, damaged))  # type: ignore[arg-type]
    assert rulecache.read_entry(entry) is None
    assert not entry.exists()


def test_the_fingerprint_is_part_of_the_cache_key(
    ossec43: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cache written by another Python (another `re`) is never even read."""
    plan_key = _plan_key(ossec43)
    monkeypatch.setattr(reprograms, "_fingerprint", bytes(32))
    monkeypatch.setattr(rulecache, "_source_digest", None)
    assert _plan_key(ossec43) != plan_key


def _plan_key(ossec43: dict[str, Path]) -> str:
    from ospatrol.analysis.loader import read_config

    errors: list = []
    plan = read_config(ossec43["conf"], ossec43["rules"], errors, None)
    assert not errors
    return rulecache.plan_key(plan)


def test_the_case_folding_table_comes_back_from_the_cache(
    cache: Path, ossec43: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process reading the cache folds its first non-ASCII text without building it."""
    _load(ossec43)
    monkeypatch.setattr(casefold, "_table", None)
    _load(ossec43)
    assert casefold._table == casefold._build_table()
    assert casefold.fold("PAſſWD Kelvin") == "passwd kelvin"

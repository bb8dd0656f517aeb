"""The compiled-ruleset cache: same verdicts as a fresh load, never stale, never someone else's."""

from __future__ import annotations

import gc
import os
import shutil
import time
import weakref
from pathlib import Path

import pytest

from ospatrol.analysis import rulecache
from ospatrol.analysis.engine import Engine
from ospatrol.analysis.loader import load_ruleset
from ospatrol.analysis.logtest import read_ini_cases, run_ini_cases


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("OSPATROL_CACHE_DIR", str(folder))
    monkeypatch.delenv("OSPATROL_RULESET_CACHE", raising=False)
    return folder / "rulesets"


def _entries(folder: Path) -> list[Path]:
    return sorted(folder.glob(f"*{rulecache.SUFFIX}"))


def _verdicts(ruleset, lines: list[str]) -> list[tuple]:
    engine = Engine(ruleset, hostname="melancia")
    out = []
    for line in lines:
        result = engine.process_line(line, when=1_700_000_000.0)
        rule = result.rule
        out.append((result.decoder, rule and rule.id, rule and rule.level, dict(result.fields)))
    return out


def _copy_43(ossec43: dict[str, Path], into: Path) -> dict[str, Path]:
    shutil.copytree(ossec43["rules"], into / "rules")
    shutil.copy(ossec43["conf"], into / "ossec.conf")
    shutil.copy(ossec43["decoders"], into / "decoder.xml")
    return {"conf": into / "ossec.conf", "rules": into / "rules", "decoders": into / "decoder.xml"}


def _load(files: dict[str, Path], **kwargs):
    return load_ruleset(
        files["conf"], rules_dir=files["rules"], decoders=files["decoders"], **kwargs
    )


def test_cached_43_ruleset_passes_the_suite_like_a_fresh_one(cache, ossec43, ruleset43):
    """The second load comes from the cache and gives the same verdicts on OSSEC's own suite
    and on a real corpus."""
    first = _load(ossec43, cache=True)
    assert len(_entries(cache)) == 1
    cached = _load(ossec43, cache=True)
    assert cached is not first and len(_entries(cache)) == 1
    cases = read_ini_cases(ossec43["tests"].glob("*.ini"))
    fresh = run_ini_cases(cases, lambda: Engine(ruleset43, hostname="melancia"))
    again = run_ini_cases(cases, lambda: Engine(cached, hostname="melancia"))
    assert [o.passed for o in again] == [o.passed for o in fresh]
    assert sum(o.passed for o in again) >= 255


def test_cached_ruleset_decodes_a_corpus_identically(cache, ossec43, ruleset43, shared_data):
    corpus = shared_data / "logs" / "loghub" / "OpenSSH" / "OpenSSH_2k.log"
    lines = corpus.read_bytes().decode("utf-8", errors="replace").splitlines()[:800]
    _load(ossec43, cache=True)
    cached = _load(ossec43, cache=True)
    assert _verdicts(cached, lines) == _verdicts(ruleset43, lines)


def test_a_changed_rule_file_is_never_answered_from_the_cache(cache, ossec43, tmp_path):
    files = _copy_43(ossec43, tmp_path / "set")
    line = "Jan 25 05:44:27 bastion sshd[123]: Failed password for root from 1.2.3.4 port 22 ssh2"
    before = Engine(_load(files, cache=True)).process_line(line)
    assert before.rule is not None and (before.rule.id, before.rule.level) == (5716, 5)
    sshd = files["rules"] / "sshd_rules.xml"
    text = sshd.read_text()
    start = text.index('<rule id="5716" level="5">')
    sshd.write_text(text[:start] + '<rule id="5716" level="9">' + text[start + 26 :])
    after = Engine(_load(files, cache=True)).process_line(line)
    assert after.rule is not None and after.rule.level == 9
    assert len(_entries(cache)) == 2


def test_a_new_file_in_a_rule_folder_changes_the_key(ossec43, tmp_path):
    files = _copy_43(ossec43, tmp_path / "set")
    plan = rulecache_plan(files)
    before = rulecache.plan_key(plan)
    (files["rules"] / "zz_local.xml").write_text("<group name='x'></group>\n")
    plan.rule_files.append(files["rules"])  # a <rule_dir>-style folder entry: its listing counts
    assert rulecache.plan_key(plan) != before


def rulecache_plan(files: dict[str, Path]):
    from ospatrol.analysis.loader import read_config

    errors: list = []
    plan = read_config(files["conf"], files["rules"], errors)
    plan.decoder_files = [files["decoders"]]
    assert not errors
    return plan


def test_a_corrupted_entry_is_dropped_and_rebuilt(cache, ossec43):
    _load(ossec43, cache=True)
    (entry,) = _entries(cache)
    blob = bytearray(entry.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    entry.write_bytes(bytes(blob))
    os.chmod(entry, 0o600)
    assert rulecache.read_entry(entry) is None
    assert not entry.exists()
    entry.write_bytes(b"truncated")
    os.chmod(entry, 0o600)
    ruleset = _load(ossec43, cache=True)
    assert ruleset.rules[5716].level == 5
    assert rulecache.read_entry(_entries(cache)[0]) is not None


def test_an_entry_moved_to_another_key_is_refused(cache, ossec43):
    _load(ossec43, cache=True)
    (entry,) = _entries(cache)
    other = cache / ("ab" * 32 + rulecache.SUFFIX)
    shutil.copy(entry, other)
    os.chmod(other, 0o600)
    assert rulecache.read_entry(other) is None
    assert rulecache.read_entry(entry) is not None


def test_a_pickle_others_can_write_is_never_loaded(cache, ossec43, tmp_path):
    """A group/world-writable folder or entry (someone else could have planted it) is ignored;
    a planted pickle with a valid header would run code when loaded."""
    _load(ossec43, cache=True)
    (entry,) = _entries(cache)
    os.chmod(entry, 0o666)
    assert rulecache.read_entry(entry) is None
    os.chmod(entry, 0o600)
    assert rulecache.read_entry(entry) is not None
    os.chmod(cache, 0o777)
    assert rulecache.cache_dir() is None
    os.chmod(cache, 0o700)
    assert rulecache.cache_dir() == cache
    if os.geteuid() == 0:
        os.chown(entry, 65534, 65534)
        assert rulecache.read_entry(entry) is None
    link = cache / ("0" * 64 + rulecache.SUFFIX)
    link.symlink_to(entry)
    assert rulecache.read_entry(link) is None


def test_cache_can_be_switched_off(cache, ossec43, monkeypatch):
    monkeypatch.setenv("OSPATROL_RULESET_CACHE", "0")
    _load(ossec43, cache=True)
    assert not cache.exists() or not _entries(cache)


def test_a_cached_hostile_pattern_keeps_its_time_budget(cache, backtracking_rules, linear):
    """Unpickled patterns compile on first use with the same guards: `^(a+)+$` never stalls."""

    def load():
        return load_ruleset(**backtracking_rules, cache=True)

    load()
    ruleset = load()
    assert len(_entries(cache)) == 1
    started = time.monotonic()
    result = Engine(ruleset).process_line("Oct 10 10:00:00 host app: " + "a" * 5000 + "!")
    assert time.monotonic() - started < 5
    assert result.rule is not None and result.rule.id == 101
    # RE2, where installed, answers in linear time; otherwise the time budget gives up.
    assert ruleset.regex_timeouts() == ({} if linear else {"^(a+)+$": 1})


def test_a_cache_that_cannot_be_written_only_costs_the_cache(ossec43, ruleset43, tmp_path):
    """No folder to write to, or a full cache: the rule set still loads, old entries go."""
    rulecache.write_entry(tmp_path / "missing" / ("ab" * 32 + rulecache.SUFFIX), ruleset43)
    folder = tmp_path / "entries"
    folder.mkdir()
    for number in range(rulecache.KEEP + 3):
        entry = folder / (f"{number:064x}" + rulecache.SUFFIX)
        entry.write_bytes(b"old")
        os.utime(entry, (number, number))
    rulecache.write_entry(folder / ("ff" * 32 + rulecache.SUFFIX), ruleset43)
    kept = sorted(p.name for p in folder.glob(f"*{rulecache.SUFFIX}"))
    assert len(kept) == rulecache.KEEP and kept[-1].startswith("ff")
    assert f"{0:064x}{rulecache.SUFFIX}" not in kept


def test_a_loaded_rule_set_lies_in_the_oldest_generation(cache, ossec43):
    """The load hands its objects to the oldest generation (no young collection walks them
    after it) and leaves the cyclic collector on."""
    for _ in range(2):  # compiled and stored, then read from the cache
        ruleset = _load(ossec43, cache=True)
        assert gc.isenabled() and gc.get_freeze_count() == 0
        young = {id(obj) for generation in (0, 1) for obj in gc.get_objects(generation)}
        assert not young & {id(ruleset.top[0]), id(ruleset.top[0].rule), id(ruleset.index)}


def test_a_load_keeps_nothing_from_the_collector(cache, ossec43):
    """A garbage cycle that exists while a rule set loads is still collected after it (the
    load freezes nothing); a collector the caller turned off stays off."""

    class Node:
        pass

    gc.disable()
    try:
        cycle = Node()
        cycle.me = cycle  # type: ignore[attr-defined]
        gone = weakref.ref(cycle)
        del cycle
        _load(ossec43, cache=True)
        assert not gc.isenabled() and gone() is not None
    finally:
        gc.enable()
    gc.collect()
    assert gone() is None

"""A worker's count of the lines a pattern gave up on: looked at once a second after a batch,
and once more when the worker stops, so no give-up goes unreported."""

from __future__ import annotations

import logging
import time
from collections import Counter

import pytest

from ospatrol.analysis import pcre
from ospatrol.analysis.engine import Engine
from ospatrol.analysis.loader import load_ruleset
from ospatrol.manager.worker import Analyser

PADDED = b"<13>Dec  6 02:00:00 h1 app: " + b"a" * 5000 + b"!"


@pytest.fixture
def analyser(backtracking_rules: dict, monkeypatch: pytest.MonkeyPatch) -> Analyser:
    monkeypatch.setattr(pcre, "_re2", None)  # the time budget, as without google-re2
    ruleset = load_ruleset(**backtracking_rules)
    return Analyser(Engine(ruleset), {"alerts": False})


def _batch(analyser: Analyser) -> Counter:
    return analyser.analyse([("127.0.0.1",), (PADDED,), (time.time(),)])[1]


def test_timeouts_are_counted_once_a_second_and_at_the_last_look(
    analyser: Analyser, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="ospatrol.manager.worker")
    assert _batch(analyser)["regex_timeouts"] == 1
    # within the second: counted by the pattern, not yet reported
    assert "regex_timeouts" not in _batch(analyser)
    last = Counter()
    analyser.count_timeouts(last, now=True)
    assert last["regex_timeouts"] == 1
    warnings = [r.getMessage() for r in caplog.records]
    assert (
        warnings
        == ["pattern '^(a+)+$' gave up on 1 line(s) (time budget) and counted as not matching"] * 2
    )
    assert not any("aaaa" in message for message in warnings)
    # nothing new: nothing counted or logged again
    again = Counter()
    analyser.count_timeouts(again, now=True)
    assert again["regex_timeouts"] == 0 and len(caplog.records) == 2

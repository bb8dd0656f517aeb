"""A worker's count of the lines a pattern gave up on: looked at once a second after a batch,
and once more when the worker stops, so no give-up goes unreported."""

from __future__ import annotations

import logging
import time
from collections import Counter
from pathlib import Path

import pytest

from ospatrol.analysis import pcre
from ospatrol.analysis.engine import Engine
from ospatrol.analysis.loader import load_ruleset
from ospatrol.manager.worker import Analyser

PADDED = b"<13>Dec  6 02:00:00 h1 app: " + b"a" * 5000 + b"!"


@pytest.fixture
def analyser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Analyser:
    monkeypatch.setattr(pcre, "_re2", None)  # the time budget, as without google-re2
    (tmp_path / "decoders.xml").write_text(
        '<decoder name="app">\n  <program_name>^app$</program_name>\n</decoder>\n'
    )
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.xml").write_text(
        '<group name="syslog">\n  <rule id="1" level="0" noalert="1">\n'
        "    <category>syslog</category>\n    <description>t</description>\n  </rule>\n"
        '  <rule id="100" level="5">\n    <decoded_as>app</decoded_as>\n'
        "    <pcre2>^(a+)+$</pcre2>\n    <description>evil</description>\n  </rule>\n</group>\n"
    )
    ruleset = load_ruleset(rules_dir=rules, decoders=[tmp_path / "decoders.xml"])
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

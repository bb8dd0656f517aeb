"""Fixtures that run a real `ospatrol manager` process on loopback and give it a rule set."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from manager_helpers import RunningManager, write_rule


@pytest.fixture
def manager_factory(tmp_path: Path) -> Iterator[Callable[..., RunningManager]]:
    started: list[RunningManager] = []

    def start(config: str, env: dict[str, str] | None = None) -> RunningManager:
        running = RunningManager(tmp_path, config, env)
        started.append(running)
        return running

    yield start
    for running in started:
        if running.process.poll() is None:
            running.process.kill()
            running.process.wait()


@pytest.fixture
def ruleset(tmp_path: Path) -> Path:
    """The shipped decoders plus one local rule file whose level the reload test changes."""
    from ospatrol.paths import data_dir

    rules = data_dir("rules")
    local = tmp_path / "local_rules.xml"
    conf = tmp_path / "ossec.conf"
    conf.write_text(
        "<ossec_config><rules>"
        + "".join(f"<decoder>{p}</decoder>" for p in sorted((rules / "decoders").glob("*.xml")))
        + f"<include>{rules / 'rules' / 'rules_base.xml'}</include>"
        + f"<include>{local}</include>"
        + "</rules></ossec_config>"
    )
    write_rule(local, level=3, description="probe seen")
    return conf

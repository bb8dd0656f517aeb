"""The scheduler: fire times, jitter, no overlapping runs, missed runs made up once; and
`ospatrol manager --once` running a due audit through the real `ospatrol audit` pipeline."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from ospatrol.errors import InputErrors
from ospatrol.scheduler import Job, Scheduler, parse_jobs
from ospatrol.yamlfile import load_yaml_text


def _job(**kw) -> Job:
    return Job(name=kw.pop("name", "j"), inventory=Path("inv.yml"), **kw)


def test_cron_due_only_when_a_fire_time_passed_since_the_last_start() -> None:
    job = _job(cron="0 2 * * *")
    at = datetime(2026, 1, 10, 12, 0).timestamp()
    assert job.due(None, at)  # never ran
    assert not job.due(datetime(2026, 1, 10, 2, 0, 5).timestamp(), at)
    # down from the 9th to the 10th at noon: the 02:00 run was missed, made up once
    assert job.due(datetime(2026, 1, 9, 2, 0, 5).timestamp(), at)
    assert job.next_fire(at) == datetime(2026, 1, 11, 2, 0).timestamp()


def test_interval_due() -> None:
    job = _job(interval=60)
    assert job.due(1000.0, 1060.0) and not job.due(1000.0, 1059.0)


def test_schedule_errors_name_key_and_line(tmp_path: Path) -> None:
    (tmp_path / "inv.yml").write_text("all: {hosts: {a: {}}}\n")
    text = (
        "- {name: a, inventory: inv.yml, cron: '61 * * * *'}\n"
        "- {name: b, inventory: missing.yml, interval: 10}\n"
        "- {name: c, inventory: inv.yml, cron: '* * * * *', interval: 5}\n"
        "- {name: d, inventory: inv.yml, interval: 5, jiter: 3}\n"
    )
    nodes = tuple(load_yaml_text(text, "ospatrol.yml"))
    with pytest.raises(InputErrors) as caught:
        parse_jobs(nodes, "ospatrol.yml", tmp_path)
    message = str(caught.value)
    assert "ospatrol.yml:1: schedules[0].cron: not a cron expression: '61 * * * *'" in message
    assert "ospatrol.yml:2: schedules[1].inventory: no such inventory" in message
    assert "ospatrol.yml:3: schedules[2]: give exactly one of cron or interval" in message
    assert "ospatrol.yml:4: schedules[3].jiter: unknown key" in message


def test_runs_on_time_never_overlapping_and_records_outcomes(tmp_path: Path) -> None:
    runs: list[tuple[float, float]] = []

    async def runner(job: Job) -> str:
        start = time.monotonic()
        await asyncio.sleep(0.35)  # longer than the interval: the next fire must be skipped
        runs.append((start, time.monotonic()))
        return "ok"

    async def scenario() -> Scheduler:
        scheduler = Scheduler((_job(interval=0.2),), runner, tmp_path)
        task = asyncio.create_task(scheduler.run_forever())
        await asyncio.sleep(1.5)
        task.cancel()
        await asyncio.sleep(0.4)
        return scheduler

    scheduler = asyncio.run(scenario())
    outcomes = scheduler.records["j"].outcomes
    assert outcomes["ok"] >= 2
    assert outcomes["skipped:overlap"] >= 1
    for (_, end), (start, _) in itertools.pairwise(runs):
        assert start >= end  # never two runs of one job at once
    saved = json.loads((tmp_path / "schedule.json").read_text())
    assert saved["j"]["last_outcome"] == "ok"


def test_missed_run_is_made_up_once_on_start_and_state_survives(tmp_path: Path) -> None:
    calls: list[str] = []

    async def runner(job: Job) -> str:
        calls.append(job.name)
        return "ok"

    jobs = (_job(name="nightly", cron="0 2 * * *"), _job(name="hourly", interval=3600))
    (tmp_path / "schedule.json").write_text(
        json.dumps(
            {
                "nightly": {"last_start": time.time() - 3 * 86400},  # missed three nights
                "hourly": {"last_start": time.time() - 60},  # ran a minute ago
            }
        )
    )
    asyncio.run(Scheduler(jobs, runner, tmp_path).run_due())
    assert calls == ["nightly"]
    asyncio.run(Scheduler(jobs, runner, tmp_path).run_due())
    assert calls == ["nightly"]  # not due any more: the state file was updated


def _lab_job(lab_sshd, tmp_path: Path, settings: str = ""):
    """A manager config with one due job auditing the lab sshd; `ospatrol manager --once`."""
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(
        yaml.safe_dump(
            {
                "all": {
                    "hosts": {
                        "lab1": {
                            "ansible_host": "127.0.0.1",
                            "ansible_port": lab_sshd.port,
                            "ansible_user": lab_sshd.user,
                            "ansible_ssh_private_key_file": str(lab_sshd.client_key),
                        }
                    }
                }
            }
        )
    )
    (tmp_path / "home" / ".ssh").mkdir(parents=True)
    config = tmp_path / "ospatrol.yml"
    config.write_text(
        settings + "schedules:\n"
        "  - {name: nightly, inventory: inventory.yml, only: [commands], cron: '0 2 * * *'}\n"
    )
    state = tmp_path / "state"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SSH_", "OSPATROL_"))}
    env["HOME"] = str(tmp_path / "home")

    def once() -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "ospatrol", "--state-dir", str(state), "manager", "-c",
             str(config), "--once"],
            capture_output=True, text=True, timeout=300, cwd=tmp_path,
            env=env,
        )  # fmt: skip

    return state, once


def test_once_runs_the_due_audit_through_the_audit_pipeline(lab_sshd, tmp_path: Path) -> None:
    state, once = _lab_job(lab_sshd, tmp_path)
    (tmp_path / "home" / ".ssh" / "known_hosts").write_text(lab_sshd.known_hosts_line + "\n")
    first = once()
    assert first.returncode == 0, first.stderr
    saved = json.loads((state / "schedule.json").read_text())
    assert saved["nightly"]["last_outcome"] in ("ok", "findings"), first.stderr
    from ospatrol.store import Store

    with Store.open(state) as store:
        (run,) = store.runs()
        assert run.options["schedule"] == "nightly" and run.status != "running"
        assert [h.host for h in store.run_hosts(run.id)] == ["lab1"]
    second = once()
    assert second.returncode == 0
    assert json.loads((state / "schedule.json").read_text()) == saved  # not due: never twice


def test_scheduled_audits_use_the_config_files_audit_settings(lab_sshd, tmp_path: Path) -> None:
    # No known_hosts entry: the default policy (tofu) would pin the key and audit; the file's
    # `host_key_policy: strict` must refuse the unknown key, so the run is incomplete.
    state, once = _lab_job(lab_sshd, tmp_path, settings="host_key_policy: strict\n")
    done = once()
    assert done.returncode == 0, done.stderr
    saved = json.loads((state / "schedule.json").read_text())
    assert saved["nightly"]["last_outcome"] == "incomplete", done.stderr

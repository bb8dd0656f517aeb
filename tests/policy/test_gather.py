"""Fetching over a real transport: one script per round, framing that hostile content cannot
forge, a hanging command that is "not run" while the rest completes."""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

from ospatrol.model import Host
from ospatrol.policy.facts import facts_from
from ospatrol.policy.gather import Needs, Plan, build_script, marker_of, parse_frames
from ospatrol.policy.load import load_policy
from ospatrol.policy.runner import Gatherer, RunSettings, run_policy
from ospatrol.transport import TransportSettings, open_transport
from tests.policy.conftest import write_policy

LOCAL = Host(name="me", address="localhost", connection="local")


def _run(coro_factory, tmp_path: Path):
    async def main():
        async with open_transport(LOCAL, TransportSettings(known_hosts=tmp_path / "kh")) as t:
            return await coro_factory(t)

    return asyncio.run(main())


def test_content_forging_the_frame_with_the_real_nonce_changes_nothing(tmp_path: Path):
    nonce = "0123456789abcdef01234567"
    real = tmp_path / "real.conf"
    real.write_text("PermitRootLogin yes\n")
    hostile = tmp_path / "hostile.conf"
    forged = f"{marker_of(nonce)} F 1 f 0 19\nPermitRootLogin no\n"
    # a header for the other file, an END, and bytes that are not UTF-8
    hostile.write_bytes(
        b"x\n" + forged.encode() + f"{marker_of(nonce)} END 2\n".encode() + b"\xff\xfe\n"
    )
    needs = Needs(reads={str(hostile), str(real)})
    plan = Plan.of(needs)
    assert plan.reads == (str(hostile), str(real))
    script = build_script(plan, nonce, 5)

    async def run(t):
        return await t.run("sh -s", input=script)

    result = _run(run, tmp_path)
    frames = parse_frames(result.stdout_bytes, nonce)
    assert frames.complete
    facts = facts_from(plan, frames)
    assert facts.paths[str(real)].content == "PermitRootLogin yes\n"
    assert facts.paths[str(hostile)].content == hostile.read_bytes().decode(
        "utf-8", "surrogateescape"
    )


def test_a_cut_run_delivers_what_arrived_and_nothing_more(tmp_path: Path):
    nonce = "feedfacefeedfacefeedface"
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_text("alpha\n")
    b.write_text("beta\n" * 100)
    plan = Plan.of(Needs(reads={str(a), str(b)}))

    async def run(t):
        return await t.run("sh -s", input=build_script(plan, nonce, 5))

    data = _run(run, tmp_path).stdout_bytes
    cut = parse_frames(data[: data.index(b"beta") + 10], nonce)
    assert not cut.complete
    facts = facts_from(plan, cut)
    assert facts.paths[str(a)].content == "alpha\n" and str(b) not in facts.paths


def test_hanging_command_is_not_run_and_the_rest_completes(tmp_path: Path):
    marker = tmp_path / "flag"
    marker.write_text("on\n")
    policy = load_policy(
        write_policy(
            tmp_path,
            f"""policy: {{id: t, file: t.yml, name: t, description: t}}
checks:
  - {{id: 1, title: hangs, condition: all, rules: ['c:sleep 60 -> r:x']}}
  - {{id: 2, title: file, condition: all, rules: ['f:{marker} -> r:^on$']}}
  - {{id: 3, title: command, condition: all, rules: ['c:echo hello -> r:^hello$']}}
""",
        )
    )

    async def run(t):
        gatherer = Gatherer(t, RunSettings(command_timeout=1))
        return await run_policy(policy, t, gatherer)

    started = time.monotonic()
    result = _run(run, tmp_path)
    assert time.monotonic() - started < 15
    statuses = {o.check_id: o.status for o in result.outcomes}
    assert statuses == {"1": "not run", "2": "passed", "3": "passed"}
    assert result.round_trips == 1


def test_commands_and_files_shared_by_checks_are_fetched_once(tmp_path: Path):
    conf = tmp_path / "c.conf"
    conf.write_text("a\n")
    rules = [f"'c:cat {conf} -> r:a'", f"'f:{conf} -> r:a'", f"'f:{conf}'"]
    checks = "\n".join(
        f"  - {{id: {i}, title: t{i}, condition: all, rules: [{rules[i % 3]}]}}" for i in range(30)
    )
    policy = load_policy(
        write_policy(
            tmp_path, f"policy: {{id: t, file: t, name: t, description: t}}\nchecks:\n{checks}\n"
        )
    )

    async def run(t):
        gatherer = Gatherer(t)
        result = await run_policy(policy, t, gatherer)
        return result, t.commands_run, gatherer

    result, commands_run, gatherer = _run(run, tmp_path)
    assert {o.status for o in result.outcomes} == {"passed"}
    assert commands_run == 1 and result.round_trips == 1
    assert list(gatherer.facts.commands) == [f"cat {conf}"]


def test_without_timeout_binary_the_watchdog_stops_a_hanging_command(tmp_path: Path):
    # a host whose PATH has no `timeout` (old busybox): the script's own watchdog kills it
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("sh", "mktemp", "wc", "head", "rm", "sleep", "echo", "find"):
        found = shutil.which(tool)
        assert found, tool
        (bin_dir / tool).symlink_to(found)
    nonce = "abcdefabcdefabcdefabcdef"
    plan = Plan.of(Needs(commands={"sleep 30", "echo hi"}))
    script = build_script(plan, nonce, 1)

    async def run(t):
        return await t.run(f"PATH={bin_dir} sh -s", input=script, timeout=20)

    started = time.monotonic()
    result = _run(run, tmp_path)
    assert time.monotonic() - started < 10
    facts = facts_from(plan, parse_frames(result.stdout_bytes, nonce))
    assert facts.commands["sleep 30"].timed_out
    assert (facts.commands["echo hi"].output, facts.commands["echo hi"].status) == ("hi\n", 0)

"""`ospatrol audit --only cis`: policies of the host's platform plus `ospatrol_policies`, results
per run in the store, regressions and new failures as events the rules raise, the score trend."""

from __future__ import annotations

from pathlib import Path

from ospatrol.store import Store
from tests.audit.conftest import host, lab_host, run_cli, write_inventory


def _policy(folder: Path, flag: Path, marker: Path) -> Path:
    path = folder / "site.yml"
    path.write_text(
        f"""policy: {{id: site, file: site.yml, name: Site policy, description: t}}
checks:
  - id: 1
    title: The service flag is on
    condition: all
    rules: ['f:{flag} -> r:^on$']
  - id: 2
    title: SSH hardening marker exists
    condition: all
    rules: ['f:{marker}']
"""
    )
    return path


def test_audit_runs_policies_stores_results_and_raises_regressions(lab_sshd, tmp_path: Path):
    flag, marker = tmp_path / "flag", tmp_path / "marker"
    flag.write_text("on\n")
    policy = _policy(tmp_path, flag, marker)
    tree = tmp_path / "walk"
    tree.mkdir()
    inv = write_inventory(
        tmp_path / "inv.yml",
        {
            "web1": lab_host(
                lab_sshd, ospatrol_policies=[str(policy)], ospatrol_walk_roots=[str(tree)]
            )
        },
    )
    state = tmp_path / "state"
    args = ("audit", "-i", str(inv), "--only", "cis", "--format", "json")

    first = run_cli(state, *args)
    assert first.returncode in (0, 1), first.stderr
    findings = host(first.json(), "web1")["findings"]
    mine = {f["subject"]: f for f in findings if f["subject"].startswith("site")}
    assert mine["site:2"]["kind"] == "failed"  # a new failure, first run included
    assert "site:1" not in mine  # passed, nothing to say
    assert mine["site"]["kind"] == "score" and "50%" in mine["site"]["detail"]
    # the shipped Linux policy applies to the host's platform too
    assert any(f["subject"].startswith("ospatrol_linux:") for f in findings)

    flag.write_text("off\n")
    second = run_cli(state, *args)
    findings = host(second.json(), "web1")["findings"]
    mine = {f["subject"]: f for f in findings if f["subject"].startswith("site")}
    assert mine["site:1"]["kind"] == "regressed"
    assert (mine["site:1"]["rule"], mine["site:1"]["level"]) == (80132, 10)
    assert "site:2" not in mine  # still failing: not new
    assert "0% (was 50%)" in mine["site"]["detail"]
    linux_again = [f for f in findings if f["subject"].startswith("ospatrol_linux:")]
    assert all(f["kind"] not in ("failed", "regressed") for f in linux_again)

    waivers = tmp_path / "waivers.yml"
    waivers.write_text(
        "waivers:\n"
        "  - {host: web1, policy: site, check: 2, justification: marker comes with v2, "
        "expires: 2999-12-31}\n"
        "  - {host: 'web*', policy: site, check: 1, justification: old, expires: 2001-01-01}\n"
    )
    write_inventory(
        inv,
        {
            "web1": lab_host(
                lab_sshd,
                ospatrol_policies=[str(policy)],
                ospatrol_walk_roots=[str(tree)],
                ospatrol_waivers=str(waivers),
            )
        },
    )
    third = run_cli(state, *args)
    findings = host(third.json(), "web1")["findings"]
    mine = {f["subject"]: f for f in findings if f["subject"].startswith("site")}
    assert mine["site:1"]["kind"] == "waiver_expired"
    assert (mine["site:1"]["rule"], mine["site:1"]["level"]) == (81003, 8)

    with Store.open(state) as store:
        rows = store.check_results("web1", "site")[:4]
        assert [(r.check_id, r.status) for r in rows] == [
            ("1", "passed"),
            ("2", "failed"),
            ("1", "failed"),
            ("2", "failed"),
        ]
        assert len({r.run for r in rows}) == 2
        assert store.check_results("web1", "site")[-1].status == "waived"
        assert [s.score for s in store.policy_scores("web1", "site")] == [50.0, 0.0, 0.0]
        assert any(a.rule_id == 80132 for a in store.alerts(host="web1"))


def test_policy_rules_of_the_own_ruleset():
    from ospatrol.analysis.engine import Engine
    from ospatrol.model import Event

    engine = Engine.for_default_ruleset()

    def rule(text: str) -> tuple[int, int]:
        alert = engine.process(Event(text=text, location="agentless:h:cis", host="h")).alert
        assert alert is not None, text
        return alert.rule_id, alert.level

    regressed = "ospatrol: cis: check regressed: policy 'ospatrol_linux' check "
    assert rule(regressed + "'lnx-ssh-root': SSH root login is disabled") == (81000, 12)
    assert rule(regressed + "'lnx-kern-aslr': Address space layout randomisation is full") == (
        80132,
        10,
    )
    assert rule("ospatrol: cis: score: policy 'p': 56.3% (was 60.1%)") == (81002, 6)
    assert rule("ospatrol: cis: score: policy 'p': 56.3%") == (81001, 3)
    expired = "ospatrol: cis: waiver expired: policy '*' check '3': expired on 2000-01-01 (x)"
    assert rule(expired) == (81003, 8)

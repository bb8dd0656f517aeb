"""Evaluation as plain functions over `Facts`: content semantics, conditions, polarity."""

from __future__ import annotations

import pytest

from ospatrol.policy.evaluate import evaluate_check, evaluate_policy
from ospatrol.policy.facts import CommandFact, Facts, PathFact
from ospatrol.policy.gather import PS_COMMAND
from ospatrol.policy.model import Check, Policy
from ospatrol.policy.rootcheck import parse_rootcheck
from ospatrol.policy.rules import HOST_KINDS, Syntax, parse_rule

SCA4 = Syntax("osregex", HOST_KINDS, lenient_ops=True, strict=False)
SCA5 = Syntax("pcre2", HOST_KINDS, strict=False)
SSHD = "# comment\nPort 22\nPermitRootLogin no\nMaxAuthTries 6\n"


def facts(**files: str | None) -> Facts:
    result = Facts()
    for name, content in files.items():
        path = "/" + name.replace("__", "/")
        result.paths[path] = PathFact("n") if content is None else PathFact("f", content)
    return result


def check(*rules: str, condition: str = "all", syntax: Syntax = SCA5) -> Check:
    return Check("1", "t", condition, tuple(parse_rule(r, syntax) for r in rules))  # type: ignore[arg-type]


def status(chk: Check, fx: Facts) -> str:
    return evaluate_check(chk, fx).status


SSHD_FACTS = facts(etc__ssh__sshd_config=SSHD, etc__missing=None)


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("f:/etc/ssh/sshd_config", "passed"),
        ("f:/etc/missing", "failed"),
        ("not f:/etc/missing", "passed"),
        ("f:/etc/ssh/sshd_config -> r:^PermitRootLogin\\s+no", "passed"),
        ("f:/etc/ssh/sshd_config -> r:^permitrootlogin", "passed"),  # 5.x: caseless
        ("f:/etc/ssh/sshd_config -> !r:^# && r:MaxAuthTries", "passed"),
        ("f:/etc/ssh/sshd_config -> !r:^#", "failed"),  # a lone negation: NO line may match
        ("f:/etc/ssh/sshd_config -> !r:^Protocol", "passed"),
        ("f:/etc/ssh/sshd_config -> n:^MaxAuthTries\\s+(\\d+) compare <= 4", "failed"),
        ("f:/etc/ssh/sshd_config -> n:^MaxAuthTries\\s+(\\d+) compare > 4", "passed"),
        ("not f:/etc/ssh/sshd_config -> n:^MaxAuthTries\\s+(\\d+) compare > 4", "failed"),
        ("f:/etc/ssh/sshd_config -> Port 22", "passed"),  # literal: the whole line
        ("f:/etc/ssh/sshd_config -> Port 2", "failed"),
        ("f:/etc/missing -> r:x", "not applicable"),  # content of a missing file: invalid
        ("not f:/etc/missing -> r:x", "not applicable"),  # `not` leaves invalid alone
        ("f:/etc/missing,/etc/ssh/sshd_config -> r:^Port", "passed"),
        ("r:HKLM\\SOFTWARE -> x", "not applicable"),
    ],
)
def test_file_rules(rule: str, expected: str):
    assert status(check(rule), SSHD_FACTS) == expected


def test_osregex_dialect_of_4x():
    fx = facts(etc__x="a.b\nminlen = 14\n")
    # OS_Regex: `\.` is any character, and stays case-insensitive
    assert status(check("f:/etc/x -> r:A\\.B", syntax=SCA4), fx) == "passed"
    assert status(check("f:/etc/x -> r:a\\.c", syntax=SCA4), fx) == "failed"
    # `(d+)` (a stock typo) is a literal d+ in OS_Regex: it never captures a number
    assert status(check("f:/etc/x -> n:minlen = (d+) compare >= 2", syntax=SCA4), fx) == "failed"
    assert status(check("f:/etc/x -> n:minlen = (\\d+) compare => 14", syntax=SCA4), fx) == "passed"


def test_pcre2_of_4x_is_case_sensitive():
    syntax = Syntax("pcre2-case", HOST_KINDS)
    fx = facts(etc__x="PermitRootLogin no\n")
    assert status(check("f:/etc/x -> r:^PermitRootLogin", syntax=syntax), fx) == "passed"
    assert status(check("f:/etc/x -> r:^permitrootlogin", syntax=syntax), fx) == "failed"


@pytest.mark.parametrize(
    ("condition", "values", "expected"),
    [
        ("all", "TT", "passed"),
        ("all", "TF", "failed"),
        ("all", "TN", "not applicable"),
        ("all", "FN", "failed"),
        ("all", "TR", "not run"),
        ("any", "FT", "passed"),
        ("any", "FF", "failed"),
        ("any", "FN", "not applicable"),
        ("any", "NT", "passed"),
        ("none", "FF", "passed"),
        ("none", "FT", "failed"),
        ("none", "FN", "not applicable"),
    ],
)
def test_condition_table(condition: str, values: str, expected: str):
    rules = {
        "T": "f:/etc/yes",
        "F": "f:/etc/no",
        "N": "f:/etc/no -> r:x",
        "R": "c:sleep 100",
    }
    fx = facts(etc__yes="y\n", etc__no=None)
    fx.commands["sleep 100"] = CommandFact("", None, timed_out=True)
    assert status(check(*(rules[v] for v in values), condition=condition), fx) == expected


def test_command_rules():
    fx = Facts()
    fx.commands["sshd -T"] = CommandFact("port 22\nmaxauthtries 3\n", 0)
    fx.commands["nosuch"] = CommandFact("sh: 1: nosuch: not found\n", 127)
    fx.commands["hangs"] = CommandFact("partial", None, timed_out=True)
    assert status(check("c:sshd -T -> n:^maxauthtries\\s+(\\d+) compare <= 4"), fx) == "passed"
    assert status(check("c:nosuch -> r:x"), fx) == "not applicable"
    outcome = evaluate_check(check("c:hangs -> r:x"), fx)
    assert (outcome.status, outcome.reason) == ("not run", "c:hangs -> r:x: 'hangs' timed out")
    assert status(check("c:never fetched -> r:x"), fx) == "not run"


def test_directory_rules():
    fx = facts(etc__sudoers_d__a="Defaults use_pty\n", etc__sudoers_d__b="# x\n")
    fx.paths["/etc/sudoers.d"] = PathFact("d")
    fx.listings["/etc/sudoers.d"] = ("/etc/sudoers.d/a", "/etc/sudoers.d/b")
    fx.listings["/nodir"] = None
    fx.paths = {k.replace("sudoers_d", "sudoers.d"): v for k, v in fx.paths.items()}
    assert status(check("d:/etc/sudoers.d"), fx) == "passed"
    assert status(check("d:/etc/sudoers.d -> r:^a$"), fx) == "passed"
    assert status(check("d:/etc/sudoers.d -> c"), fx) == "failed"  # literal name
    assert status(check("d:/etc/sudoers.d/* -> r:\\w -> r:use_pty"), fx) == "passed"
    assert status(check("d:/etc/sudoers.d -> b -> r:use_pty"), fx) == "failed"
    assert status(check("d:/nodir -> r:x -> r:y"), fx) == "not applicable"


def test_process_rule():
    fx = Facts()
    fx.commands[PS_COMMAND] = CommandFact("sshd\ncron\n\n/usr/sbin/sshd -D\n/usr/sbin/cron -f\n", 0)
    assert status(check("p:sshd"), fx) == "passed"
    assert status(check("not p:avahi-daemon"), fx) == "passed"
    assert status(check("p:auditd"), fx) == "failed"


def test_rootcheck_polarity_and_requirements():
    policy = parse_rootcheck(
        """$conf=/etc/ssh/sshd_config;
[Required] [any required] []
f:/etc/ssh/sshd_config;

[SSH root login allowed {PCI_DSS: 2.2.4}] [any] []
f:$conf -> !r:^# && r:PermitRootLogin\\.+yes;

[SSH port 22] [any] []
f:$conf -> !r:^# && r:Port\\.+22;

[No hosts.deny] [all] []
f:!/etc/missing;
""",
        "test_rcl.txt",
    )
    outcomes = {o.check_id: o.status for o in evaluate_policy(policy, SSHD_FACTS)}
    assert outcomes == {"1": "passed", "2": "failed", "3": "failed"}
    unmet = evaluate_policy(policy, facts(etc__ssh__sshd_config=None, etc__missing=None))
    assert {o.status for o in unmet} == {"not applicable"}


def test_requirements_gate_sca_policies():
    requirement = check("f:/etc/debian_version -> r:^12")
    policy = Policy("p", "p", "p.yml", "sca5", (check("f:/etc/missing"),), requirements=requirement)
    assert evaluate_policy(policy, facts(etc__debian_version="11.2\n", etc__missing=None))[
        0
    ].status == ("not applicable")
    assert evaluate_policy(policy, facts(etc__debian_version="12.1\n", etc__missing=None))[
        0
    ].status == ("failed")

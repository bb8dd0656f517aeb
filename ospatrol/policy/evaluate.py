"""Evaluate checks over `Facts`: plain functions, no I/O.

A rule gives `True` (it holds), `False`, `None` (cannot be evaluated: Wazuh's "invalid", e.g. a
content rule on a missing file, a command the host lacks, a registry rule off Windows) or
`NOT_RUN` (what it needs never arrived: a command that timed out, a run cut short). `not` inverts
only `True`/`False`. A check combines its rules as SCA does:

| condition | failed when | else not run / not applicable when | else |
| --- | --- | --- | --- |
| all  | a rule is False | a rule is NOT_RUN / None | passed |
| any  | no rule True and one is False | no rule True and one NOT_RUN / None | passed |
| none | a rule is True | a rule is NOT_RUN / None | passed |

Content is matched line by line: a line matches when every term holds on it; a content of one
negated term (`!r:X`) holds when no line matches X. Rootcheck policies (polarity `finding`) treat
what cannot be evaluated as "not found" and report a check whose condition matches as failed.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass

from ospatrol.escape import escape
from ospatrol.policy.facts import Facts, listed_files
from ospatrol.policy.gather import PS_COMMAND, listing_root
from ospatrol.policy.model import (
    FAILED,
    NOT_APPLICABLE,
    NOT_RUN,
    PASSED,
    Check,
    CheckOutcome,
    Content,
    Policy,
    Rule,
    Term,
)

NOT_FOUND_STATUSES = (126, 127)
EVIDENCE_CHARS = 200


class _NotRun:
    def __repr__(self) -> str:
        return "NOT_RUN"


NOT_RUN_VALUE = _NotRun()


class InvalidTerm(Exception):
    """A term that cannot be evaluated (see `Term`): its rule is not applicable."""


@dataclass(frozen=True)
class RuleValue:
    value: bool | _NotRun | None
    reason: str = ""
    evidence: str = ""


def lines_of(text: str) -> list[str]:
    lines = text.replace("\r\n", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _compare(value: float, op: str, wanted: float) -> bool:
    return {
        "<": value < wanted,
        "<=": value <= wanted,
        "==": value == wanted,
        "!=": value != wanted,
        ">=": value >= wanted,
        ">": value > wanted,
    }[op]


def _term_matches(term: Term, line: str) -> bool:
    """Whether the term's positive form matches `line` (negation not applied)."""
    if term.kind == "regex":
        return term.pattern.test(line)  # type: ignore[union-attr]
    if term.kind == "numeric":
        found = term.pattern.search(line)  # type: ignore[union-attr]
        if found is None or not found.groups:
            return False
        try:
            number = float(found.groups[0])
        except ValueError:
            return False
        return _compare(number, term.op, term.value)
    if term.kind == "literal":
        return line.lower() == term.source.lower() if term.caseless else line == term.source
    if term.kind == "less":
        return line < term.source
    if term.kind == "greater":
        return line > term.source
    raise InvalidTerm(term.source)


def content_matches(content: Content, lines: Sequence[str]) -> tuple[bool, str]:
    """(matches, evidence line). InvalidTerm when a term cannot be evaluated."""
    if content.only_negated:
        inner = content.terms[0]
        for line in lines:
            if _term_matches(inner, line):
                return False, line
        return True, ""
    for line in lines:
        if all(_term_matches(t, line) != t.negate for t in content.terms):
            return True, line
    return False, ""


def count_matches(content: Content, lines: Sequence[str]) -> int:
    return sum(1 for line in lines if content_matches(content, [line])[0])


def _short(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= EVIDENCE_CHARS else flat[:EVIDENCE_CHARS] + "..."


def _with_content(rule: Rule, text: str, where: str) -> RuleValue:
    lines = lines_of(text)
    if rule.count is not None:
        assert rule.content is not None
        found = count_matches(rule.content, lines)
        op, wanted = rule.count
        holds = _compare(found, op, wanted)
        return RuleValue(holds, f"{found} matching line(s) in {where}, wanted {op} {wanted:g}")
    assert rule.content is not None
    matched, line = content_matches(rule.content, lines)
    return RuleValue(
        matched, f"{where}: {'matched' if matched else 'no line matched'}", _short(line)
    )


def rule_value(rule: Rule, facts: Facts, *, rootcheck: bool = False) -> RuleValue:
    """The rule's value before `not` (see the module docstring)."""
    try:
        if rule.kind == "f":
            return _file_rule(rule, facts, rootcheck)
        if rule.kind == "d":
            return _dir_rule(rule, facts, rootcheck)
        if rule.kind == "p":
            return _process_rule(rule, facts)
        if rule.kind == "c":
            return _command_rule(rule, facts)
        if rule.kind == "r":
            return RuleValue(None, "registry rules apply to Windows only")
        if rule.kind == "w":
            from ospatrol.policy.walk import walk_rule

            return walk_rule(rule, facts)
        from ospatrol.policy.device import device_rule

        return device_rule(rule, facts)
    except InvalidTerm as exc:
        return RuleValue(None, f"cannot evaluate: {exc}")


def _file_rule(rule: Rule, facts: Facts, rootcheck: bool) -> RuleValue:
    missing = []
    values: list[RuleValue] = []
    for path in rule.targets:
        fact = facts.paths.get(path)
        if fact is None:
            return RuleValue(NOT_RUN_VALUE, f"{path} was not fetched")
        if rule.content is None:
            if fact.exists:
                return RuleValue(True, f"{path} exists")
            missing.append(path)
            continue
        if fact.content is None:
            missing.append(path)
            continue
        value = _with_content(rule, fact.content, path)
        if value.value is True:
            return value
        values.append(value)
    if values:
        return values[0]
    if rule.content is None or rootcheck:
        return RuleValue(False, f"not found: {', '.join(missing)}")
    return RuleValue(None, f"cannot read: {', '.join(missing)}")


def _dir_rule(rule: Rule, facts: Facts, rootcheck: bool) -> RuleValue:
    roots = [listing_root(t) for t in rule.targets]
    if rule.name is None:
        facts_of = [facts.paths.get(r) for r in roots]
        if any(f is None for f in facts_of):
            return RuleValue(NOT_RUN_VALUE, "directory was not fetched")
        found = [r for r, f in zip(roots, facts_of, strict=True) if f and f.state == "d"]
        return RuleValue(bool(found), f"directory {'exists' if found else 'not found'}")
    if any(r not in facts.listings for r in roots):
        return RuleValue(NOT_RUN_VALUE, "directory listing was not fetched")
    if all(facts.listings[r] is None for r in roots):
        if rootcheck:
            return RuleValue(False, f"no directory {', '.join(roots)}")
        return RuleValue(None, f"no directory {', '.join(roots)}")
    named = [
        p
        for p in listed_files(rule.targets, facts)
        if content_matches(rule.name, [posixpath.basename(p)])[0]
    ]
    if rule.content is None:
        evidence = named[0] if named else ""
        return RuleValue(bool(named), f"{len(named)} file(s) named {rule.name.source}", evidence)
    last = RuleValue(False, f"no file named {rule.name.source} matched")
    for path in named:
        fact = facts.paths.get(path)
        if fact is None:
            return RuleValue(NOT_RUN_VALUE, f"{path} was not fetched")
        if fact.content is None:
            continue
        value = _with_content(rule, fact.content, escape(path))
        if value.value is True:
            return value
        last = value
    return last


def _process_rule(rule: Rule, facts: Facts) -> RuleValue:
    fact = facts.commands.get(PS_COMMAND)
    if fact is None or fact.timed_out:
        return RuleValue(NOT_RUN_VALUE, "process list was not fetched")
    names, _, args = fact.output.partition("\n\n")
    if not names.strip():
        return RuleValue(None, "no process list (ps failed)")
    wanted = rule.targets[0]
    for name in lines_of(names):
        if name.strip() == wanted:
            return RuleValue(True, f"process {wanted} is running", name.strip())
    for line in lines_of(args):
        argv0 = line.strip().split(" ", 1)[0]
        if wanted in (argv0, posixpath.basename(argv0), line.strip()):
            return RuleValue(True, f"process {wanted} is running", _short(line))
    return RuleValue(False, f"no process {wanted}")


def _command_rule(rule: Rule, facts: Facts) -> RuleValue:
    command = rule.targets[0]
    fact = facts.commands.get(command)
    if fact is None:
        if facts.device is not None:
            return RuleValue(NOT_RUN_VALUE, f"no output of {command!r} was given")
        return RuleValue(NOT_RUN_VALUE, f"{command!r} was not run")
    if fact.timed_out:
        return RuleValue(NOT_RUN_VALUE, f"{command!r} timed out")
    if fact.status in NOT_FOUND_STATUSES:
        return RuleValue(None, f"{command!r}: command not found")
    if rule.content is None:
        return RuleValue(fact.status == 0, f"{command!r} exited {fact.status}")
    return _with_content(rule, fact.output, f"output of {command!r}")


def apply_not(rule: Rule, value: RuleValue) -> RuleValue:
    if rule.negate and isinstance(value.value, bool):
        return RuleValue(not value.value, value.reason, value.evidence)
    return value


def evaluate_check(check: Check, facts: Facts, *, polarity: str = "compliant") -> CheckOutcome:
    rootcheck = polarity == "finding"
    values = [apply_not(r, rule_value(r, facts, rootcheck=rootcheck)) for r in check.rules]
    if rootcheck:
        return _rootcheck_outcome(check, values)
    pairs = list(zip(check.rules, values, strict=True))

    def first(wanted) -> tuple[Rule, RuleValue] | None:
        return next(((r, v) for r, v in pairs if v.value is wanted), None)

    decisive = {"all": False, "any": True, "none": True}[check.condition]
    hit = first(decisive)
    if hit is not None:
        rule, value = hit
        status = PASSED if check.condition == "any" else FAILED
        return CheckOutcome(check.id, status, f"{rule.source}: {value.reason}", value.evidence)
    for wanted, status in ((NOT_RUN_VALUE, NOT_RUN), (None, NOT_APPLICABLE)):
        hit = first(wanted)
        if hit is not None:
            rule, value = hit
            return CheckOutcome(check.id, status, f"{rule.source}: {value.reason}")
    if check.condition == "any":
        rule, value = pairs[0]
        return CheckOutcome(check.id, FAILED, f"no rule held; {rule.source}: {value.reason}")
    return CheckOutcome(
        check.id, PASSED, "every rule held" if check.condition == "all" else "no rule held"
    )


def _rootcheck_outcome(check: Check, values: list[RuleValue]) -> CheckOutcome:
    """A rootcheck check matches (a finding: failed) like OSSEC: any/all entries found."""
    if any(v.value is NOT_RUN_VALUE for v in values):
        why = next(v for v in values if v.value is NOT_RUN_VALUE)
        return CheckOutcome(check.id, NOT_RUN, why.reason)
    found = [v.value is True for v in values]
    if check.condition == "all":
        matched = all(found)
    elif check.condition == "none":
        matched = not any(found)
    else:
        matched = any(found)
    if matched:
        hit = next((v for v in values if v.value is True), values[0])
        return CheckOutcome(check.id, FAILED, f"matched: {hit.reason}", hit.evidence)
    return CheckOutcome(check.id, PASSED, "no match")


def requirements_met(policy: Policy, facts: Facts) -> CheckOutcome | None:
    """None when the policy applies; else the outcome explaining why it does not."""
    if policy.requirements is None:
        return None
    outcome = evaluate_check(policy.requirements, facts, polarity=policy.polarity)
    holds = outcome.status == (FAILED if policy.polarity == "finding" else PASSED)
    return None if holds else outcome


def evaluate_policy(policy: Policy, facts: Facts) -> list[CheckOutcome]:
    """Every check's outcome; all "not applicable" when the requirements do not hold."""
    unmet = requirements_met(policy, facts)
    if unmet is not None:
        reason = f"requirements not met ({unmet.status}): {unmet.reason}"
        return [CheckOutcome(c.id, NOT_APPLICABLE, reason) for c in policy.checks]
    return [evaluate_check(c, facts, polarity=policy.polarity) for c in policy.checks]

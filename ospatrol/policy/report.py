"""Policy results as JSON, text and JUnit XML (one test case per check).

Evidence lines come from the host: they are masked like any stored output
(`ospatrol.scrub`) and escaped (`ospatrol.escape`), so they can neither leak a credential
nor reach a terminal as control characters. Reasons are built by the evaluator from the policy's
own text, with any host-controlled part (a listed file name) already escaped.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree

from ospatrol.escape import escape
from ospatrol.policy.model import FAILED, NOT_APPLICABLE, NOT_RUN, PASSED, WAIVED
from ospatrol.policy.runner import PolicyRun
from ospatrol.scrub import base_scrubber


@dataclass(frozen=True)
class HostResult:
    """All policies of one host, or why the host could not be checked."""

    host: str
    runs: tuple[PolicyRun, ...] = ()
    error: str = ""
    waived: dict[tuple[str, str], str] = field(default_factory=dict)
    """(policy id, check id) -> waiver note, for failures a waiver turned into `waived`."""


def shown(text: str) -> str:
    """Host-controlled text (evidence lines, host errors) as it may be stored and shown."""
    return escape(base_scrubber().text(text))


def score(statuses: list[str]) -> float | None:
    """passed / (passed + failed) * 100, as Wazuh computes it (N/A and not run excluded)."""
    passed, failed = statuses.count(PASSED), statuses.count(FAILED)
    return None if passed + failed == 0 else round(100 * passed / (passed + failed), 1)


def status_of(result: HostResult, run: PolicyRun, check_id: str, status: str) -> str:
    return WAIVED if status == FAILED and (run.policy.id, check_id) in result.waived else status


def to_dict(results: list[HostResult]) -> dict[str, Any]:
    hosts = []
    for result in results:
        policies = []
        for run in result.runs:
            checks = []
            for outcome in run.outcomes:
                check = run.policy.check(outcome.check_id)
                assert check is not None
                status = status_of(result, run, outcome.check_id, outcome.status)
                entry: dict[str, Any] = {
                    "id": outcome.check_id,
                    "title": check.title,
                    "status": status,
                    "reason": outcome.reason,
                    "evidence": shown(outcome.evidence),
                    "compliance": {k: list(v) for k, v in check.compliance.items()},
                }
                if status in (FAILED, WAIVED):
                    entry["rationale"] = check.rationale
                    entry["remediation"] = check.remediation
                if status == WAIVED:
                    entry["waiver"] = result.waived[(run.policy.id, outcome.check_id)]
                if check.agentless_conflict:
                    entry["agentless_conflict"] = check.agentless_conflict
                checks.append(entry)
            statuses = [c["status"] for c in checks]
            policies.append(
                {
                    "id": run.policy.id,
                    "name": run.policy.name,
                    "file": run.policy.path,
                    "applicable": run.applicable,
                    "round_trips": run.round_trips,
                    "score": score([s for s in statuses if s != WAIVED]),
                    "counts": dict(Counter(statuses)),
                    "checks": checks,
                }
            )
        hosts.append({"name": result.host, "error": shown(result.error), "policies": policies})
    return {"hosts": hosts}


def render_json(results: list[HostResult]) -> str:
    return json.dumps(to_dict(results), indent=2, ensure_ascii=False) + "\n"


def render_text(results: list[HostResult], *, verbose: bool = False) -> str:
    lines = []
    for host in to_dict(results)["hosts"]:
        if host["error"]:
            lines.append(f"{host['name']}: not checked: {host['error']}")
            continue
        for policy in host["policies"]:
            counts = ", ".join(f"{n} {s}" for s, n in sorted(policy["counts"].items()))
            score_text = "n/a" if policy["score"] is None else f"{policy['score']:g}%"
            lines.append(f"{host['name']}: {policy['id']}: score {score_text} ({counts})")
            for check in policy["checks"]:
                if verbose or check["status"] in (FAILED, WAIVED):
                    lines.append(f"  [{check['status']}] {check['id']} {check['title']}")
                    if check["status"] != PASSED and check["reason"]:
                        lines.append(f"      {check['reason']}")
    return "\n".join(lines) + "\n"


def render_junit(results: list[HostResult]) -> str:
    """JUnit XML: a suite per host and policy, a test case per check; failed -> <failure>,
    not applicable / not run / waived -> <skipped>. Texts are already escaped (`shown`), so no
    control character XML 1.0 refuses can reach the document."""
    suites = ElementTree.Element("testsuites", name="ospatrol check")
    for host in to_dict(results)["hosts"]:
        if host["error"]:
            suite = ElementTree.SubElement(
                suites, "testsuite", name=host["name"], tests="1", errors="1"
            )
            case = ElementTree.SubElement(
                suite, "testcase", classname=host["name"], name="reachable"
            )
            ElementTree.SubElement(case, "error", message=host["error"])
            continue
        for policy in host["policies"]:
            statuses = [c["status"] for c in policy["checks"]]
            suite = ElementTree.SubElement(
                suites,
                "testsuite",
                name=f"{host['name']}.{policy['id']}",
                tests=str(len(statuses)),
                failures=str(statuses.count(FAILED)),
                skipped=str(len(statuses) - statuses.count(FAILED) - statuses.count(PASSED)),
            )
            for check in policy["checks"]:
                case = ElementTree.SubElement(
                    suite,
                    "testcase",
                    classname=f"{host['name']}.{policy['id']}",
                    name=f"{check['id']} {check['title']}",
                )
                if check["status"] == FAILED:
                    failure = ElementTree.SubElement(case, "failure", message=check["reason"])
                    failure.text = check["evidence"]
                elif check["status"] in (NOT_APPLICABLE, NOT_RUN, WAIVED):
                    note = check.get("waiver") or check["reason"]
                    ElementTree.SubElement(case, "skipped", message=f"{check['status']}: {note}")
    return ElementTree.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


RENDERERS = {"text": render_text, "json": render_json, "junit": render_junit}

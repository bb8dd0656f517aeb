"""Render an audit run (`ospatrol.audit.records.RunRecord`) as text, JSON, HTML, JUnit XML or a
three-line summary.

Text, HTML, JUnit and the summary come from jinja2 templates in the shipped `templates/` folder
(HTML and XML autoescaped); JSON is built here from `run_to_dict`, whose shape
`docs/report-json.md` documents and tests pin. Renderers are pure: a record in, a string out.

Audited hosts control much of what a report shows (file names, contents, command output), so no
renderer lets a control character through: templates show every such text through `shown`/`lines`
(`ospatrol.escape`, line by line for multi-line texts), and the JSON text escapes what JSON itself
would leave raw (DEL, C1 controls, undecodable bytes), so any input gives a report that parses.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from ospatrol.audit.records import (
    HOST_STATUSES,
    HostReport,
    ReportedFinding,
    RunRecord,
    exit_status,
)
from ospatrol.collect.config_classify import parse_event_head
from ospatrol.escape import escape
from ospatrol.paths import data_dir

FORMATS = ("text", "json", "html", "junit", "summary")
JSON_SCHEMA_VERSION = 1
TEMPLATES = {
    "text": "audit-report.txt",
    "html": "audit-report.html",
    "junit": "audit-report.junit.xml",
    "summary": "audit-report.summary.txt",
}
SUBJECT_KEYS = {"fim": "path", "commands": "command", "config": "command"}
"""Collectors whose subject is a file path or a command get it under that name in JSON too."""
_JSON_RAW = re.compile(r"[\x7f-\x9f\ud800-\udfff]")
"""What `json.dumps(ensure_ascii=False)` writes raw but a terminal or a UTF-8 encoder chokes on."""


def render(record: RunRecord, fmt: str, template_dir: Path | None = None) -> str:
    """The report of `record` in format `fmt` (one of FORMATS)."""
    if fmt == "json":
        text = json.dumps(run_to_dict(record), indent=2, ensure_ascii=False)
        return _JSON_RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", text) + "\n"
    if fmt not in TEMPLATES:
        raise ValueError(f"unknown report format {fmt!r}; expected one of {', '.join(FORMATS)}")
    template = _environment(template_dir or data_dir("templates")).get_template(TEMPLATES[fmt])
    run = run_to_dict(record)
    extra = {"suites": junit_suites(run)} if fmt == "junit" else {}
    return template.render(run=run, record=record, **extra)


@cache
def _environment(template_dir: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir)),
        autoescape=jinja2.select_autoescape(["html", "xml"], default=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(
        shown=_shown,
        lines=_lines,
        difflines=_diff_lines,
        hosts_by_severity=hosts_by_severity,
        findings_by_severity=findings_by_severity,
        collectors_seen=_collectors_seen,
        config_change=_config_change,
        facts_line=_facts_line,
    )
    return env


def _shown(value: Any) -> str:
    """One line of host-controlled text as it may be shown (`ospatrol.escape`)."""
    return escape("" if value is None else str(value))


def _lines(text: str | None) -> list[str]:
    """A multi-line text as shown lines: split on newlines only, each line escaped."""
    if not text:
        return []
    return [escape(line) for line in text.split("\n")]


def _facts_line(facts: Mapping[str, str]) -> str:
    """A host's facts on one shown line: `model: X | os version: Y`."""
    return " | ".join(f"{name.replace('_', ' ')}: {escape(value)}" for name, value in facts.items())


def _diff_lines(diff: str | None) -> list[tuple[str, str]]:
    """(css class, shown line) pairs of a unified diff, for the HTML report."""
    classes = {"+": "add", "-": "del", "@": "hunk"}
    result = []
    for line in (diff or "").split("\n"):
        kind = "meta" if line.startswith(("+++", "---")) else classes.get(line[:1], "ctx")
        result.append((kind, escape(line)))
    return result


def _config_change(finding: Mapping[str, Any]) -> tuple[str, str] | None:
    """(kind, block header) of a classified device config change (JSON view in), else None."""
    if finding["collector"] != "config" or not finding["event"]:
        return None
    return parse_event_head(finding["event"])


def _level(finding: Mapping[str, Any]) -> int:
    return -1 if finding["level"] is None else finding["level"]


def hosts_by_severity(hosts: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Hosts (JSON views) worst first: by their worst finding's level, then, among equals, a
    host not fully audited before one that was, then by name."""
    return sorted(
        hosts,
        key=lambda h: (
            -(-1 if h["worst_level"] is None else h["worst_level"]),
            -HOST_STATUSES.index(h["status"]),
            h["name"],
        ),
    )


def findings_by_severity(findings: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Findings (JSON views) highest level first, then by collector and subject."""
    return sorted(findings, key=lambda f: (-_level(f), f["collector"], f["subject"]))


def _collectors_seen(hosts: Iterable[Mapping[str, Any]]) -> list[str]:
    return sorted({f["collector"] for h in hosts for f in h["findings"]})


def iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return (
        datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    )


def run_to_dict(record: RunRecord) -> dict[str, Any]:
    """The documented JSON shape of a run (docs/report-json.md); keys are stable."""
    hosts = [_host_to_dict(h, record.alert_level) for h in record.hosts]
    levels = Counter(f.level for h in record.hosts for f in h.findings)
    return {
        "schema": JSON_SCHEMA_VERSION,
        "run": {
            "id": record.id,
            "started": iso(record.started),
            "finished": iso(record.finished),
            "dry_run": record.dry_run,
            "status": record.status,
            "alert_level": record.alert_level,
            "collectors": list(record.collectors),
        },
        "summary": {
            "hosts": len(record.hosts),
            "by_status": {s: sum(1 for h in record.hosts if h.status == s) for s in HOST_STATUSES},
            "findings": sum(len(h.findings) for h in record.hosts),
            "alerting_findings": len(record.alerting_findings()),
            "by_level": [
                {
                    "level": level,
                    "findings": count,
                    "alert": level is not None and level >= record.alert_level,
                }
                for level, count in sorted(
                    levels.items(),
                    key=lambda item: -1 if item[0] is None else item[0],
                    reverse=True,
                )
            ],
            "baseline_changed": record.baseline_changed,
            "exit_status": exit_status(record),
        },
        "hosts": hosts,
    }


def _host_to_dict(host: HostReport, threshold: int) -> dict[str, Any]:
    levels = [f.level for f in host.findings if f.level is not None]
    return {
        "name": host.name,
        "address": host.address,
        "platform": host.platform,
        "groups": list(host.groups),
        "facts": dict(host.facts),
        "status": host.status,
        "error": host.error,
        "baseline_changed": host.baseline_changed,
        "duration": round(host.duration, 3),
        "worst_level": max(levels, default=None),
        "collectors": [
            {"name": c.name, "status": c.status, "error": c.error} for c in host.collectors
        ],
        "findings": [_finding_to_dict(f, threshold) for f in host.findings],
    }


def _finding_to_dict(reported: ReportedFinding, threshold: int) -> dict[str, Any]:
    finding = reported.finding
    result: dict[str, Any] = {"collector": finding.collector, "kind": finding.kind}
    key = SUBJECT_KEYS.get(finding.collector)
    if key:
        result[key] = finding.subject
    result.update(
        {
            "subject": finding.subject,
            "detail": finding.detail,
            "diff": finding.diff,
            "rule": reported.rule,
            "level": reported.level,
            "description": reported.description,
            "alert": reported.at_or_above(threshold),
            "event": finding.event_text,
        }
    )
    return result


def junit_suites(run: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The JUnit view of a run (JSON view in): one suite per host, one case per collector.

    A case is an `error` when the collector (or the host) could not be audited, `skipped` when the
    collector did not run, a `failure` when a finding reached the alert level, and passes
    otherwise; findings below the alert level are passes with a note (`notes`), as CI
    dashboards expect. Counts are on every suite and on the whole."""
    suites = []
    for host in run["hosts"]:
        outcomes = {c["name"]: c for c in host["collectors"]}
        audit_events = [f["event"] for f in host["findings"] if f["collector"] == "audit"]
        cases = []
        for name in run["run"]["collectors"]:
            outcome = outcomes.get(name)
            found = [
                f for f in host["findings"] if f["collector"] == name and f["kind"] != "incomplete"
            ]
            alerting = [f for f in found if f["alert"]]
            case: dict[str, Any] = {
                "name": name,
                "outcome": "pass",
                "message": "",
                "type": "",
                "body": [],
                "notes": [
                    f"level {f['level']} (below {run['run']['alert_level']}): {f['event']}"
                    for f in found
                    if not f["alert"]
                ],
            }
            if host["status"] in ("unreachable", "error") and (
                outcome is None or outcome["status"] != "ok"
            ):
                case.update(
                    outcome="error", message=host["error"], type=host["status"], body=audit_events
                )
            elif outcome is not None and outcome["status"] in ("incomplete", "error"):
                case.update(outcome="error", message=outcome["error"], type=outcome["status"])
            elif outcome is None:
                case.update(outcome="skipped", message="not run")
            elif alerting:
                case.update(
                    outcome="failure",
                    message=f"{len(alerting)} finding(s) at or above level "
                    f"{run['run']['alert_level']}",
                    type="findings",
                    body=[f["event"] for f in alerting],
                )
            cases.append(case)
        counts = Counter(c["outcome"] for c in cases)
        suites.append(
            {
                "host": host,
                "cases": cases,
                "tests": len(cases),
                "failures": counts["failure"],
                "errors": counts["error"],
                "skipped": counts["skipped"],
            }
        )
    return suites

"""Render an audit run (`ospatrol.audit.records.RunRecord`) as text, JSON, HTML or JUnit XML.

Text, HTML and JUnit come from jinja2 templates in the shipped `templates/` folder (HTML and XML
autoescaped); JSON is built here from `run_to_dict`, whose shape `docs/report-json.md` documents
and tests pin. Renderers are pure: a record in, a string out.
"""

from __future__ import annotations

import json
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
from ospatrol.paths import data_dir

FORMATS = ("text", "json", "html", "junit")
JSON_SCHEMA_VERSION = 1
TEMPLATES = {
    "text": "audit-report.txt",
    "html": "audit-report.html",
    "junit": "audit-report.junit.xml",
}
SUBJECT_KEYS = {"fim": "path", "commands": "command", "config": "command"}
"""Collectors whose subject is a file path or a command get it under that name in JSON too."""


def render(record: RunRecord, fmt: str, template_dir: Path | None = None) -> str:
    """The report of `record` in format `fmt` (one of FORMATS)."""
    if fmt == "json":
        return json.dumps(run_to_dict(record), indent=2, ensure_ascii=False) + "\n"
    if fmt not in TEMPLATES:
        raise ValueError(f"unknown report format {fmt!r}; expected one of {', '.join(FORMATS)}")
    template = _environment(template_dir or data_dir("templates")).get_template(TEMPLATES[fmt])
    return template.render(run=run_to_dict(record), record=record)


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
    env.filters["difflines"] = _diff_lines
    return env


def _diff_lines(diff: str | None) -> list[tuple[str, str]]:
    """(css class, line) pairs of a unified diff, for the HTML report."""
    classes = {"+": "add", "-": "del", "@": "hunk"}
    lines = []
    for line in (diff or "").splitlines():
        kind = "meta" if line.startswith(("+++", "---")) else classes.get(line[:1], "ctx")
        lines.append((kind, line))
    return lines


def iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return (
        datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    )


def run_to_dict(record: RunRecord) -> dict[str, Any]:
    """The documented JSON shape of a run (docs/report-json.md); keys are stable."""
    hosts = [_host_to_dict(h, record.alert_level) for h in record.hosts]
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
            "baseline_changed": record.baseline_changed,
            "exit_status": exit_status(record),
        },
        "hosts": hosts,
    }


def _host_to_dict(host: HostReport, threshold: int) -> dict[str, Any]:
    return {
        "name": host.name,
        "address": host.address,
        "status": host.status,
        "error": host.error,
        "baseline_changed": host.baseline_changed,
        "duration": round(host.duration, 3),
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

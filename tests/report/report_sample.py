"""A hand-built run record for the renderer tests: hosts of every status, findings at several
levels (alerting and not), a long FIM detail, a command diff, and hostile texts."""

from __future__ import annotations

from ospatrol.audit.records import CollectorOutcome, HostReport, ReportedFinding, RunRecord
from ospatrol.model import Finding

DIFF = "--- a (previous)\n+++ a (current)\n@@ -1 +1 @@\n-old\n+<script>alert(1)</script>"
HASHES = (
    "Size changed from '193' to '220'\n"
    "Old sha256sum was: '3b0c4f1f2a2d1f3e3f9a3c8a8e1d2b6f5a4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a'\n"
    "New sha256sum is : '9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0'"
)
PORTS = "ss -tlnH 2>/dev/null || netstat -tln 2>/dev/null | tail -n +3"


def finding(host: str, collector: str, kind: str, subject: str, detail: str = "", diff=None):
    event = {
        "fim": f"Integrity checksum changed for: '{subject}'\n{detail}",
        "commands": f"ospatrol: command output changed: '{subject}'\n{diff or ''}",
        "audit": f"ospatrol: scan incomplete: {detail}",
    }[collector]
    return Finding(host, collector, kind, subject, detail, diff, event)


def record() -> RunRecord:
    both = (CollectorOutcome("fim", "ok"), CollectorOutcome("commands", "ok"))
    web1 = HostReport(
        "web1",
        "10.0.0.1",
        "ok",
        findings=(
            ReportedFinding(
                finding("web1", "commands", "changed", "listening TCP ports", "1 added", DIFF),
                80121,
                7,
                "Agentless: the output of a monitored command changed.",
            ),
            ReportedFinding(
                finding("web1", "fim", "attributes", "/usr/bin/tool", "Permissions changed"),
                80104,
                5,
                "File integrity: file attributes changed (content unchanged).",
            ),
            ReportedFinding(
                finding("web1", "fim", "changed", "/etc/<passwd>", HASHES),
                80101,
                10,
                "File integrity: the account database changed.",
            ),
        ),
        collectors=both,
        baseline_changed=True,
        duration=0.4,
        platform="linux",
        groups=("web", "prod"),
    )
    quiet = HostReport("app1", "10.0.0.3", "ok", collectors=both, platform="linux")
    db1 = HostReport(
        "db1",
        "10.0.0.2",
        "unreachable",
        "unreachable: connection refused",
        (
            ReportedFinding(
                finding("db1", "audit", "incomplete", "", "unreachable: connection refused"),
                80123,
                5,
                "Agentless: audit could not complete; the baseline was kept.",
            ),
        ),
        platform="linux",
        groups=("db",),
    )
    return RunRecord(
        7, 1_700_000_000.0, 1_700_000_005.5, (quiet, web1, db1), 7, False, ("fim", "commands")
    )

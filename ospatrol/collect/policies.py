"""The `cis` collector: the policies that apply to a host, run over the audit's connection.

A thin wrapper around `ospatrol.policy`: which policies apply is decided per host (a native
policy's `platforms`, then every policy's `requirements` on the host itself), plus the files the
host's `ospatrol_policies` var names (`ospatrol_walk_roots` narrows the filesystem walk to
those trees, `ospatrol_waivers` names a waivers file). The last statuses of each policy are the
collector's state (key = policy id), so the next audit tells:

- `ospatrol: cis: check regressed: policy 'P' check 'C': TITLE` -- passed before, failed now;
- `ospatrol: cis: check failed: ...` -- failed now, and not failed before (first run included);
- `ospatrol: cis: check passed: ...` -- failed before, passes now;
- `ospatrol: cis: score: policy 'P': 56.3% (was 60.1%)` -- when the score moved;
- `ospatrol: cis: waiver expired: policy 'P' check 'C': ...` -- a waiver that no longer holds.

Every outcome of the run is also recorded per run (`PutCheckResults`) for reports and the trend.
A failure a live waiver covers is recorded `waived` and raises no event.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from ospatrol.collect.base import CollectorResult, StateView, incomplete_finding
from ospatrol.errors import InputError
from ospatrol.model import Finding, Host
from ospatrol.policy.load import load_policy
from ospatrol.policy.model import FAILED, PASSED, WAIVED, Policy
from ospatrol.policy.report import score, shown
from ospatrol.policy.runner import Gatherer, PolicyRun, RunSettings, run_policy
from ospatrol.store.records import CheckRow, PutCheckResults, PutState

if TYPE_CHECKING:
    from ospatrol.policy.waivers import Waivers
    from ospatrol.transport import Transport

NAME = "cis"
POLICIES_VAR = "ospatrol_policies"
WAIVERS_VAR = "ospatrol_waivers"
WALK_ROOTS_VAR = "ospatrol_walk_roots"


def shipped_policies(folder: Path | None = None) -> list[Policy]:
    """The native policies of `cis/` (the repository's, or the wheel's copy)."""
    from ospatrol.paths import data_dir

    base = folder or data_dir("cis")
    return [load_policy(p) for p in sorted(base.glob("*.yml"))]


class PolicyCollector:
    """Runs each host's policies; see the module docstring."""

    name = NAME

    def __init__(
        self,
        policies: Sequence[Policy],
        settings: RunSettings | None = None,
        waivers: Waivers | None = None,
    ) -> None:
        self.policies = list(policies)
        self.settings = settings or RunSettings()
        self.waivers = waivers
        self._loaded: dict[str, Policy] = {}

    def policies_for(self, host: Host) -> list[Policy]:
        """Native policies whose platforms name the host's, third-party ones (no platforms:
        their requirements decide), and the files of the host's `ospatrol_policies` var."""
        chosen = [p for p in self.policies if not p.platforms or host.platform in p.platforms]
        extra = host.vars.get(POLICIES_VAR) or []
        if isinstance(extra, str):
            extra = [extra]
        for name in extra:
            if name not in self._loaded:
                self._loaded[name] = load_policy(Path(str(name)))
            chosen.append(self._loaded[name])
        return list({p.id: p for p in chosen}.values())

    async def collect(self, host: Host, transport: Transport, state: StateView) -> CollectorResult:
        from ospatrol.transport.errors import TransportError

        try:
            policies = self.policies_for(host)
            waivers = self._waivers_for(host, policies)
        except InputError as exc:
            reason = f"error: {exc}"
            finding = incomplete_finding(host.name, reason, collector=NAME)
            return CollectorResult(NAME, "error", (finding,), reason)
        gatherer = Gatherer(transport, self._settings_for(host))
        findings: list[Finding] = []
        updates: list[PutState | PutCheckResults] = []
        for policy in policies:
            try:
                run = await run_policy(policy, transport, gatherer)
            except TransportError as exc:
                reason = f"{getattr(exc, 'reason', '') or exc} (policy {policy.id})"
                finding = incomplete_finding(host.name, reason, collector=NAME)
                return CollectorResult(NAME, "incomplete", (finding,), reason)
            if not run.applicable:
                continue
            statuses = self._statuses(host, run, waivers)
            previous = state.get(policy.id)
            before = json.loads(previous.text) if previous is not None else None
            findings += changes(host.name, run, statuses, before)
            blob = json.dumps(statuses, sort_keys=True).encode()
            updates.append(PutState(policy.id, blob, hashlib.sha256(blob).hexdigest()))
            updates.append(PutCheckResults(policy.id, self._rows(run, statuses)))
        findings += _expired(host.name, waivers)
        return CollectorResult(NAME, "ok", tuple(findings), updates=tuple(updates))

    def _settings_for(self, host: Host) -> RunSettings:
        """The run settings, with the walk narrowed to the host's `ospatrol_walk_roots`."""
        roots = host.vars.get(WALK_ROOTS_VAR)
        if not roots:
            return self.settings
        if isinstance(roots, str):
            roots = [roots]
        return replace(self.settings, walk_roots=tuple(str(r) for r in roots))

    def _waivers_for(self, host: Host, policies: list[Policy]) -> Waivers | None:
        """The collector's waivers, or the file the host's `ospatrol_waivers` var names
        (validated against the host's policies: an unknown check id is an error)."""
        path = host.vars.get(WAIVERS_VAR)
        if not path:
            return self.waivers
        from ospatrol.policy.waivers import load_waivers

        return load_waivers(Path(str(path)), policies)

    @staticmethod
    def _statuses(host: Host, run: PolicyRun, waivers: Waivers | None) -> dict[str, str]:
        result = {}
        for outcome in run.outcomes:
            status = outcome.status
            if (
                status == FAILED
                and waivers is not None
                and waivers.note_for(host.name, run.policy.id, outcome.check_id)
            ):
                status = WAIVED
            result[outcome.check_id] = status
        return result

    @staticmethod
    def _rows(run: PolicyRun, statuses: dict[str, str]) -> tuple[CheckRow, ...]:
        return tuple(
            CheckRow(o.check_id, statuses[o.check_id], o.reason, shown(o.evidence))
            for o in run.outcomes
        )


def changes(
    host: str, run: PolicyRun, statuses: dict[str, str], before: dict[str, str] | None
) -> list[Finding]:
    """The findings of one policy run against the previous statuses (None: first run)."""
    found = []
    for check in run.policy.checks:
        now, was = statuses.get(check.id), (before or {}).get(check.id)
        label = f"policy '{run.policy.id}' check '{check.id}': {check.title}"
        subject = f"{run.policy.id}:{check.id}"
        if now == FAILED and was == PASSED:
            found.append(_finding(host, "regressed", subject, f"check regressed: {label}"))
        elif now == FAILED and was != FAILED:
            found.append(_finding(host, "failed", subject, f"check failed: {label}"))
        elif now == PASSED and was == FAILED:
            found.append(_finding(host, "passed", subject, f"check passed: {label}"))
    new_score = score([s for s in statuses.values() if s != WAIVED])
    old_score = score([s for s in before.values() if s != WAIVED]) if before is not None else None
    if new_score is not None and new_score != old_score:
        was = "" if old_score is None else f" (was {old_score:g}%)"
        text = f"score: policy '{run.policy.id}': {new_score:g}%{was}"
        found.append(_finding(host, "score", run.policy.id, text))
    return found


def _expired(host: str, waivers: Waivers | None) -> list[Finding]:
    """A finding for each expired waiver that covered this host."""
    found = []
    for waiver in waivers.expired() if waivers is not None else ():
        if not waiver.covers(host, waiver.policy, waiver.check):
            continue
        policy = waiver.policy or "*"
        text = (
            f"waiver expired: policy '{policy}' check '{waiver.check}': "
            f"expired on {waiver.expires.isoformat()} ({waiver.justification})"
        )
        found.append(_finding(host, "waiver_expired", f"{policy}:{waiver.check}", text))
    return found


def _finding(host: str, kind: str, subject: str, text: str) -> Finding:
    return Finding(
        host=host,
        collector=NAME,
        kind=kind,
        subject=subject,
        detail=text,
        event_text=f"ospatrol: cis: {text}",
    )

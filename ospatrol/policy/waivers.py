"""Waivers: a YAML list of accepted failures, each until an expiry date.

    waivers:
      - host: "db*"                 # fnmatch pattern of inventory host names
        check: 33010                # a check id of one of the policies in use
        policy: cis_debian12        # optional: only this policy's check
        justification: /tmp is a tmpfs set up by the image; ticket OPS-123
        expires: 2027-03-31

A failure that a live waiver covers is reported `waived` (with the justification and expiry) and
does not fail the run; an expired waiver is itself a finding. An unknown check id, a bad date or a
missing field is an error naming the file and line.
"""

from __future__ import annotations

import datetime
import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ospatrol.errors import InputError, InputErrors
from ospatrol.policy.model import Policy
from ospatrol.yamlfile import load_yaml_file

_KEYS = frozenset({"host", "check", "policy", "justification", "expires"})


@dataclass(frozen=True)
class Waiver:
    host: str
    check: str
    justification: str
    expires: datetime.date
    policy: str = ""
    line: int = 0

    def covers(self, host: str, policy: str, check: str) -> bool:
        return (
            check == self.check
            and (not self.policy or policy == self.policy)
            and fnmatch.fnmatchcase(host, self.host)
        )

    def expired(self, today: datetime.date) -> bool:
        return today > self.expires


@dataclass(frozen=True)
class Waivers:
    path: str
    waivers: tuple[Waiver, ...]
    today: datetime.date

    def note_for(self, host: str, policy: str, check: str) -> str:
        """The note of the live waiver covering this failure, or ""."""
        for waiver in self.waivers:
            if waiver.covers(host, policy, check) and not waiver.expired(self.today):
                return f"{waiver.justification} (until {waiver.expires.isoformat()})"
        return ""

    def expired(self) -> list[Waiver]:
        return [w for w in self.waivers if w.expired(self.today)]


def load_waivers(
    path: Path, policies: Sequence[Policy], today: datetime.date | None = None
) -> Waivers:
    doc = load_yaml_file(path)
    where = str(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("waivers"), list):
        raise InputError("expected a mapping with a 'waivers' list", where, 1)
    known = {(p.id, c.id) for p in policies for c in p.checks}
    check_ids = {check for _, check in known}
    errors: list[InputError] = []
    waivers: list[Waiver] = []
    for item in doc["waivers"]:
        line = getattr(item, "line", None)
        try:
            waivers.append(_waiver(item, where, line, known, check_ids))
        except InputError as exc:
            errors.append(exc)
    if errors:
        raise InputErrors(errors)
    return Waivers(where, tuple(waivers), today or datetime.date.today())


def _waiver(item: Any, path: str, line: int | None, known, check_ids) -> Waiver:
    if not isinstance(item, dict):
        raise InputError("a waiver must be a mapping", path, line)
    unknown = sorted(map(str, set(item) - _KEYS))
    if unknown:
        raise InputError(f"waiver: unknown key {unknown[0]!r}", path, item.line_of(unknown[0]))
    for key in ("host", "check", "justification", "expires"):
        if item.get(key) in (None, ""):
            raise InputError(f"waiver: missing {key!r}", path, line)
    check = str(item["check"])
    policy = str(item.get("policy") or "")
    if (policy and (policy, check) not in known) or (not policy and check not in check_ids):
        of = f" of policy {policy}" if policy else ""
        raise InputError(f"waiver: unknown check id {check!r}{of}", path, item.line_of("check"))
    expires = item["expires"]
    if isinstance(expires, datetime.datetime):
        expires = expires.date()
    if not isinstance(expires, datetime.date):
        try:
            expires = datetime.date.fromisoformat(str(expires))
        except ValueError:
            raise InputError(
                f"waiver: bad date {item['expires']!r} (expected YYYY-MM-DD)",
                path,
                item.line_of("expires"),
            ) from None
    return Waiver(str(item["host"]), check, str(item["justification"]), expires, policy, line or 0)

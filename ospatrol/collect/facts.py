"""Parsed device facts: model, OS version, serial, hostname, uptime from `show version` and kin.

The `facts:` section of a platform's profile (`checks/<platform>.yml`) lists commands, how each
output is parsed and which parsed values are which fact::

    facts:
      - command: show version
        parser: textfsm cisco_ios_show_version   # an ntc-templates template, by name
        facts: {model: HARDWARE, os_version: VERSION, serial: SERIAL, uptime: UPTIME}
      - command: esxcli system version get
        parser: keyvalue                         # `Key: value` lines (and `, `-separated pairs)
        facts: {os_version: [Version, Build]}    # several values: joined by a space

A template's first record is used (a Junos cluster's first node); list values are joined by
commas. The facts of every run are stored (key `facts`, one version a run, with the run), so
reports and compliance read what a device ran at any audit; the stored digest covers every fact
but `uptime`, which moves each run and is kept, never compared. A changed fact is one finding,
`ospatrol: facts: os version changed: '<old>' to '<new>'` (`model`, `serial`, `hostname`
likewise; docs/events.md); the first audit records silently. An output that is rejected, cut
short, or lacks an OS version stores nothing and reports the device incomplete.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ospatrol.collect.base import CollectorResult, StateView, incomplete_finding
from ospatrol.errors import InputError, InputErrors
from ospatrol.escape import escape, quoted
from ospatrol.model import Finding, Host
from ospatrol.store.records import PutState, StateEntry
from ospatrol.yamlfile import LineDict

if TYPE_CHECKING:
    from ospatrol.profiles import Profile
    from ospatrol.store.protocols import StateStore
    from ospatrol.transport import Transport

NAME = "facts"
STATE_KEY = "facts"
REQUIRED = "os_version"
VOLATILE = frozenset({"uptime"})
"""Facts stored but never compared: they move on every run without anything changing."""
KNOWN = ("model", "os_version", "serial", "hostname", "uptime")
MAX_VALUE = 200
"""Characters kept of a fact: `show version` is the device's text, a fact is one short value."""

_KEYVALUE = re.compile(r"^\s*([A-Za-z][\w .()/-]*?)\s*:\s*(.*?)\s*$")
_NEXT_PAIR = re.compile(r", (?=[A-Za-z][\w .()/-]*?: )")


@dataclass(frozen=True)
class FactsCommand:
    """One command whose parsed output gives some facts."""

    command: str
    parser: str
    """`keyvalue`, or `textfsm` with `template` set."""
    facts: Mapping[str, tuple[str, ...]]
    """Fact -> the parsed values it is made of (joined by a space)."""
    template: str = ""


def template_path(name: str) -> Path:
    """The ntc-templates template file `name` (without `.textfsm`)."""
    import importlib.util

    spec = importlib.util.find_spec("ntc_templates")
    if spec is None or not spec.submodule_search_locations:
        raise InputError("facts: the ntc-templates package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "templates" / f"{name}.textfsm"


@cache
def _template_values(name: str) -> tuple[str, ...]:
    import textfsm

    with template_path(name).open(encoding="utf-8") as handle:
        return tuple(textfsm.TextFSM(handle).header)


def parse_facts_section(data: Any, path: str, line: int | None = None) -> tuple[FactsCommand, ...]:
    """The `facts:` section of a profile; every error names file and line."""
    if not isinstance(data, list) or not data:
        raise InputError("facts: expected a list of {command, parser, facts}", path, line)
    commands: list[FactsCommand] = []
    errors: list[InputError] = []
    for index, item in enumerate(data):
        where = item.line if isinstance(item, LineDict) else line
        try:
            commands.append(_parse_command(item, path, where, index))
        except InputError as exc:
            errors.append(exc)
    if errors:
        raise InputErrors(errors)
    return tuple(commands)


def _parse_command(item: Any, path: str, line: int | None, index: int) -> FactsCommand:
    what = f"facts[{index}]"
    if not isinstance(item, dict) or set(item) != {"command", "parser", "facts"}:
        raise InputError(f"{what}: expected exactly the keys command, parser, facts", path, line)
    command, parser, facts = item["command"], item["parser"], item["facts"]
    if not isinstance(command, str) or not command.strip():
        raise InputError(f"{what}: 'command' must be a non-empty string", path, line)
    words = parser.split() if isinstance(parser, str) else []
    if words == ["keyvalue"]:
        kind, template, values = "keyvalue", "", None
    elif len(words) == 2 and words[0] == "textfsm":
        kind, template = "textfsm", words[1]
        if not re.fullmatch(r"[\w.-]+", template) or not template_path(template).is_file():
            raise InputError(f"{what}: no ntc-templates template {template!r}", path, line)
        values = _template_values(template)
    else:
        raise InputError(f"{what}: 'parser' is 'keyvalue' or 'textfsm <template>'", path, line)
    if not isinstance(facts, dict) or not facts:
        raise InputError(f"{what}: 'facts' maps a fact to a value name or a list", path, line)
    mapping: dict[str, tuple[str, ...]] = {}
    for fact, source in facts.items():
        names = (source,) if isinstance(source, str) else source
        if fact not in KNOWN:
            known = ", ".join(KNOWN)
            raise InputError(f"{what}: unknown fact {fact!r}; known: {known}", path, line)
        if not isinstance(names, list | tuple) or not all(isinstance(n, str) for n in names):
            raise InputError(f"{what}: fact {fact!r}: a value name or a list of them", path, line)
        missing = [n for n in names if values is not None and n not in values]
        if missing:
            raise InputError(
                f"{what}: fact {fact!r}: template {template} has no value {missing[0]!r}",
                path,
                line,
            )
        mapping[fact] = tuple(names)
    return FactsCommand(command.strip(), kind, mapping, template)


# --- pure core --------------------------------------------------------------------------------


def keyvalue_record(output: str) -> dict[str, str]:
    """`Key: value` lines (ESXi's esxcli records, ScreenOS `get system`); a line of several
    pairs (`Serial Number: X, Control Number: Y`) gives each, while a comma inside a value
    (`Vendor Name: VMware, Inc.`) stays; the first occurrence of a key wins."""
    record: dict[str, str] = {}
    for line in output.splitlines():
        for part in _NEXT_PAIR.split(line) if ": " in line else ():
            match = _KEYVALUE.match(part)
            if match:
                record.setdefault(match.group(1), match.group(2))
    return record


def textfsm_record(output: str, template: str) -> dict[str, Any]:
    """The template's first record (empty when nothing parsed, or when the template rejects
    the output: a line its `-> Error` rule does not expect is the device's, not our fault)."""
    import textfsm

    with template_path(template).open(encoding="utf-8") as handle:
        fsm = textfsm.TextFSM(handle)
    try:
        rows = fsm.ParseTextToDicts(output)
    except textfsm.TextFSMError:
        return {}
    return rows[0] if rows else {}


def extract(output: str, command: FactsCommand) -> dict[str, str]:
    """The facts `command` gives from its output (only those with a value)."""
    text = output.replace("\r\n", "\n").replace("\r", "\n")
    if command.parser == "keyvalue":
        record: Mapping[str, Any] = keyvalue_record(text)
    else:
        record = textfsm_record(text, command.template)
    facts: dict[str, str] = {}
    for fact, names in command.facts.items():
        parts = []
        for name in names:
            value = record.get(name, "")
            value = ",".join(value) if isinstance(value, list) else str(value)
            if value.strip():
                parts.append(" ".join(value.split()))
        if parts:
            facts[fact] = " ".join(parts)[:MAX_VALUE]
    return facts


def compared(facts: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in facts.items() if k not in VOLATILE}


def digest(facts: Mapping[str, str]) -> str:
    """What a stored version is compared by: every fact but the volatile ones."""
    blob = json.dumps(compared(facts), sort_keys=True).encode("ascii")
    return hashlib.sha256(blob).hexdigest()


def changed_findings(host: str, old: Mapping[str, str], new: Mapping[str, str]) -> list[Finding]:
    """One finding per compared fact whose value moved (a fact that vanished is not a change:
    a parse that found less says nothing about the device)."""
    findings = []
    for fact in KNOWN:
        if fact in VOLATILE or fact not in new or old.get(fact, new[fact]) == new[fact]:
            continue
        words = fact.replace("_", " ")
        text = f"ospatrol: facts: {words} changed: {quoted(old[fact])} to {quoted(new[fact])}"
        findings.append(
            Finding(
                host=host,
                collector=NAME,
                kind="changed",
                subject=words,
                detail=f"{escape(old[fact])} -> {escape(new[fact])}",
                event_text=text,
            )
        )
    return findings


class FactsCollector:
    """Runs each platform's `facts:` commands and records the parsed facts every audit."""

    name = NAME

    def __init__(self, profiles: Mapping[str, Profile]) -> None:
        self.profiles = profiles

    def commands(self, host: Host) -> Sequence[FactsCommand]:
        from ospatrol.profiles import profile_for

        profile = profile_for(self.profiles, host.platform)
        return () if profile is None else profile.sections.get("facts", ())

    async def collect(self, host: Host, transport: Transport, state: StateView) -> CollectorResult:
        from ospatrol.scrub import base_scrubber

        commands = self.commands(host)
        if not commands:
            return CollectorResult(NAME, "ok")
        facts: dict[str, str] = {}
        outputs: dict[str, str] = {}  # a command two parsers read runs once
        for command in commands:
            if command.command not in outputs:
                result = await transport.run(command.command)
                if result.truncated or result.exit_status != 0 or not result.stdout.strip():
                    reason = f"truncated listing: no complete output of {command.command!r}"
                    if result.exit_status not in (0, None) and not result.truncated:
                        reason = f"error: the host rejected {command.command!r}"
                    return _incomplete(host, reason)
                # Facts are shown and stored: masked like every output, before parsing.
                outputs[command.command] = base_scrubber().text(result.stdout)
            for fact, value in extract(outputs[command.command], command).items():
                facts.setdefault(fact, value)
        if REQUIRED not in facts:
            return _incomplete(host, "error: facts: no OS version in the parsed output")
        previous = state.get(STATE_KEY)
        findings = [] if previous is None else changed_findings(host.name, decoded(previous), facts)
        new_digest = digest(facts)
        blob = json.dumps(facts, sort_keys=True).encode("ascii")
        return CollectorResult(
            NAME,
            "ok",
            tuple(findings),
            updates=(PutState(STATE_KEY, blob, new_digest),),
            baseline_changed=previous is None or previous.digest != new_digest,
            facts=reported(facts),
        )


def decoded(entry: StateEntry) -> dict[str, str]:
    """The facts of one stored version."""
    return json.loads(entry.blob.decode("ascii"))


def reported(facts: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """Facts as reports show them: in `KNOWN` order."""
    return tuple((fact, facts[fact]) for fact in KNOWN if fact in facts)


def facts_of_run(store: StateStore, host: str, run: int) -> tuple[tuple[str, str], ...]:
    """The facts a stored run recorded for `host` (none when the collector did not finish)."""
    for entry in reversed(store.state_history(host, NAME, STATE_KEY)):
        if entry.run == run:
            return reported(decoded(entry))
    return ()


def _incomplete(host: Host, reason: str) -> CollectorResult:
    finding = incomplete_finding(host.name, reason, collector=NAME)
    return CollectorResult(NAME, "incomplete", (finding,), reason)

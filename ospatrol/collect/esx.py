"""ESXi VM lifecycle: each audit lists the host's VMs and their power state, and reports what moved.

What OSSEC's agent raised from the ESX logs (VM installed, removed, started, stopped), found by
asking the host instead: `vim-cmd vmsvc/getallvms` lists the registered VMs, then one batched
`sh -c` (framed with a per-run nonce by `ospatrol.collect.commands`) asks
`vim-cmd vmsvc/power.getstate ID` for each. Two round-trips, because the ids of the second come
out of the first and are checked (digits only) before they go into a command line.

The listing is attacker-controlled (names and annotations are free text, printed raw, newlines
included), so a line is never trusted because it looks like a row: every line that starts with a
number is a candidate id, and hostd's answer to `power.getstate` decides which ids are VMs. An id
hostd does not know is not a VM (a forged row in an annotation, or a VM unregistered meanwhile);
a VM that has no readable row, or two rows, makes the scan incomplete instead of being reported
removed or doubled. A listing that failed or is cut short is incomplete too, never "all VMs
removed".

The inventory is kept in the collector state table (key `vms`, a new version when it changed).
The first audit records it silently; later ones report, per VM (identity: its vmid), exactly one
finding: `vm added`, `vm removed`, `vm renamed` (same vmid and .vmx file, another name) or
`vm power changed` (docs/events.md); a vmid now holding another .vmx file was re-registered and
is reported removed and added. Names in event texts are escaped and quoted (`escape.quoted`).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ospatrol.collect.base import CollectorResult, StateView, incomplete_finding
from ospatrol.collect.commands import (
    CommandSpec,
    GarbageOutput,
    build_script,
    parse_batch,
    remote_command,
)
from ospatrol.escape import escape, quoted
from ospatrol.model import Finding, Host
from ospatrol.platforms import BY_SPELLING
from ospatrol.store.records import PutState

if TYPE_CHECKING:
    from ospatrol.transport import Transport

NAME = "esx"
STATE_KEY = "vms"
LIST_COMMAND = "vim-cmd vmsvc/getallvms"
POWER_COMMAND = "vim-cmd vmsvc/power.getstate {id}"
MAX_CANDIDATES = 4096
"""Ids asked about in one audit; ESXi registers at most 1024 VMs a host (8.0 maximums), so more
candidate lines mean a listing flooded by annotations: incomplete rather than endless queries."""

POWER_STATES = {"powered on": "on", "powered off": "off", "suspended": "suspended"}
"""What `power.getstate` prints (its last line) -> the word events use."""
NOT_FOUND = "Unable to find a VM"

_HEADER = re.compile(r"^Vmid\s+Name\s+File\b")
_SKIPPED = re.compile(r"^Skipping invalid VM '(\d{1,9})'\s*$")
_CANDIDATE = re.compile(r"^(\d{1,9})\s")
# Vmid, name, `[datastore] path.vmx`, guest id, hardware version, annotation. The name ends at
# the first `[datastore] ` that starts a path ending in .vmx, then guest and `vmx-NN`.
_ROW = re.compile(r"^(\d{1,9})\s+(.+?)\s+(\[[^\]\n]+\] .+\.vmx)\s+(\S+)\s+(vmx-\d+)(?:\s.*)?$")


@dataclass(frozen=True)
class Vm:
    """One registered VM as the host reports it."""

    vmid: str
    name: str
    file: str
    power: str


class ListingError(ValueError):
    """The VM listing cannot be trusted as complete; the message is the incomplete reason."""


def parse_listing(output: str) -> tuple[dict[str, list[tuple[str, str]]], list[str]]:
    """From `getallvms` output: the rows that parse, by vmid (name, file; several when the
    listing repeats an id), and every candidate id (lines starting with a number), in order.
    Raises `ListingError` when the header is missing (an error text, not a listing)."""
    lines = output.replace("\r\n", "\n").split("\n")
    # hostd names the VMs it cannot read (a datastore gone) before the table (`skipped_ids`);
    # they are not in it, and the table must follow.
    while lines and _SKIPPED.match(lines[0]):
        lines.pop(0)
    if not lines or not _HEADER.match(lines[0]):
        first = escape(lines[0][:80]) if lines and lines[0] else "no output"
        raise ListingError(f"error: unrecognised VM listing: {first}")
    rows: dict[str, list[tuple[str, str]]] = {}
    candidates: dict[str, None] = {}
    for line in lines[1:]:
        candidate = _CANDIDATE.match(line)
        if candidate is None:
            continue  # a continuation of a multi-line name or annotation
        vmid = str(int(candidate.group(1)))
        candidates[vmid] = None
        row = _ROW.match(line.rstrip())
        if row is not None:
            rows.setdefault(vmid, []).append((row.group(2), row.group(3)))
    return rows, list(candidates)


def skipped_ids(output: str) -> set[str]:
    """The vmids hostd names as unreadable ("Skipping invalid VM '8'") before its table."""
    skipped: set[str] = set()
    for line in output.replace("\r\n", "\n").split("\n"):
        match = _SKIPPED.match(line)
        if match is None:
            break
        skipped.add(str(int(match.group(1))))
    return skipped


def power_state(output: str, exit_status: int) -> str | None:
    """The power word of one `power.getstate` answer; None when hostd knows no such VM.
    Raises `ListingError` for any other answer (an unknown state, a failure)."""
    text = output.strip()
    if exit_status != 0:
        if NOT_FOUND in text:
            return None
        raise ListingError(f"error: power state query failed: {escape(text[:80]) or 'no output'}")
    last = text.splitlines()[-1].strip().lower() if text else ""
    if last not in POWER_STATES:
        raise ListingError(f"error: unrecognised power state: {escape(last[:80]) or 'empty'}")
    return POWER_STATES[last]


def inventory(
    rows: Mapping[str, Sequence[tuple[str, str]]], powers: Mapping[str, str | None]
) -> dict[str, Vm]:
    """The VMs: the candidate ids hostd knows, each with its one row; `ListingError` when a VM
    has no readable row or several."""
    vms: dict[str, Vm] = {}
    for vmid, power in powers.items():
        if power is None:
            continue  # not a VM: an annotation line, or unregistered since the listing
        found = rows.get(vmid, ())
        if len(found) != 1:
            what = "has no readable line" if not found else f"is listed {len(found)} times"
            raise ListingError(f"error: VM listing: vmid {vmid} {what}")
        name, file = found[0]
        vms[vmid] = Vm(vmid, name, file, power)
    return vms


def encode(vms: Mapping[str, Vm]) -> bytes:
    """The stored form: JSON sorted by vmid (names keep undecodable bytes as `\\udcNN`)."""
    ordered = sorted(vms.values(), key=lambda vm: int(vm.vmid))
    return json.dumps([[vm.vmid, vm.name, vm.file, vm.power] for vm in ordered]).encode("ascii")


def decode(blob: bytes) -> dict[str, Vm]:
    return {row[0]: Vm(*row) for row in json.loads(blob.decode("ascii"))}


def _finding(host: str, kind: str, vm: Vm, text: str, detail: str) -> Finding:
    return Finding(
        host=host,
        collector=NAME,
        kind=kind,
        subject=escape(vm.name),
        detail=detail,
        event_text=f"ospatrol: esx: {text}",
    )


def lifecycle_findings(host: str, old: Mapping[str, Vm], new: Mapping[str, Vm]) -> list[Finding]:
    """One finding per VM that was added, removed, renamed or changed power, by vmid."""
    findings: list[Finding] = []

    def where(vm: Vm) -> str:
        return f"vmid {vm.vmid}, {escape(vm.file)}, power {vm.power}"

    def added(vm: Vm) -> None:
        findings.append(_finding(host, "vm_added", vm, f"vm added: {quoted(vm.name)}", where(vm)))

    def removed(vm: Vm) -> None:
        findings.append(
            _finding(host, "vm_removed", vm, f"vm removed: {quoted(vm.name)}", where(vm))
        )

    for vmid in sorted(old.keys() | new.keys(), key=int):
        before, after = old.get(vmid), new.get(vmid)
        if before is None and after is not None:
            added(after)
        elif after is None and before is not None:
            removed(before)
        elif before is not None and after is not None and before != after:
            if before.file != after.file:
                removed(before)
                added(after)
            elif before.name != after.name:
                text = f"vm renamed: {quoted(before.name)} to {quoted(after.name)}"
                findings.append(_finding(host, "vm_renamed", after, text, where(after)))
            else:
                text = (
                    f"vm power changed: {quoted(after.name)} "
                    f"from '{before.power}' to '{after.power}'"
                )
                findings.append(_finding(host, "vm_power", after, text, where(after)))
    return findings


def is_esxi(host: Host) -> bool:
    known = BY_SPELLING.get(host.platform)
    return known is not None and known.name == "esxi"


class EsxCollector:
    """VM inventory and power state of ESXi hosts; other platforms have nothing to report."""

    name = NAME

    def __init__(self, timeout: float | None = None) -> None:
        """`timeout` bounds each of the two commands (None: the transport's per-host one)."""
        self.timeout = timeout

    async def collect(self, host: Host, transport: Transport, state: StateView) -> CollectorResult:
        if not is_esxi(host):
            return CollectorResult(NAME, "ok")
        try:
            vms, unreadable = await self._scan(transport)
        except ListingError as exc:
            # Incomplete whatever the reason (hostd down, a listing that cannot be trusted):
            # the stored inventory stays, and the finding says why, on every audit until fixed.
            reason = str(exc)
            finding = incomplete_finding(host.name, reason, collector=NAME)
            return CollectorResult(NAME, "incomplete", (finding,), reason)
        previous = state.get(STATE_KEY)
        old = decode(previous.blob) if previous is not None else {}
        # A VM hostd cannot read now (its datastore is away) is still registered: it keeps its
        # last known state rather than being reported removed.
        vms.update((vmid, old[vmid]) for vmid in unreadable if vmid in old and vmid not in vms)
        blob = encode(vms)
        digest = hashlib.sha256(blob).hexdigest()
        if previous is not None and previous.digest == digest:
            return CollectorResult(NAME, "ok")
        findings = () if previous is None else lifecycle_findings(host.name, old, vms)
        return CollectorResult(
            NAME,
            "ok",
            tuple(findings),
            updates=(PutState(STATE_KEY, blob, digest),),
            baseline_changed=True,
        )

    async def _scan(self, transport: Transport) -> tuple[dict[str, Vm], set[str]]:
        """The host's VMs and the ids hostd skipped as unreadable, or `ListingError` saying
        why the scan cannot be trusted."""
        listing = await transport.run(LIST_COMMAND, timeout=self.timeout)
        if listing.truncated or listing.exit_status is None:
            raise ListingError("truncated listing: the VM listing was cut short")
        if listing.exit_status != 0:
            said = (listing.stderr or listing.stdout).strip()[:80]
            raise ListingError(f"error: {LIST_COMMAND} failed: {escape(said) or 'no output'}")
        rows, candidates = parse_listing(listing.stdout)
        unreadable = skipped_ids(listing.stdout)
        if len(candidates) > MAX_CANDIDATES:
            raise ListingError(f"error: VM listing has {len(candidates)} numbered lines")
        if not candidates:
            return {}, unreadable
        specs = [CommandSpec(POWER_COMMAND.format(id=vmid)) for vmid in candidates]
        nonce = secrets.token_hex(8)
        result = await transport.run(
            remote_command(build_script(specs, nonce)), timeout=self.timeout
        )
        if result.truncated:
            raise ListingError("truncated listing: the power states were cut short")
        try:
            batch = parse_batch(result.stdout, nonce, len(specs))
        except GarbageOutput as exc:
            raise ListingError(f"error: unrecognised power state output: {exc}") from None
        if not batch.complete:
            got = len(batch.outputs)
            raise ListingError(f"truncated listing: {got} of {len(specs)} power states")
        powers = {
            vmid: power_state(batch.outputs[i].output, batch.outputs[i].exit_status)
            for i, vmid in enumerate(candidates)
        }
        return inventory(rows, powers), unreadable

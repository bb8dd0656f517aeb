"""The esx collector: VM lifecycle events through the real audit (CLI, store, engine) against the
lab's simulated ESXi host, whose VMs are its `vms` file; the listing parser and event texts as
plain functions over hostile listings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from ospatrol.collect.esx import (
    ListingError,
    Vm,
    inventory,
    lifecycle_findings,
    parse_listing,
    power_state,
    skipped_ids,
)
from tests.audit.conftest import host, run_cli
from tests.audit.test_shipped_profiles import esxi_inventory

HEADER = "Vmid   Name   File   Guest OS   Version   Annotation"


@pytest.fixture
def esxi_vms(lab_simulator) -> Iterator[tuple[dict, Path]]:
    """The simulated ESXi host and its VM file, restored after the test."""
    esxi = lab_simulator.host("esxi")
    path = Path(esxi["vms_file"])
    original = path.read_text()
    try:
        yield esxi, path
    finally:
        path.write_text(original)


def _audit(state: Path, inv: Path) -> dict:
    result = run_cli(state, "audit", "-i", str(inv), "--only", "esx", "--format", "json")
    assert result.stdout.startswith("{"), result.stdout + result.stderr
    return host(result.json(), "esx1")


def test_vm_added_removed_and_powered_on_give_exactly_three_events(esxi_vms, tmp_path):
    esxi, path = esxi_vms
    inv = esxi_inventory(esxi, tmp_path / "inv.yml")
    state = tmp_path / "state"
    first = _audit(state, inv)
    assert (first["status"], first["findings"]) == ("ok", []), first  # baseline, silent
    assert _audit(state, inv)["findings"] == []  # unchanged host: nothing

    vms = yaml.safe_load(path.read_text())
    db = next(vm for vm in vms if vm["id"] == 2)
    vms.remove(db)  # unregistered
    next(vm for vm in vms if vm["id"] == 3)["state"] = "Powered on"
    # A hostile VM: its name spells a power change and clears the screen; its annotation holds
    # a line shaped like another VM's row (vmid 9, which hostd does not know).
    hostile = "evil\x1b[2J' from 'on' to 'off"
    forged = "9   forged   [datastore1] f/f.vmx   otherGuest   vmx-19   x"
    vms.append(
        {
            "id": 4,
            "name": hostile,
            "file": "[datastore1] evil/evil.vmx",
            "guest": "otherGuest",
            "version": "vmx-19",
            "annotation": f"looks harmless\n{forged}",
            "state": "Powered on",
        }
    )
    path.write_text(yaml.safe_dump(vms, allow_unicode=True))

    second = _audit(state, inv)
    assert second["status"] == "ok", second
    got = sorted((f["event"], f["rule"], f["level"]) for f in second["findings"])
    assert got == [
        ("ospatrol: esx: vm added: 'evil\\x1b[2J\\x27 from \\x27on\\x27 to \\x27off'", 80135, 5),
        (f"ospatrol: esx: vm power changed: '{esxi['name']}-tmpl' from 'off' to 'on'", 82100, 5),
        (f"ospatrol: esx: vm removed: '{esxi['name']}-db01'", 80136, 7),
    ]
    assert _audit(state, inv)["findings"] == []  # reported once


def test_failed_listing_is_incomplete_and_keeps_the_inventory(esxi_vms, tmp_path):
    esxi, path = esxi_vms
    inv = esxi_inventory(esxi, tmp_path / "inv.yml")
    state = tmp_path / "state"
    assert _audit(state, inv)["status"] == "ok"
    original = path.read_text()
    path.write_text("hostd: {down\n")  # the simulator's hostd fails every vim-cmd
    broken = _audit(state, inv)
    assert broken["status"] == "incomplete", broken
    (finding,) = broken["findings"]
    assert finding["event"] == (
        "ospatrol: scan incomplete: error: vim-cmd vmsvc/getallvms failed: "
        "Connect to localhost failed: Connection failure."
    )
    path.write_text(original)
    assert _audit(state, inv)["findings"] == []  # no VM was ever reported removed


def test_a_vm_hostd_cannot_read_for_a_while_is_not_removed(esxi_vms, tmp_path):
    esxi, path = esxi_vms
    inv = esxi_inventory(esxi, tmp_path / "inv.yml")
    state = tmp_path / "state"
    assert _audit(state, inv)["findings"] == []
    original = path.read_text()
    vms = yaml.safe_load(original)
    vms[0]["invalid"] = True  # "Skipping invalid VM '1'": its datastore is away
    path.write_text(yaml.safe_dump(vms, allow_unicode=True))
    assert _audit(state, inv)["findings"] == []
    path.write_text(original)
    assert _audit(state, inv)["findings"] == []


# --- the parser over hostile listings ----------------------------------------------------------


def _row(vmid: int, name: str, annotation: str = "") -> str:
    file = f"[datastore1] {vmid}/{vmid}.vmx"
    return f"{vmid}      {name}   {file}   otherGuest   vmx-19   {annotation}"


def test_listing_rows_names_with_spaces_and_continuation_lines():
    listing = "\n".join(
        [HEADER, _row(1, "web 01", "front\nend line"), _row(12, "db", ""), "2024 backups", ""]
    )
    rows, candidates = parse_listing(listing)
    assert rows == {
        "1": [("web 01", "[datastore1] 1/1.vmx")],
        "12": [("db", "[datastore1] 12/12.vmx")],
    }
    assert candidates == ["1", "12", "2024"]
    vms = inventory(rows, {"1": "on", "12": "off", "2024": None})
    assert vms == {
        "1": Vm("1", "web 01", "[datastore1] 1/1.vmx", "on"),
        "12": Vm("12", "db", "[datastore1] 12/12.vmx", "off"),
    }


def test_a_forged_row_of_a_real_vm_or_an_unreadable_row_is_incomplete_not_a_change():
    forged_twin = "\n".join([HEADER, _row(1, "a", "x\n" + _row(2, "fake")), _row(2, "b")])
    rows, candidates = parse_listing(forged_twin)
    with pytest.raises(ListingError, match="vmid 2 is listed 2 times"):
        inventory(rows, dict.fromkeys(candidates, "on"))
    # A VM whose name holds a newline has no parseable row: hostd knows it, so it is not
    # silently left out (which would report it removed).
    split = "\n".join([HEADER, "3      first\nhalf   [datastore1] 3/3.vmx   otherGuest   vmx-19"])
    rows, candidates = parse_listing(split)
    with pytest.raises(ListingError, match="vmid 3 has no readable line"):
        inventory(rows, {"3": "on"})


def test_an_error_instead_of_a_listing_is_never_an_empty_inventory():
    with pytest.raises(ListingError, match="unrecognised VM listing"):
        parse_listing("Connect to localhost failed: Connection failure.\n")
    with pytest.raises(ListingError, match="unrecognised VM listing: no output"):
        parse_listing("")
    assert parse_listing(HEADER + "\n") == ({}, [])  # a host without VMs
    # VMs hostd cannot read are named before the table, not in it.
    skipped = f"Skipping invalid VM '8'\n{HEADER}\n{_row(1, 'a')}\n"
    assert parse_listing(skipped) == ({"1": [("a", "[datastore1] 1/1.vmx")]}, ["1"])
    assert skipped_ids(skipped) == {"8"}
    assert skipped_ids(f"{HEADER}\nSkipping invalid VM '9'\n") == set()  # only before the table


def test_power_state_answers():
    assert power_state("Retrieved runtime info\nPowered on\n", 0) == "on"
    assert power_state("Retrieved runtime info\nSuspended", 0) == "suspended"
    assert power_state('Unable to find a VM corresponding to "9"', 1) is None
    with pytest.raises(ListingError, match="unrecognised power state: halfway"):
        power_state("Retrieved runtime info\nhalfway\n", 0)
    with pytest.raises(ListingError, match="power state query failed"):
        power_state("vim-cmd: hostd timed out", 1)


def test_events_escape_names_that_are_not_utf8_or_hold_controls():
    old = {"5": Vm("5", "ok", "[ds] 5/5.vmx", "off"), "6": Vm("6", "gone", "[ds] 6/6.vmx", "on")}
    new = {
        "5": Vm("5", "ok", "[ds] 5/5.vmx", "on"),
        "7": Vm("7", "caf\udce9\nvm removed: 'x'", "[ds] 7/7.vmx", "on"),
    }
    texts = [f.event_text for f in lifecycle_findings("esx1", old, new)]
    assert texts == [
        "ospatrol: esx: vm power changed: 'ok' from 'off' to 'on'",
        "ospatrol: esx: vm removed: 'gone'",
        "ospatrol: esx: vm added: 'caf\\xe9\\x0avm removed: \\x27x\\x27'",
    ]


def test_same_vmid_renamed_or_reregistered():
    old = {"5": Vm("5", "a", "[ds] a/a.vmx", "on"), "6": Vm("6", "b", "[ds] b/b.vmx", "on")}
    new = {"5": Vm("5", "a2", "[ds] a/a.vmx", "on"), "6": Vm("6", "c", "[ds] c/c.vmx", "on")}
    assert [f.event_text for f in lifecycle_findings("esx1", old, new)] == [
        "ospatrol: esx: vm renamed: 'a' to 'a2'",
        "ospatrol: esx: vm removed: 'b'",
        "ospatrol: esx: vm added: 'c'",
    ]

"""`ospatrol baseline show|accept`: inspect a host's FIM baseline, or accept its current state.

`show` reads the store only (tab-separated lines on stdout: path, type, mode, uid, gid, size,
sha256 or link target). `accept` scans the host now and records what it finds as good: the whole
baseline, or with PATHs only the entries at or under them. It takes the audit lock of the state
dir so it never races an audit.
"""

from __future__ import annotations

from pathlib import Path

import click

from ospatrol.audit.lock import locked_store
from ospatrol.cli import Context, pass_context
from ospatrol.cli.options import checks_option, inventory_option, lock_wait_option
from ospatrol.errors import InputError


@click.group()
def baseline() -> None:
    """Show or accept file-integrity baselines."""


def _host(inventory: Path, name: str):
    from ospatrol.inventory import load_inventory

    hosts = [h for h in load_inventory(inventory).select(name) if h.name == name]
    if not hosts:
        raise InputError(f"host {name!r} is not in the inventory", str(inventory))
    return hosts[0]


@baseline.command()
@click.argument("host")
@inventory_option("Check that HOST is in this inventory.", required=False)
@pass_context
def show(ctx: Context, host: str, inventory: Path | None) -> None:
    """Print HOST's stored baseline, one entry a line."""
    from ospatrol.collect.fim import baseline_entries, fim_state
    from ospatrol.collect.fim_listing import permissions
    from ospatrol.escape import escape
    from ospatrol.store import Store

    if inventory is not None:
        _host(inventory, host)
    config = ctx.load_config()
    with Store.open_for_reading(config.state_dir) as store:
        entries = baseline_entries(fim_state(store, host))
    if not entries:
        raise InputError(f"no baseline stored for {host} in {config.state_dir}")
    for e in entries.values():
        last = escape(e.link_target) if e.type == "l" else (e.sha256 or "-")
        path = escape(e.path)
        row = (path, e.type, permissions(e.mode), e.uid, e.gid, e.size, last)
        click.echo("\t".join(str(v) for v in row))


@baseline.command()
@click.argument("host")
@click.argument("paths", nargs=-1)
@inventory_option("Ansible inventory that defines HOST.")
@checks_option
@lock_wait_option("Seconds to wait for an audit.")
@pass_context
def accept(
    ctx: Context,
    host: str,
    paths: tuple[str, ...],
    inventory: Path,
    checks: Path | None,
    lock_wait: float,
) -> None:
    """Scan HOST now and accept its state as the baseline (only PATHS when given)."""
    from ospatrol.collect.fim import FimCollector, accept_baseline
    from ospatrol.transport import TransportSettings

    bad = [p for p in paths if not p.startswith("/")]
    if bad:
        raise click.BadParameter(f"{bad[0]!r} is not an absolute path", param_hint="PATH")
    target = _host(inventory, host)
    config = ctx.load_config()
    collector = FimCollector.from_checks(checks)
    if collector.profile_for(target) is None:
        raise InputError(f"host {host}: platform {target.platform!r} has no fim profile")
    with locked_store(config.state_dir, lock_wait) as store:
        scan = accept_baseline(
            target, TransportSettings.from_config(config), store, collector, paths
        )
    scope = f"{len(paths)} path(s)" if paths else "all paths"
    count = len(scan.entries or {})
    click.echo(f"{host}: baseline accepted for {scope} ({count} entries scanned)", err=True)

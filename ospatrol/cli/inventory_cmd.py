"""`ospatrol inventory list`: the hosts an inventory (and `--limit`) selects, secrets masked.

On a terminal the hosts are a table whose name column is never folded; piped, they are
tab-separated lines (a header line first), one host a line, so `cut`/`awk` see whole names.
"""

from __future__ import annotations

import json as jsonlib
import sys

import click

from ospatrol.cli.options import select_hosts, warn
from ospatrol.model import Host

COLUMNS = ("name", "address", "port", "user", "platform", "groups")


@click.group()
def inventory() -> None:
    """Inspect Ansible-compatible inventories."""


@inventory.command("list")
@click.option(
    "-i",
    "--inventory",
    multiple=True,
    required=True,
    help="Inventory file, directory or host list (a,b,); repeat for several.",
)
@click.option("-l", "--limit", help="Ansible host pattern, e.g. 'linux:&lab'.")
@click.option("--json", is_flag=True, help="Print JSON instead of a table.")
def list_hosts(inventory: tuple[str, ...], limit: str | None, json: bool) -> None:
    """List hosts with address, port, user, platform and groups."""
    from ospatrol.inventory import load_inventory

    # The loader tells a host list (`a,b,`) from a path itself.
    hosts = sorted(select_hosts(load_inventory(list(inventory)), limit), key=lambda h: h.name)
    if not hosts:
        warn("no hosts matched")
    if json:
        click.echo(jsonlib.dumps([host_record(h) for h in hosts], indent=2, default=str))
    elif sys.stdout.isatty():
        _print_table(hosts)
    else:
        _print_rows(hosts)


def host_record(host: Host) -> dict:
    """What `--json` prints for a host: typed settings and vars, credentials masked."""
    return {
        "name": host.name,
        "address": host.address,
        "port": host.port,
        "user": host.user,
        "platform": host.platform,
        "connection": host.connection,
        "groups": list(host.groups),
        "vars": host.public_vars(),
    }


def _row(host: Host) -> tuple[str, ...]:
    """The host's columns, shown escaped (`ospatrol.escape`): a tab or newline in a value can
    neither split a row nor start another."""
    from ospatrol.escape import escape

    values = (host.name, host.address, str(host.port), host.user or "", host.platform)
    return (*(escape(v) for v in values), ",".join(escape(g) for g in host.groups))


def _print_table(hosts: list[Host]) -> None:
    """A table on the terminal; when even the folded table would not fit its width, the
    tab-separated lines instead (the terminal wraps them, but never cuts a name)."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console()
    table = Table(title=f"{len(hosts)} host{'s' if len(hosts) != 1 else ''}")
    for column in COLUMNS:
        # A host name, address or port is never folded; user, platform and groups may be.
        whole = column in ("name", "address", "port")
        table.add_column(column, justify="right" if column == "port" else "left", no_wrap=whole)
    for host in hosts:
        *values, groups = _row(host)
        # Text, not markup: a `[...]` in a name is shown, not read as a style.
        table.add_row(*(Text(v) for v in values), Text(groups.replace(",", ", ")))
    rows = [COLUMNS, *(_row(h) for h in hosts)]
    whole = sum(max(len(r[i]) for r in rows) for i in range(3))
    foldable = sum(len(name) for name in COLUMNS[3:])
    if whole + foldable + 3 * len(COLUMNS) + 1 > console.width:
        _print_rows(hosts)
    else:
        console.print(table)


def _print_rows(hosts: list[Host]) -> None:
    for row in [COLUMNS, *(_row(h) for h in hosts)]:
        click.echo("\t".join(row))

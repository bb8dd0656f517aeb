"""`ospatrol inventory list`: the hosts an inventory (and `--limit`) selects, secrets masked."""

from __future__ import annotations

import json

import click

from ospatrol.model import Host


@click.group()
def inventory() -> None:
    """Inspect Ansible-compatible inventories."""


@inventory.command("list")
@click.option(
    "-i",
    "--inventory",
    "sources",
    multiple=True,
    required=True,
    help="Inventory file, directory or host list (a,b,); repeat for several.",
)
@click.option("-l", "--limit", help="Ansible host pattern, e.g. 'web:&prod:!web03'.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_hosts(sources: tuple[str, ...], limit: str | None, as_json: bool) -> None:
    """List hosts with address, port, user, platform and groups."""
    from ospatrol.inventory import load_inventory

    # The loader tells a host list (`a,b,`) from a path itself.
    hosts = sorted(load_inventory(list(sources)).select(limit), key=lambda h: h.name)
    if as_json:
        click.echo(json.dumps([host_record(h) for h in hosts], indent=2, default=str))
        return
    _print_table(hosts)


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


def _print_table(hosts: list[Host]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(hosts)} host{'s' if len(hosts) != 1 else ''}")
    for column in ("name", "address", "port", "user", "platform", "groups"):
        # Fold long names rather than cut them: the table must show every host exactly.
        table.add_column(column, justify="right" if column == "port" else "left", overflow="fold")
    for host in hosts:
        table.add_row(
            host.name,
            host.address,
            str(host.port),
            host.user or "",
            host.platform,
            ", ".join(host.groups),
        )
    Console().print(table)

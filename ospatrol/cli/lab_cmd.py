"""`ospatrol lab up|down|status`: the local lab (OpenSSH, simulated IOS switch, device simulator).

`status` exits 0 when every server of the lab runs and accepts connections, 1 otherwise, so
scripts can use it as a health check. The lab is the `ospatrol-lab` distribution (the `lab`
extra); without it every subcommand says how to install it, in one line with exit status 3.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from ospatrol.errors import OSPatrolError

if TYPE_CHECKING:
    from ospatrol_lab.lab import Lab

NOT_INSTALLED = (
    "the lab is not installed: pip install 'ospatrol[lab]' (in a checkout: pip install '.[lab]')"
)

DIR_OPTION = click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("var/lab"),
    show_default=True,
    help="Lab directory: keys, configs, logs, pid files, inventory.yml.",
)


def _lab(directory: Path) -> Lab:
    try:
        from ospatrol_lab.lab import Lab
    except ModuleNotFoundError as exc:
        if exc.name != "ospatrol_lab":
            raise
        raise OSPatrolError(NOT_INSTALLED) from None
    return Lab(directory)


@click.group()
def lab() -> None:
    """Run a local lab on 127.0.0.1 to audit: `up`, `status`, `down`."""


@lab.command()
@DIR_OPTION
def up(directory: Path) -> None:
    """Start the lab's servers and write DIR/inventory.yml."""
    current = _lab(directory)
    if current.load():
        if current.is_up():
            click.echo(f"lab already up in {current.directory}")
            click.echo(f"inventory: {current.inventory_path}")
            return
        # Some server died: clear the rest so the new lab starts from a clean slate.
        current.down()
    new = _lab(directory)
    new.up()
    click.echo(f"lab up in {new.directory}")
    for state in new.status():
        where = f"127.0.0.1:{state.ports[0]}" if len(state.ports) == 1 else "hosts:"
        click.echo(f"  {state.name:<10} pid {state.pid:<8} {where}")
    for device in new.simulator_devices():
        click.echo(f"    {device['name']:<18} {device['platform']:<18} 127.0.0.1:{device['port']}")
    click.echo(f"inventory: {new.inventory_path}")
    click.echo(f"known hosts: {new.known_hosts_path}")


@lab.command()
@DIR_OPTION
def status(directory: Path) -> None:
    """Show which of the lab's servers run and accept connections."""
    current = _lab(directory)
    states = current.status()
    if not states:
        click.echo(f"no lab in {current.directory}")
        raise SystemExit(1)
    for state in states:
        ports = (
            " ".join(f"{p}{'' if p in state.accepting else '(closed)'}" for p in state.ports) or "-"
        )
        word = "running" if state.alive else "stopped"
        click.echo(f"{state.name:<10} {word:<8} pid {state.pid or '-':<8} ports {ports}")
    if not all(s.healthy for s in states):
        raise SystemExit(1)


@lab.command()
@DIR_OPTION
def down(directory: Path) -> None:
    """Stop what `lab up` started in DIR (and nothing else)."""
    current = _lab(directory)
    if not current.load():
        click.echo(f"no lab in {current.directory}")
        return
    stopped = current.down()
    click.echo(f"stopped: {', '.join(stopped) or 'nothing was running'}")

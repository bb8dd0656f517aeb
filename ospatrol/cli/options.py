"""Options several commands share, each declared once with the help text its command gives.

Parameters are named after their options (`--inventory` is `inventory`), so the environment
variable click derives from a parameter (`OSPATROL_AUDIT_INVENTORY`) is the one a user guesses.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ospatrol.report import FORMATS

if TYPE_CHECKING:
    from ospatrol.inventory import Inventory
    from ospatrol.model import Host

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def inventory_option(help: str, required: bool = True) -> Decorator:
    """`-i/--inventory`: an existing inventory file or directory."""
    return click.option(
        "-i",
        "--inventory",
        required=required,
        type=click.Path(exists=True, path_type=Path),
        help=help,
    )


checks_option: Decorator = click.option(
    "--checks",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder of checks/<platform>.yml profiles (default: the shipped ones).",
)
"""`--checks`: another folder of platform profiles."""


def lock_wait_option(help: str, show_default: bool = False) -> Decorator:
    """`--lock-wait`: seconds to wait for the audit lock, default 0."""
    return click.option(
        "--lock-wait",
        type=click.FloatRange(min=0),
        default=0.0,
        show_default=show_default,
        help=help,
    )


format_option: Decorator = click.option(
    "-f", "--format", type=click.Choice(FORMATS), default="text", show_default=True
)
"""`-f/--format`: one of the report formats."""


def _writable_file(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """Refuse an output path that cannot be written before any work starts (an audit stores its
    run before the report is written, so a typo in the folder must not surface only then)."""
    if value is None:
        return None
    folder = value.parent
    if not folder.is_dir():
        raise click.BadParameter(f"folder {str(folder)!r} does not exist", ctx, param)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise click.BadParameter(f"folder {str(folder)!r} is not writable", ctx, param)
    if value.is_dir():
        raise click.BadParameter(f"{str(value)!r} is a directory", ctx, param)
    return value


output_option: Decorator = click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    callback=_writable_file,
    help="Write the report to this file (its folder must exist).",
)
"""`-o/--output`: the report file, checked before the command does its work."""


def write_report(text: str, output: Path | None, quiet: bool) -> None:
    """The report on stdout, or written to `output` with one line on stderr saying where."""
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"cannot write the report to {output}: {exc.strerror}") from None
    if not quiet:
        click.echo(f"report written to {output}", err=True)


def warn(message: str) -> None:
    """One warning line on stderr, in the shape of the errors (`ospatrol: warning: ...`)."""
    click.echo(f"ospatrol: warning: {message}", err=True)


def select_hosts(inventory: Inventory, limit: str | None) -> list[Host]:
    """The hosts `--limit` selects, with a warning on stderr for each part of the pattern that
    matches no host, as Ansible gives."""
    from ospatrol.inventory.patterns import limit_parts

    hosts = inventory.select(limit)
    if limit is not None:
        for part in limit_parts(limit):
            body = part.lstrip("!&")
            if body and not inventory.select(body):
                warn(f"could not match supplied host pattern, ignoring: {body}")
    return hosts

"""`ospatrol audit`: audit the inventory's hosts, store the run, print a report, exit by outcome.

Exit status: 0 nothing at or above the alert level, 1 findings at or above it, 2 some host could
not be fully audited (unreachable, incomplete, error; wins over 1), 3 usage, config or lock error.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ospatrol.cli import Context, pass_context
from ospatrol.cli.options import checks_option, inventory_option, lock_wait_option
from ospatrol.report import FORMATS

EPILOG = """\b
Exit status:
  0  every host audited, nothing at or above the alert level
  1  every host audited, findings at or above the alert level
  2  some host not fully audited (unreachable, incomplete, error); wins over 1
  3  usage, config or inventory error, or another audit holds the lock
"""


@click.command(epilog=EPILOG)
@inventory_option("Ansible inventory (YAML, INI, JSON or a directory).")
@click.option("-l", "--limit", help="Ansible --limit pattern selecting hosts.")
@click.option("--only", help="Comma-separated collectors to run (default: all).")
@click.option(
    "-f", "--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True
)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write the report here."
)
@click.option("--dry-run", is_flag=True, help="Compare with the baselines but store nothing.")
@lock_wait_option(
    "Seconds to wait for another audit of the same state dir to finish.", show_default=True
)
@checks_option
@pass_context
def audit(
    ctx: Context,
    inventory_path: Path,
    limit: str | None,
    only: str | None,
    fmt: str,
    output: Path | None,
    dry_run: bool,
    lock_wait: float,
    checks_dir: Path | None,
) -> None:
    """Audit hosts over SSH: file integrity and command output against their baselines."""
    from ospatrol.audit import exit_status
    from ospatrol.audit.setup import audit_configured, parse_only
    from ospatrol.inventory import load_inventory
    from ospatrol.report import render
    from ospatrol.report.progress import progress_observer

    config = ctx.load_config()
    names = parse_only(only)
    hosts = load_inventory(inventory_path).select(limit)
    if not hosts:
        raise click.UsageError(f"no host of {inventory_path} matches {limit or 'all'!r}")
    observer = progress_observer(sys.stderr, quiet=ctx.verbosity < 0)
    record = audit_configured(
        hosts,
        names,
        config,
        checks_dir,
        dry_run=dry_run,
        lock_wait=lock_wait,
        options={"inventory": str(inventory_path), "limit": limit, "only": list(names)},
        observers=[observer] if observer else [],
    )
    report = render(record, fmt)
    if output is None:
        click.echo(report, nl=False)
    else:
        output.write_text(report, encoding="utf-8")
        if ctx.verbosity >= 0:
            click.echo(f"report written to {output}", err=True)
    click.get_current_context().exit(exit_status(record))

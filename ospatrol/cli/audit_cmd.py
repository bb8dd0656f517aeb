"""`ospatrol audit`: audit the inventory's hosts, store the run, print a report, exit by outcome.

Exit status: 0 nothing at or above the alert level, 1 findings at or above it, 2 some host could
not be fully audited (unreachable, incomplete, error; wins over 1), 3 usage, config or lock error.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ospatrol.cli import Context, pass_context
from ospatrol.cli.options import (
    checks_option,
    format_option,
    inventory_option,
    lock_wait_option,
    output_option,
    select_hosts,
    write_report,
)

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
@format_option
@output_option
@click.option("--dry-run", is_flag=True, help="Compare with the baselines but store nothing.")
@lock_wait_option(
    "Seconds to wait for another audit of the same state dir to finish.", show_default=True
)
@checks_option
@click.option(
    "--policy",
    "policy",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A compliance policy (Wazuh SCA, OSSEC rootcheck or cis/ YAML) to run besides the "
    "shipped ones; runs the cis collector. Repeatable.",
)
@pass_context
def audit(
    ctx: Context,
    inventory: Path,
    limit: str | None,
    only: str | None,
    format: str,
    output: Path | None,
    dry_run: bool,
    lock_wait: float,
    checks: Path | None,
    policy: tuple[Path, ...],
) -> None:
    """Audit hosts over SSH: file integrity and command output against their baselines."""
    from ospatrol.audit import exit_status
    from ospatrol.audit.setup import audit_configured, parse_only
    from ospatrol.inventory import load_inventory
    from ospatrol.report import render
    from ospatrol.report.progress import progress_observer

    config = ctx.load_config()
    names = parse_only(only)
    hosts = select_hosts(load_inventory(inventory), limit)
    if not hosts:
        raise click.UsageError(f"no host of {inventory} matches {limit or 'all'!r}")
    observer = progress_observer(sys.stderr, quiet=ctx.verbosity < 0)
    record = audit_configured(
        hosts,
        names,
        config,
        checks,
        dry_run=dry_run,
        lock_wait=lock_wait,
        options={"inventory": str(inventory), "limit": limit, "only": list(names)},
        observers=[observer] if observer else [],
        policy_files=policy,
    )
    write_report(render(record, format), output, quiet=ctx.verbosity < 0)
    click.get_current_context().exit(exit_status(record))

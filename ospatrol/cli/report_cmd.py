"""`ospatrol report`: re-render a stored audit run (default: the latest) in any report format."""

from __future__ import annotations

from pathlib import Path

import click

from ospatrol.cli import Context, pass_context
from ospatrol.cli.options import format_option, output_option, write_report


@click.command()
@click.option("--run", type=click.IntRange(min=1), help="Run id (default: the latest).")
@format_option
@output_option
@pass_context
def report(ctx: Context, run: int | None, format: str, output: Path | None) -> None:
    """Render a stored audit run as text, JSON, HTML or JUnit XML."""
    from ospatrol.audit.history import load_run
    from ospatrol.report import render
    from ospatrol.store import DB_NAME, Store

    config = ctx.load_config()
    if not (config.state_dir / DB_NAME).is_file():
        raise click.UsageError(f"no store in {config.state_dir}: run `ospatrol audit` first")
    with Store.open(config.state_dir) as store:
        record = load_run(store, run, alert_level=config.alert_level)
    write_report(render(record, format), output, quiet=ctx.verbosity < 0)

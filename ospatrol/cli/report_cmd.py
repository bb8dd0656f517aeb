"""`ospatrol report`: re-render a stored audit run (default: the latest) in any report format."""

from __future__ import annotations

from pathlib import Path

import click

from ospatrol.cli import Context, pass_context
from ospatrol.report import FORMATS


@click.command()
@click.option("--run", "run_id", type=click.IntRange(min=1), help="Run id (default: the latest).")
@click.option(
    "-f", "--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True
)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write the report here."
)
@pass_context
def report(ctx: Context, run_id: int | None, fmt: str, output: Path | None) -> None:
    """Render a stored audit run as text, JSON, HTML or JUnit XML."""
    from ospatrol.audit.history import load_run
    from ospatrol.report import render
    from ospatrol.store import DB_NAME, Store

    config = ctx.load_config()
    if not (config.state_dir / DB_NAME).is_file():
        raise click.UsageError(f"no store in {config.state_dir}: run `ospatrol audit` first")
    with Store.open(config.state_dir) as store:
        record = load_run(store, run_id, alert_level=config.alert_level)
    text = render(record, fmt)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")

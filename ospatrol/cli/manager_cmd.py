"""`ospatrol manager`: run the daemon in the foreground (see docs/manager.md)."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from ospatrol.cli import Context, pass_context


@click.command("manager")
@click.option(
    "-c",
    "--config",
    "manager_config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The manager config (ospatrol.yml); default: the global --config.",
)
@click.option("--once", is_flag=True, help="Run the scheduled audits that are due, then exit.")
@click.option(
    "--log-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Log here instead of stderr (also `log_file:` in the config).",
)
@pass_context
def manager(ctx: Context, manager_config: Path | None, once: bool, log_file: Path | None) -> None:
    """Receive syslog, analyse it in worker processes, write alerts, run scheduled audits."""
    from ospatrol.manager.config import load_manager_config
    from ospatrol.manager.daemon import run_manager

    path = manager_config or ctx.config_path
    config = load_manager_config(path)
    target = log_file or config.log_file
    if target is not None:
        handler = logging.FileHandler(target, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root = logging.getLogger()
        root.handlers[:] = [handler]
    if ctx.verbosity >= 0:
        logging.getLogger("ospatrol").setLevel(logging.INFO if ctx.verbosity < 2 else logging.DEBUG)
    run_manager(path, ctx.state_dir, once=once)

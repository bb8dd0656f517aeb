"""The `ospatrol` command line: global options, lazy subcommands, errors mapped to exit codes.

Subcommands live in their own modules and are imported only when invoked, so `ospatrol logtest`
starts without importing asyncssh, netmiko or jinja2. Library code never prints or exits; the root
group turns every user error (`OSPatrolError`, click's usage errors and exceptions) into one line
`ospatrol: ...` on stderr and exit status 3, the code `ospatrol audit` documents for cron and CI.
It does so in `main()` itself, so the console script and click's test runner behave alike.

Every option reads the environment variable named after the command path and the option
(`OSPATROL_AUDIT_INVENTORY` for `audit --inventory`), and `--help` shows it.
"""

from __future__ import annotations

import importlib
import logging
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from ospatrol import __version__
from ospatrol.errors import OSPatrolError

EXIT_USAGE = 3

# name -> "module:attribute"; a command is listed here only once it works.
COMMANDS: dict[str, str] = {
    "lab": "ospatrol.cli.lab_cmd:lab",
    "inventory": "ospatrol.cli.inventory_cmd:inventory",
    "audit": "ospatrol.cli.audit_cmd:audit",
    "report": "ospatrol.cli.report_cmd:report",
    "logtest": "ospatrol.cli.logtest_cmd:logtest",
    "rules": "ospatrol.cli.rules_cmd:rules",
    "baseline": "ospatrol.cli.baseline_cmd:baseline",
    "manager": "ospatrol.cli.manager_cmd:manager",
    "alerts": "ospatrol.cli.alerts_cmd:alerts",
    "check": "ospatrol.cli.check_cmd:check",
    "checks": "ospatrol.cli.checks_cmd:checks",
    "config": "ospatrol.cli.config_cmd:config",
}


@dataclass
class Context:
    """Global options, resolved once by the root group and passed to every subcommand."""

    config_path: Path | None
    state_dir: Path
    verbosity: int

    def load_config(self):
        """The manager config (`ospatrol.config.Config`), from `--config` or built-in defaults."""
        from ospatrol.config import load_config

        return load_config(self.config_path, state_dir=self.state_dir)


pass_context = click.make_pass_decorator(Context)


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def __init__(self, *args, lazy: dict[str, str] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy if lazy is not None else {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            module_name, attr = self.lazy[cmd_name].split(":")
            return show_envvars(getattr(importlib.import_module(module_name), attr))
        return super().get_command(ctx, cmd_name)

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        """Run the command line; every user error ends as one `ospatrol: ...` line and exit 3."""
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            status = super().main(*args, standalone_mode=False, **kwargs)
        except click.Abort:
            click.echo("ospatrol: aborted", err=True)
            sys.exit(EXIT_USAGE)
        except click.exceptions.NoArgsIsHelpError as exc:
            exc.show()  # a bare group (`ospatrol`, `ospatrol rules`) shows its help
            sys.exit(EXIT_USAGE)
        except click.UsageError as exc:
            hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
            click.echo(f"ospatrol: {exc.format_message()}{hint}", err=True)
            sys.exit(EXIT_USAGE)
        except click.ClickException as exc:
            click.echo(f"ospatrol: {exc.format_message()}", err=True)
            sys.exit(EXIT_USAGE)
        except OSPatrolError as exc:
            click.echo(f"ospatrol: {exc}", err=True)
            sys.exit(EXIT_USAGE)
        # Non-standalone click returns the code of `ctx.exit(n)`; commands otherwise return None.
        sys.exit(status if isinstance(status, int) else 0)


def show_envvars(command: click.Command) -> click.Command:
    """`command` (and its subcommands) with each option's environment variable in `--help`."""
    for param in command.params:
        if isinstance(param, click.Option):
            param.show_envvar = True
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            show_envvars(sub)
    return command


def _default_config() -> Path | None:
    candidate = Path("ospatrol.yml")
    return candidate if candidate.is_file() else None


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"auto_envvar_prefix": "OSPATROL"})
@click.version_option(__version__, prog_name="ospatrol")
@click.option(
    "-c",
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    show_envvar=True,
    help="Manager config (YAML). Default: ./ospatrol.yml if present, else built-in defaults.",
)
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("var/ospatrol"),
    show_default=True,
    show_envvar=True,
    help="Where the store, baselines and known host keys live.",
)
@click.option(
    "-v", "--verbose", count=True, show_envvar=True, help="More log output (repeat for debug)."
)
@click.option("-q", "--quiet", is_flag=True, show_envvar=True, help="Only errors.")
@click.pass_context
def cli(
    ctx: click.Context, config: Path | None, state_dir: Path, verbose: int, quiet: bool
) -> None:
    """OSPatrol: audit a fleet over SSH and analyse its logs, OSSEC-style."""
    verbosity = -1 if quiet else verbose
    level = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    logging.basicConfig(
        level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    ctx.obj = Context(config or _default_config(), state_dir, verbosity)


def quiet_dsa_deprecation() -> None:
    """Silence cryptography's "DSA is deprecated" warning, and only it: asyncssh and paramiko
    name the DSA types at import, which printed ten lines in every run (and every cron mail)."""
    from cryptography.utils import CryptographyDeprecationWarning

    warnings.filterwarnings(
        "ignore", message="DSA is deprecated", category=CryptographyDeprecationWarning
    )


def main() -> None:
    """Console-script entry point."""
    quiet_dsa_deprecation()
    cli.main(prog_name="ospatrol")

"""`ospatrol check`: run compliance policies on inventory hosts, or on a device config offline.

    ospatrol check --policy cis_debian12.yml -i inventory.yml [--limit web*]
    ospatrol check --policy cis/cisco_ios.yml --config router.cfg --platform cisco_ios

Exit status: 0 no check failed, 1 some check failed, 2 some host could not be checked or some
check was not run (wins over 1), 3 usage, policy or inventory error.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ospatrol.cli import Context, pass_context
from ospatrol.cli.options import inventory_option

FORMATS = ("text", "json", "junit")
EPILOG = """\b
Exit status:
  0  no check failed
  1  some check failed
  2  some host could not be checked, or some check was not run; wins over 1
  3  usage, policy, waiver or inventory error
"""


def _shows(values: tuple[str, ...]) -> dict[str, Path]:
    shows = {}
    for value in values:
        command, sep, path = value.rpartition("=")
        if not sep or not command.strip():
            raise click.BadParameter(f"{value!r}: expected 'COMMAND=FILE'", param_hint="--show")
        shows[command.strip()] = Path(path)
    return shows


@click.command(epilog=EPILOG)
@click.option(
    "-p",
    "--policy",
    multiple=True,
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="Policy file (SCA .yml, rootcheck .txt, native cis/*.yml) or folder; repeatable.",
)
@inventory_option("Ansible inventory: check its hosts over their transports.", required=False)
@click.option("-l", "--limit", help="Ansible --limit pattern selecting hosts.")
@click.option(
    "--config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A device config to check offline (with --platform) instead of hosts.",
)
@click.option("--platform", help="The device platform of --config (cisco_ios, juniper_junos, ...).")
@click.option(
    "--show",
    multiple=True,
    help="Offline: 'COMMAND=FILE', the saved output of a show command; repeatable.",
)
@click.option("--waivers", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-f", "--format", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option("-v", "--verbose", is_flag=True, help="Text: list every check, not only failures.")
@pass_context
def check(
    ctx: Context,
    policy: tuple[Path, ...],
    inventory: Path | None,
    limit: str | None,
    config: Path | None,
    platform: str | None,
    show: tuple[str, ...],
    waivers: Path | None,
    format: str,
    verbose: bool,
) -> None:
    """Evaluate compliance policies: over SSH on hosts, or offline on a device config."""
    from ospatrol.policy.check import check_hosts, check_offline, exit_status
    from ospatrol.policy.load import load_policies
    from ospatrol.policy.report import RENDERERS

    if (inventory is None) == (config is None):
        raise click.UsageError("give either -i INVENTORY or --config FILE --platform NAME")
    policies = load_policies(list(policy))
    for policy in policies:
        for warning in policy.warnings:
            click.echo(f"warning: {warning}", err=True)
    waiver_list = None
    if waivers is not None:
        from ospatrol.policy.waivers import load_waivers

        waiver_list = load_waivers(waivers, policies)
    if config is not None:
        if not platform:
            raise click.UsageError("--config needs --platform")
        results = [check_offline(policies, config, platform, _shows(show), waiver_list)]
    else:
        from ospatrol.inventory import load_inventory

        assert inventory is not None
        hosts = load_inventory(inventory).select(limit)
        if not hosts:
            raise click.UsageError(f"no host of {inventory} matches {limit or 'all'!r}")
        results = check_hosts(hosts, policies, ctx.load_config(), waiver_list)
    if format == "text":
        sys.stdout.write(RENDERERS[format](results, verbose=verbose))  # type: ignore[operator]
    else:
        sys.stdout.write(RENDERERS[format](results))  # type: ignore[operator]
    status = exit_status(results)
    for waiver in waiver_list.expired() if waiver_list else ():
        # An expired waiver is a finding: the failure it hid is back, and so is the decision.
        click.echo(
            f"finding: {waiver_list.path}:{waiver.line}: waiver of check {waiver.check} for "
            f"{waiver.host} expired on {waiver.expires.isoformat()}",
            err=True,
        )
        status = max(status, 1)
    click.get_current_context().exit(status)

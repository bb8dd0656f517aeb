"""`ospatrol config history|show|diff HOST`: the stored versions of a device's configuration."""

from __future__ import annotations

import difflib
from pathlib import Path

import click

from ospatrol.cli import Context, pass_context
from ospatrol.cli.options import checks_option

DEFAULT_COMMAND = "show running-config"


def _versions(ctx: Context, host: str, command: str | None):
    from ospatrol.collect.configs import NAME, TAGS_PREFIX
    from ospatrol.store import Store

    with Store.open_for_reading(ctx.load_config().state_dir) as store:
        keys = sorted(k for k in store.states(host, NAME) if not k.startswith(TAGS_PREFIX))
        if not keys:
            raise click.UsageError(f"no configuration stored for {host}")
        key = command or (DEFAULT_COMMAND if DEFAULT_COMMAND in keys else keys[0])
        if key not in keys:
            raise click.UsageError(
                f"{host}: no stored output of {key!r}; stored: {', '.join(keys)}"
            )
        return key, store.state_history(host, NAME, key)


command_option = click.option(
    "--command", "command", help="Which stored command output (default: the running config)."
)


@click.group("config")
def config() -> None:
    """Stored device configurations: every version, as audits fetched them (secrets masked)."""


@config.command("history")
@click.argument("host")
@command_option
@pass_context
def history(ctx: Context, host: str, command: str | None) -> None:
    """One line per stored version of HOST's configuration: version, time, run, digest."""
    from ospatrol.report import iso

    key, versions = _versions(ctx, host, command)
    click.echo(f"{host}: {key}")
    for v in versions:
        run = "-" if v.run is None else v.run
        click.echo(f"{v.version}\t{iso(v.time)}\trun {run}\t{v.digest[:12]}\t{len(v.blob)} bytes")


@config.command("show")
@click.argument("host")
@click.option("--version", "version", type=int, help="Which version (default: the latest).")
@command_option
@pass_context
def show(ctx: Context, host: str, version: int | None, command: str | None) -> None:
    """Print a stored version of HOST's configuration."""
    from ospatrol.escape import escape

    _key, versions = _versions(ctx, host, command)
    chosen = versions[-1] if version is None else _pick(versions, version)
    click.echo("\n".join(escape(line) for line in chosen.text.splitlines()))


@config.command("diff")
@click.argument("host")
@click.option("--from", "old", type=int, help="Older version (default: the one before --to).")
@click.option("--to", "new", type=int, help="Newer version (default: the latest).")
@command_option
@click.option(
    "--blocks",
    is_flag=True,
    help="Changed lines under their parent blocks, one section per block and kind of change "
    "(access rule widened, ...), as the audit reports them, instead of a unified diff.",
)
@click.option(
    "--platform",
    help="With --blocks: whose profile says what a block and a kind are (default: the "
    "platform the host was last audited as).",
)
@checks_option
@pass_context
def diff(
    ctx: Context,
    host: str,
    old: int | None,
    new: int | None,
    command: str | None,
    blocks: bool,
    platform: str | None,
    checks: Path | None,
) -> None:
    """A unified diff between two stored versions of HOST's configuration."""
    from ospatrol.escape import escape

    key, versions = _versions(ctx, host, command)
    after = versions[-1] if new is None else _pick(versions, new)
    before = _pick(versions, after.version - 1 if old is None else old)
    old_name, new_name = f"{host} {key} v{before.version}", f"{host} {key} v{after.version}"
    if blocks:
        lines = _block_lines(ctx, host, key, platform, checks, before.text, after.text)
        lines = [f"--- {old_name}", f"+++ {new_name}", *lines]
    else:
        lines = difflib.unified_diff(
            before.text.splitlines(), after.text.splitlines(), old_name, new_name, lineterm=""
        )
    for line in lines:
        click.echo(escape(line))


def _block_lines(
    ctx: Context,
    host: str,
    key: str,
    platform: str | None,
    checks: Path | None,
    old: str,
    new: str,
) -> list[str]:
    """The findings the audit makes of `old` -> `new`, as a header line and the block's diff."""
    from ospatrol.collect.configs import ConfigCommand, changed_findings
    from ospatrol.profiles import load_profiles, profile_for
    from ospatrol.store import Store

    if platform is None:
        with Store.open_for_reading(ctx.load_config().state_dir) as store:
            platform = next((h.platform for h in store.hosts() if h.name == host), None)
        if not platform:
            raise click.UsageError(f"{host}: platform unknown to the store; give --platform")
    profile = profile_for(load_profiles(checks), platform)
    section = None if profile is None else profile.sections.get("config")
    if section is None:
        raise click.UsageError(f"platform {platform!r} has no config profile to read blocks from")
    out: list[str] = []
    for finding in changed_findings(host, ConfigCommand(key, key), old, new, section):
        out += [f"== {finding.detail}", *(finding.diff or "").split("\n")]
    return out


def _pick(versions, number: int):
    for v in versions:
        if v.version == number:
            return v
    raise click.UsageError(f"no version {number}; stored: 1 to {versions[-1].version}")

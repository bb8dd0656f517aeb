"""`ospatrol rules check`: load a rule set (OSSEC's or ours) and report every problem in it."""

from __future__ import annotations

from pathlib import Path

import click

from ospatrol.cli.logtest_cmd import load_chosen_ruleset, ruleset_options


@click.group("rules")
def rules() -> None:
    """Work with decoder and rule sets."""


@rules.command("check")
@ruleset_options
def check(
    home: Path | None, ossec_conf: Path | None, rules_dir: Path | None, decoders: tuple[Path, ...]
) -> None:
    """Validate decoders, lists and rules; print every error (file:line: message), and the
    warnings of a Wazuh rule set (what wazuh-analysisd reports and loads anyway)."""
    from ospatrol.errors import InputErrors

    try:
        ruleset = load_chosen_ruleset(home, ossec_conf, rules_dir, decoders)
    except InputErrors as exc:
        for error in exc.errors:
            click.echo(str(error), err=True)
        click.echo(f"{len(exc.errors)} error(s)", err=True)
        raise SystemExit(1) from None
    from ospatrol.analysis.pcre import LINEAR_TIME_MISSING, linear_time_available

    for warning in ruleset.warnings:
        click.echo(f"warning: {warning}", err=True)
    if not linear_time_available():
        click.echo(f"warning: {LINEAR_TIME_MISSING}", err=True)
    click.echo(
        f"ok: {ruleset.dialect} dialect, {len(ruleset.warnings)} warning(s), "
        f"{ruleset.decoder_count} decoders, {len(ruleset.rules)} rules, "
        f"{len(ruleset.lists)} lists from {len(ruleset.files)} files"
    )

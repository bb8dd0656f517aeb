"""`ospatrol checks check`: validate collection profiles, as `rules check` validates rule sets."""

from __future__ import annotations

from pathlib import Path

import click


@click.group("checks")
def checks() -> None:
    """Work with collection profiles (checks/<platform>.yml)."""


@checks.command("check")
@click.argument(
    "folder", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path)
)
def check(folder: Path | None) -> None:
    """Validate every profile in FOLDER (default: the shipped checks/); print every error
    (file:line: message)."""
    from ospatrol.errors import InputErrors
    from ospatrol.profiles import load_profiles

    try:
        profiles = load_profiles(folder)
    except InputErrors as exc:
        for error in exc.errors:
            click.echo(str(error), err=True)
        click.echo(f"{len(exc.errors)} error(s)", err=True)
        raise SystemExit(1) from None
    sections = sum(len(p.sections) for p in profiles.values())
    click.echo(f"ok: {len(profiles)} profiles, {sections} sections")

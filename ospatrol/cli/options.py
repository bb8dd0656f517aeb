"""What the commands that scan hosts (`audit`, `baseline`) share: their options.

Each option is declared once here, with the help text its command gives.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def inventory_option(help: str, required: bool = True) -> Decorator:
    """`-i/--inventory` (parameter `inventory_path`): an existing inventory file or directory."""
    return click.option(
        "-i",
        "--inventory",
        "inventory_path",
        required=required,
        type=click.Path(exists=True, path_type=Path),
        help=help,
    )


checks_option: Decorator = click.option(
    "--checks",
    "checks_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder of checks/<platform>.yml profiles (default: the shipped ones).",
)
"""`--checks` (parameter `checks_dir`): another folder of platform profiles."""


def lock_wait_option(help: str, show_default: bool = False) -> Decorator:
    """`--lock-wait` (parameter `lock_wait`): seconds to wait for the audit lock, default 0."""
    return click.option(
        "--lock-wait",
        type=click.FloatRange(min=0),
        default=0.0,
        show_default=show_default,
        help=help,
    )

"""What the commands that scan hosts (`audit`, `baseline`) share: options and the locked store.

Each option is declared once here, with the help text its command gives; `locked_store` is the
store opened under the state dir's audit lock, so two scans never write it at the same time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from ospatrol.store import Store

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


@contextmanager
def locked_store(state_dir: Path, wait: float) -> Iterator[Store]:
    """The store of `state_dir`, held under its audit lock (waiting up to `wait` s for it)."""
    from ospatrol.audit.lock import audit_lock
    from ospatrol.store import Store

    with audit_lock(state_dir, wait=wait), Store.open(state_dir) as store:
        yield store

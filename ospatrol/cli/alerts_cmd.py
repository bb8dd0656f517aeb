"""`ospatrol alerts`: query the stored alerts (from syslog, agents and audits)."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime

import click

from ospatrol.cli import Context, pass_context

_AGO = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str, now: float | None = None) -> float:
    """`30m`, `2h`, `7d` (ago), an ISO date/time, or epoch seconds, as epoch seconds."""
    now = time.time() if now is None else now
    found = _AGO.fullmatch(text.strip())
    if found:
        return now - float(found.group(1)) * _SECONDS[found.group(2)]
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise click.BadParameter(
            f"{text!r}: use a duration (30m, 2h, 7d), an ISO date/time or epoch seconds"
        ) from None


def _printable(text: str) -> str:
    """One line a terminal shows as-is: control characters escaped (senders are attackers)."""
    return text.encode("unicode_escape").decode("ascii") if not text.isprintable() else text


@click.command("alerts")
@click.option("--since", help="Only alerts since: a duration ago (30m, 2h, 7d) or a date/time.")
@click.option("--level", type=click.IntRange(0, 15), help="Only alerts at this level or above.")
@click.option("--host", help="Only alerts about this host.")
@click.option("--rule", "rule_id", type=int, help="Only alerts of this rule id.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: one object per line.",
)
@pass_context
def alerts(
    ctx: Context,
    since: str | None,
    level: int | None,
    host: str | None,
    rule_id: int | None,
    fmt: str,
) -> None:
    """Show stored alerts, oldest first."""
    from ospatrol.store import Store

    start = parse_since(since) if since else None
    with Store.open(ctx.state_dir) as store:
        found = store.alerts(host=host, since=start, level=level, rule=rule_id)
    for stored in found:
        if fmt == "json":
            record = stored.alert or {
                "rule_id": stored.rule_id,
                "level": stored.level,
                "description": stored.description,
                "groups": list(stored.groups),
                "fields": stored.fields,
                "host": stored.host,
                "location": stored.location,
                "text": stored.text,
            }
            click.echo(json.dumps({"id": stored.id, "time": stored.time, **record}))
            continue
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stored.time))
        click.echo(
            f"{when} rule {stored.rule_id} (level {stored.level}) "
            f"{_printable(stored.host)} {_printable(stored.location)}: "
            f"{_printable(stored.description)}"
        )
        click.echo(f"    {_printable(stored.text)}")

"""The manager's alert outputs, built from the `outputs:` section: each is an `AlertSink` with
its own queue, so a slow one never holds up analysis or another output."""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any

from ospatrol.manager.config import ManagerConfig
from ospatrol.manager.workers import Rendering
from ospatrol.respond.files import alerts_json_sink, alerts_log_sink, archives_sink


def manager_name(config: ManagerConfig) -> str:
    return config.analysis.hostname or platform.node() or "localhost"


def rendering(config: ManagerConfig, state_dir: Path) -> Rendering:
    """What the analysis workers do with alerts: render them for the file outputs configured
    (and every event for the archives), and store every alert (the store is not one of the
    manager's sinks); the alerts themselves come back only for the outputs that take records
    (e-mail, syslog, webhook) and active responses."""
    out = config.outputs
    texts = {"alerts_json"} if out.alerts_json.enabled else set()
    if out.alerts_log.enabled:
        texts.add("alerts_log")
    if out.archives is not None:
        texts.update(f"archives_{form}" for form in out.archives.formats)
    records = any(o is not None for o in (out.email, out.syslog, out.webhook))
    return Rendering(
        frozenset(texts),
        manager_name(config),
        str(state_dir),
        alerts=records or bool(config.responses.rules),
    )


def build_sinks(config: ManagerConfig, state_dir: Path) -> list[Any]:
    outputs = config.outputs
    name = manager_name(config)
    sinks: list[Any] = []
    if outputs.alerts_json.enabled:
        out = outputs.alerts_json
        sinks.append(
            alerts_json_sink(
                state_dir / "alerts.json",
                max_size=out.max_size,
                daily=out.daily,
                maxsize=out.queue_size,
                manager=name,
            )
        )
    if outputs.alerts_log.enabled:
        out = outputs.alerts_log
        sinks.append(
            alerts_log_sink(
                state_dir / "alerts.log",
                max_size=out.max_size,
                daily=out.daily,
                maxsize=out.queue_size,
            )
        )
    if outputs.archives is not None:
        archives = outputs.archives
        for form in archives.formats:
            sinks.append(
                archives_sink(
                    f"archives_{form}",
                    state_dir / f"archives.{form}",
                    max_size=archives.file.max_size,
                    daily=archives.file.daily,
                    maxsize=archives.file.queue_size,
                )
            )
    if outputs.email is not None:
        from ospatrol.respond.email import email_sink

        sinks.append(email_sink(outputs.email, name))
    if outputs.syslog is not None:
        from ospatrol.respond.forward import forward_sink

        sinks.append(forward_sink(outputs.syslog))
    if outputs.webhook is not None:
        from ospatrol.respond.webhook import webhook_sink

        sinks.append(webhook_sink(outputs.webhook, name))
    return sinks

"""Prometheus metrics of the manager (prometheus-client), served on an optional local port.

A custom collector reads the manager's counters at scrape time, so the hot path only bumps
plain `Counter`s: events received, dropped, denied and rejected per listener; analysed, decoded,
alerted and rejected by the workers, batches lost with a dead worker, lines a pattern gave up
on (time budget); the intake's depth; per output delivered, dropped, failed
and queued; audit runs of the scheduler by outcome and their durations.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

if TYPE_CHECKING:
    from ospatrol.manager.daemon import Manager


# Analysis counters that are not an event's outcome, exported under names of their own.
NOT_EVENT_OUTCOMES = frozenset(
    ("reloads", "reload_failed", "submitted", "lost_batches", "regex_timeouts")
)


class ManagerCollector:
    """Turns `Manager.stats()` into metric families on every scrape."""

    def __init__(self, manager: Manager) -> None:
        self.manager = manager

    def collect(self) -> Iterator[Metric]:
        stats = self.manager.stats()
        listener = CounterMetricFamily(
            "ospatrol_syslog_events",
            "Syslog messages per listener by outcome (received, dropped, denied, rejected:*).",
            labels=["listener", "outcome"],
        )
        for name, counts in stats["listeners"].items():
            for outcome, value in counts.items():
                if outcome != "connections":
                    listener.add_metric([name, outcome], value)
        yield listener
        connections = CounterMetricFamily(
            "ospatrol_syslog_connections", "Accepted TCP/TLS connections.", labels=["listener"]
        )
        for name, counts in stats["listeners"].items():
            connections.add_metric([name], counts.get("connections", 0))
        yield connections
        analysis = CounterMetricFamily(
            "ospatrol_analysis_events",
            "Events through analysis by outcome (analysed, decoded, alerts, rejected:*).",
            labels=["outcome"],
        )
        for outcome, value in stats["analysis"].items():
            if outcome not in NOT_EVENT_OUTCOMES:
                analysis.add_metric([outcome], value)
        yield analysis
        lost = CounterMetricFamily(
            "ospatrol_analysis_lost_batches",
            "Batches of events lost with an analysis worker that died (it is restarted).",
        )
        lost.add_metric([], stats["analysis"].get("lost_batches", 0))
        yield lost
        timeouts = CounterMetricFamily(
            "ospatrol_analysis_regex_timeouts",
            "Lines a pattern gave up on (time budget) and judged as not matching; "
            "install google-re2 (the `fast` extra) to match in linear time instead.",
        )
        timeouts.add_metric([], stats["analysis"].get("regex_timeouts", 0))
        yield timeouts
        reloads = CounterMetricFamily(
            "ospatrol_reloads", "SIGHUP reloads by outcome.", labels=["outcome"]
        )
        reloads.add_metric(["ok"], stats["analysis"].get("reloads", 0))
        reloads.add_metric(["failed"], stats["analysis"].get("reload_failed", 0))
        yield reloads
        queue = GaugeMetricFamily(
            "ospatrol_queue_depth", "Items waiting per queue.", labels=["queue"]
        )
        queue.add_metric(["intake"], stats["queue"])
        for name, counts in stats["outputs"].items():
            queue.add_metric([f"output:{name}"], counts.get("queued", 0))
        yield queue
        outputs = CounterMetricFamily(
            "ospatrol_output_alerts",
            "Alerts per output by outcome (delivered, dropped, failed).",
            labels=["output", "outcome"],
        )
        for name, counts in stats["outputs"].items():
            for outcome, value in counts.items():
                if outcome != "queued":
                    outputs.add_metric([name, outcome], value)
        yield outputs
        audits = stats.get("audits", {})
        runs = CounterMetricFamily(
            "ospatrol_audit_runs", "Scheduled audit runs by job and outcome.",
            labels=["job", "outcome"],
        )  # fmt: skip
        seconds = GaugeMetricFamily(
            "ospatrol_audit_last_duration_seconds", "Duration of each job's last run.",
            labels=["job"],
        )  # fmt: skip
        for job, record in audits.items():
            for outcome, value in record.get("outcomes", {}).items():
                runs.add_metric([job, outcome], value)
            if record.get("last_duration") is not None:
                seconds.add_metric([job], record["last_duration"])
        yield runs
        yield seconds


def serve_metrics(manager: Manager, host: str, port: int) -> int:
    """Start the metrics HTTP server on a daemon thread; returns the bound port."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ManagerCollector(manager))  # type: ignore[arg-type]
    server, _thread = start_http_server(port, addr=host, registry=registry)
    return int(server.server_port)

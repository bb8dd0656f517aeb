"""An analysis worker process: `python -m ospatrol.manager.worker SPEC_JSON`.

It loads the rule set once, answers `ready` (or `error` with every load problem), then reads
batches of received frames on stdin, turns each into an Event (`ospatrol.syslog.event`), runs it
through its own `Engine` and writes back the counts of each batch on stdout, with the text of
the file outputs (alerts.json, alerts.log, the archives) already rendered and the alerts already
in the store's alerts table (that work is spread over the cores, off the manager's single
process); the Alert records too when an output or active response needs them. `stop`
makes it answer `stopped` and exit once everything before it was analysed, which is how the
manager drains on SIGTERM and swaps rule sets on SIGHUP without losing an event.

Correlation state lives in the worker's engine; the manager sends every frame of one sender to
the same worker, so frequency, same_source_ip and first-time-seen rules see all of a device's
events (see docs/manager.md for what that does not cover).
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ospatrol.jsontext import dumps
from ospatrol.manager.channel import pack, read_message
from ospatrol.model import Alert

log = logging.getLogger("ospatrol.manager.worker")
# How often a worker looks for patterns that gave up on a line (a walk over every pattern).
TIMEOUT_CHECK_SECONDS = 1.0


def load_engine(spec: dict[str, Any]):
    """The engine the spec names: the same choice of rule set as `ospatrol logtest`."""
    from ospatrol.analysis.engine import Engine
    from ospatrol.cli.logtest_cmd import load_chosen_ruleset

    ruleset = load_chosen_ruleset(
        None,
        Path(spec["ossec_conf"]) if spec.get("ossec_conf") else None,
        Path(spec["rules_dir"]) if spec.get("rules_dir") else None,
        tuple(Path(p) for p in spec.get("decoders", ())),
    )
    return Engine(ruleset, hostname=spec.get("hostname") or "localhost")


class Analyser:
    """One worker's engine plus what it does with alerts before they travel: a manager-wide
    unique id (`<epoch>.<serial * workers + index>`), and the alerts.json / alerts.log text
    rendered here, on this core, instead of in the manager's single process."""

    def __init__(self, engine, spec: dict[str, Any]) -> None:
        self.engine = engine
        self.index = int(spec.get("index", 0))
        self.workers = max(1, int(spec.get("workers", 1)))
        self.render = frozenset(spec.get("render", ()))
        self.manager_name = spec.get("manager_name")
        self.send_alerts = bool(spec.get("alerts", True))
        self.serial = 0
        self._timeouts: dict[str, int] = {}
        self._next_timeout_check = 0.0
        self.store = None
        if spec.get("store_dir"):
            from ospatrol.store import Store

            self.store = Store.open(Path(spec["store_dir"]))

    def analyse(self, frames: Sequence[Sequence], events: Sequence = ()) -> tuple:
        """Alerts (when the manager wants them), counts, and the rendered text of each file
        output for one batch: `frames` as columns (sources, datas, times) of received frames,
        `events` the manager's own Events."""
        from ospatrol.respond.alertfmt import (
            format_alerts_log,
            format_archive_json,
            format_archives_log,
        )
        from ospatrol.respond.files import json_line
        from ospatrol.syslog.event import syslog_event

        alerts = []
        counts: Counter[str] = Counter()
        analysed = decoded = 0
        render = self.render
        archive_json = [] if "archives_json" in render else None
        archive_log = [] if "archives_log" in render else None
        manager = self.manager_name or "localhost"
        process = self.engine.process
        columns = zip(*frames, strict=True)
        items = [*columns, *events] if events else columns
        for item in items:
            try:
                result = process(syslog_event(*item) if isinstance(item, tuple) else item)
            except Exception:  # a bug must cost one event, not the worker and its batch
                origin = item[0] if isinstance(item, tuple) else item.location
                log.exception("analysis failed on an event from %s", origin)
                counts["rejected:error"] += 1
                continue
            if result.rejected is not None:
                counts[f"rejected:{result.rejected}"] += 1
                continue
            analysed += 1
            if result.decoder is not None:
                decoded += 1
            if archive_json is not None:
                archive_json.append(dumps(format_archive_json(result, manager=manager)) + "\n")
            if archive_log is not None:
                archive_log.append(format_archives_log(result))
            if result.alert is not None:
                self.serial += 1
                number = self.serial * self.workers + self.index
                alerts.append(_renumbered(result.alert, f"{int(result.alert.event.time)}.{number}"))
        counts["analysed"] += analysed
        counts["decoded"] += decoded
        counts["alerts"] += len(alerts)
        self.count_timeouts(counts)
        if self.store is not None and alerts:
            self._store(alerts, counts)
        texts: dict[str, tuple[str, int]] = {}
        if "alerts_json" in render:
            texts["alerts_json"] = (
                "".join(json_line(a, self.manager_name) for a in alerts),
                len(alerts),
            )
        if "alerts_log" in render:
            texts["alerts_log"] = (
                "".join(format_alerts_log(a, a.alert_id) for a in alerts),
                len(alerts),
            )
        if archive_json is not None:
            texts["archives_json"] = ("".join(archive_json), analysed)
        if archive_log is not None:
            texts["archives_log"] = ("".join(archive_log), analysed)
        return alerts if self.send_alerts else [], +counts, texts

    def count_timeouts(self, counts: Counter, *, now: bool = False) -> None:
        """Count (as `regex_timeouts`) and log the lines a pattern gave up on since the last
        look: each such line was judged as if the pattern did not match, which a sender who
        pads lines can aim at (README: the `fast` extra). The pattern is rule content, never
        the line. Looked at after a batch at most once a second, as it walks every pattern of
        the rule set; `now` looks whenever (the worker's last look, when it stops)."""
        clock = time.monotonic()
        if clock < self._next_timeout_check and not now:
            return
        self._next_timeout_check = clock + TIMEOUT_CHECK_SECONDS
        for source, total in self.engine.ruleset.regex_timeouts().items():
            new = total - self._timeouts.get(source, 0)
            if new > 0:
                self._timeouts[source] = total
                counts["regex_timeouts"] += new
                log.warning(
                    "pattern %r gave up on %d line(s) (time budget) and counted as not matching",
                    source,
                    new,
                )

    def _store(self, alerts: list, counts: Counter) -> None:
        """Every alert into the store's alerts table, one transaction per batch."""
        from ospatrol.store import StoreError

        try:
            self.store.add_alerts(alerts)  # type: ignore[union-attr]
        except (StoreError, OSError) as exc:
            log.error("storing %d alert(s) failed: %s", len(alerts), exc)
            counts["store_failed"] += len(alerts)
        else:
            counts["stored"] += len(alerts)


def _renumbered(alert: Alert, alert_id: str) -> Alert:
    """`alert` with another id. A copy of the instance's dict: `dataclasses.replace` runs the
    whole constructor again, which cost as much as rendering the alert to alerts.json."""
    state = getattr(alert, "__dict__", None)
    if state is None:
        return replace(alert, alert_id=alert_id)
    copy = object.__new__(alert.__class__)
    copy.__dict__.update(state, alert_id=alert_id)
    return copy


def main(argv: list[str]) -> int:
    # The manager handles signals; a worker stops when told to or when its stdin closes.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    spec = json.loads(argv[1])
    stdin = open(sys.stdin.fileno(), "rb", buffering=1 << 20, closefd=False)  # noqa: SIM115
    stdout = open(sys.stdout.fileno(), "wb", buffering=1 << 20, closefd=False)  # noqa: SIM115
    from ospatrol.errors import OSPatrolError

    try:
        engine = load_engine(spec)
    except OSPatrolError as exc:
        stdout.write(pack(("error", str(exc))))
        stdout.flush()
        return 1
    analyser = Analyser(engine, spec)
    stdout.write(pack(("ready", None)))
    stdout.flush()
    while True:
        message = read_message(stdin)
        if message is None or message[0] == "stop":
            # Logged only: the counters of a stopping worker reach no stats.
            analyser.count_timeouts(Counter(), now=True)
            stdout.write(pack(("stopped", dict(engine.counters))))
            stdout.flush()
            return 0
        stdout.write(pack(("done", *analyser.analyse(message[1], message[2]))))
        stdout.flush()


if __name__ == "__main__":
    sys.exit(main(sys.argv))

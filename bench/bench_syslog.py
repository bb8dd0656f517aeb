"""Syslog through the whole manager pipeline: receive, parse, decode, rules, alerts.json.

Starts a real `ospatrol manager` (own state dir, TCP and UDP listeners on 127.0.0.1) and feeds it
the 100k-line synthetic corpus (`../shared/data/logs/generated/syslog100k.log`, a PRI added):

Senders use the loopback addresses 127.0.0.2.. (`--senders`, default 8): the manager gives each
sending address to one analysis worker, so several devices are needed to use several workers.

* TCP: one connection per sender sends its share as fast as the manager takes it
  (back-pressure holds the senders, nothing is dropped); the rate is events / (first byte
  sent .. last event analysed), checked against the manager's own count (zero loss means
  analysed == sent).
* UDP: paced senders at rising rates for a few seconds each; kernel drops are read from
  /proc/net/snmp (Udp RcvbufErrors/InErrors) and the manager's counts give intake drops (the
  explicit drop policy when analysis cannot keep up). The highest rate with no kernel drop is
  printed, with what analysis kept up with.
* CPU per event: user+system time of the manager and its workers (/proc/PID/stat) per event.
* Memory: RSS of the manager and its workers before and after (`--soak SECONDS` adds a
  sustained-rate run in between to watch it stay flat).

Both are run with 1 analysis worker and with one per core.

    .venv/bin/python bench/bench_syslog.py [--quick] [--udp-rates 10000,25000,50000]
                                           [--soak 600]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("OSPATROL_TEST_DATA", REPO.parent / "shared" / "data"))
CORPUS = DATA / "logs" / "generated" / "syslog100k.log"
TCP_TARGET = 25_000
UDP_TARGET = 50_000
CLOCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def lines(limit: int | None, corpus: Path = CORPUS, least: int = 20_000) -> list[bytes]:
    """The corpus' lines with a PRI, the first `limit`; a small corpus is repeated until it
    has `least` lines."""
    with corpus.open("rb") as handle:
        raw = [line.rstrip(b"\r\n") for line in handle]
    raw = [b"<13>" + line for line in raw if line]
    if raw and len(raw) < least:
        raw = raw * -(-least // len(raw))
    return raw[:limit] if limit else raw


class Manager:
    def __init__(self, workers: int) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="bench-syslog-"))
        config = self.dir / "ospatrol.yml"
        config.write_text(
            "syslog:\n"
            "  - {protocol: tcp, listen: '127.0.0.1:0'}\n"
            "  - {protocol: udp, listen: '127.0.0.1:0'}\n"
            f"analysis: {{workers: {workers}, queue_size: 200000}}\n"
            "metrics: {listen: '127.0.0.1:0'}\n"
        )
        self.state = self.dir / "state"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ospatrol", "--state-dir", str(self.state), "manager", "-c",
             str(config)],
            stdout=subprocess.DEVNULL, stderr=open(self.dir / "manager.log", "wb"),  # noqa: SIM115
        )  # fmt: skip
        deadline = time.monotonic() + 120
        info = self.state / "manager.json"
        while not (info.exists() and json.loads(info.read_text())["pid"] == self.process.pid):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise SystemExit(f"manager did not start: {(self.dir / 'manager.log').read_text()}")
            time.sleep(0.1)
        listeners = json.loads(info.read_text())["listeners"]
        self.tcp = next(x["port"] for x in listeners if x["protocol"] == "tcp")
        self.udp = next(x["port"] for x in listeners if x["protocol"] == "udp")
        self.metrics_url = f"http://127.0.0.1:{json.loads(info.read_text())['metrics_port']}/"

    def pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [self.process.pid, *(int(p) for p in children.read_text().split())]

    def cpu(self, main_only: bool = False) -> float:
        total = 0
        for pid in self.pids()[:1] if main_only else self.pids():
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        return total / CLOCK

    def rss_mb(self) -> float:
        return sum(
            int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE for pid in self.pids()
        ) / (1 << 20)

    def stats(self) -> dict:
        while True:
            try:
                return json.loads((self.state / "manager-stats.json").read_text())
            except (FileNotFoundError, json.JSONDecodeError):
                time.sleep(0.05)

    def counters(self) -> dict[str, float]:
        """The manager's live counters from its metrics endpoint (manager-stats.json is only
        rewritten every second, too coarse to time a run of a few seconds)."""
        with urllib.request.urlopen(self.metrics_url, timeout=30) as response:
            text = response.read().decode()
        values: dict[str, float] = {}
        for line in text.splitlines():
            if line.startswith(("ospatrol_analysis_events_total", "ospatrol_output_alerts_total")):
                name, value = line.rsplit(" ", 1)
                values[name] = float(value)
        return values

    def analysed(self, counters: dict[str, float] | None = None) -> int:
        """Events through analysis (analysed or rejected)."""
        counters = self.counters() if counters is None else counters
        return int(
            sum(v for k, v in counters.items() if k.startswith("ospatrol_analysis_events_total")
                and ('outcome="analysed"' in k or 'outcome="rejected:' in k))
        )  # fmt: skip

    @staticmethod
    def alerts(counters: dict[str, float]) -> tuple[int, int]:
        """(alerts raised, alerts written to alerts.json)."""
        raised = counters.get('ospatrol_analysis_events_total{outcome="alerts"}', 0)
        written = counters.get(
            'ospatrol_output_alerts_total{outcome="delivered",output="alerts_json"}', 0
        )
        return int(raised), int(written)

    def taken(self) -> int:
        """Events the listeners received and handed to analysis (not dropped at the intake)."""
        return sum(
            c.get("received", 0) - c.get("dropped", 0) for c in self.stats()["listeners"].values()
        )

    def wait_analysed(self, count: int, timeout: float = 1800) -> float:
        """Wait until `count` events went through analysis and their alerts are in
        alerts.json; returns the time that happened."""
        deadline = time.monotonic() + timeout
        while True:
            counters = self.counters()
            raised, written = self.alerts(counters)
            if self.analysed(counters) >= count and written >= raised:
                return time.monotonic()
            if time.monotonic() > deadline:
                raise SystemExit(f"only {self.analysed(counters)} of {count} analysed")
            time.sleep(0.1)  # each scrape costs the manager a little CPU

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(1800)


def udp_errors() -> tuple[int, int]:
    rows = [line.split() for line in Path("/proc/net/snmp").read_text().splitlines()]
    udp = [row for row in rows if row[0] == "Udp:"]
    names, values = udp[0], udp[1]
    get = dict(zip(names[1:], map(int, values[1:]), strict=True))
    return get["InErrors"], get["RcvbufErrors"]


def _sender_address(index: int) -> str:
    """Loopback source addresses 127.0.0.2, .3, ...: the manager spreads senders over its
    workers by address, and on loopback every client would otherwise be 127.0.0.1."""
    return f"127.0.0.{2 + index}"


def bench_tcp(manager: Manager, data: list[bytes], senders: int) -> dict:
    chunks = [b"".join(line + b"\n" for line in data[i::senders]) for i in range(senders)]
    counters0 = manager.counters()
    before = manager.analysed(counters0)
    alerts0 = manager.alerts(counters0)[0]
    cpu0 = manager.cpu()
    main0 = manager.cpu(main_only=True)

    def send(index: int) -> None:
        with socket.create_connection(
            ("127.0.0.1", manager.tcp), source_address=(_sender_address(index), 0)
        ) as sock:
            sock.sendall(chunks[index])

    start = time.monotonic()
    threads = [threading.Thread(target=send, args=(i,)) for i in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    end = manager.wait_analysed(before + len(data))
    cpu = manager.cpu() - cpu0
    main = manager.cpu(main_only=True) - main0
    counters = manager.counters()
    return {
        "alerts": manager.alerts(counters)[0] - alerts0,
        "events": len(data),
        "seconds": end - start,
        "rate": len(data) / (end - start),
        "cpu_us_per_event": cpu / len(data) * 1e6,
        "main_us_per_event": main / len(data) * 1e6,
        "lost": before + len(data) - manager.analysed(counters),
    }


def bench_udp(manager: Manager, data: list[bytes], rate: int, seconds: float, senders: int) -> dict:
    count = int(rate * seconds)
    in_errors0, buf_errors0 = udp_errors()
    stats0 = manager.stats()["listeners"]
    received0 = sum(v.get("received", 0) for k, v in stats0.items() if k.startswith("udp"))
    dropped0 = sum(v.get("dropped", 0) for k, v in stats0.items() if k.startswith("udp"))
    socks = []
    for index in range(senders):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((_sender_address(index), 0))
        sock.connect(("127.0.0.1", manager.udp))
        socks.append(sock)
    start = time.monotonic()
    batch = max(1, rate // 1000)
    sent = 0
    while sent < count:
        for i in range(sent, min(sent + batch, count)):
            socks[i % senders].send(data[i % len(data)])
        sent = min(sent + batch, count)
        ahead = start + sent / rate - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)
    elapsed = time.monotonic() - start
    for sock in socks:
        sock.close()
    time.sleep(1.5)
    in_errors, buf_errors = udp_errors()
    stats = manager.stats()["listeners"]
    received = sum(v.get("received", 0) for k, v in stats.items() if k.startswith("udp"))
    dropped = sum(v.get("dropped", 0) for k, v in stats.items() if k.startswith("udp"))
    return {
        "rate_asked": rate,
        "rate_sent": count / elapsed,
        "received": received - received0,
        "kernel_drops": (in_errors - in_errors0) + (buf_errors - buf_errors0),
        "intake_drops": dropped - dropped0,
    }


def run(workers: int, data: list[bytes], udp_rates: list[int], soak: float, senders: int) -> None:
    manager = Manager(workers)
    try:
        label = f"{workers} worker(s)"
        rss0 = manager.rss_mb()
        bench_tcp(manager, data[:2000], senders)  # warm up the workers' caches
        tcp = bench_tcp(manager, data, senders)
        print(
            f"[{label}] TCP: {tcp['events']} events in {tcp['seconds']:.2f}s = "
            f"{tcp['rate']:,.0f} events/s through the pipeline, lost {tcp['lost']}, "
            f"CPU {tcp['cpu_us_per_event']:.0f} µs/event (manager process "
            f"{tcp['main_us_per_event']:.0f}, the rest in workers); ratio to {TCP_TARGET:,}/s: "
            f"{tcp['rate'] / TCP_TARGET:.2f}; {tcp['alerts'] / tcp['events']:.0%} of the events "
            "alerted (each alert stored, in alerts.json and alerts.log)"
        )
        best = 0
        for rate in udp_rates:
            udp = bench_udp(manager, data, rate, 3.0, senders)
            print(
                f"[{label}] UDP at {udp['rate_asked']:,}/s (sent {udp['rate_sent']:,.0f}/s): "
                f"received {udp['received']}, kernel drops {udp['kernel_drops']}, "
                f"intake drops {udp['intake_drops']}"
            )
            if udp["kernel_drops"] == 0 and udp["rate_sent"] >= 0.95 * rate:
                best = max(best, rate)
            # let analysis catch up before the next step, so each step starts from an empty queue
            manager.wait_analysed(manager.taken())
        print(
            f"[{label}] UDP: highest rate without kernel drops {best:,}/s; ratio to "
            f"{UDP_TARGET:,}/s: {best / UDP_TARGET:.2f}"
        )
        if soak:
            rate = int(tcp["rate"] * 0.5)
            rss_start = manager.rss_mb()
            udp = bench_udp(manager, data, rate, soak, senders)
            print(
                f"[{label}] soak {soak:.0f}s at {rate:,}/s UDP: RSS {rss_start:.0f} MB -> "
                f"{manager.rss_mb():.0f} MB, kernel drops {udp['kernel_drops']}, intake drops "
                f"{udp['intake_drops']}"
            )
        print(f"[{label}] RSS: {rss0:.0f} MB at start, {manager.rss_mb():.0f} MB at the end")
    finally:
        manager.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="20,000 events instead of 100,000")
    parser.add_argument("--udp-rates", default="10000,25000,50000,75000")
    parser.add_argument("--soak", type=float, default=0.0, help="seconds of sustained UDP load")
    parser.add_argument("--senders", type=int, default=8, help="sending addresses (devices)")
    parser.add_argument(
        "--corpus", type=Path, default=CORPUS,
        help="log file to send (default: the 100k synthetic syslog, 80%% of which alerts; "
        "loghub/Linux/Linux_2k.log, repeated, alerts at 41%%)",
    )  # fmt: skip
    parser.add_argument(
        "--workers", default="", help="worker counts to run, e.g. 2 (default: 1 and one per core)"
    )
    args = parser.parse_args()
    data = lines(20_000 if args.quick else None, args.corpus)
    rates = [int(r) for r in args.udp_rates.split(",") if r]
    cores = os.cpu_count() or 1
    counts = [int(w) for w in args.workers.split(",") if w] or sorted({1, cores})
    for workers in counts:
        run(workers, data, rates, args.soak, args.senders)


if __name__ == "__main__":
    main()

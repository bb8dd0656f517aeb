"""Memory of the manager under sustained syslog: RSS sampled while it is fed at a steady rate.

Starts a real `ospatrol manager` (as bench_syslog.py does: own state dir, TCP listener on
127.0.0.1, metrics endpoint) and feeds it the synthetic corpus over TCP from `--senders`
loopback addresses at `--rate` events/s for `--seconds`, cycling through the corpus. Every
`--every` seconds it samples the resident memory of the manager process and of its analysis
workers (/proc/PID/statm) and how far analysis lags behind what was sent. At the end it prints
the RSS at start, end and maximum, and the slope of a least-squares line through the samples
after the first (MB per 10 minutes); memory is flat when the slope is within the noise of the
allocator (a few MB per 10 minutes), however long the run.

    .venv/bin/python bench/bench_soak.py [--seconds 600] [--rate 2000] [--every 30]
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_syslog import PAGE, Manager, _sender_address, lines


def rss_mb(pid: int) -> float:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE / (1 << 20)


def slope_per_10min(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MB) in MB per 10 minutes."""
    n = len(samples)
    if n < 2:
        return 0.0
    mean_t = sum(t for t, _ in samples) / n
    mean_m = sum(m for _, m in samples) / n
    var = sum((t - mean_t) ** 2 for t, _ in samples)
    cov = sum((t - mean_t) * (m - mean_m) for t, m in samples)
    return cov / var * 600 if var else 0.0


class Feeder(threading.Thread):
    """Sends `rate` events/s over one TCP connection per sender, in 100 ms slices."""

    def __init__(self, port: int, data: list[bytes], rate: int, senders: int, seconds: float):
        super().__init__(daemon=True)
        self.port, self.data, self.rate = port, data, rate
        self.senders, self.seconds = senders, seconds
        self.sent = 0

    def run(self) -> None:
        address = ("127.0.0.1", self.port)
        socks = [
            socket.create_connection(address, source_address=(_sender_address(i), 0))
            for i in range(self.senders)
        ]
        start = time.monotonic()
        position = 0
        size = len(self.data)
        while (now := time.monotonic()) - start < self.seconds:
            due = int((now - start + 0.1) * self.rate)
            while self.sent < due:
                count = min(due - self.sent, 1000)
                chunk = [self.data[(position + i) % size] for i in range(count)]
                position += count
                for index, sock in enumerate(socks):
                    part = chunk[index :: self.senders]
                    if part:
                        sock.sendall(b"".join(line + b"\n" for line in part))
                self.sent += count
            time.sleep(0.1)
        for sock in socks:
            sock.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--rate", type=int, default=2000, help="events per second")
    parser.add_argument("--every", type=float, default=30.0, help="seconds between samples")
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--workers", type=int, default=0, help="0: one per core")
    args = parser.parse_args()
    data = lines(None)
    manager = Manager(args.workers or os.cpu_count() or 1)
    try:
        pids = manager.pids()
        feeder = Feeder(manager.tcp, data, args.rate, args.senders, args.seconds)
        samples: list[tuple[float, float, float]] = []
        start = time.monotonic()
        feeder.start()
        print(f"soak: {args.rate:,} events/s over TCP for {args.seconds:.0f}s, "
              f"{len(pids) - 1} worker(s); sampling every {args.every:.0f}s")  # fmt: skip
        print(" t(s)  manager MB  workers MB  total MB    sent  analysed  lag")
        while True:
            elapsed = time.monotonic() - start
            main_mb = rss_mb(pids[0])
            workers_mb = sum(rss_mb(pid) for pid in pids[1:])
            analysed = manager.analysed()
            samples.append((elapsed, main_mb, workers_mb))
            total = main_mb + workers_mb
            lag = feeder.sent - analysed
            print(f"{elapsed:5.0f}  {main_mb:10.1f}  {workers_mb:10.1f}  {total:8.1f}"
                  f"  {feeder.sent:7d}  {analysed:8d}  {lag:5d}", flush=True)  # fmt: skip
            if not feeder.is_alive():
                break
            time.sleep(max(0.0, args.every - (time.monotonic() - start - elapsed)))
        manager.wait_analysed(feeder.sent)
        totals = [(t, m + w) for t, m, w in samples]
        steady = totals[1:] or totals
        print(
            f"soak: sent {feeder.sent:,} events in {samples[-1][0]:.0f}s, all analysed; RSS "
            f"(manager + workers) start {totals[0][1]:.1f} MB, end {totals[-1][1]:.1f} MB, max "
            f"{max(m for _, m in totals):.1f} MB; slope after the first sample "
            f"{slope_per_10min(steady):+.2f} MB/10 min (manager "
            f"{slope_per_10min([(t, m) for t, m, _ in samples[1:]]):+.2f}, workers "
            f"{slope_per_10min([(t, w) for t, _, w in samples[1:]]):+.2f})"
        )
    finally:
        manager.stop()


if __name__ == "__main__":
    main()

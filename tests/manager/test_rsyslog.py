"""rsyslog (Debian's package) relaying to a real manager over TCP and over mutual TLS.

The test starts its own rsyslogd (own config, pid file and work directory; no system socket):
two imtcp inputs, each bound to a ruleset that forwards with omfwd, one over plain TCP with
octet-counted RFC 5424 frames, one over TLS (gtls) presenting a client certificate that the
manager's listener requires. `logger` feeds the inputs; the alerts must come out of the manager.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
import trustme

RSYSLOGD = shutil.which("rsyslogd") or (
    "/usr/sbin/rsyslogd" if Path("/usr/sbin/rsyslogd").exists() else None
)
GTLS = next(Path("/usr/lib").glob("*/rsyslog/lmnsd_gtls.so"), None)
LOGGER = shutil.which("logger")
pytestmark = pytest.mark.skipif(
    RSYSLOGD is None or LOGGER is None, reason="rsyslog (scripts/system-deps.sh --test) missing"
)


def _rsyslog_config(work: Path, files: dict[str, Path], ports: dict[str, int]) -> str:
    return f"""
global(
  workDirectory="{work}"
  DefaultNetstreamDriverCAFile="{files["ca"]}"
  DefaultNetstreamDriverCertFile="{files["client_cert"]}"
  DefaultNetstreamDriverKeyFile="{files["client_key"]}"
)
module(load="imtcp")
ruleset(name="totcp") {{
  action(type="omfwd" target="127.0.0.1" port="{ports["tcp"]}" protocol="tcp"
         TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format")
}}
ruleset(name="totls") {{
  action(type="omfwd" target="127.0.0.1" port="{ports["tls"]}" protocol="tcp"
         StreamDriver="gtls" StreamDriverMode="1" StreamDriverAuthMode="x509/certvalid"
         TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format")
}}
input(type="imtcp" address="127.0.0.1" port="0" listenPortFileName="{work}/in_tcp.port"
      ruleset="totcp")
input(type="imtcp" address="127.0.0.1" port="0" listenPortFileName="{work}/in_tls.port"
      ruleset="totls")
"""


def test_rsyslog_forwards_over_tcp_and_mutual_tls(manager_factory, tmp_path: Path) -> None:
    if GTLS is None:
        pytest.skip("rsyslog-gnutls missing")
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    client = ca.issue_cert("rsyslog-client.example")
    files = {
        "ca": tmp_path / "ca.pem",
        "cert": tmp_path / "server.pem",
        "key": tmp_path / "server.key",
        "client_cert": tmp_path / "client.pem",
        "client_key": tmp_path / "client.key",
    }
    ca.cert_pem.write_to_path(files["ca"])
    server.cert_chain_pems[0].write_to_path(files["cert"])
    server.private_key_pem.write_to_path(files["key"])
    client.cert_chain_pems[0].write_to_path(files["client_cert"])
    client.private_key_pem.write_to_path(files["client_key"])
    manager = manager_factory(
        f"""
syslog:
  - {{protocol: tcp, listen: "127.0.0.1:0"}}
  - {{protocol: tls, listen: "127.0.0.1:0", cert: {files["cert"]}, key: {files["key"]},
     client_ca: {files["ca"]}}}
analysis: {{workers: 2}}
"""
    )
    ports = {"tcp": manager.port("tcp"), "tls": manager.port("tls")}
    work = tmp_path / "rsyslog"
    work.mkdir()
    config = tmp_path / "rsyslog.conf"
    config.write_text(_rsyslog_config(work, files, ports))
    check = subprocess.run(
        [RSYSLOGD, "-N1", "-f", str(config)], capture_output=True, text=True, timeout=30
    )
    assert check.returncode == 0, check.stderr + check.stdout
    log = open(tmp_path / "rsyslogd.log", "wb")  # noqa: SIM115
    rsyslogd = subprocess.Popen(
        [RSYSLOGD, "-n", "-f", str(config), "-i", str(tmp_path / "rsyslogd.pid")],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        # rsyslogd's inputs listen on ports the system picks (port 0) and write them down.
        for name in ("in_tcp", "in_tls"):
            port_file = work / f"{name}.port"
            while not port_file.exists() or not port_file.read_text().strip():
                assert time.monotonic() < deadline and rsyslogd.poll() is None, "no port file"
                time.sleep(0.05)
            ports[name] = int(port_file.read_text())
        sent = {"tcp": [], "tls": []}
        for path, port in (("tcp", ports["in_tcp"]), ("tls", ports["in_tls"])):
            for i in range(3):
                address = f"10.{1 if path == 'tcp' else 2}.0.{i + 1}"
                message = f"Failed password for root from {address} port 22 ssh2"
                while True:  # retried until the deadline, should rsyslogd refuse at first
                    done = subprocess.run(
                        [LOGGER, "-n", "127.0.0.1", "-P", str(port), "--tcp", "-t", "sshd",
                         "-i", message],
                        capture_output=True, timeout=30,
                    )  # fmt: skip
                    if done.returncode == 0:
                        break
                    assert time.monotonic() < deadline, done.stderr
                    time.sleep(0.2)
                sent[path].append(address)
        manager.wait_stats(lambda s: s["analysis"].get("alerts", 0) >= 6, timeout=60)
    finally:
        rsyslogd.terminate()
        rsyslogd.wait(30)
        log.close()
    assert manager.stop() == 0
    stats = manager.stats()["listeners"]
    by_protocol = {name.split(":")[0]: counts for name, counts in stats.items()}
    assert by_protocol["tcp"]["received"] == 3
    assert by_protocol["tls"]["received"] == 3
    assert "rejected:tls" not in by_protocol["tls"]
    alerts = manager.alerts_json()
    assert sorted(a["data"]["srcip"] for a in alerts) == sorted(sent["tcp"] + sent["tls"])
    assert {a["rule"]["id"] for a in alerts} == {"80206"}
    assert {a["predecoder"]["program_name"] for a in alerts} == {"sshd"}

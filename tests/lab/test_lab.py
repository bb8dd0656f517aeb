"""`ospatrol lab up|status|down` end to end, as separate processes, and the `lab` fixture."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import asyncssh
import yaml

from ospatrol.inventory import load_inventory
from ospatrol_lab.lab import Lab
from ospatrol_lab.process import port_accepts
from ospatrol_lab.sshd import LAB_DB_PASSWORD, LAB_PASSWORD_HASH


def _ospatrol(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ospatrol", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _gone(pid: int) -> bool:
    """No such process, or a zombie waiting for a reaper (it runs nothing any more)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


async def _whoami(host: dict, known_hosts: Path) -> str:
    async with asyncssh.connect(
        host["ansible_host"],
        host["ansible_port"],
        username=host["ansible_user"],
        client_keys=[host["ansible_ssh_private_key_file"]],
        known_hosts=str(known_hosts),
        agent_path=None,
    ) as conn:
        return (await conn.run("id -un", check=True)).stdout.strip()


def test_up_status_down_leave_nothing_behind(tmp_path: Path):
    lab_dir = tmp_path / "lab"
    up = _ospatrol("lab", "up", "--dir", str(lab_dir), cwd=tmp_path)
    assert up.returncode == 0, up.stderr
    state = json.loads((lab_dir / "lab.json").read_text())
    pids = {name: int(Path(svc["pid_file"]).read_text()) for name, svc in state["services"].items()}
    ports = [port for svc in state["services"].values() for port in svc["ports"]]
    assert set(pids) == {"sshd", "switch", "simulator"}
    try:
        inventory = yaml.safe_load((lab_dir / "inventory.yml").read_text())
        groups = inventory["all"]["children"]
        linux = groups["linux"]["hosts"]["lab-linux"]
        ios = groups["ios"]["hosts"]["lab-ios"]
        assert ios["ansible_network_os"] == "cisco.ios.ios"
        assert ios["ansible_connection"] == "network_cli"
        # Secrets live in the inventory only, never in what the command prints.
        assert ios["ansible_password"] not in up.stdout + up.stderr
        assert ios["ansible_become_password"] not in up.stdout + up.stderr
        assert all(port_accepts(p) for p in ports)
        user = asyncio.run(_whoami(linux, lab_dir / "known_hosts"))
        assert user == linux["ansible_user"]

        again = _ospatrol("lab", "up", "--dir", str(lab_dir), cwd=tmp_path)
        assert again.returncode == 0
        assert "already up" in again.stdout
        assert json.loads((lab_dir / "lab.json").read_text()) == state

        status = _ospatrol("lab", "status", "--dir", str(lab_dir), cwd=tmp_path)
        assert status.returncode == 0, status.stdout
        assert status.stdout.count("running") == len(pids)
    finally:
        down = _ospatrol("lab", "down", "--dir", str(lab_dir), cwd=tmp_path)
    assert down.returncode == 0, down.stderr
    assert all(_gone(pid) for pid in pids.values()), down.stdout
    assert not any(port_accepts(p) for p in ports)
    after = _ospatrol("lab", "status", "--dir", str(lab_dir), cwd=tmp_path)
    assert after.returncode == 1
    assert "no lab" in after.stdout


def test_down_spares_a_process_that_reused_a_recorded_pid(tmp_path: Path):
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        lab_dir = tmp_path / "lab"
        lab_dir.mkdir()
        pid_file = lab_dir / "sshd.pid"
        pid_file.write_text(f"{bystander.pid}\n")
        service = {"pid_file": str(pid_file), "ports": [1], "match": ["-f", "x"], "log": "x"}
        (lab_dir / "lab.json").write_text(json.dumps({"services": {"sshd": service}}))
        status = _ospatrol("lab", "status", "--dir", str(lab_dir), cwd=tmp_path)
        assert status.returncode == 1
        assert "stopped" in status.stdout
        down = _ospatrol("lab", "down", "--dir", str(lab_dir), cwd=tmp_path)
        assert down.returncode == 0
        time.sleep(0.2)
        assert bystander.poll() is None
        assert not (lab_dir / "lab.json").exists()
    finally:
        bystander.kill()
        bystander.wait()


def test_lab_fixture_serves_what_its_inventory_says(lab: Lab):
    inventory = yaml.safe_load(lab.inventory_path.read_text())
    groups = inventory["all"]["children"]
    assert groups["linux"]["hosts"]["lab-linux"]["ansible_port"] == lab.sshd.port
    assert groups["ios"]["hosts"]["lab-ios"]["ansible_port"] == lab.switch.port
    platforms = {device["platform"] for device in lab.simulator_devices()}
    assert platforms == {
        "cisco_asa",
        "juniper_junos",
        "juniper_screenos",
        "checkpoint_gaia",
        "esxi",
    }
    for device in lab.simulator_devices():
        assert device["name"] in groups[device["platform"]]["hosts"]
        assert f"[127.0.0.1]:{device['port']} " in lab.known_hosts_path.read_text()
    known = lab.known_hosts_path.read_text().splitlines()
    assert lab.sshd.known_hosts_line in known
    assert lab.switch.known_hosts_line in known
    assert lab.is_up()
    # A failing test prints the fixture: its repr must not carry the lab's passwords.
    shown = repr(lab)
    assert lab.switch.password not in shown
    assert all(device["password"] not in shown for device in lab.simulator_devices())


def test_lab_inventory_loads_with_the_platforms_of_its_servers(lab: Lab):
    hosts = load_inventory(lab.inventory_path).hosts
    assert (hosts["lab-linux"].platform, hosts["lab-linux"].port) == ("linux", lab.sshd.port)
    assert hosts["lab-linux"].credentials.private_key_file == str(lab.sshd.client_key)
    assert (hosts["lab-ios"].platform, hosts["lab-ios"].port) == ("cisco_ios", lab.switch.port)
    assert hosts["lab-ios"].credentials.enable_secret == lab.switch.enable_password
    for device in lab.simulator_devices():
        assert hosts[device["name"]].platform == device["platform"]
        assert hosts[device["name"]].port == device["port"]


def test_a_new_lab_in_the_same_directory_keeps_ports_and_host_keys(tmp_path: Path):
    first = Lab(tmp_path / "lab")
    first.up()
    try:
        ports = (first.sshd.port, first.switch.port)
        pins = (first.sshd.known_hosts_line, first.switch.known_hosts_line)
    finally:
        first.down()
    second = Lab(tmp_path / "lab")
    second.up()
    try:
        assert (second.sshd.port, second.switch.port) == ports
        assert (second.sshd.known_hosts_line, second.switch.known_hosts_line) == pins
    finally:
        second.down()


def test_the_lab_host_shows_content_diffs_of_its_tree_with_secrets_masked(lab: Lab, tmp_path: Path):
    """What `make run` shows: the tree's account files and app config keep their content, so a
    change has a diff, and the password hashes and secrets in it are masked everywhere."""
    etc = lab.sshd.tree / "etc"
    changed = {etc / "passwd", etc / "shadow", etc / "app" / "app.conf"}
    originals = {path: path.read_bytes() for path in changed}
    secrets = [LAB_PASSWORD_HASH, LAB_DB_PASSWORD, "$6$demo$IntruderHash", "tok-4f9c2e7d1a"]
    state = tmp_path / "state"
    args = ["--state-dir", str(state), "audit", "-i", str(lab.inventory_path)]
    args += ["--limit", "lab-linux", "--only", "fim", "--format", "json"]
    assert _ospatrol(*args, cwd=tmp_path).returncode == 0
    try:
        with (etc / "passwd").open("a") as out:
            out.write("intruder:x:0:0::/root:/bin/sh\n")
        with (etc / "shadow").open("a") as out:
            out.write("intruder:$6$demo$IntruderHash:20000:0:99999:7:::\n")
        with (etc / "app" / "app.conf").open("a") as out:
            out.write("api_token = tok-4f9c2e7d1a\n")
        second = _ospatrol(*args, cwd=tmp_path)
    finally:
        for path, data in originals.items():
            path.write_bytes(data)
    assert second.returncode == 1, second.stderr
    (host,) = json.loads(second.stdout)["hosts"]
    diffs = {f["path"]: f["diff"] for f in host["findings"] if f["kind"] == "changed"}
    assert set(diffs) == {str(path) for path in changed}
    assert diffs[str(etc / "passwd")].endswith("\n+intruder:x:0:0::/root:/bin/sh")
    assert diffs[str(etc / "shadow")].endswith("\n+intruder:***:20000:0:99999:7:::")
    assert " root:***:19000:" in diffs[str(etc / "shadow")]
    assert diffs[str(etc / "app" / "app.conf")].endswith(" db_password = ***\n+api_token = ***")
    stored = b"".join(p.read_bytes() for p in state.iterdir() if p.is_file())
    for secret in secrets:
        assert secret not in second.stdout
        assert secret.encode() not in stored

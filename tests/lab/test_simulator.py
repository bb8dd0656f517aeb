"""The device simulator answers netmiko and asyncssh like the real platforms it stands in for.

Real clients against real servers on 127.0.0.1: the `lab_simulator` fixture runs the simulator as
a child process (one host per platform); the scale and robustness tests start their own.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncssh
import pytest
from netmiko import ConnectHandler
from netmiko.exceptions import NetmikoAuthenticationException

from ospatrol_lab import sim_junos
from ospatrol_lab.sim_cli import HostState
from ospatrol_lab.sim_devices import make_session
from ospatrol_lab.sim_profile import HostVars, load_profile, render
from ospatrol_lab.simulator import DeviceSimulator, SimHost, make_hosts
from tests.devices.device_helpers import edited


def netmiko(host: dict, **extra) -> ConnectHandler:
    return ConnectHandler(
        device_type=host["platform"],
        host=host["address"],
        port=host["port"],
        username=host["user"],
        password=host["password"],
        secret=host["enable_password"],
        fast_cli=True,
        conn_timeout=10,
        **extra,
    )


def connect(host: dict, known_hosts: Path):
    """asyncssh's connect to a simulated host, by its password only (no agent, no keys)."""
    return asyncssh.connect(
        host["address"],
        port=host["port"],
        username=host["user"],
        password=host["password"],
        known_hosts=str(known_hosts),
        agent_path=None,
        client_keys=None,
    )


async def exec_commands(host: dict, known_hosts: Path, *commands: str) -> list:
    async with connect(host, known_hosts) as conn:
        return [await conn.run(c) for c in commands]


def test_asa_enable_running_config_edit_and_volatile_lines(lab_simulator) -> None:
    host = lab_simulator.host("cisco_asa")
    with netmiko(host) as conn:
        assert conn.check_enable_mode()
        first = conn.send_command("show running-config")
        assert first.startswith(": Saved")
        assert f"hostname {host['name']}" in first
        assert "access-list outside_access_in extended deny ip any any log" in first
        assert first.rstrip().endswith(": end")
        community = "snmp-server community lab-test-community\n"
        with edited(Path(host["config_file"]), lambda text: text + community):
            second = conn.send_command("show running-config")
        assert "snmp-server community lab-test-community" in second
        assert "snmp-server community" not in first
        checksums = [
            re.search(r"^Cryptochecksum:(\w+)$", t, re.M).group(1) for t in (first, second)
        ]
        assert checksums[0] != checksums[1]
        clocks = {conn.send_command("show clock") for _ in range(2)}
        assert len(clocks) == 2
        assert "ERROR: % Invalid input detected at '^' marker." in conn.send_command("show bogus")


def test_asa_config_mode_change_shows_in_next_fetch(lab_simulator) -> None:
    host = lab_simulator.host("cisco_asa")
    path = Path(host["config_file"])
    original = path.read_text()
    try:
        with netmiko(host) as conn:
            conn.send_config_set(["interface GigabitEthernet1/3", " description lab-edit", "exit"])
            conn.send_config_set(["logging host inside 10.20.30.99"])
            config = conn.send_command("show running-config")
        block = config.split("interface GigabitEthernet1/3\n", 1)[1].split("!", 1)[0]
        assert " description lab-edit" in block
        assert "logging host inside 10.20.30.99" in config
        assert "logging host inside 10.20.30.99" in path.read_text()
    finally:
        path.write_text(original)


def test_asa_wrong_enable_password_is_refused(lab_simulator) -> None:
    host = lab_simulator.host("cisco_asa")
    prompt = f"{host['name']}> "
    steps = [
        ("enable\n", "Password: "),
        ("wrong-1\n", "Password: "),
        ("wrong-2\n", "Password: "),
        ("wrong-3\n", prompt),
        ("show running-config\n", prompt),
    ]
    seen = asyncio.run(_interactive(host, lab_simulator.known_hosts, steps))
    assert seen.count("Invalid password") == 2
    assert "Access denied." in seen
    assert "wrong-" not in seen
    assert "ERROR: % Invalid input detected at '^' marker." in seen
    assert seen.rstrip().endswith(f"{host['name']}>")


def test_junos_show_configuration_curly_and_set(lab_simulator) -> None:
    host = lab_simulator.host("juniper_junos")
    with netmiko(host) as conn:
        curly = conn.send_command("show configuration")
        again = conn.send_command("show configuration")
        flat = conn.send_command("show configuration | display set")
        services = conn.send_command("show configuration system services ssh")
        error = conn.send_command("show bogus")
    assert re.match(r"## Last changed: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", curly)
    assert f"    host-name {host['name']};" in curly
    assert curly.split("\n", 1)[1] == again.split("\n", 1)[1]
    assert f"set system host-name {host['name']}" in flat.splitlines()
    assert "set system services ssh root-login deny" in flat.splitlines()
    assert "set security zones security-zone untrust screen untrust-screen" in flat.splitlines()
    policy = "set security policies from-zone trust to-zone untrust policy allow-outbound"
    assert f"{policy} match application junos-https" in flat.splitlines()
    assert "root-login deny;" in services and "system" not in services
    assert "syntax error, expecting <command>." in error


def test_junos_commit_and_file_edit_show_in_next_fetch(lab_simulator) -> None:
    host = lab_simulator.host("juniper_junos")
    path = Path(host["config_file"])
    original = path.read_text()
    try:
        with netmiko(host) as conn:
            # Like a real Junos, leaving configuration mode drops what was not committed.
            conn.send_config_set(["set system services ssh max-sessions-per-connection 9"])
            conn.send_config_set(
                ["set system services ssh max-sessions-per-connection 4"], exit_config_mode=False
            )
            conn.commit()
            conn.exit_config_mode()
            flat = conn.send_command("show configuration | display set")
            assert "set system services ssh max-sessions-per-connection 4" in flat.splitlines()
            assert "max-sessions-per-connection 9" not in flat
            path.write_text(original.replace("time-zone UTC;", "time-zone Europe/Paris;"))
            assert "time-zone Europe/Paris;" in conn.send_command("show configuration system")
    finally:
        path.write_text(original)


def test_screenos_get_config(lab_simulator) -> None:
    host = lab_simulator.host("juniper_screenos")
    with netmiko(host) as conn:
        config = conn.send_command("get config")
        added = 'set address "Trust" "lab-added" 10.50.0.99 255.255.255.255\n'
        with edited(Path(host["config_file"]), lambda text: text + added):
            changed = conn.send_command("get config | include lab-added")
        clocks = {conn.send_command("get clock").splitlines()[0] for _ in range(2)}
        error = conn.send_command("get bogus")
    assert re.match(r"Total Config size \d+:", config)
    assert f"set hostname {host['name']}" in config
    assert changed.strip() == 'set address "Trust" "lab-added" 10.50.0.99 255.255.255.255'
    assert all(c.startswith("Date ") for c in clocks)
    assert "^-----unknown keyword bogus" in error


def test_gaia_show_configuration(lab_simulator) -> None:
    host = lab_simulator.host("checkpoint_gaia")
    with netmiko(host) as conn:
        config = conn.send_command("show configuration")
        with edited(Path(host["config_file"]), lambda text: text + "set snmp agent on\n"):
            changed = conn.send_command("show configuration snmp")
        error = conn.send_command("show bogus")
    assert f"# Configuration of {host['name']}" in config
    assert re.search(
        r"^# Exported by admin on \w{3} \w{3} \d\d \d\d:\d\d:\d\d \d{4}$", config, re.M
    )
    assert f"set hostname {host['name']}" in config
    assert changed.splitlines() == ["set snmp agent off", "set snmp agent on"]
    assert error == "CLINFR0329  Invalid command:'show bogus'."


def test_esxi_exec_commands(lab_simulator) -> None:
    host = lab_simulator.host("esxi")
    results = asyncio.run(
        exec_commands(
            host,
            lab_simulator.known_hosts,
            "esxcli system version get",
            "vim-cmd vmsvc/getallvms",
            "vim-cmd vmsvc/power.getstate 3",
            "esxcli system settings advanced list -o /UserVars/ESXiShellTimeOut",
            "no-such-command --flag",
            "cat /etc/ssh/sshd_config",
            "esxcli system time get",
        )
    )
    version, vms, power, setting, unknown, sshd, clock = results
    assert version.exit_status == 0
    assert "   Product: VMware ESXi\n   Version: 7.0.3\n" in version.stdout
    assert vms.stdout.startswith("Vmid")
    assert f"{host['name']}-web01" in vms.stdout
    assert power.stdout == "Retrieved runtime info\nPowered off\n"
    assert "   Int Value: 0\n" in setting.stdout
    assert (unknown.exit_status, unknown.stdout) == (127, "")
    assert unknown.stderr == "sh: no-such-command: not found\n"
    assert "PermitRootLogin" in sshd.stdout
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n", clock.stdout)


def test_esxi_setting_follows_config_file(lab_simulator) -> None:
    host = lab_simulator.host("esxi")
    path = Path(host["config_file"])
    original = path.read_text()
    try:
        path.write_text(original.replace('ESXiShellTimeOut = "0"', 'ESXiShellTimeOut = "600"'))
        (result,) = asyncio.run(
            exec_commands(
                host,
                lab_simulator.known_hosts,
                "esxcli system settings advanced list -o /UserVars/ESXiShellTimeOut",
            )
        )
    finally:
        path.write_text(original)
    assert "   Int Value: 600\n" in result.stdout


def test_network_device_exec_requests(lab_simulator) -> None:
    junos, asa = lab_simulator.host("juniper_junos"), lab_simulator.host("cisco_asa")
    (version,) = asyncio.run(exec_commands(junos, lab_simulator.known_hosts, "show version"))
    (config,) = asyncio.run(exec_commands(asa, lab_simulator.known_hosts, "show run | inc ^ssh"))
    assert version.stdout.startswith(f"Hostname: {junos['name']}\n")
    assert config.exit_status == 0 and config.stdout.count("ssh ") == 5


def test_wrong_password_is_refused(lab_simulator) -> None:
    host = dict(lab_simulator.host("esxi"), password="wrong")
    with pytest.raises(asyncssh.PermissionDenied):
        asyncio.run(exec_commands(host, lab_simulator.known_hosts, "hostname"))
    device = dict(lab_simulator.host("juniper_junos"), password="wrong")
    with pytest.raises(NetmikoAuthenticationException):
        netmiko(device, auth_timeout=5)


# Seconds a loaded machine may take to answer one keystroke step of `_interactive`.
STEP_TIMEOUT = 30.0


async def _interactive(host: dict, known_hosts: Path, steps: list[tuple[str, str]]) -> str:
    """Type each step's keys into a PTY shell, then wait until the device printed the step's
    text (a prompt); the first step's keys go once the login prompt is there. Everything the
    device printed, whatever the machine's load (no timed typing, no "silence means done")."""
    async with connect(host, known_hosts) as conn:
        proc = await conn.create_process(term_type="vt100")
        seen = await asyncio.wait_for(proc.stdout.readuntil(f"{host['name']}> "), STEP_TIMEOUT)
        for keys, until in steps:
            proc.stdin.write(keys)
            seen += await asyncio.wait_for(proc.stdout.readuntil(until), STEP_TIMEOUT)
        proc.close()
        return seen


def test_paging_until_disabled(lab_simulator) -> None:
    host = lab_simulator.host("cisco_asa")
    seen = asyncio.run(
        _interactive(
            host,
            lab_simulator.known_hosts,
            [
                ("enable\n", "Password: "),
                (host["enable_password"] + "\n", f"{host['name']}# "),
                ("show running-config\n", "<--- More --->"),
                (" ", "<--- More --->"),
                ("q", f"{host['name']}# "),
            ],
        )
    )
    assert host["enable_password"] not in seen
    assert seen.count("<--- More --->") == 2
    assert seen.rstrip().endswith(f"{host['name']}#")
    assert "Cryptochecksum" not in seen


def test_robust_against_garbage_huge_lines_and_hangups(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> str:
        sim = DeviceSimulator(tmp_path)
        (host,) = await sim.start([SimHost("sim-asa-01", "cisco_asa")])
        prompt = f"{host.name}> "
        entry = {
            "name": host.name,
            "address": "127.0.0.1",
            "port": host.port,
            "user": host.user,
            "password": host.password,
        }
        try:
            await _interactive(entry, sim.known_hosts, [("\x00\x1b[A\xff\ufffd\x07?\t\n", prompt)])
            await _interactive(entry, sim.known_hosts, [("x" * 200_000 + "\n", prompt)])
            async with connect(entry, sim.known_hosts) as conn:
                # Bytes that are not UTF-8, as a shell and as an exec request.
                proc = await conn.create_process(term_type="vt100", encoding=None)
                proc.stdin.write(b"\xff\xfe\xc3(show\x80 version\r\n")
                assert b"Invalid input" in await proc.stdout.readuntil(b"marker.")
                proc.close()
                # asyncssh itself refuses an exec command that does not decode.
                with pytest.raises(asyncssh.ChannelOpenError):
                    await conn.run(b"show \xff\xfe", encoding=None)
            async with connect(entry, sim.known_hosts) as conn:
                proc = await conn.create_process(term_type="vt100")
                proc.stdin.write("show version\n")
            # The client hung up mid-command; the next one is served as usual (its first page).
            steps = [("show version\n", "<--- More --->")]
            return await _interactive(entry, sim.known_hosts, steps)
        finally:
            await sim.stop()

    seen = asyncio.run(scenario())
    assert "Cisco Adaptive Security Appliance Software Version" in seen
    assert not [r for r in caplog.records if r.name == "ospatrol_lab.simulator"]


def test_two_hundred_hosts_from_one_process(tmp_path: Path) -> None:
    hosts = make_hosts(per_platform=40)
    assert len(hosts) == 200

    async def scenario() -> tuple[float, list, list[str]]:
        sim = DeviceSimulator(tmp_path)
        began = time.monotonic()
        started = await sim.start(hosts)
        took = time.monotonic() - began
        try:
            info = sim.describe()
            sample = info["hosts"][::13]
            esxi = [h for h in sample if h["platform"] == "esxi"]
            results = await asyncio.gather(
                *(exec_commands(h, sim.known_hosts, "hostname") for h in esxi)
            )
            devices = [h for h in sample if h["platform"] != "esxi"][:6]
            loop = asyncio.get_running_loop()
            with ThreadPoolExecutor(max_workers=6) as pool:
                prompts = await asyncio.gather(
                    *(loop.run_in_executor(pool, _find_prompt, h) for h in devices)
                )
            assert len({h.port for h in started}) == 200
            return took, results, prompts
        finally:
            await sim.stop()

    took, results, prompts = asyncio.run(scenario())
    assert took < 10, f"200 hosts took {took:.1f}s to listen"
    assert [r[0].stdout for r in results] and all(r[0].exit_status == 0 for r in results)
    assert len(prompts) == 6 and all(p.startswith("sim-") or "@sim-" in p for p in prompts)
    lines = (tmp_path / "known_hosts").read_text().splitlines()
    assert len(lines) == 200 and all(
        re.match(r"\[127\.0\.0\.1\]:\d+ ssh-ed25519 ", x) for x in lines
    )


def test_a_thousand_hosts_listen(tmp_path: Path) -> None:
    async def scenario() -> tuple[float, list]:
        sim = DeviceSimulator(tmp_path)
        began = time.monotonic()
        started = await sim.start(make_hosts(count=1000, platform="esxi"))
        took = time.monotonic() - began
        try:
            info = sim.describe()["hosts"]
            sample = [info[0], info[499], info[-1]]
            runs = await asyncio.gather(
                *(exec_commands(h, sim.known_hosts, "hostname") for h in sample)
            )
            assert len(started) == 1000
            return took, [r[0].stdout for r in runs]
        finally:
            await sim.stop()

    took, names = asyncio.run(scenario())
    assert names == ["sim-esxi-0001\n", "sim-esxi-0500\n", "sim-esxi-1000\n"]
    assert took < 20, f"1,000 hosts took {took:.1f}s to listen"


def _find_prompt(host: dict) -> str:
    with netmiko(host) as conn:
        return conn.find_prompt()


def test_command_line_writes_and_removes_ready_file(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "ospatrol_lab.simulator", "--dir", str(tmp_path)]
    args = ["--count", "3", "--platform", "esxi", "--user", "root", "--password", "pw-1"]
    proc = subprocess.Popen([*command, *args], stderr=subprocess.PIPE)
    ready = tmp_path / "simulator.json"
    try:
        deadline = time.monotonic() + 30
        while not ready.exists():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        info = json.loads(ready.read_text())
        ready_mode = ready.stat().st_mode
    finally:
        proc.send_signal(signal.SIGTERM)
        status = proc.wait(timeout=10)
    assert status == 0
    assert not ready.exists()
    assert info["pid"] == proc.pid
    assert [h["name"] for h in info["hosts"]] == ["sim-esxi-01", "sim-esxi-02", "sim-esxi-03"]
    assert {(h["user"], h["password"], h["address"]) for h in info["hosts"]} == {
        ("root", "pw-1", "127.0.0.1")
    }
    first = info["hosts"][0]
    assert Path(first["config_file"]).read_text().startswith('/adv/Misc/HostName = "sim-esxi-01"')
    assert len(Path(info["known_hosts"]).read_text().splitlines()) == 3
    assert os.stat(tmp_path / "ssh_host_ed25519_key").st_mode & 0o077 == 0
    assert ready_mode & 0o077 == 0


def test_junos_tree_round_trip() -> None:
    text = (
        "system {\n    host-name a;\n    services {\n        ssh;\n    }\n}\n"
        "interfaces {\n    ge-0/0/0 {\n        unit 0 {\n            family inet {\n"
        "                address 10.0.0.1/24;\n            }\n        }\n    }\n}"
    )
    tree = sim_junos.parse(text)
    assert sim_junos.to_curly(tree) == text
    address = "interfaces ge-0/0/0 unit 0 family inet address 10.0.0.2/24"
    sim_junos.apply_set(tree, address.split(" "))
    sim_junos.apply_set(tree, ["system", "host-name", "b"])
    assert sim_junos.apply_delete(tree, ["system", "services"])
    assert sim_junos.to_set(tree) == [
        "set system host-name b",
        "set interfaces ge-0/0/0 unit 0 family inet address 10.0.0.1/24",
        "set interfaces ge-0/0/0 unit 0 family inet address 10.0.0.2/24",
    ]


def session_for(platform: str, tmp_path: Path, name: str = "dev-1"):
    """A CLI session of a fresh simulated host, without any network."""
    profile = load_profile(platform)
    host_vars = HostVars(name, "admin", 1)
    path = tmp_path / f"{name}.cfg"
    path.write_text(render(profile.config, host_vars))
    return make_session(HostState(host_vars, profile, path, "pw", "en")), path


def type_lines(session, *lines: str) -> str:
    return "".join(session.feed(line + "\r\n") for line in lines)


def test_junos_session_paging_prompts_and_uncommitted_exit(tmp_path: Path) -> None:
    session, path = session_for("juniper_junos", tmp_path)
    assert session.start().endswith("admin@dev-1> ")
    paged = type_lines(session, "show configuration")
    assert paged.endswith("---(more)---") and paged.count("\r\n") == 24
    rest = session.feed("q")
    assert rest.endswith("admin@dev-1> ") and "---(more)---" not in rest
    assert type_lines(session, "set cli screen-length 0").startswith(
        "set cli screen-length 0\r\nScreen length set to 0\r\n\r\nadmin@dev-1> "
    )
    assert "---(more)---" not in type_lines(session, "show configuration")
    type_lines(session, "set cli screen-length 10")
    assert "---(more)---" in type_lines(session, "show configuration system")
    session.feed("q")
    assert "---(more)---" not in type_lines(session, "show configuration system | no-more")
    entered = type_lines(session, "configure", "set snmp location Basement")
    assert entered.endswith("\r\n[edit]\r\nadmin@dev-1# ")
    asked = type_lines(session, "exit")
    assert asked.endswith("Exit with uncommitted changes? [yes,no] (yes) ")
    assert type_lines(session, "yes").endswith("Exiting configuration mode\r\n\r\nadmin@dev-1> ")
    assert "Basement" not in path.read_text()
    assert "Count: 4 lines" in type_lines(session, "show configuration snmp | count")
    # The caret sits under the word, on the line that holds the prompt.
    caret = " " * len("admin@dev-1> ") + "^"
    assert f"bogus\r\n{caret}\r\nunknown command.\r\n" in type_lines(session, "bogus")


def test_screenos_and_gaia_sessions_edit_the_config(tmp_path: Path) -> None:
    screenos, path = session_for("juniper_screenos", tmp_path)
    type_lines(screenos, "set console page 0", "set hostname fw-9", "unset ssh enable")
    config = path.read_text()
    assert "set hostname fw-9" in config and "set hostname dev-1" not in config
    assert "set ssh enable" not in config and "set ssh version v2" in config
    assert "set console page" not in config
    gaia, path = session_for("checkpoint_gaia", tmp_path, "gw-1")
    type_lines(gaia, "set clienv rows 0", "set ntp active off", "delete syslog log-remote-address")
    config = path.read_text()
    assert "set ntp active off" in config and "set ntp active on" not in config
    assert "log-remote-address" not in config and "set clienv rows 24" in config
    expert = type_lines(gaia, "expert", "en", "id")
    assert "Enter expert password:" in expert and "\r\nen\r\n" not in expert
    assert expert.endswith("-bash: id: command not found\r\n[Expert@gw-1:0]# ")


def test_asa_session_filters_sections_and_no(tmp_path: Path) -> None:
    session, path = session_for("cisco_asa", tmp_path)
    type_lines(session, "enable", "en", "terminal pager 0")
    assert type_lines(session, "show running-config ssh").count("\r\nssh ") == 5
    shown = type_lines(session, "sh run | include ^logging (host|trap)")
    assert "logging trap informational\r\nlogging host inside 10.20.30.5\r\n" in shown
    type_lines(session, "conf t", "no http server enable", "interface GigabitEthernet1/2")
    assert session.prompt() == "dev-1(config-if)# "
    type_lines(session, "no security-level 100", "end")
    config = path.read_text()
    assert "http server enable" not in config
    assert " nameif inside\n ip address 10.20.30.1" in config
    assert session.prompt() == "dev-1# "


def test_esxi_interactive_shell(tmp_path: Path) -> None:
    session, _ = session_for("esxi", tmp_path, "esx-1")
    assert session.start().endswith("[admin@esx-1:~] ")
    out = type_lines(session, "esxcli system version get | grep Version", "whoami")
    assert "   Version: 7.0.3\r\n" in out and "sh: whoami: not found\r\n" in out
    assert session.run_exec("cat -- /etc/issue")[0].startswith("Authorised access only.")
    assert session.run_exec("cat /etc/issue /nope")[1:] == (
        "cat: can't open '/nope': No such file or directory\n",
        1,
    )
    type_lines(session, "exit")
    assert session.closed


def test_esxi_runs_batched_shell_scripts(tmp_path: Path) -> None:
    session, _ = session_for("esxi", tmp_path, "esx-2")
    script = (
        "printf '%s BEGIN %d\\n' M 0; ( esxcli network ip connection list | grep LISTEN\n"
        ") </dev/null 2>&1; printf '\\n%s END %d %d\\n' M 0 $?\n"
        "printf '%s BEGIN %d\\n' M 1; ( cat /etc/nope\n) </dev/null 2>&1; "
        "printf '\\n%s END %d %d\\n' M 1 $?\n"
        "false || echo fallback && printf 'DONE\\0'"
    )
    out, err, status = session.run_exec("sh -c " + shlex.quote(script))
    assert (err, status) == ("", 0)
    first = out.split("M BEGIN 0\n", 1)[1].split("\nM END 0 0\n", 1)[0]
    lines = first.splitlines()
    assert len(lines) == 8 and all(" LISTEN " in x for x in lines)
    assert "M BEGIN 1\ncat: can't open '/etc/nope': No such file or directory\n\nM END 1 1\n" in out
    assert out.endswith("fallback\nDONE\0")
    assert session.run_exec("echo 'open") == ("", "sh: unterminated quoted string\n", 2)


def test_esxi_file_tree_for_integrity_scans(tmp_path: Path) -> None:
    session, path = session_for("esxi", tmp_path, "esx-3")
    body = 'for f do stat -c "%s %a %U %F" "$f" && printf "%s>%s\\n" "$f" "$(readlink "$f")"; done'
    listing = (
        "s=0; find /etc /nope \\( -name '*.tmp' -o -path /etc/ssh \\) -prune -o "
        f"-exec sh -c {shlex.quote(body)} sh {{}} + 2>/dev/null || s=$?; "
        "find /bin -maxdepth 1 -type l | head -n 2; echo end $s"
    )
    hashing = 'h=$(sha256sum < /etc/vmware/esx.conf 2>/dev/null) && printf "%s\\n" "${h%% *}"'
    first, err, status = session.run_exec(listing)
    digest = session.run_exec(hashing)[0]
    assert (err, status) == ("", 0)
    lines = first.splitlines()
    assert "0 755 root directory" in lines and "/etc>" in lines
    assert "215 600 root regular file" in lines and "/etc/shadow>" in lines
    assert not [x for x in lines if x.startswith("/etc/ssh")]
    assert lines[-3:] == ["/bin/ash", "/bin/cat", "end 1"]
    path.write_text(path.read_text() + '/adv/UserVars/DcuiTimeOut = "300"\n')
    second = session.run_exec(listing)[0]
    assert session.run_exec(hashing)[0] != digest and re.fullmatch(r"[0-9a-f]{64}\n", digest)
    changed = sorted(set(second.splitlines()) ^ set(lines))
    assert len(changed) == 2 and all(x.endswith(" 644 root regular file") for x in changed)
    assert session.run_exec("getent passwd 100 0") == (
        "root:x:0:0:Administrator:/:/bin/sh\ndcui:x:100:100:DCUI User:/:/sbin/nologin\n",
        "",
        0,
    )


def test_junos_root_logs_in_to_the_shell(tmp_path: Path) -> None:
    async def scenario() -> str:
        sim = DeviceSimulator(tmp_path)
        (host,) = await sim.start([SimHost("sim-junos-01", "juniper_junos", user="root")])
        try:
            loop = asyncio.get_running_loop()
            entry = {
                "platform": host.platform,
                "address": "127.0.0.1",
                "port": host.port,
                "user": host.user,
                "password": host.password,
                "enable_password": host.enable_password,
            }
            return await loop.run_in_executor(None, _junos_version, entry)
        finally:
            await sim.stop()

    assert asyncio.run(scenario()).startswith("Hostname: sim-junos-01\nModel: srx340")


def _junos_version(host: dict) -> str:
    # netmiko finds `root@...:~ #`, types `cli`, and goes on as with any user.
    with netmiko(host) as conn:
        assert conn.find_prompt() == "root@sim-junos-01>"
        return conn.send_command("show version")

"""Device profiles of the simulator and the rendering of their outputs for one host.

A profile (`lab/ospatrol_lab/devices/<platform>.yaml`) is data: prompts, banner, error text, paging,
the initial running config and the fixed outputs of commands. Outputs are templates whose
`{{name}}` / `{{name:arg}}` placeholders are filled per host and per call, which is how the
volatile lines real devices have (clocks, uptimes, counters, checksums) change between fetches:

- per host, stable: `hostname`, `user`, `serial`, `ip` (a 10.x.y.z address), `mac:N`, `uuid`;
- per call: `now:STRFTIME` (UTC; `%L` is milliseconds), `boot:STRFTIME`, `up_days`,
  `up_hours`, `up_mins`, `up_secs`, `up_total_secs`, `counter:N` (a counter that grows on every
  call), `hex:N` (N random hex digits);
- given by the caller: `config` (the host's running config) and whatever else it passes.

Profiles are loaded once per process and shared by every simulated host of that platform.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import yaml

from ospatrol.errors import InputError
from ospatrol_lab.sim_tools import FsEntry

PLATFORMS = ("cisco_asa", "juniper_junos", "juniper_screenos", "checkpoint_gaia", "esxi")
DEVICES_DIR = Path(__file__).resolve().parent / "devices"

_PLACEHOLDER = re.compile(r"\{\{(\w+)(?::(.*?))?\}\}")


@dataclass(frozen=True)
class Command:
    """A command a profile answers with a fixed (templated) output."""

    words: tuple[str, ...]
    output: str
    privileged: bool = False
    takes_args: bool = False


@dataclass(frozen=True)
class Profile:
    """Everything the simulator knows about one platform, shared by all its hosts."""

    platform: str
    short: str
    prompts: Mapping[str, str]
    banner: str
    error: str
    page_length: int
    more: str
    config: str
    commands: tuple[Command, ...]
    # Wrappers of the config in `show running-config` (ASA) / `show configuration` (Junos, Gaia).
    running_config: str = "{{config}}"
    config_header: str = ""
    # ESXi: the file tree (contents are templates), advanced settings (path -> type/default/
    # min/max/description), the VMs registered at first start (then the host's `vms` file).
    files: Mapping[str, FsEntry] = field(default_factory=dict)
    advanced: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    vms: tuple[Mapping[str, object], ...] = ()

    def find(self, line: str) -> tuple[Command | None, str]:
        """The command `line` names (full words or unambiguous abbreviations) and its arguments."""
        typed = line.split()
        if not typed:
            return None, ""
        found: list[tuple[int, bool, Command]] = []
        for command in self.commands:
            n = len(command.words)
            if len(typed) < n or (len(typed) > n and not command.takes_args):
                continue
            if all(w.startswith(t) for t, w in zip(typed, command.words, strict=False)):
                found.append((n, tuple(typed[:n]) == command.words, command))
        if not found:
            return None, ""
        # The longest command wins (`show interface ip brief` over `show interface ...`), then
        # the one typed in full; an abbreviation that fits several is ambiguous.
        longest = max(n for n, _, _ in found)
        group = [(exact, c) for n, exact, c in found if n == longest]
        exact = [c for is_exact, c in group if is_exact]
        if len(exact) == 1 or len(group) == 1:
            command = exact[0] if exact else group[0][1]
            return command, " ".join(typed[longest:])
        return None, ""


@dataclass
class HostVars:
    """The per-host values of the placeholders; small so that a thousand hosts stay cheap."""

    name: str
    user: str
    index: int
    boot: float = 0.0
    installed: int = field(init=False, default=0)
    _seed: int = field(init=False, repr=False, default=0)
    # Bumped on every rendered counter, so counters move even within one millisecond.
    _calls: int = field(init=False, repr=False, default=0)

    def __post_init__(self) -> None:
        digest = hashlib.sha256(self.name.encode()).digest()
        self._seed = int.from_bytes(digest[:8], "big")
        # Files of the host were installed once, at a fixed time: restarts change no mtime.
        self.installed = 1714608000 + self._seed % 86400 * 7
        if not self.boot:
            # Up between 3 and 400 days, fixed per host name.
            self.boot = time.time() - 86400 * (3 + self._seed % 397) - self._seed % 86400

    def stable(self, key: str, arg: str | None) -> str | None:
        seed = self._seed
        if key == "hostname":
            return self.name
        if key == "user":
            return self.user
        if key == "serial":
            return f"FCH{seed % 10**8:08d}"
        if key == "ip":
            return f"10.{(self.index >> 16) & 255}.{(self.index >> 8) & 255}.{self.index & 255}"
        if key == "mac":
            n = int(arg or 0)
            b = (seed + n).to_bytes(8, "big")[-3:]
            return f"00:50:56:{b[0]:02x}:{b[1]:02x}:{b[2]:02x}"
        if key == "uuid":
            h = hashlib.md5(self.name.encode()).hexdigest()
            return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
        return None

    def volatile(self, key: str, arg: str | None, now: float) -> str | None:
        up = int(now - self.boot)
        if key == "now":
            return _strftime(now, arg or "%Y-%m-%d %H:%M:%S")
        if key == "boot":
            return _strftime(self.boot, arg or "%Y-%m-%d %H:%M:%S")
        simple = {
            "up_days": up // 86400,
            "up_hours": up // 3600 % 24,
            "up_mins": up // 60 % 60,
            "up_secs": up % 60,
            "up_total_secs": up,
        }
        if key in simple:
            return str(simple[key])
        if key == "counter":
            scale = int(arg or 1)
            self._calls += 1
            return str(scale * ((self._seed >> 20) % 10**6 + up * 97 + self._calls))
        if key == "hex":
            return secrets.token_hex((int(arg or 32) + 1) // 2)[: int(arg or 32)]
        return None


def _strftime(when: float, fmt: str) -> str:
    moment = datetime.fromtimestamp(when, UTC)
    return moment.strftime(fmt.replace("%L", f"{moment.microsecond // 1000:03d}"))


def render(
    template: str,
    host: HostVars,
    extra: Mapping[str, str | Callable[[], str]] | None = None,
) -> str:
    """Fill the placeholders of `template`; unknown ones are left as they are."""
    now = time.time()

    def fill(match: re.Match[str]) -> str:
        key, arg = match.group(1), match.group(2)
        if extra and key in extra:
            value = extra[key]
            return value() if callable(value) else value
        found = host.stable(key, arg)
        if found is None:
            found = host.volatile(key, arg, now)
        return match.group(0) if found is None else found

    return _PLACEHOLDER.sub(fill, template)


def _file(spec: object) -> FsEntry:
    """A `files:` entry: text, or {content, mode (octal text)} or {link: target}."""
    if not isinstance(spec, dict):
        return FsEntry("f", str(spec or ""))
    mode = int(str(spec.get("mode", "644")), 8)
    if "link" in spec:
        return FsEntry("l", mode=0, target=str(spec["link"]))
    return FsEntry("f", str(spec.get("content", "")), mode)


@cache
def load_profile(platform: str) -> Profile:
    """The profile of `platform`, read once per process from `DEVICES_DIR`."""
    if platform not in PLATFORMS:
        raise InputError(f"unknown simulated platform {platform!r} (known: {', '.join(PLATFORMS)})")
    path = DEVICES_DIR / f"{platform}.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    commands = []
    for key, value in data.get("commands", {}).items():
        spec = value if isinstance(value, dict) else {"output": value}
        words = key.split()
        takes_args = words[-1] == "..."
        if takes_args:
            words = words[:-1]
        commands.append(
            Command(
                words=tuple(words),
                output=str(spec.get("output", "")).rstrip("\n"),
                privileged=bool(spec.get("privileged", False)),
                takes_args=takes_args or bool(spec.get("takes_args", False)),
            )
        )
    paging = data.get("paging", {})
    return Profile(
        platform=platform,
        short=data["short"],
        prompts=data["prompts"],
        banner=data.get("banner", ""),
        error=str(data["error"]).rstrip("\n"),
        page_length=int(paging.get("length", 24)),
        more=paging.get("more", "--More--"),
        config=data.get("config", ""),
        commands=tuple(commands),
        running_config=data.get("running_config", "{{config}}").rstrip("\n"),
        config_header=data.get("config_header", "").rstrip("\n"),
        files={path: _file(spec) for path, spec in data.get("files", {}).items()},
        advanced=data.get("advanced", {}),
        vms=tuple(data.get("vms", ())),
    )

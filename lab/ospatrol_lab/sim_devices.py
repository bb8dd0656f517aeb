"""The platform parts of the simulated command lines: modes, enable, config changes, ESXi shell.

Each class adds to `sim_cli.Session` only what its platform does differently; outputs, prompts
and error texts are in the profile (`lab/ospatrol_lab/devices/<platform>.yaml`).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

import yaml

from ospatrol_lab import sim_junos
from ospatrol_lab.sim_cli import (
    CommandError,
    HostState,
    Session,
    config_add,
    config_remove,
)
from ospatrol_lab.sim_shell import Shell
from ospatrol_lab.sim_tools import FsEntry


def words_match(words: list[str], spec: str) -> list[str] | None:
    """The arguments after `spec` when `words` spell it (each word may be abbreviated)."""
    keys = spec.split()
    if len(words) < len(keys):
        return None
    if all(k.startswith(w.lower()) for w, k in zip(words, keys, strict=False)):
        return words[len(keys) :]
    return None


# ---- Cisco ASA (also PIX/FWSM) -------------------------------------------------------------
_ASA_SUBMODES = {
    "interface": "config-if",
    "object network": "config-network-object",
    "object service": "config-service-object",
    "object-group network": "config-network",
    "object-group service": "config-service",
    "object-group protocol": "config-protocol",
    "router": "config-router",
    "policy-map": "config-pmap",
    "class-map": "config-cmap",
    "crypto ca trustpoint": "config-ca-trustpoint",
    "aaa-server": "config-aaa-server-host",
}
_ASA_SINGLE = ("hostname", "domain-name", "enable password", "passwd", "banner motd")


class AsaSession(Session):
    """ASA: `>` user mode, `enable` with a password to `#`, `configure terminal` edits config.

    Multiple-context mode: a directory `contexts` beside the host's running config, one file
    per security context (its running config; `admin` is the admin context), makes `show mode`
    answer multiple, `show context` list them and `changeto context NAME` print that context's
    config for `show running-config`, under the prompt `host/NAME#`; `changeto system` goes
    back. Like the `fault` file, it is re-read on every command, so a test switches it on and
    off."""

    exec_mode = "enable"

    def __init__(self, host: HostState) -> None:
        super().__init__(host)
        self.block: str | None = None
        self.submode = "config"
        self.context: str | None = None
        """The security context changed to (None: the system execution space)."""

    def prompt(self) -> str:
        extra = {"mode": self.submode}
        if self.context is not None:
            extra["hostname"] = f"{self.render('{{hostname}}')}/{self.context}"
        return self.render(self.profile.prompts[self.mode], **extra)

    def contexts(self) -> list[str]:
        """The security contexts (admin first), empty in single-context mode."""
        folder = self.host.config_path.with_name("contexts")
        try:
            names = sorted(p.name for p in folder.iterdir() if p.is_file())
        except OSError:
            return []
        return sorted(names, key=lambda n: n != "admin")

    def context_command(self, words: list[str]) -> str | None:
        """`show mode`, `show context`, `changeto`: None when not one of them (or single mode)."""
        contexts = self.contexts()
        if not contexts:
            return None
        if words_match(words, "show mode") == []:
            return "Security context mode: multiple"
        if words_match(words, "show context") == []:
            rows = [
                f"{'*' if n == 'admin' else ' '}{n:<17} default              "
                f"GigabitEthernet1/{i + 1:<4}     Routed       disk0:/{n}.cfg"
                for i, n in enumerate(contexts)
            ]
            head = "Context Name      Class                Interfaces           Mode         URL"
            total = f"Total active Security Contexts: {len(contexts)}"
            return "\n".join([head, *rows, total])
        if words_match(words, "changeto system") == []:
            self.context = None
            return ""
        args = words_match(words, "changeto context")
        if args is not None and len(args) == 1:
            if args[0] not in contexts:
                return f"ERROR: Context '{args[0]}' does not exist"
            self.context = args[0]
            return ""
        return None

    def read_config(self) -> str:
        """The running config of the current context (the host's own in the system space)."""
        if self.context is None:
            return self.host.read_config()
        path = self.host.config_path.with_name("contexts") / self.context
        try:
            return path.read_text(encoding="utf-8", errors="replace").rstrip("\n")
        except OSError:
            return ""

    def command(self, line: str) -> str:
        words = line.split()
        if self.mode == "config":
            if words_match(words, "do") is not None and len(words) > 1:
                return self.enable_command(line.split(None, 1)[1], words[1:])
            return self.config_line(line, words)
        return self.enable_command(line, words)

    def enable_command(self, line: str, words: list[str]) -> str:
        if self.mode != "user":
            answer = self.context_command(words)
            if answer is not None:
                return answer
        if words_match(words, "enable") is not None:
            return "" if self.mode != "user" else self.ask("Password: ", self._enable(3), "*")
        if words_match(words, "disable") is not None:
            self.mode = "user"
            return ""
        if words_match(words, "login") == []:
            return self.ask("Username: ", self._login_user)
        if any(words_match(words, w) == [] for w in ("exit", "quit", "logout")):
            self.closed = True
            return "\nLogoff\n"
        if words_match(words, "configure terminal") is not None:
            if self.mode == "user":
                raise CommandError(0)
            self.mode, self.block, self.submode = "config", None, "config"
            return ""
        args = words_match(words, "terminal pager")
        if args is not None:
            self.set_paging(int(args[-1]) if args and args[-1].isdigit() else 24)
            return ""
        if words_match(words, "terminal width") is not None:
            return ""
        if words_match(words, "show curpriv") == []:
            level = 1 if self.mode == "user" else 15
            kind = "P_UNPR" if self.mode == "user" else "P_PRIV"
            return (
                f"Username : enable_{level}\nCurrent privilege level : {level}\n"
                f"Current Mode/s : {kind}"
            )
        args = words_match(words, "show running-config")
        if args is None:
            args = words_match(words, "more system:running-config")
        if args is not None:
            if self.mode == "user":
                raise CommandError(1)
            return self.running_config([a for a in args if a != "all"])
        if words_match(words, "write memory") is not None or words_match(
            words, "copy running-config startup-config"
        ):
            return self.render("Building configuration...\nCryptochecksum: {{hex:32}}\n\n[OK]")
        return self.lookup(line)

    def running_config(self, keywords: list[str]) -> str:
        config = self.read_config()
        if not keywords:
            return self.render(self.profile.running_config, config=config)
        out: list[str] = []
        keep = False
        for line in config.split("\n"):
            if not line.startswith(" "):
                keep = line.split()[: len(keywords)] == keywords
            if keep:
                out.append(line)
        return "\n".join(out)

    def _enable(self, tries: int) -> Callable[[str], str]:
        def check(typed: str) -> str:
            if typed == self.host.enable_password:
                self.mode = "enable"
                return ""
            if tries > 1:
                return self.ask("Invalid password\nPassword: ", self._enable(tries - 1), "*")
            return "Access denied."

        return check

    def _login_user(self, user: str) -> str:
        def check(typed: str) -> str:
            if user.strip() == self.host.vars.user and typed == self.host.password:
                self.mode = "enable"
                return ""
            return "Invalid password\nLogin failed"

        return self.ask("Password: ", check, "*")

    def config_line(self, line: str, words: list[str]) -> str:
        if words_match(words, "end") == []:
            self.mode, self.block = "enable", None
            return ""
        if words_match(words, "exit") == [] or words_match(words, "quit") == []:
            if self.block is None:
                self.mode = "enable"
            self.block, self.submode = None, "config"
            return ""
        if words_match(words, "terminal") is not None or words_match(words, "show") is not None:
            return self.enable_command(line, words)
        config = self.host.read_config()
        if words[0] == "no" and len(words) > 1:
            config = config_remove(config, self.block, line.split(None, 1)[1])
        elif line == line.lstrip() and self._enter_block(line):
            config = config_add(config, None, line)
        else:
            top = self.block is None
            if top:
                config = _replace_single(config, line)
            config = config_add(config, self.block, line)
        self.host.write_config(config)
        return ""

    def _enter_block(self, line: str) -> bool:
        for head, name in sorted(_ASA_SUBMODES.items(), key=lambda kv: -len(kv[0])):
            if line.startswith(head + " ") or line == head:
                self.block, self.submode = line, name
                return True
        if line.endswith(" attributes"):
            self.block, self.submode = line, f"config-{line.split()[0]}"
            return True
        return False


def _replace_single(config: str, line: str) -> str:
    """Drop the current top-level value of a single-valued command before setting it again."""
    for key in _ASA_SINGLE:
        if line.startswith(key + " "):
            lines = config.split("\n")
            return "\n".join(x for x in lines if not x.startswith(key + " "))
    return config


# ---- Juniper Junos ---------------------------------------------------------------------------
class JunosSession(Session):
    """Junos CLI: operational `>` and `configure` `#` modes with a candidate to commit."""

    start_mode = "op"
    exec_mode = "op"

    def __init__(self, host: HostState) -> None:
        super().__init__(host)
        self.candidate: list[sim_junos.Node] = []
        # root logs in to the FreeBSD shell, everyone else to the CLI.
        self.login_mode = "shell" if host.vars.user == "root" else "op"
        self.mode = self.login_mode

    @property
    def gap(self) -> str:  # type: ignore[override]
        return "\n" if self.mode == "op" else ""

    def before_prompt(self) -> str:
        return "\n[edit]\n" if self.mode == "config" else ""

    def error(self, line: str, err: CommandError) -> str:
        text = "unknown command." if err.word == 0 else "syntax error, expecting <command>."
        return self.render(self.profile.error, **self.error_fields(line, err), reason=text)

    def apply_filter(self, output: str, spec: str) -> tuple[str, bool]:
        args = words_match(spec.split(), "display")
        if args is not None:
            if args == ["set"]:
                return "\n".join(sim_junos.to_set(sim_junos.parse(output))), False
            if args and args[0] in ("omit", "inheritance", "changed"):
                return output, False
            raise CommandError(0)
        return super().apply_filter(output, spec)

    def command(self, line: str) -> str:
        words = line.split()
        if self.mode == "shell":
            return self.shell_command(words)
        if self.mode == "config":
            return self.config_command(line, words)
        return self.op_command(line, words)

    def shell_command(self, words: list[str]) -> str:
        if words == ["cli"]:
            self.mode = "op"
            return ""
        if words in (["exit"], ["logout"]):
            self.closed = True
            return ""
        return f"{words[0]}: Command not found."

    def op_command(self, line: str, words: list[str]) -> str:
        args = words_match(words, "set cli screen-length")
        if args:
            self.set_paging(int(args[0]) if args[0].isdigit() else 0)
            return f"Screen length set to {args[0]}"
        args = words_match(words, "set cli screen-width")
        if args:
            return f"Screen width set to {args[0]}"
        args = words_match(words, "set cli complete-on-space")
        if args:
            return (
                "Disabling complete-on-space" if args[0] == "off" else "Enabling complete-on-space"
            )
        args = words_match(words, "show configuration")
        if args is not None:
            tree = sim_junos.parse(self.host.read_config())
            if args:
                found = sim_junos.subtree(tree, args)
                return sim_junos.to_curly(found) if found else ""
            header = self.render(self.profile.config_header)
            return header + "\n" + sim_junos.to_curly(tree)
        if words_match(words, "configure") is not None or words_match(words, "edit") == []:
            self.mode = "config"
            self.candidate = sim_junos.parse(self.host.read_config())
            return "Entering configuration mode"
        if words_match(words, "exit") == [] or words_match(words, "quit") == []:
            if self.login_mode == "shell":
                self.mode = "shell"
            else:
                self.closed = True
            return ""
        return self.lookup(line)

    def config_command(self, line: str, words: list[str]) -> str:
        if words[0] == "set" and len(words) > 1:
            sim_junos.apply_set(self.candidate, sim_junos.split_words(line)[1:])
            return ""
        if words[0] == "delete" and len(words) > 1:
            if not sim_junos.apply_delete(self.candidate, sim_junos.split_words(line)[1:]):
                return "warning: statement not found"
            return ""
        args = words_match(words, "show")
        if args is not None:
            found = sim_junos.subtree(self.candidate, args) if args else self.candidate
            return sim_junos.to_curly(found) if found else ""
        args = words_match(words, "commit")
        if args is not None:
            if args[:1] != ["check"]:
                self.host.write_config(sim_junos.to_curly(self.candidate))
            if args[:1] == ["and-quit"]:
                self.mode = "op"
                return "commit complete\nExiting configuration mode"
            return "configuration check succeeds" if args[:1] == ["check"] else "commit complete"
        if words_match(words, "rollback") is not None:
            self.candidate = sim_junos.parse(self.host.read_config())
            return "load complete"
        if words_match(words, "run") is not None and len(words) > 1:
            return self.op_command(line.split(None, 1)[1], words[1:])
        if any(words_match(words, w) == [] for w in ("top", "up")) or words[0] == "edit":
            return ""
        if words_match(words, "exit configuration-mode") is not None or words in (
            ["exit"],
            ["quit"],
        ):
            return self._leave()
        raise CommandError(0)

    def _leave(self) -> str:
        committed = sim_junos.to_curly(sim_junos.parse(self.host.read_config()))
        if sim_junos.to_curly(self.candidate) == committed:
            self.mode = "op"
            return "Exiting configuration mode"

        def answer(typed: str) -> str:
            if typed.strip().lower() in ("", "y", "yes"):
                self.mode = "op"
                return "Exiting configuration mode"
            return ""

        return self.ask(
            "The configuration has been changed but not committed\n"
            "Exit with uncommitted changes? [yes,no] (yes) ",
            answer,
        )


# ---- Juniper ScreenOS (NetScreen) --------------------------------------------------------------
_SCREENOS_SINGLE = (("hostname",), ("domain",), ("admin", "name"), ("clock", "timezone"))


class ScreenosSession(Session):
    """ScreenOS: one `->` mode; `set`/`unset` change the running config directly."""

    def command(self, line: str) -> str:
        words = line.split()
        args = words_match(words, "set console page")
        if args:
            self.set_paging(int(args[0]) if args[0].isdigit() else 0)
            return ""
        if words_match(words, "get config") is not None:
            config = self.host.read_config()
            return f"Total Config size {len(config.encode()) + 1}:\n{config}"
        if words_match(words, "exit") == [] or words_match(words, "quit") == []:
            self.closed = True
            return ""
        if words_match(words, "save") is not None:
            return ""
        if words[0] in ("set", "unset") and len(words) > 1:
            self.host.write_config(self._edit(self.host.read_config(), line, words))
            return ""
        return self.lookup(line)

    def _edit(self, config: str, line: str, words: list[str]) -> str:
        lines = config.split("\n") if config else []
        if words[0] == "unset":
            prefix = "set " + " ".join(words[1:])
            return "\n".join(x for x in lines if x != prefix and not x.startswith(prefix + " "))
        for key in _SCREENOS_SINGLE:
            if tuple(words[1 : 1 + len(key)]) == key:
                prefix = "set " + " ".join(key) + " "
                lines = [x for x in lines if not x.startswith(prefix)]
        if line not in lines:
            lines.append(line)
        return "\n".join(lines)


# ---- Check Point Gaia (clish) --------------------------------------------------------------------
class GaiaSession(Session):
    """Gaia clish: `set`/`add`/`delete` change the config; `expert` (password) gives a shell."""

    def command(self, line: str) -> str:
        words = line.split()
        if self.mode == "expert":
            return self.expert_command(line, words)
        args = words_match(words, "set clienv rows")
        if args:
            self.set_paging(int(args[0]) if args[0].isdigit() else 0)
            return ""
        args = words_match(words, "show configuration")
        if args is not None:
            config = self.host.read_config()
            if args:
                lines = config.split("\n")
                return "\n".join(x for x in lines if x.split()[1:2] == args[:1])
            return self.render(self.profile.config_header) + "\n" + config
        if words_match(words, "save config") == []:
            return ""
        if words_match(words, "expert") == []:
            return self.ask("Enter expert password:\n\n", self._expert, "")
        if words_match(words, "exit") == [] or words_match(words, "quit") == []:
            self.closed = True
            return ""
        if words[0] in ("set", "add", "delete") and len(words) > 2:
            self.host.write_config(self._edit(self.host.read_config(), words))
            return ""
        return self.lookup(line)

    def _expert(self, typed: str) -> str:
        if typed != self.host.enable_password:
            return "Wrong password."
        self.mode = "expert"
        return (
            "\nWarning! All configurations should be done through clish\n"
            "You are in expert mode now."
        )

    def expert_command(self, line: str, words: list[str]) -> str:
        if words == ["exit"]:
            self.mode = "user"
            return ""
        if words[0] == "clish" and len(words) > 2 and words[1] == "-c":
            inner = line.split("-c", 1)[1].strip().strip("\"'")
            self.mode = "user"
            try:
                return self.execute(inner)
            finally:
                self.mode = "expert"
        return f"-bash: {words[0]}: command not found"

    @staticmethod
    def _edit(config: str, words: list[str]) -> str:
        lines = config.split("\n") if config else []
        if words[0] == "delete":
            body = " ".join(words[1:])
            return "\n".join(
                x for x in lines if not re.match(rf"(set|add) {re.escape(body)}(\s|$)", x)
            )
        line = " ".join(words)
        if words[0] == "set":
            stem = " ".join(words[:-1]) + " "
            lines = [x for x in lines if not x.startswith(stem) or len(x.split()) != len(words)]
        if line not in lines:
            lines.append(line)
        return "\n".join(lines)


# ---- VMware ESXi -----------------------------------------------------------------------------
class EsxiSession(Session):
    """ESXi's busybox shell, driven mostly through exec requests (`esxcli`, `vim-cmd`, `cat`);
    shell syntax (lists, pipes, `sh -c`, `printf`) is `sim_shell`'s."""

    def run_exec(self, command: str) -> tuple[str, str, int]:
        return self._shell.run(command)

    def command(self, line: str) -> str:
        if line.split() in (["exit"], ["logout"]):
            self.closed = True
            return ""
        out, err, _ = self._shell.run(line)
        return (out + err).removesuffix("\n")

    def execute(self, line: str) -> str:
        return self.command(line) if line else ""

    def __init__(self, host: HostState) -> None:
        super().__init__(host)
        self._shell = Shell(lambda words, stdin: self._run(" ".join(words)), self.files)

    def files(self) -> dict[str, FsEntry]:
        """The host's file tree: the profile's files, esx.conf from the config file, parents."""
        installed = self.host.vars.installed
        tree = {
            path: replace(spec, content=self.render(spec.content), mtime=spec.mtime or installed)
            for path, spec in self.profile.files.items()
        }
        with contextlib.suppress(OSError):
            mtime = int(self.host.config_path.stat().st_mtime)
            tree["/etc/vmware/esx.conf"] = FsEntry("f", self.host.read_config() + "\n", mtime=mtime)
        for path in list(tree):
            parent = path.rsplit("/", 1)[0] or "/"
            while parent not in tree:
                tree[parent] = FsEntry("d", mode=0o755, mtime=installed)
                parent = parent.rsplit("/", 1)[0] or "/"
        return tree

    def _run(self, line: str) -> tuple[str, str, int]:
        """One command that is not a shell builtin; outputs end with a newline when not empty."""
        out, err, status = self._answer(line)
        return (out + "\n" if out else ""), (err + "\n" if err else ""), status

    def _answer(self, line: str) -> tuple[str, str, int]:
        words = line.split()
        if not words:
            return "", "", 0
        args = words_match(words, "esxcli system settings advanced list")
        if args and args[0] == "-o" and len(args) == 2:
            return self._advanced(args[1])
        args = words_match(words, "vim-cmd hostsvc/advopt/view")
        if args is not None and len(args) == 1:
            return self._advopt(args[0])
        if words[0] == "vim-cmd" and words[1:2] and words[1].startswith("vmsvc/"):
            return self._vmsvc(words)
        found, rest = self.profile.find(line)
        if found is not None:
            conf = self._conf
            return (
                self.render(
                    found.output,
                    args=rest,
                    config=self.host.read_config,
                    esx_version=lambda: conf("/resourceGroups/version") or "",
                    esx_build=lambda: conf("/system/build") or "",
                ),
                "",
                0,
            )
        if words[0] == "esxcli":
            return "", f"Error: Unknown command or namespace {' '.join(words[1:])}", 1
        if words[0] == "vim-cmd":
            return "", f"Unknown command: '{' '.join(words[1:])}'", 1
        return "", f"sh: {words[0]}: not found", 127

    def vms(self) -> list[Mapping[str, object]] | None:
        """The host's VMs from its `vms` file, read again on every request so edits show at
        once; None when the file is not a YAML list (hostd is down, for the test of that)."""
        try:
            listed = yaml.safe_load(vms_file(self.host.config_path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, yaml.YAMLError):
            return None
        if listed is not None and not isinstance(listed, list):
            return None
        return [vm for vm in listed or () if isinstance(vm, dict)]

    def _vmsvc(self, words: list[str]) -> tuple[str, str, int]:
        """`vim-cmd vmsvc/getallvms` and `vmsvc/power.getstate ID` from the `vms` file."""
        vms = self.vms()
        if vms is None:
            return "", "Connect to localhost failed: Connection failure.", 1
        if words_match(words, "vim-cmd vmsvc/getallvms") == []:
            return _getallvms(vms), "", 0
        args = words_match(words, "vim-cmd vmsvc/power.getstate")
        if args is not None and len(args) == 1:
            by_id = {str(vm.get("id")): vm for vm in vms}
            if args[0] not in by_id:
                return "", f'Unable to find a VM corresponding to "{args[0]}"', 1
            return f"Retrieved runtime info\n{by_id[args[0]].get('state', '')}", "", 0
        return "", f"Unknown command: '{' '.join(words[1:])}'", 1

    def _conf(self, key: str) -> str | None:
        """The value of `key = "value"` in the host's esx.conf (None when absent)."""
        prefix = key + " = "
        for line in self.host.read_config().split("\n"):
            if line.startswith(prefix):
                return line[len(prefix) :].strip().strip('"')
        return None

    def _setting(self, path: str) -> tuple[Mapping[str, object], str] | None:
        spec = self.profile.advanced.get(path)
        if spec is None:
            return None
        value = self._conf("/adv" + path)
        return spec, str(spec.get("default", "")) if value is None else value

    def _advanced(self, path: str) -> tuple[str, str, int]:
        found = self._setting(path)
        if found is None:
            return "", f"Error: Unable to find option {path.rsplit('/', 1)[-1]}", 1
        spec, value = found
        is_int = spec.get("type") == "integer"
        lines = [
            f"   Path: {path}",
            f"   Type: {spec.get('type', 'string')}",
            f"   Int Value: {value if is_int else 0}",
            f"   Default Int Value: {spec.get('default', 0) if is_int else 0}",
            f"   Min Value: {spec.get('min', 0)}",
            f"   Max Value: {spec.get('max', 0)}",
            f"   String Value: {'' if is_int else value}",
            f"   Default String Value: {'' if is_int else spec.get('default', '')}",
            "   Valid Characters: ",
            f"   Description: {spec.get('description', '')}",
        ]
        return "\n".join(lines), "", 0

    def _advopt(self, key: str) -> tuple[str, str, int]:
        found = self._setting("/" + key.replace(".", "/"))
        if found is None:
            return (
                "",
                f'(vim.fault.InvalidName) {{\n   faultMessage = <unset>,\n   name = "{key}"\n}}',
                1,
            )
        spec, value = found
        shown = value if spec.get("type") in ("integer", "boolean") else f'"{value}"'
        return (
            (
                "(vim.option.OptionValue) [\n   (vim.option.OptionValue) {\n"
                f'      key = "{key}", \n      value = {shown}\n   }}\n]'
            ),
            "",
            0,
        )


def vms_file(config_path: Path) -> Path:
    """The VM list of the simulated ESXi host whose config file is `config_path`."""
    return config_path.with_name("vms")


_GETALLVMS_COLUMNS = ("Vmid", "Name", "File", "Guest OS", "Version", "Annotation")


def _getallvms(vms: list[Mapping[str, object]]) -> str:
    """`vim-cmd vmsvc/getallvms`: a header and one row per VM in padded columns; names and
    annotations are printed raw, as hostd does (a newline in one starts a new output line).
    A VM marked `invalid: true` (its datastore is away) is only named before the table."""
    skipped = [f"Skipping invalid VM '{vm.get('id')}'" for vm in vms if vm.get("invalid")]
    rows = [
        [str(vm.get(k, "")) for k in ("id", "name", "file", "guest", "version", "annotation")]
        for vm in vms
        if not vm.get("invalid")
    ]
    widths = [max([len(c), *(len(r[i]) for r in rows)]) for i, c in enumerate(_GETALLVMS_COLUMNS)]
    lines = [_GETALLVMS_COLUMNS, *rows]
    return "\n".join(
        skipped
        + [
            "   ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
            for line in lines
        ]
    )


SESSIONS: dict[str, type[Session]] = {
    "cisco_asa": AsaSession,
    "juniper_junos": JunosSession,
    "juniper_screenos": ScreenosSession,
    "checkpoint_gaia": GaiaSession,
    "esxi": EsxiSession,
}


def make_session(host: HostState) -> Session:
    """A fresh CLI session for `host` (one per SSH channel)."""
    return SESSIONS[host.profile.platform](host)

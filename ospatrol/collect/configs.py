"""Device configurations: fetch, normalise, keep every version, report a hierarchy-aware diff.

The `config:` section of a platform's profile (`checks/<platform>.yml`) lists the commands whose
output is the device's configuration (`show running-config`, ...), the line that proves an output
complete (IOS `end`, ASA `: end`), and the volatile lines to drop before comparing (clock-driven
headers, checksums, "last changed" stamps): a line that moves without a config change would be a
false alarm. Secrets are masked by the one scrubber (`ospatrol.scrub`) before anything is stored,
diffed or reported.

Every normalised version is kept in the collector state table (key: the command; versions count
up), so `ospatrol config history|show|diff` can show any of them. An ASA in multiple-context
mode (`security_contexts`) is fetched in its system space and in each context, stored and
diffed per context under `context NAME: <command>`. A new version becomes one
finding per changed block and kind of change (`ospatrol.collect.config_classify`: access rule
widened, management plane opened, ...), whose text starts `ospatrol: config changed: '<command>':
kind '<kind>' in '<block>'` (docs/events.md) followed by that block's changed lines grouped under
their parent (`interface Gi0/1`, `line vty 0 4`, a Junos hierarchy, a ScreenOS `set policy id
10` ... `exit` context): lines are compared together with their parents, so a line moved
between blocks shows under each parent. One finding per kind lets each kind have its rule
level and one alert. An output that is rejected, cut short or lacks its completion line stores
nothing and reports the device incomplete.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ospatrol.collect import secret_tags
from ospatrol.collect.base import (
    STORED_DIFF_LINES,
    CollectorResult,
    StateView,
    cap_lines,
    incomplete_finding,
)
from ospatrol.collect.config_classify import (
    KINDS,
    TOP,
    Block,
    Change,
    ClassifyRule,
    classify,
    compile_regex,
    event_head,
    parse_blocks,
    parse_classify,
)
from ospatrol.errors import InputError, InputErrors
from ospatrol.escape import quoted
from ospatrol.model import Finding, Host
from ospatrol.store.records import PutState
from ospatrol.yamlfile import LineDict

if TYPE_CHECKING:
    from ospatrol.profiles import Profile
    from ospatrol.transport import Transport
    from ospatrol.transport.base import CommandResult

NAME = "config"
MAX_BLOCK_FINDINGS = 50
"""Findings one config change gives at most, one per block and kind (then one per kind): a
change of hundreds of interfaces is a handful of alerts, not hundreds."""
TAGS_PREFIX = "#secret tags: "
"""State key prefix of a command's secret tags (`secret_tags`); no device command starts with
`#`, so these never read as a stored configuration."""
SECRET_CHANGED = "secret changed"
"""The note of a line whose text stayed but whose masked secret changed."""
_SECTION_KEYS = ("commands", "drop", "contexts", "security_contexts", "blocks", "classify")
_SECURITY_CONTEXT_KEYS = ("detect", "multiple", "list", "name", "enter", "system")
CONTEXT_NAME = re.compile(r"[A-Za-z0-9_.-]{1,32}")
"""What a security context name must be (fully) before it goes into a command: the names come
from the device's output, and the device is an attacker."""


@dataclass(frozen=True)
class ConfigCommand:
    """One command whose output is (part of) the configuration."""

    command: str
    name: str
    complete: re.Pattern[str] | None = None
    """A line every complete output holds (its absence means the output was cut short)."""


@dataclass(frozen=True)
class ConfigContext:
    """A block that flat configs open and close with lines instead of indentation (ScreenOS
    `set policy id 10` ... `exit`): the lines between are its children."""

    open: re.Pattern[str]
    close: re.Pattern[str]


@dataclass(frozen=True)
class SecurityContexts:
    """Multiple-context mode (ASA): how to tell it, list the contexts and enter each one."""

    detect: str
    """The command whose output says the mode (`show mode`); rejected means single mode."""
    multiple: re.Pattern[str]
    """Matches `detect`'s output in multiple-context mode."""
    list: str
    """The command that lists the contexts (`show context`)."""
    name: re.Pattern[str]
    """Finds each context in `list`'s output, its name in the group `name`."""
    enter: str
    """The command that enters a context, `{name}` standing for its name."""
    system: str
    """The command that enters the system execution space (`changeto system`)."""


@dataclass(frozen=True)
class ConfigProfile:
    """The `config:` section: what to fetch, which lines are volatile, and how changes are
    classified (`blocks`, `classify`: `ospatrol.collect.config_classify`)."""

    commands: tuple[ConfigCommand, ...]
    drop: tuple[re.Pattern[str], ...] = ()
    contexts: tuple[ConfigContext, ...] = ()
    blocks: tuple[re.Pattern[str], ...] = ()
    classify: tuple[ClassifyRule, ...] = ()
    security_contexts: SecurityContexts | None = None


def parse_config_section(data: Any, path: str, line: int | None = None) -> ConfigProfile:
    """The `config:` section of a profile; every error names file and line."""
    if not isinstance(data, LineDict):
        raise InputError("config: expected a mapping with 'commands' (and 'drop')", path, line)
    errors: list[InputError] = []
    for key in data:
        if key not in _SECTION_KEYS:
            known = ", ".join(_SECTION_KEYS)
            errors.append(
                InputError(f"config: unknown key {key!r}; known: {known}", path, data.line_of(key))
            )
    commands: list[ConfigCommand] = []
    items = data.get("commands")
    if not isinstance(items, list) or not items:
        errors.append(InputError("config: 'commands' must be a non-empty list", path, data.line))
        items = []
    for item in items:
        where = item.line if isinstance(item, LineDict) else data.line_of("commands")
        if isinstance(item, str):
            item = {"command": item}
        if not isinstance(item, dict) or not isinstance(item.get("command"), str):
            errors.append(
                InputError(
                    "config: a command is a string or {command, name, complete}", path, where
                )
            )
            continue
        unknown = set(item) - {"command", "name", "complete"}
        if unknown:
            errors.append(
                InputError(f"config: unknown key {sorted(unknown)[0]!r} in a command", path, where)
            )
            continue
        try:
            complete = (
                compile_regex(item["complete"], "complete", path, where, re.MULTILINE)
                if "complete" in item
                else None
            )
        except InputError as exc:
            errors.append(exc)
            continue
        commands.append(
            ConfigCommand(item["command"], str(item.get("name", item["command"])), complete)
        )
    drop: list[re.Pattern[str]] = []
    raw_drop = data.get("drop", [])
    if not isinstance(raw_drop, list):
        errors.append(
            InputError(
                "config: 'drop' must be a list of regular expressions", path, data.line_of("drop")
            )
        )
        raw_drop = []
    for pattern in raw_drop:
        try:
            drop.append(compile_regex(pattern, "drop", path, data.line_of("drop"), re.MULTILINE))
        except InputError as exc:
            errors.append(exc)
    contexts = _parse_contexts(data.get("contexts", []), path, data.line_of("contexts"), errors)
    blocks = parse_blocks(data.get("blocks", []), path, data.line_of("blocks"), errors)
    rules = parse_classify(data.get("classify", []), path, data.line_of("classify"), errors)
    security = (
        _parse_security_contexts(data["security_contexts"], path, errors)
        if "security_contexts" in data
        else None
    )
    if errors:
        raise InputErrors(errors)
    return ConfigProfile(tuple(commands), tuple(drop), contexts, blocks, rules, security)


def _parse_security_contexts(
    value: Any, path: str, errors: list[InputError]
) -> SecurityContexts | None:
    """The `security_contexts:` mapping; errors appended with file and line."""
    where = value.line if isinstance(value, LineDict) else None
    keys = ", ".join(_SECURITY_CONTEXT_KEYS)
    if not isinstance(value, LineDict) or set(value) != set(_SECURITY_CONTEXT_KEYS):
        errors.append(InputError(f"config: 'security_contexts' needs exactly {keys}", path, where))
        return None
    if not all(isinstance(value[k], str) and value[k] for k in _SECURITY_CONTEXT_KEYS):
        errors.append(InputError(f"config: 'security_contexts': {keys} are strings", path, where))
        return None
    if "{name}" not in value["enter"]:
        errors.append(
            InputError("config: 'security_contexts' 'enter' must hold {name}", path, where)
        )
        return None
    try:
        multiple = compile_regex(value["multiple"], "multiple", path, where, re.MULTILINE)
        name = compile_regex(value["name"], "name", path, where, re.MULTILINE)
    except InputError as exc:
        errors.append(exc)
        return None
    if "name" not in name.groupindex:
        errors.append(
            InputError("config: 'security_contexts' 'name' needs (?P<name>...)", path, where)
        )
        return None
    return SecurityContexts(
        value["detect"], multiple, value["list"], name, value["enter"], value["system"]
    )


def _parse_contexts(
    value: Any, path: str, line: int | None, errors: list[InputError]
) -> tuple[ConfigContext, ...]:
    """The `contexts:` list of `{open, close}` regexes; errors appended with file and line."""
    if not isinstance(value, list):
        errors.append(InputError("config: 'contexts' must be a list of {open, close}", path, line))
        return ()
    contexts = []
    for item in value:
        where = item.line if isinstance(item, LineDict) else line
        if not isinstance(item, dict) or set(item) != {"open", "close"}:
            errors.append(InputError("config: a context is {open, close}", path, where))
            continue
        try:
            contexts.append(
                ConfigContext(
                    compile_regex(item["open"], "contexts open", path, where),
                    compile_regex(item["close"], "contexts close", path, where),
                )
            )
        except InputError as exc:
            errors.append(exc)
    return tuple(contexts)


def normalise(output: str, profile: ConfigProfile) -> str:
    """The output as stored and compared: line endings unified, volatile lines dropped, trailing
    blanks removed, secrets masked."""
    return normalise_tagged(output, profile, None)[0]


def normalise_tagged(
    output: str, profile: ConfigProfile, key: bytes | None
) -> tuple[str, secret_tags.Tags]:
    """`normalise`, and with a tag key the keyed tags of the lines it masked (`secret_tags`)."""
    from ospatrol.scrub import base_scrubber

    lines = output.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept = [ln.rstrip() for ln in lines if not any(p.search(ln) for p in profile.drop)]
    while kept and not kept[-1]:
        kept.pop()
    while kept and not kept[0]:
        kept.pop(0)
    masked = base_scrubber().text("\n".join(kept) + "\n")
    if key is None:
        return masked, {}
    return masked, secret_tags.tag_lines(kept, masked.split("\n")[:-1], key)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _structural(line: str) -> bool:
    """A line that carries no configuration (blank, IOS `!`, Junos' closing `}`, `#`)."""
    return line.strip() in ("", "!", "}", "#")


def parents(lines: Sequence[str], contexts: Sequence[ConfigContext] = ()) -> list[tuple[str, ...]]:
    """For each line, the chain of block headers it sits under: by indentation (IOS, ASA, NX-OS
    and Junos' curly form all indent a block's lines under its header) and, in flat configs,
    by `contexts` (from the line that opens one to the line that closes it)."""
    return [chain for chain, _ in _walk(lines, contexts)]


def _walk(
    lines: Sequence[str], contexts: Sequence[ConfigContext]
) -> list[tuple[tuple[str, ...], str]]:
    """Each line's parent chain and role: `open` (opens a context), `close` (closes one), ``."""
    out: list[tuple[tuple[str, ...], str]] = []
    stack: list[tuple[int, str, re.Pattern[str] | None]] = []  # (indent, header, its close)
    for line in lines:
        if _structural(line):
            out.append((tuple(h for _, h, _ in stack), ""))
            continue
        inner = next((i for i in reversed(range(len(stack))) if stack[i][2] is not None), None)
        closer = stack[inner][2] if inner is not None else None
        if inner is not None and closer is not None and closer.search(line):
            del stack[inner + 1 :]
            out.append((tuple(h for _, h, _ in stack), "close"))
            stack.pop()
            continue
        depth = _indent(line)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        close = next((c.close for c in contexts if c.open.search(line)), None)
        out.append((tuple(h for _, h, _ in stack), "open" if close else ""))
        # A context's lines are not indented: its entry sits below every indentation level.
        stack.append((-1 if close else depth, _header(line), close))
    return out


def _header(line: str) -> str:
    return line.strip().rstrip("{").strip()


def _opens(lines: Sequence[str], index: int) -> bool:
    """Whether line `index` heads a block: the next line that carries configuration is indented
    deeper."""
    depth = _indent(lines[index])
    for following in lines[index + 1 :]:
        if not _structural(following):
            return _indent(following) > depth
    return False


def changes(old: str, new: str, contexts: Sequence[ConfigContext] = ()) -> list[Change]:
    """The changed lines of `old` -> `new`, each with its parent chain (hierarchy-aware: the
    same line under another parent is a change), removals of a run before its additions; the
    line that closes a context (`exit`) goes with it and is not shown."""
    a, b = old.splitlines(), new.splitlines()
    pa, pb = _walk(a, contexts), _walk(b, contexts)
    out: list[Change] = []
    # Lines are compared with their parents: the same text under another block is a change.
    keys_a = [(chain, line) for (chain, _), line in zip(pa, a, strict=True)]
    keys_b = [(chain, line) for (chain, _), line in zip(pb, b, strict=True)]
    matcher = difflib.SequenceMatcher(None, keys_a, keys_b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        for lines, chains, sign, lo, hi in ((a, pa, "-", i1, i2), (b, pb, "+", j1, j2)):
            out.extend(
                Change(
                    chains[i][0], sign, lines[i].strip(), chains[i][1] == "open" or _opens(lines, i)
                )
                for i in range(lo, hi)
                if not _structural(lines[i]) and chains[i][1] != "close"
            )
    return out


def secret_changes(
    new: str, lines: Sequence[tuple[str, int]], contexts: Sequence[ConfigContext] = ()
) -> list[Change]:
    """`lines` (masked line, occurrence: `secret_tags.changed`) as `+` changes under their
    parents in `new`, noted `SECRET_CHANGED`. Lines are split on newlines only, as the tags
    were; a line that cannot be found is still reported, at the top level."""
    b = new.split("\n")
    if b and not b[-1]:
        b.pop()
    walked = _walk(b, contexts)
    seen: dict[str, int] = {}
    where: dict[tuple[str, int], int] = {}
    for index, line in enumerate(b):
        seen[line] = seen.get(line, -1) + 1
        where[(line, seen[line])] = index
    found = sorted((where.get(item, -1), item[0]) for item in lines)
    return [
        Change(walked[i][0] if i >= 0 else (), "+", line.strip(), note=SECRET_CHANGED)
        for i, line in found
    ]


def render(diff: Sequence[Change]) -> str:
    """Changed lines under their parent block: `@@ interface Gi0/1` then `-`/`+` lines (`@@
    system > services` for a nested block, `@@ (top level)` for a line outside any); a line
    with a note ends with it in parentheses (`+ enable secret 9 *** (secret changed)`)."""
    out: list[str] = []
    current: tuple[str, ...] | None = None
    for change in diff:
        if change.parents != current:
            out.append("@@ " + (" > ".join(change.parents) if change.parents else TOP))
            current = change.parents
        out.append(f"{change.sign} {change.line}" + (f" ({change.note})" if change.note else ""))
    return "\n".join(out)


def hierarchical_diff(old: str, new: str, contexts: Sequence[ConfigContext] = ()) -> str:
    """`render(changes(old, new, contexts))`: empty when the two are equal."""
    return render(changes(old, new, contexts))


def changed_findings(
    host: str,
    command: ConfigCommand,
    old: str,
    new: str,
    section: ConfigProfile,
    secrets: Sequence[tuple[str, int]] = (),
) -> list[Finding]:
    """One finding per changed block and kind (`ospatrol.collect.config_classify`), most
    severe first; past `MAX_BLOCK_FINDINGS` the rest are merged into one finding per kind.
    `secrets`: masked lines of `new` whose secret changed (`secret_tags.changed`)."""
    diff = changes(old, new, section.contexts) + secret_changes(new, secrets, section.contexts)
    blocks = classify(diff, section.classify, section.blocks)
    if len(blocks) > MAX_BLOCK_FINDINGS:
        kept, rest = blocks[:MAX_BLOCK_FINDINGS], blocks[MAX_BLOCK_FINDINGS:]
        for kind in KINDS:
            same = [b for b in rest if b.kind == kind]
            if same:
                merged = tuple(c for b in same for c in b.changes)
                kept.append(Block(kind, f"({len(same)} more blocks)", merged))
        blocks = kept
    return [_block_finding(host, command, block) for block in blocks]


def _block_finding(host: str, command: ConfigCommand, block: Block) -> Finding:
    diff = cap_lines(render(block.changes), STORED_DIFF_LINES)
    head = event_head(command.command, block.kind, block.header)
    return Finding(
        host=host,
        collector=NAME,
        kind="changed",
        subject=command.name,
        detail=f"{block.kind} in '{block.header}': {len(block.changes)} line(s) changed",
        diff=diff,
        event_text=f"{head}\n{cap_lines(diff)}",
    )


class ConfigsCollector:
    """Fetches each device's configuration per its platform's `config:` profile section."""

    name = NAME

    def __init__(self, profiles: Mapping[str, Profile], tag_key: bytes | None = None) -> None:
        """`tag_key`: the state dir's secret tag key (`secret_tags`); None keeps no tags."""
        self.profiles = profiles
        self.tag_key = tag_key

    def section(self, host: Host) -> ConfigProfile | None:
        from ospatrol.profiles import profile_for

        profile = profile_for(self.profiles, host.platform)
        return None if profile is None else profile.sections.get("config")

    async def collect(self, host: Host, transport: Transport, state: StateView) -> CollectorResult:
        section = self.section(host)
        if section is None:
            return CollectorResult(NAME, "ok")
        try:
            outputs = await _fetch(transport, section, self.tag_key)
        except _Incomplete as exc:
            finding = incomplete_finding(host.name, exc.reason, collector=NAME)
            return CollectorResult(NAME, "incomplete", (finding,), exc.reason)
        findings: list[Finding] = []
        updates: list[PutState] = []
        moved = False
        for command, text, tags in outputs:
            digest = hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()
            previous = state.get(command.command)
            secrets: list[tuple[str, int]] = []
            if self.tag_key is not None:
                stored = state.get(TAGS_PREFIX + command.command)
                # No tags stored yet (first audit, or the first since tags exist): record only.
                old_tags = None if stored is None else secret_tags.decode(stored.blob)
                if old_tags != tags:
                    blob = secret_tags.encode(tags)
                    digest_of_tags = hashlib.sha256(blob).hexdigest()
                    updates.append(PutState(TAGS_PREFIX + command.command, blob, digest_of_tags))
                if old_tags is not None and previous is not None:
                    secrets = secret_tags.changed(old_tags, tags)
            if previous is not None and previous.digest == digest and not secrets:
                continue
            moved = True
            if previous is not None:
                findings.extend(
                    changed_findings(host.name, command, previous.text, text, section, secrets)
                )
            if previous is None or previous.digest != digest:
                updates.append(
                    PutState(command.command, text.encode("utf-8", "surrogateescape"), digest)
                )
        return CollectorResult(
            NAME, "ok", tuple(findings), updates=tuple(updates), baseline_changed=moved
        )


class _Incomplete(Exception):
    """The configuration could not be fetched whole; `reason` says why (docs/events.md)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def _fetch(
    transport: Transport, section: ConfigProfile, key: bytes | None
) -> list[tuple[ConfigCommand, str, secret_tags.Tags]]:
    """Every config output, normalised, with the command it is stored under. All or nothing
    (`_Incomplete`): in multiple-context mode a context that cannot be entered or read stops
    the whole device, so a run never stores some contexts and silently misses the others.
    Each output comes with the secret tags of its masked lines (none without a `key`).

    Multiple-context mode (`security_contexts`): the commands run in the system execution space
    (stored under the command itself, as in single mode), then in each context, stored as
    `context NAME: <command>`; the session is left in the system space."""
    multi = section.security_contexts
    names = None if multi is None else await _context_names(transport, multi)
    if multi is None or names is None:
        return [(c, *await _output(transport, c, section, "", key)) for c in section.commands]
    await _enter(transport, multi.system, "the system execution space")
    out = [(c, *await _output(transport, c, section, "", key)) for c in section.commands]
    for name in names:
        where = f"context {name}"
        await _enter(transport, multi.enter.replace("{name}", name), where)
        for command in section.commands:
            text, tags = await _output(transport, command, section, where, key)
            label = replace(
                command, command=f"{where}: {command.command}", name=f"{where}: {command.name}"
            )
            out.append((label, text, tags))
    await _enter(transport, multi.system, "the system execution space")
    return out


async def _output(
    transport: Transport,
    command: ConfigCommand,
    section: ConfigProfile,
    where: str,
    key: bytes | None,
) -> tuple[str, secret_tags.Tags]:
    """`command`'s normalised output and its secret tags (`where`: the context it ran in, for
    the reason)."""
    result = await transport.run(command.command)
    problem = _problem(result, command)
    if problem:
        raise _Incomplete(f"{problem} ({where + ': ' if where else ''}{command.command})")
    return normalise_tagged(result.stdout, section, key)


async def _context_names(transport: Transport, multi: SecurityContexts) -> list[str] | None:
    """The security contexts to fetch, None in single-context mode (`show mode` says so, or
    the device rejects it, as PIX, FWSM and old ASA releases do)."""
    mode = await transport.run(multi.detect)
    if mode.truncated or mode.exit_status != 0 or not multi.multiple.search(mode.stdout):
        return None
    listing = await transport.run(multi.list)
    problem = _problem(listing, ConfigCommand(multi.list, multi.list))
    if problem:
        raise _Incomplete(f"{problem} ({multi.list})")
    names = list(dict.fromkeys(m["name"] for m in multi.name.finditer(listing.stdout)))
    if not names:
        raise _Incomplete(f"error: multiple-context mode but no context listed ({multi.list})")
    for name in names:
        if not CONTEXT_NAME.fullmatch(name):
            raise _Incomplete(
                f"error: refusing security context name {quoted(name)}: not a context name "
                f"({multi.list})"
            )
    return names


async def _enter(transport: Transport, command: str, where: str) -> None:
    """Run a `changeto`; a rejected one stops the device (its outputs would be another's)."""
    result = await transport.run(command)
    if result.truncated or result.exit_status != 0:
        first = result.stdout.strip().splitlines()[:1]
        said = first[0] if first else "no output"
        raise _Incomplete(f"error: cannot enter {where}: {said} ({command})")


def _problem(result: CommandResult, command: ConfigCommand) -> str:
    """Why an output cannot be stored ("" when it can): rejected, cut short, incomplete."""
    if result.truncated:
        return "truncated listing: output over the size cap or cut short"
    if result.exit_status != 0:
        first = result.stdout.strip().splitlines()[:1]
        return f"error: the device rejected the command: {first[0] if first else 'no output'}"
    if not result.stdout.strip():
        return "truncated listing: empty output"
    if command.complete is not None and not command.complete.search(result.stdout):
        return "truncated listing: the configuration has no end line"
    return ""

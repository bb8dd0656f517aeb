"""Device configs as lines and blocks, and the rules of native policies that read them.

The hierarchy comes from netutils' config parsers (Network to Code's `netutils.config.parser`:
IOS/IOS-XE/NX-OS, ASA and Junos curly syntax), which yield every line with the tuple of its
parent lines -- exactly what block scoping needs, without a hand-written indentation parser.
Junos configs in curly form are flattened to the `set` form (`set system services ssh
root-login deny`) so one policy reads both forms alike; ScreenOS configs are flat `set` lines.

- IOS-style platforms: a block is a parent line (`line vty 0 4`, `interface Gi0/1`) with all its
  descendants, stripped of indentation.
- `set`-style platforms (Junos, ScreenOS): a block is the set of lines whose start matches the
  block's regex (`^set system login user \\S+`); its lines are what follows the match.

Rules: `config -> content`, `block:REGEX [-> content]` (some block), `every:REGEX -> content`
(each block; no block at all: not applicable), `count:` forms, `c:COMMAND -> content` over a
`show` output and `t:COMMAND -> FIELD -> content` over a field TextFSM (ntc-templates) parses
from it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ospatrol.errors import InputError

if TYPE_CHECKING:
    from ospatrol.policy.evaluate import RuleValue
    from ospatrol.policy.facts import Facts
    from ospatrol.policy.model import Rule

SET_STYLE = frozenset({"juniper_junos", "juniper_screenos"})
_PARSERS = {
    "cisco_ios": "IOSConfigParser",
    "cisco_nxos": "NXOSConfigParser",
    "cisco_asa": "ASAConfigParser",
    "juniper_junos": "JunosConfigParser",
}
CONFIG_COMMANDS = {
    "cisco_ios": "show running-config",
    "cisco_nxos": "show running-config",
    "cisco_asa": "show running-config",
    "juniper_junos": "show configuration | display set | no-more",
    "juniper_screenos": "get config",
}
"""How each platform shows its configuration, when `ospatrol check` fetches it itself."""
PLATFORMS = tuple(sorted({*_PARSERS, *SET_STYLE}))


@dataclass(frozen=True)
class Block:
    parent: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class DeviceConfig:
    platform: str
    lines: tuple[str, ...]
    blocks: tuple[Block, ...] = ()

    @property
    def set_style(self) -> bool:
        return self.platform in SET_STYLE

    def blocks_matching(self, rule_name) -> list[Block]:
        from ospatrol.policy.evaluate import content_matches

        if not self.set_style:
            return [b for b in self.blocks if content_matches(rule_name, [b.parent])[0]]
        # The block's regex is anchored at the line start (the loader insists on `^`): what it
        # matched is the block's path, the rest of the line its content.
        term = rule_name.terms[0]
        groups: dict[str, list[str]] = {}
        for line in self.lines:
            found = term.pattern.search(line)
            if found is not None:
                groups.setdefault(line[: found.end], []).append(line[found.end :].strip())
        return [Block(parent, tuple(lines)) for parent, lines in groups.items()]


def parse_config(text: str, platform: str, path: str = "<config>") -> DeviceConfig:
    """Lines and blocks of a device config; InputError for a platform we cannot scope."""
    from netutils.config import parser as netutils_parser

    text = text.replace("\r\n", "\n")
    if platform == "juniper_screenos":
        return DeviceConfig(platform, _plain_lines(text))
    if platform == "juniper_junos" and _is_set_form(text):
        return DeviceConfig(
            platform, tuple(line for line in _plain_lines(text) if line.startswith("set "))
        )
    name = _PARSERS.get(platform)
    if name is None:
        raise InputError(
            f"unknown device platform {platform!r} (expected one of {', '.join(PLATFORMS)})", path
        )
    try:
        parsed = getattr(netutils_parser, name)(text).config_lines
    except (IndexError, ValueError, AttributeError) as exc:
        # netutils refuses some inputs (a first line that starts with a space, ...) with bare
        # errors; a device or a file is not to crash a run with them.
        reason = str(exc).strip().splitlines()
        raise InputError(
            f"not a {platform} configuration netutils can read: "
            f"{reason[0] if reason else type(exc).__name__}",
            path,
        ) from None
    if platform == "juniper_junos":
        return DeviceConfig(platform, tuple(_junos_set_lines(parsed)))
    lines = tuple(
        line.rstrip() for line in text.split("\n") if line.strip() and not line.startswith("!")
    )
    # Every line heads a block, childless ones too: `line vty 1 4` with nothing under it is a
    # vty block that lacks everything.
    children: dict[tuple[str, ...], list[str]] = {}
    for entry in parsed:
        parents = tuple(entry.parents)
        children.setdefault((*parents, entry.config_line), [])
        for depth in range(1, len(parents) + 1):
            children.setdefault(parents[:depth], []).append(entry.config_line.strip())
    blocks = tuple(Block(key[-1].strip(), tuple(value)) for key, value in children.items())
    return DeviceConfig(platform, lines, blocks)


def _plain_lines(text: str) -> tuple[str, ...]:
    return tuple(
        line.rstrip()
        for line in text.split("\n")
        if line.strip() and not line.lstrip().startswith("#")
    )


def _is_set_form(text: str) -> bool:
    lines = [
        line.strip()
        for line in text.split("\n")
        if line.strip() and not line.strip().startswith("#")
    ]
    return bool(lines) and sum(
        line.startswith(("set ", "deactivate ")) for line in lines
    ) * 2 > len(lines)


_INACTIVE = re.compile(r"^(inactive|protect):\s*")


def _junos_set_lines(parsed) -> list[str]:
    """Curly Junos as `set` lines: each leaf (`...;`) prefixed by its parents' words."""
    result = []
    for entry in parsed:
        line = entry.config_line.strip()
        if not line.endswith(";") or line.startswith(("#", "/*")):
            continue
        path = [_INACTIVE.sub("", p.strip().removesuffix("{").strip()) for p in entry.parents]
        result.append(" ".join(["set", *path, _INACTIVE.sub("", line.removesuffix(";").strip())]))
    return result


def device_rule(rule: Rule, facts: Facts) -> RuleValue:
    from ospatrol.policy.evaluate import (
        NOT_RUN_VALUE,
        RuleValue,
        _compare,
        _with_content,
        content_matches,
    )

    if rule.kind == "t":
        return _parsed_rule(rule, facts)
    config = facts.device
    if config is None:
        return RuleValue(NOT_RUN_VALUE, "no device config was fetched")
    if rule.kind == "config":
        if rule.content is None:
            return RuleValue(bool(config.lines), "config is not empty")
        return _with_content(rule, "\n".join(config.lines), "config")
    assert rule.name is not None
    blocks = config.blocks_matching(rule.name)
    shown = rule.targets[0]
    if rule.kind == "block":
        if rule.content is None:
            holding = blocks
        else:
            holding = [b for b in blocks if content_matches(rule.content, b.lines)[0]]
        if rule.count is not None:
            op, wanted = rule.count
            return RuleValue(
                _compare(len(holding), op, wanted),
                f"{len(holding)} block(s) {shown}, wanted {op} {wanted:g}",
            )
        evidence = holding[0].parent if holding else ""
        return RuleValue(
            bool(holding), f"{len(holding)} of {len(blocks)} block(s) {shown} matched", evidence
        )
    # every: each block must hold
    if not blocks:
        return RuleValue(None, f"no block {shown}")
    assert rule.content is not None
    for block in blocks:
        if not content_matches(rule.content, block.lines)[0]:
            return RuleValue(False, f"block {block.parent!r} does not hold", block.parent)
    return RuleValue(True, f"all {len(blocks)} block(s) {shown} hold")


def _parsed_rule(rule: Rule, facts: Facts) -> RuleValue:
    from ospatrol.policy.evaluate import NOT_RUN_VALUE, RuleValue, _with_content

    command = rule.targets[0]
    fact = facts.commands.get(command)
    if fact is None or fact.timed_out:
        return RuleValue(NOT_RUN_VALUE, f"no output of {command!r}")
    records = parse_show(facts.platform, command, fact.output)
    if records is None:
        return RuleValue(None, f"no TextFSM template for {facts.platform} {command!r}")
    assert rule.name is not None
    field = rule.name.source.strip().lower()
    values = [str(r.get(field, "")) for r in records if field in r]
    if not values:
        return RuleValue(None, f"{command!r} gave no field {field!r}")
    if rule.content is None:
        return RuleValue(True, f"{field} = {values[0]}")
    return _with_content(rule, "\n".join(values), f"{field} of {command!r}")


def parse_show(platform: str, command: str, output: str) -> list[dict[str, str]] | None:
    """TextFSM records of a `show` output through ntc-templates; None without a template."""
    from ntc_templates.parse import parse_output

    try:
        records = parse_output(platform=platform, command=command, data=output)
    except Exception:  # ntc-templates raises bare Exception when no template matches
        return None
    return [{str(k).lower(): _flat(v) for k, v in r.items()} for r in records]


def _flat(value) -> str:
    return " ".join(map(str, value)) if isinstance(value, list) else str(value)

"""Load OSSEC rootcheck policy text files (`cis_*_rcl.txt`, `system_audit_*.txt`), unchanged.

    $php.ini=/etc/php.ini,/usr/local/etc/php.ini;
    [PHP - Register globals are enabled {PCI_DSS: 2.2.4}] [any] [http://...]
    f:$php.ini -> r:^register_globals = On;

Polarity is the opposite of SCA: a check that matches is a finding (reported as `failed`). A block
whose condition ends in `required` is the policy's requirement: OSSEC stops reading the file when
it does not hold, so the whole policy is not applicable. Entries are `f:` (file or directory,
comma lists), `d:` (a directory's files: `d:DIR -> NAME_REGEX -> content`), `p:` (process) and
`r:` (Windows registry); `f:!PATH` (also written `f!:PATH`) negates an entry. Content patterns use
OS_Regex and rootcheck's `<:`/`>:`/`=:` string comparisons. `[any or all]`, found in stock files,
reads as `any` (OSSEC's parser takes the first word).

Checks have no ids in this format: a check's id is its position in the file (1, 2, ...), stable as
long as the file is.
"""

from __future__ import annotations

import re
from pathlib import Path

from ospatrol.errors import InputError, InputErrors
from ospatrol.policy.model import Check, Policy, Rule, load_warnings
from ospatrol.policy.rules import RuleError, Syntax, parse_rule
from ospatrol.policy.sca import substitute

_TITLE = re.compile(r"^\[(?P<title>.*)\]\s*\[(?P<cond>[a-z ]+)\]\s*\[(?P<ref>[^\]]*)\]\s*$")
_VARIABLE = re.compile(r"^(?P<name>\$[\w.-]+)\s*=\s*(?P<value>.*?);?\s*$")
_ENTRY = re.compile(r"^(?P<kind>[a-z])(?P<bang1>!?):(?P<bang2>!?)(?P<body>.*?);?\s*$")
_TAGS = re.compile(r"\{(?P<key>[A-Za-z_ ]+):\s*(?P<values>[^}]*)\}")
CONDITIONS = {"any": "any", "all": "all", "none": "none", "any or all": "any"}


def load_rootcheck(path: Path) -> Policy:
    try:
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
    except OSError as exc:
        raise InputError(f"cannot read policy: {exc}", str(path)) from None
    return parse_rootcheck(text, str(path))


def parse_rootcheck(text: str, path: str) -> Policy:
    syntax = Syntax("osregex", frozenset("fdpr"), rootcheck=True, strict=False)
    errors: list[InputError] = []
    warnings: list[str] = []
    variables: dict[str, str] = {}
    checks: list[Check] = []
    requirements: list[Check] = []
    current: dict | None = None

    def close() -> None:
        if current is None:
            return
        if not current["rules"]:
            # OSSEC skips a check without entries; so do we, and say so.
            warnings.append(
                f"{path}:{current['line']}: check {current['id']}: has no entries (skipped)"
            )
            return
        check = Check(
            id=current["id"],
            title=current["title"],
            condition=current["condition"],
            rules=tuple(current["rules"]),
            references=tuple(r.strip() for r in current["ref"].split(",") if r.strip()),
            compliance=_tags(current["raw_title"]),
            line=current["line"],
        )
        (requirements if current["required"] else checks).append(check)

    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("$"):
            found = _VARIABLE.match(line)
            if found is None:
                errors.append(InputError(f"bad variable line {line!r}", path, number))
                continue
            variables[found.group("name")] = found.group("value")
            continue
        title = _TITLE.match(line)
        if title:
            close()
            words = title.group("cond").strip()
            required = words.endswith(" required")
            condition = CONDITIONS.get(words.removesuffix(" required"))
            check_id = str(len(checks) + len(requirements) + 1)
            if condition is None:
                errors.append(
                    InputError(f"check {check_id}: unknown condition [{words}]", path, number)
                )
                current = None
                continue
            raw_title = title.group("title")
            current = {
                "id": "requirements" if required else str(len(checks) + 1),
                "raw_title": raw_title,
                "title": _TAGS.sub("", raw_title).strip(),
                "condition": condition,
                "required": required,
                "ref": title.group("ref"),
                "line": number,
                "rules": [],
            }
            continue
        entry = _ENTRY.match(line)
        if entry is None or current is None:
            where = f"check {current['id']}: " if current else ""
            errors.append(InputError(f"{where}cannot parse line {line!r}", path, number))
            continue
        negate = bool(entry.group("bang1") or entry.group("bang2"))
        body = substitute(entry.group("body"), variables)
        try:
            rule = parse_rule(f"{entry.group('kind')}:{body}", syntax, number)
        except RuleError as exc:
            errors.append(InputError(f"check {current['id']}: {exc}", path, number))
            continue
        if negate:
            rule = Rule(rule.kind, rule.targets, line, True, rule.name, rule.content, None, number)
        current["rules"].append(rule)
    close()
    if errors:
        raise InputErrors(errors)
    stem = Path(path).stem
    merged = None
    if requirements:
        # Several required blocks must all hold: one requirement whose rules are each block's.
        merged = requirements[0] if len(requirements) == 1 else _merge(requirements)
    return Policy(
        id=stem,
        name=stem,
        path=path,
        dialect="rootcheck",
        checks=tuple(checks),
        requirements=merged,
        polarity="finding",
        warnings=(*warnings, *load_warnings([*requirements, *checks], path)),
    )


def _merge(blocks: list[Check]) -> Check:
    first = blocks[0]
    rules = tuple(rule for block in blocks for rule in block.rules)
    return Check(first.id, first.title, "all", rules, line=first.line)


def _tags(title: str) -> dict[str, tuple[str, ...]]:
    """`{PCI_DSS: 2.2.4, 2.2.5}` and `{CIS: 3.2 RHEL5}` in a title, as compliance entries."""
    result: dict[str, tuple[str, ...]] = {}
    for found in _TAGS.finditer(title):
        key = found.group("key").strip().lower().replace(" ", "_")
        result[key] = tuple(v.strip() for v in found.group("values").split(",") if v.strip())
    return result

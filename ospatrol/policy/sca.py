"""Load Wazuh SCA policies (both dialects) and OSPatrol's own YAML policies (`cis/`), unchanged.

- SCA 4.x: checks have `title`, `compliance` is a list of one-key maps, regexes are OS_Regex
  unless `regex_type: pcre2` (policy-wide or per check; case-sensitive in 4.x).
- SCA 5.x: checks have `name`, `compliance` is a map and `mitre` a separate map; PCRE2, caseless.
- native (`cis/*.yml`, documented in docs/policy-format.md): SCA 5.x plus `policy.platforms`, string
  check ids, `agentless_conflict`, and the device rule types (`config`, `block:`, `every:`,
  `count:`, `t:`).

The dialect is decided per file from what it contains (`platforms` → native; `name`/object
compliance/`mitre` → 5.x; else 4.x). Every error names the file, the line and the check id, and
all errors of a file are collected before failing.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ospatrol.errors import InputError, InputErrors
from ospatrol.policy.model import Check, Dialect, Policy, Rule, load_warnings
from ospatrol.policy.rules import HOST_KINDS, NATIVE_KINDS, RuleError, Syntax, parse_rule
from ospatrol.yamlfile import load_yaml_text

CONDITIONS = ("all", "any", "none")
_CHECK_KEYS = frozenset(
    {
        "id",
        "title",
        "name",
        "description",
        "rationale",
        "impact",
        "remediation",
        "references",
        "compliance",
        "mitre",
        "condition",
        "rules",
        "regex_type",
        "agentless_conflict",
    }
)


def load_yaml_policy(path: Path) -> Policy:
    """Load an SCA (4.x or 5.x) or native policy file; InputErrors name file, line and check."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read policy: {exc}", str(path)) from None
    return parse_yaml_policy(text, str(path))


def parse_yaml_policy(text: str, path: str) -> Policy:
    doc = load_yaml_text(text, path)
    if not isinstance(doc, dict) or not isinstance(doc.get("policy"), dict):
        raise InputError("not a policy: expected a mapping with a 'policy' section", path, 1)
    head = doc["policy"]
    dialect = _dialect(doc)
    errors: list[InputError] = []
    policy_id = head.get("id")
    if not isinstance(policy_id, str) or not policy_id:
        errors.append(InputError("policy: 'id' must be a non-empty string", path, head.line))
    regex = _regex_kind(dialect, head.get("regex_type"), path, head, errors)
    compiled: dict[str, Any] = {}
    variables = _variables(doc.get("variables"), path, errors)
    requirements = None
    if doc.get("requirements") is not None:
        requirements = _check(
            doc["requirements"], "requirements", dialect, regex, variables, path, errors, compiled
        )
    checks: list[Check] = []
    seen: dict[str, int] = {}
    raw_checks = doc.get("checks")
    if not isinstance(raw_checks, list):
        errors.append(InputError("'checks' must be a list", path, doc.line_of("checks")))
        raw_checks = []
    for item in raw_checks:
        check = _check(item, None, dialect, regex, variables, path, errors, compiled)
        if check is None:
            continue
        if check.id in seen:
            errors.append(
                InputError(
                    f"check {check.id}: duplicate id (first at line {seen[check.id]})",
                    path,
                    check.line,
                )
            )
            continue
        seen[check.id] = check.line or 0
        checks.append(check)
    platforms = head.get("platforms", ())
    if dialect == "native" and (
        not isinstance(platforms, list) or not all(isinstance(p, str) for p in platforms)
    ):
        errors.append(
            InputError(
                "policy: 'platforms' must be a list of names", path, head.line_of("platforms")
            )
        )
        platforms = ()
    if errors:
        raise InputErrors(errors)
    all_checks = [*([requirements] if requirements else []), *checks]
    return Policy(
        id=str(policy_id),
        name=str(head.get("name") or head.get("title") or policy_id),
        path=path,
        dialect=dialect,
        checks=tuple(checks),
        description=str(head.get("description") or ""),
        requirements=requirements,
        platforms=tuple(platforms),
        references=_strings(head.get("references")),
        warnings=load_warnings(all_checks, path),
    )


def _dialect(doc: Mapping[str, Any]) -> Dialect:
    if "platforms" in doc["policy"]:
        return "native"
    for check in doc.get("checks") or ():
        if isinstance(check, dict) and (
            ("name" in check and "title" not in check)
            or isinstance(check.get("compliance"), dict)
            or "mitre" in check
        ):
            return "sca5"
    return "sca4"


def _regex_kind(dialect: Dialect, value: Any, path: str, where: Any, errors: list[InputError]):
    if dialect != "sca4":
        return "pcre2"
    if value in (None, "osregex"):
        return "osregex"
    if value == "pcre2":
        return "pcre2-case"
    errors.append(
        InputError(
            f"regex_type must be osregex or pcre2, got {value!r}", path, where.line_of("regex_type")
        )
    )
    return "osregex"


def _variables(data: Any, path: str, errors: list[InputError]) -> dict[str, str]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        errors.append(
            InputError("'variables' must be a mapping", path, getattr(data, "line", None))
        )
        return {}
    result: dict[str, str] = {}
    for name, value in data.items():
        if not isinstance(name, str) or not name.startswith("$"):
            errors.append(
                InputError(f"variable {name!r} must start with '$'", path, data.line_of(name))
            )
            continue
        result[name] = ",".join(value) if isinstance(value, list) else str(value)
    return result


def substitute(text: str, variables: Mapping[str, str]) -> str:
    """Replace `$name` by its value; longest names first, so `$sshd_file` beats `$sshd`."""
    for name in sorted(variables, key=len, reverse=True):
        text = text.replace(name, variables[name])
    return text


def _check(
    item: Any,
    fixed_id: str | None,
    dialect: Dialect,
    regex: str,
    variables: Mapping[str, str],
    path: str,
    errors: list[InputError],
    compiled: dict[str, Any],
) -> Check | None:
    line = getattr(item, "line", None)
    if not isinstance(item, dict):
        errors.append(InputError("a check must be a mapping", path, line))
        return None
    raw_id = fixed_id if fixed_id is not None else item.get("id")
    if fixed_id is None and (
        raw_id is None
        or isinstance(raw_id, bool)
        or (dialect != "native" and not isinstance(raw_id, int))
    ):
        wanted = "a number" if dialect != "native" else "a number or a name"
        errors.append(InputError(f"check: 'id' must be {wanted}, got {raw_id!r}", path, line))
        return None
    check_id = str(raw_id)
    label = "requirements" if fixed_id else f"check {check_id}"

    def error(message: str, key: str | None = None) -> None:
        errors.append(InputError(f"{label}: {message}", path, item.line_of(key) if key else line))

    unknown = sorted(str(k) for k in set(item) - _CHECK_KEYS)
    if unknown:
        error(f"unknown key {unknown[0]!r}", unknown[0])
    title = item.get("title", item.get("name"))
    if not isinstance(title, str) or not title:
        error("needs a 'title' (4.x) or 'name' (5.x)")
    condition = item.get("condition")
    if condition not in CONDITIONS:
        error(f"condition must be one of {', '.join(CONDITIONS)}, got {condition!r}", "condition")
    check_regex = (
        _regex_kind(dialect, item.get("regex_type"), path, item, errors)
        if "regex_type" in item
        else regex
    )
    kinds = NATIVE_KINDS if dialect == "native" else HOST_KINDS
    syntax = Syntax(
        check_regex,  # type: ignore[arg-type]
        kinds,
        lenient_ops=dialect == "sca4",
        strict=dialect == "native",
        compiled=compiled if check_regex == regex else {},
    )
    raw_rules = item.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        error("'rules' must be a non-empty list", "rules")
        raw_rules = []
    rules: list[Rule] = []
    rules_line = item.line_of("rules")
    for index, text in enumerate(raw_rules):
        rule_line = rules_line + index + 1
        if not isinstance(text, str):
            errors.append(
                InputError(f"{label}: rule {index + 1} must be a string", path, rule_line)
            )
            continue
        try:
            rules.append(parse_rule(substitute(text, variables), syntax, rule_line))
        except RuleError as exc:
            errors.append(InputError(f"{label}: {exc}", path, rule_line))
    if condition not in CONDITIONS or not isinstance(title, str):
        return None
    return Check(
        id=check_id,
        title=title,
        condition=condition,
        rules=tuple(rules),
        description=str(item.get("description") or ""),
        rationale=str(item.get("rationale") or ""),
        impact=str(item.get("impact") or ""),
        remediation=str(item.get("remediation") or ""),
        references=_strings(item.get("references")),
        compliance=_compliance(item.get("compliance"), item.get("mitre")),
        line=line,
        agentless_conflict=str(item.get("agentless_conflict") or ""),
    )


def _strings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    return (str(value),)


def _compliance(value: Any, mitre: Any) -> dict[str, tuple[str, ...]]:
    """Both spellings into one map: 4.x `[{cis: [...]}, ...]`, 5.x `{cis: [...]}`, and 5.x's
    `mitre: {tactic: {id: [...]}, technique: ...}` as `mitre_tactics`, `mitre_techniques`, ..."""
    result: dict[str, tuple[str, ...]] = {}
    items: list[tuple[Any, Any]] = []
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, list):
        items = [pair for entry in value if isinstance(entry, dict) for pair in entry.items()]
    for key, values in items:
        result[str(key)] = _strings(values)
    if isinstance(mitre, dict):
        for key, entry in mitre.items():
            ids = entry.get("id") if isinstance(entry, dict) else entry
            result[f"mitre_{key}s" if not str(key).endswith("s") else f"mitre_{key}"] = _strings(
                ids
            )
    return result

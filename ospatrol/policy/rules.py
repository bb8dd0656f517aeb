r"""Parse rule lines (`f:/etc/ssh/sshd_config -> !r:^# && r:PermitRootLogin\s+no`) into `Rule`s.

One grammar serves the three formats, with small per-dialect switches (`Syntax`):

    rule    := ["not "] TYPE ":" target (" -> " part)*
    content := term (" && " term)*
    term    := ["!"] ("r:" REGEX | "n:" REGEX " compare " OP " " NUMBER | LITERAL
                      | "<:" TEXT | ">:" TEXT | "=:" TEXT)           # the last three: rootcheck

Regexes compile through the analysis package's dialects (`compile_pattern`): OS_Regex for SCA 4.x
(its default) and rootcheck, PCRE2 caseless for SCA 5.x. SCA 4.x's `regex_type: pcre2` is
case-sensitive (Wazuh compiles it with no flags); the same PCRE2 translation runs under a scoped
`(?-i:...)` there. Quirks of stock policies that Wazuh accepts are accepted too: an operator glued
to its number (`compare <=15`), a doubled `compare compare`, and 4.x's operators that start with
`=` (`=`, `=>`, `=<`) meaning `==`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from ospatrol.analysis.patterns import PatternError, compile_pattern
from ospatrol.analysis.pcre import RegexPattern, translate_pcre2
from ospatrol.policy.model import Content, Rule, Term

RegexKind = Literal["osregex", "pcre2", "pcre2-case"]

ARROW = " -> "
AND = " && "
OPERATORS = ("<=", ">=", "==", "!=", "<", ">")
_COMPARE = re.compile(
    r"^(?P<regex>.*?)\s+compare\s+(?:compare\s+)?"
    r"(?P<op>\\?!=|[<>=!]=?|=[<>])\s*(?P<value>-?\d+(?:\.\d+)?)\s*$"
)
_COUNT = re.compile(r"\s+compare\s+(?P<op><=|>=|==|!=|<|>)\s*(?P<value>\d+)\s*$")

HOST_KINDS = frozenset("fdpcr")
NATIVE_KINDS = HOST_KINDS | {"w", "config", "block", "every", "t", "count"}


class RuleError(ValueError):
    """A rule that cannot be parsed; loaders add file, line and check id."""


@dataclass(frozen=True)
class Syntax:
    """What a dialect allows: its regex kind, rule types, and rootcheck's comparison terms."""

    regex: RegexKind
    kinds: frozenset[str]
    rootcheck: bool = False
    lenient_ops: bool = False
    """4.x: any operator starting with `=` means `==`."""
    strict: bool = True
    """False for third-party formats read unchanged (SCA, rootcheck): a term Wazuh or OSSEC could
    not use either (a regex their engine refuses, `n:` without `compare`) loads as an `invalid`
    term, which makes its rule not applicable, as it does there; the loader warns with file, line
    and check id. Our own format (`cis/`) is strict: such a term is an error."""
    compiled: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    """Patterns compiled so far for this file: stock policies repeat the same regexes a lot."""


def compile_regex(kind: RegexKind, source: str):
    """A compiled pattern of the analysis package's dialects; RuleError when it is invalid."""
    try:
        if kind == "pcre2-case":
            if not source:
                raise PatternError("empty pcre2 pattern")
            return RegexPattern(source, f"(?-i:{translate_pcre2(source)})", ascii_only=True)
        return compile_pattern(kind, source)
    except PatternError as exc:
        raise RuleError(f"bad regex {source!r}: {exc}") from None


def parse_content(text: str, syntax: Syntax) -> Content:
    """` && `-joined terms of one line-content pattern."""
    terms = tuple(_term(part, syntax) for part in text.split(AND))
    return Content(terms, text)


def _term(text: str, syntax: Syntax) -> Term:
    try:
        return _parse_term(text, syntax)
    except RuleError as exc:
        if syntax.strict:
            raise
        return Term("invalid", str(exc), text.startswith("!"))


def _parse_term(text: str, syntax: Syntax) -> Term:
    negate = text.startswith("!")
    body = text[1:] if negate else text
    if body.startswith("r:"):
        return Term("regex", body[2:], negate, _compiled(syntax, body[2:]))
    if body.startswith("n:") and not syntax.rootcheck:
        found = _COMPARE.match(body[2:])
        if found is None:
            raise RuleError(f"numeric term {text!r} needs 'REGEX compare OP NUMBER'")
        op = _operator(found.group("op"), syntax)
        pattern = _compiled(syntax, found.group("regex"))
        return Term("numeric", body[2:], negate, pattern, op, float(found.group("value")))
    if syntax.rootcheck:
        for prefix, kind in (("<:", "less"), (">:", "greater")):
            if body.startswith(prefix):
                return Term(kind, body[2:], negate)  # type: ignore[arg-type]
        return Term("literal", body.removeprefix("=:"), negate, caseless=True)
    return Term("literal", body, negate)


def _compiled(syntax: Syntax, source: str):
    pattern = syntax.compiled.get(source)
    if pattern is None:
        pattern = syntax.compiled[source] = compile_regex(syntax.regex, source)
    return pattern


def _operator(op: str, syntax: Syntax) -> str:
    op = op.replace("\\", "")
    if op in OPERATORS:
        return op
    if op.startswith("=") and syntax.lenient_ops:
        return "=="
    raise RuleError(f"unknown comparison operator {op!r} (expected one of {', '.join(OPERATORS)})")


def parse_rule(text: str, syntax: Syntax, line: int | None = None) -> Rule:
    """One rule line; RuleError says what is wrong with it."""
    if not isinstance(text, str) or not text.strip():
        raise RuleError("empty rule")
    source = text.strip()
    body = source
    negate = False
    if body.startswith("not "):
        negate, body = True, body[4:].lstrip()
    count = None
    if body.startswith("count:") and "count" in syntax.kinds:
        found = _COUNT.search(body)
        if found is None:
            raise RuleError("count rule needs a final 'compare OP N'")
        count = (found.group("op"), float(found.group("value")))
        body = body[6 : found.start()]
    kind, sep, rest = body.partition(":")
    if body == "config" or body.startswith("config" + ARROW):
        kind, sep, rest = "config", ":", body[len("config") :]
    if not sep or kind not in syntax.kinds:
        known = ", ".join(sorted(syntax.kinds))
        raise RuleError(f"unknown rule type in {source!r} (expected one of: {known})")
    parts = rest.split(ARROW)
    target, parts = parts[0].strip(), parts[1:]
    if kind not in ("config",) and not target:
        raise RuleError(f"rule {source!r} has no target")
    if kind == "d":
        if len(parts) > 2:
            raise RuleError(f"d: rule {source!r} has more than 'dir -> name -> content'")
        name = _name_pattern(parts[0], syntax) if parts else None
        content = parse_content(parts[1], syntax) if len(parts) > 1 else None
        return Rule("d", _targets(target), source, negate, name, content, count, line)
    if kind in ("r", "t"):
        # registry: key -> value -> content (evaluated as not applicable off Windows);
        # t: command -> FIELD -> content.
        name = parse_content(parts[0], syntax) if kind == "t" and parts else None
        if kind == "t" and name is None:
            raise RuleError(f"t: rule {source!r} needs 'command -> FIELD -> content'")
        content = parse_content(parts[-1], syntax) if len(parts) > 1 else None
        return Rule(kind, (target,), source, negate, name, content, count, line)
    if kind in ("block", "every"):
        if not target.startswith("^"):
            raise RuleError(f"{kind}: rule {source!r}: the block regex must start with '^'")
        name = parse_content(f"r:{target}", syntax)
        content = parse_content(ARROW.join(parts), syntax) if parts else None
        if kind == "every" and content is None:
            raise RuleError(f"every: rule {source!r} needs '-> content' for each block")
        return Rule(kind, (target,), source, negate, name, content, count, line)
    if len(parts) > 1 and kind != "c":
        raise RuleError(f"rule {source!r} has more than one '->' for type {kind}:")
    content = parse_content(ARROW.join(parts), syntax) if parts else None
    if count is not None and content is None:
        raise RuleError(f"count rule {source!r} needs '-> content' to count")
    targets = _targets(target) if kind == "f" else (target,)
    return Rule(kind, targets, source, negate, None, content, count, line)


def _targets(target: str) -> tuple[str, ...]:
    return tuple(t.strip() for t in target.split(",") if t.strip())


def _name_pattern(text: str, syntax: Syntax) -> Content:
    """A `d:` rule's file-name part: `r:REGEX` as is; a plain name is an exact match in SCA, and
    an OS_Match (`^id$`, `.php$`: plain strings, anchors, `|`, caseless) in rootcheck, whose
    directory check runs OS_Match on each name."""
    if syntax.rootcheck and not text.startswith(("r:", "!r:")):
        return Content((Term("regex", text, False, compile_pattern("osmatch", text)),), text)
    return parse_content(text, syntax)

"""The records a loaded policy is made of, whatever file format it came from.

A `Policy` holds `Check`s; a check holds `Rule`s combined by its `condition`; a rule names what to
look at (`kind` + `target`) and, optionally, what its content must contain (`Content`, a list of
`Term`s that must all hold on the same line). All are frozen: loaders build them once, the
evaluator and the reports only read them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from ospatrol.analysis.patterns import Pattern

PASSED = "passed"
FAILED = "failed"
NOT_APPLICABLE = "not applicable"
NOT_RUN = "not run"
WAIVED = "waived"
STATUSES = (PASSED, FAILED, NOT_APPLICABLE, NOT_RUN)
"""The documented result states of Wazuh SCA (5.x adds "not run" for a command that timed out)."""

Condition = Literal["all", "any", "none"]
Dialect = Literal["sca4", "sca5", "rootcheck", "native"]

_EMPTY: Mapping[str, tuple[str, ...]] = MappingProxyType({})


@dataclass(frozen=True)
class Term:
    """One minterm of a content pattern: `r:REGEX`, `n:REGEX compare OP N`, a literal line, or
    rootcheck's `<:TEXT` / `>:TEXT` string comparisons; `negate` is the leading `!`. An `invalid`
    term (a regex the policy's engine refuses) carries the reason in `source`."""

    kind: Literal["regex", "numeric", "literal", "less", "greater", "invalid"]
    source: str
    negate: bool = False
    pattern: Pattern | None = field(default=None, compare=False, repr=False)
    op: str = ""
    value: float = 0.0
    caseless: bool = False
    """For literals: rootcheck compares without case (strcasecmp), SCA exactly."""


def invalid_terms(rule: Rule) -> list[Term]:
    """The terms of `rule` that could not be compiled (see `Term`)."""
    parts = (rule.name, rule.content)
    return [t for part in parts if part is not None for t in part.terms if t.kind == "invalid"]


def load_warnings(checks: list[Check], path: str) -> tuple[str, ...]:
    """One warning per invalid term, naming file, line and check id."""
    return tuple(
        f"{path}:{rule.line}: check {check.id}: {term.source} (rule is not applicable)"
        for check in checks
        for rule in check.rules
        for term in invalid_terms(rule)
    )


@dataclass(frozen=True)
class Content:
    """Terms that must all hold on one line for the line to match (` && ` in the rule text)."""

    terms: tuple[Term, ...]
    source: str

    @property
    def only_negated(self) -> bool:
        """A lone `!r:X`: the content matches when NO line matches X (Wazuh's special case)."""
        return len(self.terms) == 1 and self.terms[0].negate


@dataclass(frozen=True)
class Rule:
    """One rule line of a check.

    `kind`: `f` file, `d` directory, `p` process, `c` command, `r` registry (Windows: never
    applicable here), and for device policies `config`, `block`, `every`, `t` (a field of a
    command's output parsed with TextFSM). `targets` is the comma list of `f:`/`d:` paths (one
    item otherwise). `name` is a `d:` rule's file-name pattern, `block` rules' parent pattern or
    a `t:` rule's field; `count` is `(op, n)` for counting rules.
    """

    kind: str
    targets: tuple[str, ...]
    source: str
    negate: bool = False
    name: Content | None = None
    content: Content | None = None
    count: tuple[str, float] | None = None
    line: int | None = None


@dataclass(frozen=True)
class Check:
    """One check: rules combined by `condition`; metadata carried to reports untouched."""

    id: str
    title: str
    condition: Condition
    rules: tuple[Rule, ...]
    description: str = ""
    rationale: str = ""
    impact: str = ""
    remediation: str = ""
    references: tuple[str, ...] = ()
    compliance: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: _EMPTY)
    line: int | None = None
    agentless_conflict: str = ""
    """Why the check contradicts agentless auditing (e.g. "SSH disabled" on ESXi), if it does."""


@dataclass(frozen=True)
class Policy:
    """A loaded policy. `polarity` is `compliant` when a check describes the wanted state (SCA,
    native) and `finding` when a match is a problem (OSSEC rootcheck)."""

    id: str
    name: str
    path: str
    dialect: Dialect
    checks: tuple[Check, ...]
    description: str = ""
    requirements: Check | None = None
    platforms: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    polarity: Literal["compliant", "finding"] = "compliant"
    warnings: tuple[str, ...] = ()
    """"path:line: check ID: ..." for what loaded but cannot be evaluated (see `rules.Syntax`)."""

    def check(self, check_id: str) -> Check | None:
        return next((c for c in self.checks if c.id == check_id), None)


@dataclass(frozen=True)
class CheckOutcome:
    """What evaluating one check gave: a status of `STATUSES`, why, and the line that decided."""

    check_id: str
    status: str
    reason: str = ""
    evidence: str = ""

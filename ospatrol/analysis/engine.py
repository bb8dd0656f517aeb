"""The analysis engine: pre-decode, decode, walk the rule tree, correlate, emit alerts.

`Engine(ruleset)` holds every piece of run-time state (correlation lists, ignore timers, first
time seen keys, check_diff memory, counters); the `Ruleset` it reads is never modified, so two
engines can share one ruleset and run side by side. Matching follows analysisd's
OS_CheckIfRuleMatch and the alert loop of analysisd.c/testrule.c; see `ospatrol.analysis.rules`
for how the tree is built.
"""

from __future__ import annotations

import dataclasses
import re
import time as _time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from ospatrol.analysis.correlation import Correlation, is_correlating
from ospatrol.analysis.decoders import Decoder
from ospatrol.analysis.decoding import DecoderPlan, DecoderPlans, decode
from ospatrol.analysis.eventinfo import EventInfo
from ospatrol.analysis.gates import (
    exact_literals,
    exact_prefixes,
    literal_gate,
    literal_scan,
    prefix_gate,
)
from ospatrol.analysis.predecode import (
    OSSEC_MAXSTR,
    OWN_FINDINGS,
    WAZUH_MAXSTR,
    ossec_cut,
    predecode,
)
from ospatrol.model import Alert, Event, FrozenMap

if TYPE_CHECKING:
    from ospatrol.analysis.loader import Ruleset
    from ospatrol.analysis.patterns import Pattern
    from ospatrol.analysis.rules import FieldCheck, IpMatch, ListCheck, Rule, RuleNode, TimeRange

# A line is cut where analysisd cuts it, in bytes (`predecode.ossec_cut`), and counted; our own
# multi-line findings are not, and only counted past this many characters.
MAX_LINE: Final = 65536
# accumulator.c: fields shared within a session, its idle expiry and longest value kept.
_ACCUMULATED: Final = ("dstuser", "srcuser", "dstip", "srcip", "dstport", "srcport", "data")
ACCUMULATOR_EXPIRE: Final = 120
ACCUMULATOR_MAX_VALUE: Final = 80
# Bounds on state that log content can grow (first-time-seen keys, ignore keys, check_diff
# memory): past them the oldest entries are forgotten, so memory stays bounded. Not Final (the
# other constants are, so the compiled build inlines them): tests lower it.
MAX_REMEMBERED = 100_000


@dataclass(frozen=True)
class MatchedRule:
    """The rule logtest prints in phase 3."""

    id: int
    level: int
    description: str
    groups: tuple[str, ...]
    info: tuple[tuple[str, str], ...] = ()


_RESULT_FIELDS = (
    "event",
    "full_log",
    "hostname",
    "program_name",
    "log",
    "location",
    "decoders_ran",
    "decoder",
    "decoder_shown",
    "decoder_trace",
    "fields",
    "rule",
    "generated",
    "logged",
    "alert",
    "accumulated",
    "rule_trace",
    "rejected",
    "header_timestamp",
)
_NO_FIELDS: Final[Mapping[str, str]] = FrozenMap()


class EngineResult:
    """Everything the engine learned about one event (what `ospatrol logtest` prints).

    Phase 1: `full_log`, `hostname`, `program_name`, `log`, `location`. Phase 2: `decoders_ran`
    (False when no decoder list applied, as OSSEC then prints no phase 2), `decoder` (the name
    rules see), `decoder_shown` (the decoder logtest prints: the last one that matched),
    `decoder_trace` (fields in the order decoders set them) and `fields` (final values, OSSEC
    names plus dynamic ones). Phase 3: `rule` (the rule that matched, even at level 0),
    `generated` (it passed level, ignore timers and ignore lists), `logged` (its alert is
    written), `alert` (the Alert, when logged). `rejected` names why an event was not analysed
    at all (e.g. "empty"). `header_timestamp`: the header's timestamp text as pre-decoding read
    it ("" when none), for alerts.json's and archives.json's `predecoder.timestamp`.

    Read-only (compiled, its attributes cannot be set). A plain class, not a frozen dataclass:
    one is built per event, and a dataclass's generated `__init__` (one `object.__setattr__`
    per field, interpreted even in the compiled engine) cost a third of an Apache line.
    """

    __slots__ = _RESULT_FIELDS

    def __init__(
        self,
        event: Event,
        full_log: str = "",
        hostname: str = "",
        program_name: str | None = None,
        log: str = "",
        location: str = "",
        decoders_ran: bool = False,
        decoder: str | None = None,
        decoder_shown: str | None = None,
        decoder_trace: tuple[tuple[str, str], ...] = (),
        fields: Mapping[str, str] = _NO_FIELDS,
        rule: MatchedRule | None = None,
        generated: bool = False,
        logged: bool = False,
        alert: Alert | None = None,
        accumulated: bool = False,
        rule_trace: tuple[str, ...] = (),
        rejected: str | None = None,
        header_timestamp: str = "",
    ) -> None:
        self.event: Final = event
        self.full_log: Final = full_log
        self.hostname: Final = hostname
        self.program_name: Final = program_name
        self.log: Final = log
        self.location: Final = location
        self.decoders_ran: Final = decoders_ran
        self.decoder: Final = decoder
        self.decoder_shown: Final = decoder_shown
        self.decoder_trace: Final = decoder_trace
        self.fields: Final = fields
        self.rule: Final = rule
        self.generated: Final = generated
        self.logged: Final = logged
        self.alert: Final = alert
        self.accumulated: Final = accumulated
        self.rule_trace: Final = rule_trace
        self.rejected: Final = rejected
        self.header_timestamp: Final = header_timestamp

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in _RESULT_FIELDS)
        return f"EngineResult({shown})"


def _defaults(cls: type) -> dict[str, object]:
    """The default of each field of the dataclass `cls` that has one (a default factory is
    called once: `_instance` classes have immutable defaults only)."""
    defaults: dict[str, object] = {}
    for item in dataclasses.fields(cls):
        if item.default is not dataclasses.MISSING:
            defaults[item.name] = item.default
        elif item.default_factory is not dataclasses.MISSING:
            defaults[item.name] = item.default_factory()
    return defaults


# `object.__new__`, looked up once (the compiled build looks `object.__new__(cls)` up by name
# on every call).
_NEW: Final = object.__new__


def _instance(cls: type, state: dict[str, object]) -> Any:
    """An instance of the frozen dataclass `cls` (no `__post_init__`) made without its
    `__init__`: `state` becomes its dict, instead of one `object.__setattr__` per field (an
    Alert per alerting event; that cost a tenth of the time)."""
    obj: Any = _NEW(cls)
    object.__setattr__(obj, "__dict__", state)
    return obj


_ALERT_DEFAULTS: Final = _defaults(Alert)
assert not hasattr(Alert, "__post_init__") and not hasattr(Event, "__post_init__")


def _remember_key(store: dict, key: object, value: object) -> None:
    """Insert into a bounded, insertion-ordered store, forgetting the oldest entry when full."""
    store.pop(key, None)
    store[key] = value
    if len(store) > MAX_REMEMBERED:
        del store[next(iter(store))]


# The event parts of a first-time-seen key (fts.c, after the decoder name) and of an ignore key
# (`ignore` / `check_if_ignored`), in OSSEC's order; "name" is the decoder's.
_FTS_PARTS: Final = ("id", "dstuser", "srcuser", "srcip", "dstip", "data", "systemname", "location")
_IGNORE_PARTS: Final = ("name", "id", "dstuser", "srcip", "dstip", "data", "systemname", "location")


def _event_key(ev: EventInfo, wanted: tuple[str, ...], parts: tuple[str, ...]) -> str:
    """The values of the `parts` named in `wanted`, space-joined, with "" for the others."""
    return " ".join(
        ((ev.decoder_name if part == "name" else getattr(ev, part, None)) or "")
        if part in wanted
        else ""
        for part in parts
    )


def _gate(rule: Rule) -> tuple[int, Any, Pattern | None] | None:
    """A cheap necessary condition on the lowercased log for `rule` to match: (_PREFIXES,
    prefixes) when its regex is anchored on plain text, (_LITERAL, literal) or (_LITERALS,
    literals) when it needs one of some literals; None when there is none. The third item is
    the pattern the gate settles on its own (`exact_prefixes`, `exact_literals`: passing the
    gate is matching it), or None."""
    # A pattern the gate settles on its own first: passing it is matching that pattern.
    for pattern in (rule.regex, rule.match):
        exact = exact_prefixes(pattern)
        if exact is not None:
            return _PREFIXES, exact, pattern
    prefixes = prefix_gate(rule.regex)
    if prefixes is not None:
        return _PREFIXES, prefixes, None
    for pattern in (rule.regex, rule.match):
        gate = literal_gate(pattern)
        if gate is not None:
            settled = pattern if exact_literals(pattern) == gate else None
            if len(gate) == 1:
                return _LITERAL, gate[0], settled
            return _LITERALS, gate, settled
    return None


def _compiled_rule(name: str, ev: EventInfo) -> bool:
    """The compiled rules OSSEC ships (compiled_rules/generic_samples.c)."""
    if name == "comp_srcuser_dstuser":
        return not ev.srcuser or not ev.dstuser or ev.srcuser == ev.dstuser
    if name == "check_id_size":
        return ev.id is not None and len(ev.id) >= 10
    if name == "is_simple_http_request":
        if ev.url is None:
            return False
        if ev.action and ev.action.upper() != "GET":
            return False
        return ev.url == "/" or "?" not in ev.url
    if name == "is_valid_crawler":
        # The reverse/forward DNS check of googlebot is left out: no network I/O in the core.
        return ev.log.startswith(
            ("72.14.", "209.85.", "65.55.", "207.46.", "74.6.", "72.30.", "67.195.")
        )
    if name == "comp_mswin_targetuser_calleruser_diff":
        log = ev.log
        t, c = log.find("Target Account Name"), log.find("Caller User Name")
        if t < 0 or c < 0:
            return False
        t, c = log.find(":", t), log.find(":", c)
        if t < 0 or c < 0:
            return False
        t += 1
        c += 1
        while t < len(log):
            if c >= len(log) or log[t] != log[c]:
                return True
            if log[t] == "\t" or (log[t] == " " and log[t + 1 : t + 2] == " "):
                break
            t += 1
            c += 1
        return False
    return False


# analysisd decodes integrity events itself (DecodeSyscheck) into decoders of these names; we do
# the same for file-integrity events (docs/events.md): location ending in ":fim" or "->syscheck".
_SYSCHECK_DECODERS: Final = {
    name: Decoder(own_name=name, name=name, path="<built-in>", line=0, category="ossec")
    for name in ("syscheck_integrity_changed", "syscheck_new_entry", "syscheck_deleted")
}
_SYSCHECK_TEXTS: Final = (
    (re.compile(r"^Integrity checksum changed for: '([^']*)'"), "syscheck_integrity_changed"),
    (re.compile(r"^New file '([^']*)' added"), "syscheck_new_entry"),
    (re.compile(r"^File '([^']*)' was deleted"), "syscheck_deleted"),
)


def _decode_syscheck(ev: EventInfo) -> bool:
    """Classify a file-integrity event with the built-in syscheck decoders; True if it was one."""
    if not ev.location.endswith((":fim", "->syscheck")):
        return False
    for pattern, name in _SYSCHECK_TEXTS:
        found = pattern.match(ev.log)
        if found:
            ev.decoder = _SYSCHECK_DECODERS[name]
            ev.dynamic["filename"] = found.group(1)
            ev.decoder_trace.append(("filename", found.group(1)))
            return True
    return False


def parse_envelope(message: str, *, when: float | None = None, source: str = "agent") -> Event:
    """An analysisd queue message `<queue>:<location>:<log>` as an Event.

    `<queue>` is one character (`1` for syslog-style logs); `<location>` is a path, `syslog:ADDR`
    or, from an agent, `(name) address->path` (which may itself contain colons: the location
    then ends at the first colon after `->`). Raises InputError when the envelope is malformed.
    """
    from ospatrol.errors import InputError

    if len(message) < 3 or message[1] != ":":
        raise InputError(f"not a queue message (want '<q>:<location>:<log>'): {message[:60]!r}")
    rest = message[2:]
    start = rest.find("->") + 2 if rest.startswith("(") and "->" in rest else 0
    colon = rest.find(":", start)
    if colon < 0:
        raise InputError(f"queue message without a location: {message[:60]!r}")
    return Event(
        text=rest[colon + 1 :],
        location=rest[:colon],
        time=_time.time() if when is None else when,
        source=source,
    )


# Bound on the (decoder, program name) keys of the children cache.
CHILDREN_CACHE_SIZE: Final = 4096
# How a candidate gates on the log: no gate, anchored prefixes, one literal, several literals.
_NO_GATE: Final = 0
_PREFIXES: Final = 1
_LITERAL: Final = 2
_LITERALS: Final = 3
# A `<field>` condition's gate: (field name, literals its pattern needs, or None).
FieldGates = tuple[tuple[str, "tuple[str, ...] | None"], ...]


class Extra:
    """A rule's rarer conditions (`Rule.has_extra`), copied once for `_extra_conditions`."""

    __slots__ = (
        "action",
        "check_diff",
        "compiled_rule",
        "correlating",
        "day_time",
        "dstip",
        "fields",
        "if_fts",
        "lists",
        "maxsize",
        "srcip",
        "week_days",
    )

    def __init__(self, rule: Rule) -> None:
        self.action: str | None = rule.action
        self.fields: tuple[FieldCheck, ...] = rule.fields
        self.srcip: tuple[IpMatch, ...] = rule.srcip
        self.dstip: tuple[IpMatch, ...] = rule.dstip
        self.compiled_rule: str | None = rule.compiled_rule
        self.maxsize: int = rule.maxsize
        self.day_time: TimeRange | None = rule.day_time
        self.week_days: frozenset[int] | None = rule.week_days
        self.check_diff: bool = rule.check_diff
        self.if_fts: bool = rule.if_fts
        self.lists: tuple[ListCheck, ...] = rule.lists
        self.correlating: bool = bool(rule.context and is_correlating(rule))


class Candidate:
    """A rule worth trying for events of one decoder and program name, with what `_first` and
    `_check` read of it per event copied once (plain attributes, no look-ups on the rule): its
    gate on the lowercased log, its `<field>` gates, and the conditions left to test. Built
    once per rule set by `index_rules` (at load), so it is derived from the rule set only."""

    __slots__ = (
        "children",
        "decoded_as",
        "extra",
        "fields",
        "gate",
        "key",
        "literal",
        "literals",
        "match",
        "noalert",
        "node",
        "patterns",
        "programs",
        "regex",
        "rule",
        "settled",
        "split",
    )

    def __init__(
        self,
        node: RuleNode,
        gate: int,
        needle: Any,
        fields: FieldGates | None,
        settled: Pattern | None,
        *,
        checked: bool,
        key: int = -1,
    ) -> None:
        """`checked`: the rule's decoded_as and program_name are tested before it becomes a
        candidate (`Engine._relevant`: the same for every event of one decoder and program
        name); `settled`: the pattern the gate settles; `key`: its `RuleIndex.lists` entry."""
        rule = node.rule
        self.node = node
        self.rule = rule
        self.key: int = key
        self.children: tuple[RuleNode, ...] = tuple(node.children)
        self.gate = gate
        # The gate's one literal (_LITERAL), or its prefixes or literals.
        self.literal: str = needle if gate == _LITERAL else ""
        self.literals: tuple[str, ...] = needle if gate in (_PREFIXES, _LITERALS) else ()
        self.fields = fields
        self.settled = settled
        self.decoded_as: str | None = None if checked else rule.decoded_as
        self.patterns: tuple[tuple[str, Pattern], ...] = (
            tuple(item for item in rule.patterns if item[0] != "program_name")
            if checked
            else rule.patterns
        )
        # Its program_name conditions, which `Engine._relevant` tests (checked candidates).
        self.programs: tuple[Pattern, ...] = tuple(
            pattern for name, pattern in rule.patterns if name == "program_name"
        )
        self.match: Pattern | None = rule.match
        self.regex: Pattern | None = rule.regex
        self.extra: Extra | None = Extra(rule) if rule.has_extra else None
        self.noalert: bool = bool(rule.noalert)
        # Its children split by the value of one field (`index_rules`), or None.
        self.split: Split | None = None

    def __reduce__(self) -> tuple[Any, ...]:
        # Stored in the rule cache (with its RuleIndex): rebuilt from the gates computed at load.
        needle = self.literal if self.gate == _LITERAL else self.literals or None
        args = (self.node, self.gate, needle, self.fields, self.settled, self.key, self.split)
        return (_indexed, args)


def _indexed(
    node: RuleNode,
    gate: int,
    needle: Any,
    fields: FieldGates | None,
    settled: Pattern | None,
    key: int,
    split: Split | None = None,
) -> Candidate:
    """A candidate of a `RuleIndex` (its decoded_as and program name tested by `_relevant`)."""
    cand = Candidate(node, gate, needle, fields, settled, checked=True, key=key)
    cand.split = split
    return cand


class Split:
    """A candidate's children indexed by the value of one field that many of them require to
    be one of a few exact values (Windows rules on `win.system.eventID`, Office 365 rules on
    `office365.RecordType`): `keys[value]` is the `RuleIndex.lists` entry of the children
    that value leaves (in tree order: those requiring it and those not constraining the
    field), `rest` that of the unconstrained children, for a value none requires or an unset
    field. A value whose lowercase form is not decisive (non-ASCII, or holding a newline,
    before which PCRE2's `$` matches) takes the whole list."""

    __slots__ = ("field", "keys", "rest")

    def __init__(self, field: str, keys: dict[str, int], rest: int) -> None:
        self.field = field
        self.keys = keys
        self.rest = rest

    def __reduce__(self) -> tuple[Any, ...]:
        return (Split, (self.field, self.keys, self.rest))

    def key(self, ev: EventInfo, whole: int) -> int:
        """The `RuleIndex.lists` entry for `ev`'s children (`whole`: the unsplit list)."""
        value = ev.field(self.field)
        if value is None:
            return self.rest
        if not value.isascii() or "\n" in value:
            return whole
        return self.keys.get(value.lower(), self.rest)


# Exact values worth a Split: `^4624$`, `^4624$|^4625$` (OS_Regex, OS_Match or PCRE2).
_EXACT_VALUE: Final = re.compile(r"\^([A-Za-z0-9_-]+)\$")
# A Split pays off from this many children constrained by one field.
SPLIT_MIN: Final = 8


def _exact_values(pattern: Pattern) -> frozenset[str] | None:
    """Lowercase values of which, on an ASCII text without a newline, `pattern` matching
    requires the lowercased text to be one: when every `|` alternative is `^plain$`."""
    if pattern.negate:
        return None
    values = []
    for alternative in pattern.source.split("|"):
        found = _EXACT_VALUE.fullmatch(alternative)
        if found is None:
            return None
        values.append(found.group(1).lower())
    # A check of the reading above: each value matches (whatever the case).
    if not all(pattern.test(value) for value in values):
        return None
    return frozenset(values)


def _candidate(node: RuleNode, key: int) -> Candidate:
    """The candidate of `node` for `RuleIndex.lists[key]`, with its gates."""
    rule = node.rule
    fields = (
        tuple((check.name, literal_gate(check.pattern)) for check in rule.fields)
        if rule.fields
        else None
    )
    gate = _gate(rule)
    if gate is None:
        return _indexed(node, _NO_GATE, None, fields, None, key)
    return _indexed(node, gate[0], gate[1], fields, gate[2], key)


class ChildLists:
    """The candidates among one node's children (or among one category's top-level rules),
    in tree order, per decoder: `by_decoder[name]` for a decoder some of them name in
    `decoded_as`, `default` (those without decoded_as) for every other decoder and for events
    without one. `programs`: some candidate has program_name conditions left to test."""

    __slots__ = ("by_decoder", "default", "programs")

    def __init__(
        self,
        default: tuple[Candidate, ...],
        by_decoder: dict[str, tuple[Candidate, ...]],
        programs: bool,
    ) -> None:
        self.default = default
        self.by_decoder = by_decoder
        self.programs = programs

    def __reduce__(self) -> tuple[Any, ...]:
        return (ChildLists, (self.default, self.by_decoder, self.programs))


def _child_lists(cands: list[Candidate]) -> ChildLists:
    default = tuple(cand for cand in cands if cand.rule.decoded_as is None)
    names = dict.fromkeys(
        cand.rule.decoded_as for cand in cands if cand.rule.decoded_as is not None
    )
    by_decoder = {
        name: tuple(cand for cand in cands if cand.rule.decoded_as in (None, name))
        for name in names
    }
    return ChildLists(default, by_decoder, any(cand.programs for cand in cands))


class RuleIndex:
    """The rule tree as the engine walks it, built once per rule set at load (`index_rules`;
    stored in the Ruleset and with it in the rule cache, shared by every engine on it):
    `lists[cand.key]` holds the ChildLists of a candidate's children, `tops[category]` that of
    the category's top-level rules. An engine's per-(decoder, program name) cache then only
    looks its candidates up (and tests the few program_name conditions)."""

    __slots__ = ("lists", "tops")

    def __init__(self, lists: tuple[ChildLists, ...], tops: dict[str, ChildLists]) -> None:
        self.lists = lists
        self.tops = tops

    def __reduce__(self) -> tuple[Any, ...]:
        return (RuleIndex, (self.lists, self.tops))


def _split(cands: list[Candidate], lists: list[ChildLists]) -> Split | None:
    """A Split of `cands` (a candidate's children) on the field most of them require exact
    values of, when at least SPLIT_MIN do; its sub-lists are appended to `lists`."""
    # Per field name: the candidates requiring exact values of it, and those values.
    exact: dict[str, dict[int, frozenset[str]]] = {}
    for cand in cands:
        for check in cand.rule.fields:
            values = _exact_values(check.pattern)
            if values is not None:
                required = exact.setdefault(check.name, {})
                known = required.get(id(cand))
                required[id(cand)] = values if known is None else known & values
    if not exact:
        return None
    name, required = max(exact.items(), key=lambda item: len(item[1]))
    if len(required) < SPLIT_MIN:
        return None
    keys: dict[str, int] = {}
    for value in sorted({value for values in required.values() for value in values}):
        keys[value] = len(lists)
        kept = [cand for cand in cands if id(cand) not in required or value in required[id(cand)]]
        lists.append(_child_lists(kept))
    rest = len(lists)
    lists.append(_child_lists([cand for cand in cands if id(cand) not in required]))
    return Split(name, keys, rest)


def index_rules(top: Sequence[RuleNode]) -> RuleIndex:
    """The RuleIndex of a rule tree. Nodes of one rule with the same children (recursively: a
    rule under several parents has its children under each) share one candidate, so the
    Wazuh ruleset's ~23,000 nodes make ~4,700 candidates."""
    keys: dict[tuple[int, tuple[int, ...]], int] = {}
    cands: list[Candidate] = []
    # Entries 0..len(cands)-1: each candidate's children; then the Splits' sub-lists.
    lists: list[ChildLists] = []
    splits: list[tuple[Candidate, list[Candidate]]] = []
    empty = ChildLists((), {}, False)
    # Children before parents, iteratively (a deep if_sid chain must not hit the recursion
    # limit): each node's key once all its children have one.
    done: dict[int, int] = {}
    stack: list[tuple[RuleNode, bool]] = [(node, False) for node in top]
    while stack:
        node, expanded = stack.pop()
        if not expanded:
            stack.append((node, True))
            stack.extend((child, False) for child in node.children)
            continue
        kids = tuple(done[id(child)] for child in node.children)
        signature = (node.rule.id, kids)
        key = keys.get(signature)
        if key is None:
            key = keys[signature] = len(cands)
            cand = _candidate(node, key)
            cands.append(cand)
            children = [cands[k] for k in kids]
            lists.append(_child_lists(children) if kids else empty)
            if len(children) >= SPLIT_MIN:
                splits.append((cand, children))
        done[id(node)] = key
    for cand, children in splits:
        cand.split = _split(children, lists)
    tops: dict[str, list[Candidate]] = {}
    for node in top:
        tops.setdefault(node.rule.category, []).append(cands[done[id(node)]])
    return RuleIndex(tuple(lists), {name: _child_lists(found) for name, found in tops.items()})


def _fields_out(ev: EventInfo, gates: tuple[tuple[str, tuple[str, ...] | None], ...]) -> bool:
    """True when a `<field>` condition cannot hold: its field is unset, or (ASCII values) the
    value lacks every literal its pattern needs. The rule's own check stays the judge."""
    for name, literals in gates:
        value = ev.field(name)
        if value is None:
            return True
        if literals is not None and value.isascii():
            low = value.lower()
            for literal in literals:
                if literal in low:
                    break
            else:
                return True
    return False


# A candidate list whose literal gates have at least SCAN_MIN literals may be scanned once per
# event (`gates.literal_scan`) instead of searched literal by literal: on the corpora a scan
# costs about what 15-20 substring searches of a log line cost, so it pays where walks search
# for SCAN_WORTH literals or more on average (long fall-throughs, not a list whose first few
# rules usually match). Compiling one costs ~1 ms (thousands of searches): a list is judged,
# and scanned from then on if worth it, at its SCAN_AFTER-th walk.
SCAN_MIN: Final = 8
SCAN_WORTH: Final = 16
SCAN_AFTER: Final = 256


class _Candidates:
    """The candidates `Engine._first` walks for one RuleIndex entry, decoder and program name
    (`Engine._relevant`) and, where their literal gates have many literals, one RE2 set of all
    of them (`gates.literal_scan`) with each candidate's literals as a bit mask of their
    indexes: one scan of an event's log tells which of those gates pass."""

    __slots__ = ("cands", "literals", "masks", "scan", "searched", "walked")

    def __init__(self, cands: tuple[Candidate, ...]) -> None:
        self.cands = cands
        index: dict[str, int] = {}
        masks: list[int] = []
        for cand in cands:
            bits = 0
            if cand.gate == _LITERAL:
                bits = 1 << index.setdefault(cand.literal, len(index))
            elif cand.gate == _LITERALS:
                for literal in cand.literals:
                    bits |= 1 << index.setdefault(literal, len(index))
            masks.append(bits)
        self.masks: tuple[int, ...] = tuple(masks)
        # The literals to scan for, until the scan is compiled (or refused).
        self.literals: list[str] | None = list(index) if len(index) >= SCAN_MIN else None
        # Walks of ASCII logs so far, and the literals they searched for (`Engine._first`).
        self.walked = 0
        self.searched = 0
        self.scan: Any = None

    def scanned(self) -> bool:
        """Whether this walk (of an ASCII log) scans. At the list's SCAN_AFTER-th walk the
        scan is compiled if walks searched for SCAN_WORTH literals on average (and google-re2
        is there); the literals are searched for otherwise."""
        if self.scan is not None:
            return True
        literals = self.literals
        if literals is None:
            return False
        self.walked += 1
        if self.walked < SCAN_AFTER:
            return False
        self.literals = None
        if self.searched >= SCAN_WORTH * (self.walked - 1):
            self.scan = literal_scan(literals)
        return self.scan is not None

    def present(self, lowered: str) -> int:
        """The gate literals the (ASCII, lowercased) log contains, as a bit mask."""
        bits = 0
        for index in self.scan.Match(lowered.encode()):
            bits |= 1 << index
        return bits


class _RuleOut:
    """What `Engine._match` reads of a matched rule, copied once per engine and rule id (plain
    attributes, no look-ups on the rule), with the engine's count of the rule's matches."""

    __slots__ = (
        "alert_base",
        "check_if_ignored",
        "fired",
        "id",
        "ignore",
        "ignore_time",
        "level",
        "log_alert",
        "summary",
    )

    def __init__(self, rule: Rule) -> None:
        self.id: int = rule.id
        self.level: int = rule.level
        self.log_alert: bool = rule.log_alert
        self.ignore_time: int = rule.ignore_time
        self.check_if_ignored: tuple[str, ...] = rule.check_if_ignored
        self.ignore: tuple[str, ...] = rule.ignore
        self.summary = MatchedRule(rule.id, rule.level, rule.description, rule.groups, rule.info)
        # An Alert's fields as far as they come from its rule alone, the others at their
        # defaults.
        self.alert_base: dict[str, object] = {
            **_ALERT_DEFAULTS,
            "rule_id": rule.id,
            "level": rule.level,
            "description": rule.description,
            "groups": self.summary.groups,
            "mail": rule.mail_alert,
            "info": tuple(text for _, text in rule.info),
            "mitre": rule.mitre,
        }
        self.fired = 0


class Engine:
    """Decodes and matches events against one immutable `Ruleset`, keeping correlation state."""

    def __init__(
        self, ruleset: Ruleset, *, hostname: str = "localhost", trace_rules: bool = False
    ) -> None:
        """`trace_rules` records every rule tried (logtest -v); it disables the literal gates
        so the trace lists the same rules ossec-logtest -v would."""
        self.ruleset = ruleset
        self.hostname = hostname
        self._wazuh = ruleset.dialect == "wazuh"
        # Events analysed and alerts written (every event counts: plain ints), and the rarer
        # counts; `counters` shows them together.
        self._events = 0
        self._alerts = 0
        self._counts: Counter[str] = Counter()
        # The alert id's "<epoch>." part, for the second it was last made for.
        self._alert_second = -1
        self._alert_prefix = "-1."
        self._correlation = Correlation(ruleset)
        # Per (decoder name, program name), per RuleIndex entry: the candidates worth trying,
        # looked up in the rule set's index (built at load). A cache, not state that changes
        # results.
        self._index: RuleIndex = ruleset.index
        self._children: dict[tuple[str | None, str | None], dict[int | str, _Candidates]] = {}
        # The _Candidates of each candidate list, shared by the decoders and program names
        # that have the same list (a literal scan is compiled once per list).
        self._walks: dict[tuple[Candidate, ...], _Candidates] = {}
        self._decoder_plans: DecoderPlans = ruleset.decoder_plans
        self._programs: dict[str, tuple[DecoderPlan, ...]] = {}
        # Per category: the top-level (template) nodes of that category, in tree order.
        self._tops: dict[str, tuple[RuleNode, ...]] = {}
        # Per matched rule id: what `_match` reads of it, and its matches.
        self._outs: dict[int, _RuleOut] = {}
        self._trace: list[str] | None = [] if trace_rules else None
        self._time_ignored: dict[int, float] = {}
        # dicts used as insertion-ordered sets, so the oldest key can be dropped
        self._fts: dict[str, None] = {}
        self._ignored: dict[str, None] = {}
        self._diffs: dict[tuple[int, str], str] = {}
        self._accumulated: dict[str, tuple[float, dict[str, str]]] = {}

    @classmethod
    def for_default_ruleset(cls, *, hostname: str = "localhost") -> Engine:
        """An engine on OSPatrol's own rule set (`rules/ospatrol.conf` in the data folder)."""
        from ospatrol.analysis.loader import load_default_ruleset

        return cls(load_default_ruleset(), hostname=hostname)

    # ---------------------------------------------------------------- public API
    @property
    def counters(self) -> Counter[str]:
        """Counts so far (a copy): `events` analysed, `alerts` written, events `rejected:empty`,
        lines `truncated`, lines with a `nul`."""
        counts = Counter(self._counts)
        if self._events:
            counts["events"] = self._events
        if self._alerts:
            counts["alerts"] = self._alerts
        return counts

    def process(self, event: Event) -> EngineResult:
        """Analyse one event. Never raises for bad input: such events come back `rejected`."""
        return self._process(event, event.text, event.location, event.host, event.time)

    def _process(
        self, event: Event, text: str, location: str, host: str, when: float
    ) -> EngineResult:
        """`process`, given the event's text, location, host and time (read once by the
        caller: each is a dict look-up on the Event)."""
        if not text or text.isspace():
            self._counts["rejected:empty"] += 1
            return EngineResult(event=event, rejected="empty")
        location = location or "stdin"
        if location.startswith(OWN_FINDINGS):
            if len(text) > MAX_LINE:
                self._counts["truncated"] += 1
        else:
            # analysisd sees at most OS_MAXSTR bytes of a message (with its header).
            whole = text
            text = ossec_cut(text, location, WAZUH_MAXSTR if self._wazuh else OSSEC_MAXSTR)
            if text is not whole:
                self._counts["truncated"] += 1
        if "\x00" in text:
            self._counts["nul"] += 1
        pre = predecode(
            text,
            location=location,
            default_hostname=host or self.hostname,
            wazuh=self._wazuh,
        )
        if not pre.full_log or pre.full_log.isspace():
            self._counts["rejected:empty"] += 1
            return EngineResult(event=event, rejected="empty")
        ev = EventInfo(
            full_log=pre.full_log,
            log=pre.log,
            hostname=pre.hostname,
            program_name=pre.program_name,
            location=pre.location,
            time=when,
            agent=pre.agent_name or "",
            timestamp=pre.timestamp or "",
        )
        self._events += 1
        if _decode_syscheck(ev):
            decoders_ran = True
        else:
            decoders_ran = decode(self._decoder_plans, ev, self._programs)
        shown = ev.decoder_name  # decoder_info at the end of DecodeEvent, as OSSEC 4.3 prints
        accumulated = False
        if ev.decoder is not None and ev.decoder.accumulate:
            self._accumulate(ev)
            accumulated = True
        return self._match(event, ev, decoders_ran, shown, accumulated)

    def process_line(
        self, line: str, *, location: str = "stdin", when: float | None = None
    ) -> EngineResult:
        """Convenience for one raw log line (logtest, tests)."""
        # The Event its __init__ would make (no extra), built as `_alert` builds an Alert:
        # the interpreted __init__, called with keywords, cost more than a tenth of an event.
        now = _time.time() if when is None else when
        # `when` as given (an int stays an int, as Event.__init__ keeps it; `now` is a float
        # in the compiled build).
        stamp: object = when
        if stamp is None:
            stamp = now
        event: Event = _instance(
            Event,
            {
                "text": line,
                "location": location,
                "host": self.hostname,
                "time": stamp,
                "source": "logtest",
                "extra": _NO_FIELDS,
            },
        )
        return self._process(event, line, location, self.hostname, now)

    # ---------------------------------------------------------------- matching
    def _match(
        self, event: Event, ev: EventInfo, decoders_ran: bool, shown: str | None, accumulated: bool
    ) -> EngineResult:
        category = ev.category
        generated = False
        logged = False
        decoder = ev.decoder_name
        kind = (decoder, ev.program_name)
        relevant = self._children.get(kind)
        if relevant is None:
            if len(self._children) >= CHILDREN_CACHE_SIZE:
                self._children.clear()
                self._walks.clear()
            relevant = self._children[kind] = {}
        lowered = ev.lower() if ev.ascii else None
        tops = self._tops.get(category)
        if tops is None:
            tops = self._tops[category] = tuple(
                node for node in self.ruleset.top if node.rule.category == category
            )
        found = self._first(ev, tops, category, lowered, relevant)
        mrule = None
        alert = None
        fields = self._fields(ev)
        if found is not None:
            matched, previous = found
            out = self._outs.get(matched.id)
            if out is None:
                out = self._outs[matched.id] = _RuleOut(matched)
            out.fired += 1
            mrule = out.summary
            if out.level and self._generate(ev, out):
                generated = True
                logged = out.log_alert
                self._correlation.remember(ev, matched)
                if logged:
                    alert = self._alert(event, ev, out, fields, previous)
        return EngineResult(
            event,
            full_log=ev.full_log,
            hostname=ev.hostname,
            program_name=ev.program_name,
            log=ev.log,
            location=ev.location,
            decoders_ran=decoders_ran,
            decoder=decoder,
            decoder_shown=shown,
            decoder_trace=tuple(ev.decoder_trace),
            fields=fields,
            rule=mrule,
            generated=generated,
            logged=logged,
            alert=alert,
            accumulated=accumulated,
            rule_trace=self._take_trace(),
            header_timestamp=ev.timestamp,
        )

    def _alert(
        self,
        event: Event,
        ev: EventInfo,
        out: _RuleOut,
        fields: Mapping[str, str],
        previous: tuple[str, ...],
    ) -> Alert:
        """The Alert of an event whose rule (`out`) generated one that is logged."""
        self._alerts += 1
        second = int(ev.time)
        if second != self._alert_second:
            self._alert_second = second
            self._alert_prefix = f"{second}."
        # The rule's part of the Alert (cached per rule), then this event's, item by item: no
        # second dict to build and merge.
        state = out.alert_base.copy()
        state["event"] = event
        state["fields"] = fields
        decoder = ev.decoder
        state["decoder"] = decoder.name if decoder is not None else None
        state["firedtimes"] = out.fired
        state["hostname"] = ev.hostname
        state["program_name"] = ev.program_name
        state["full_log"] = ev.full_log
        state["previous_output"] = previous
        state["alert_id"] = self._alert_prefix + str(self._alerts)
        state["decoder_parent"] = decoder.parent if decoder is not None else None
        state["header_timestamp"] = ev.timestamp
        return _instance(Alert, state)

    def _generate(self, ev: EventInfo, rule: _RuleOut) -> bool:
        """Whether a matched rule of level > 0 generates an alert: not within its ignore time,
        not on the ignore list (analysisd's alert loop); records what later events check."""
        if rule.ignore_time:
            since = self._time_ignored.get(rule.id, 0.0)
            if since and ev.time - since < rule.ignore_time:
                return False
            self._time_ignored[rule.id] = ev.time
        if (
            rule.check_if_ignored
            and _event_key(ev, rule.check_if_ignored, _IGNORE_PARTS) in self._ignored
        ):
            return False
        if rule.ignore:
            _remember_key(self._ignored, _event_key(ev, rule.ignore, _IGNORE_PARTS), None)
        return True

    def _take_trace(self) -> tuple[str, ...]:
        if not self._trace:
            return ()
        taken = tuple(self._trace)
        self._trace.clear()
        return taken

    @staticmethod
    def _fields(ev: EventInfo) -> Mapping[str, str]:
        """The event's fields as results and alerts carry them (shared when there are none)."""
        out = ev.standard_fields()
        if ev.dynamic:
            out.update(ev.dynamic)
        elif not out:
            return _NO_FIELDS
        return FrozenMap(out)

    def _relevant(self, key: int | str, ev: EventInfo) -> tuple[Candidate, ...]:
        """The candidates of `RuleIndex` entry `key` (a candidate's children, or a category's
        top-level rules) that can match events of this decoder and program name: those whose
        `decoded_as` is this decoder or unset, and whose program_name conditions hold."""
        index = self._index
        lists = index.tops.get(key) if isinstance(key, str) else index.lists[key]
        if lists is None:
            return ()
        decoder = ev.decoder_name
        cands = lists.default
        if decoder is not None and lists.by_decoder:
            cands = lists.by_decoder.get(decoder, cands)
        if not lists.programs:
            return cands
        program = ev.program_name
        return tuple(
            cand
            for cand in cands
            if not any(
                program is None or pattern.test(program) == pattern.negate
                for pattern in cand.programs
            )
        )

    def _first(
        self,
        ev: EventInfo,
        nodes: Sequence[RuleNode],
        key: int | str,
        lowered: str | None,
        relevant: dict[int | str, _Candidates],
    ) -> tuple[Rule, tuple[str, ...]] | None:
        """The first of `nodes` that matches (with its deepest matching descendant), trying
        only those whose gates pass; `key` names `nodes` in the `relevant` cache."""
        if self._trace is not None:
            # Every node, no shortcuts: the trace shows what ossec-logtest -v shows.
            walk = _Candidates(
                tuple(Candidate(node, _NO_GATE, None, None, None, checked=False) for node in nodes)
            )
        else:
            cached = relevant.get(key)
            if cached is None:
                cands = self._relevant(key, ev)
                cached = self._walks.get(cands)
                if cached is None:
                    cached = self._walks[cands] = _Candidates(cands)
                relevant[key] = cached
            walk = cached
        scan = lowered is not None and walk.scanned()
        present = -1  # the scan's answer, made at the first literal gate
        searched = 0  # literals searched for (without a scan)
        for i, cand in enumerate(walk.cands):
            # Skip a rule whose log pattern needs text the log does not have.
            gate = cand.gate
            if gate and lowered is not None:
                if gate == _PREFIXES:
                    if not lowered.startswith(cand.literals):
                        continue
                elif scan:
                    if present < 0:
                        present = walk.present(lowered)
                    if not present & walk.masks[i]:
                        continue
                elif gate == _LITERAL:
                    searched += 1
                    if cand.literal not in lowered:
                        continue
                else:
                    for literal in cand.literals:
                        searched += 1
                        if literal in lowered:
                            break
                    else:
                        continue
            fields = cand.fields
            if fields is not None and _fields_out(ev, fields):
                continue
            hit = self._check(ev, cand, lowered, relevant)
            if hit is not None:
                walk.searched += searched
                return hit
        walk.searched += searched
        return None

    def _check(
        self,
        ev: EventInfo,
        cand: Candidate,
        lowered: str | None,
        relevant: dict[int | str, _Candidates],
    ) -> tuple[Rule, tuple[str, ...]] | None:
        """OS_CheckIfRuleMatch: this rule, then its children; the deepest match wins.
        `lowered` is the lowercased log when gates apply (ASCII; its gate has passed then),
        `relevant` the children cache of this event's decoder and program name."""
        rule = cand.rule
        trace = self._trace
        if trace is not None:
            trace.append(f"    Trying rule: {rule.id} - {rule.description}")
        decoded_as = cand.decoded_as
        if decoded_as is not None and decoded_as != ev.decoder_name:
            return None
        for name, pattern in cand.patterns:
            if name == "user":
                value = ev.dstuser if ev.dstuser is not None else ev.srcuser
            elif name == "extra_data":
                value = ev.data
            else:
                value = getattr(ev, name, None)
            if value is None or pattern.test(value) == pattern.negate:
                return None
        settled = cand.settled if lowered is not None else None
        m = cand.match
        if m is not None and m is not settled and m.test(ev.log, ev.lower()) == m.negate:
            return None
        r = cand.regex
        if r is not None and r is not settled and r.test(ev.log, ev.lower()) == r.negate:
            return None
        previous: tuple[str, ...] = ()
        extra = cand.extra
        if extra is not None:
            found = self._extra_conditions(ev, rule, extra)
            if found is None:
                return None
            previous = found
        if trace is not None:
            trace.append(f"       *Rule {rule.id} matched.")
        children = cand.children
        if children:
            if trace is not None:
                trace.append("       *Trying child rules.")
            split = cand.split
            key = cand.key if split is None else split.key(ev, cand.key)
            hit = self._first(ev, children, key, lowered, relevant)
            if hit is not None:
                return hit
        if cand.noalert:
            return None
        return rule, previous

    def _extra_conditions(self, ev: EventInfo, rule: Rule, x: Extra) -> tuple[str, ...] | None:
        """The rarer conditions (`x`, copied from `rule`), in OS_CheckIfRuleMatch's order (FTS,
        check_diff and the correlation search have side effects, so they come last). Returns
        the correlated logs (empty when the rule does not correlate), or None when a condition
        fails."""
        if x.action is not None and ev.action != x.action:
            return None
        for check in x.fields:
            value = ev.field(check.name)
            if value is None or check.pattern.test(value) == check.pattern.negate:
                return None
        if x.srcip and (ev.srcip is None or not any(ip.matches(ev.srcip) for ip in x.srcip)):
            return None
        if x.dstip and (ev.dstip is None or not any(ip.matches(ev.dstip) for ip in x.dstip)):
            return None
        if x.compiled_rule is not None and not _compiled_rule(x.compiled_rule, ev):
            return None
        if x.maxsize and len(ev.log) < x.maxsize:
            return None
        if x.day_time is not None or x.week_days is not None:
            local = _time.localtime(ev.time)
            if x.day_time is not None and not x.day_time.contains(
                local.tm_hour * 60 + local.tm_min
            ):
                return None
            if x.week_days is not None and local.tm_wday not in x.week_days:
                return None
        if x.check_diff and not self._diff(ev, rule):
            return None
        if x.if_fts and not self._fts_check(ev):
            return None
        if x.lists and not self._lists(ev, rule):
            return None
        if x.correlating:
            return self._correlation.search(ev, rule)
        return ()

    # ---------------------------------------------------------------- conditions with state
    def _lists(self, ev: EventInfo, rule: Rule) -> bool:
        for check in rule.lists:
            if check.field == "user":
                value = ev.srcuser if ev.srcuser is not None else ev.dstuser
            else:
                value = ev.field(check.field)
            if value is None:
                return False
            cdb = self.ruleset.lists.get(check.key)
            if cdb is None or not cdb.lookup(check.lookup, value, check.check_value):
                return False
        return True

    def _fts_check(self, ev: EventInfo) -> bool:
        """First time seen (fts.c): the decoder's fts fields form a key; new keys pass once."""
        dec = ev.decoder
        if dec is None or not dec.fts:
            return False
        if ev.fts_result is not None:
            return ev.fts_result
        key = f"{dec.name} {_event_key(ev, dec.fts, _FTS_PARTS)}"
        first = key not in self._fts
        if first:
            _remember_key(self._fts, key, None)
        ev.fts_result = first
        return first

    def _diff(self, ev: EventInfo, rule: Rule) -> bool:
        """check_diff (dodiff.c): alert when this rule's output changed for this location."""
        key = (rule.id, f"{ev.agent}|{ev.location}")
        before = self._diffs.get(key)
        _remember_key(self._diffs, key, ev.log)
        return before is not None and before != ev.log

    def _accumulate(self, ev: EventInfo) -> None:
        """Accumulator (accumulator.c): events of one session (same host, decoder and id) lend
        each other the user, address, port and data fields they lack. A stored value is never
        replaced; sessions idle for two minutes are forgotten."""
        if ev.id is None or ev.decoder is None:
            return
        key = f"{ev.hostname} {ev.decoder.name} {ev.id}"
        entry = self._accumulated.get(key)
        if entry is not None and entry[0] < ev.time - ACCUMULATOR_EXPIRE:
            entry = None
        stored: dict[str, str] = entry[1] if entry is not None else {}
        for attr in _ACCUMULATED:
            value = getattr(ev, attr)
            if not value and stored.get(attr):
                setattr(ev, attr, stored[attr])
            elif value and not stored.get(attr) and len(value) <= ACCUMULATOR_MAX_VALUE:
                stored[attr] = value
        _remember_key(self._accumulated, key, (ev.time, stored))

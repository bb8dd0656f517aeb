"""Decoding one event with a DecoderSet: analysisd's DecodeEvent (decoder.c).

The first top-level decoder of the applicable list (with or without program name) whose
program name and prematch match wins; then its first child whose prematch matches (a child
without prematch always does); then that child's regex, and the regexes of the chained
children of the same name, fill the event's fields in `<order>`. Offsets (`after_parent`,
`after_prematch`, `after_regex`) choose where each search starts. Gates
(`ospatrol.analysis.gates`) skip patterns that cannot match.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from ospatrol.analysis.decoders import (
    AFTER_PARENT,
    AFTER_PREMATCH,
    AFTER_PREVREGEX,
    Decoder,
    DecoderNode,
    DecoderSet,
)
from ospatrol.analysis.eventinfo import EventInfo
from ospatrol.analysis.gates import head_gate
from ospatrol.analysis.patterns import Captured, Pattern
from ospatrol.analysis.plugins import run_plugin

# Where a decoder's regex (or plugin) starts: at the log's start, after the parent's prematch,
# after its own prematch, after the previous regex of its chain (`offset="after_..."`).
_FROM_START: Final = 0
_FROM_PARENT: Final = 1
_FROM_PREMATCH: Final = 2
_FROM_PREVREGEX: Final = 3


def _start_kind(offset: int) -> int:
    """The `_FROM_*` of a decoder's offset flags (the first that is set, in this order)."""
    if offset & AFTER_PARENT:
        return _FROM_PARENT
    if offset & AFTER_PREMATCH:
        return _FROM_PREMATCH
    if offset & AFTER_PREVREGEX:
        return _FROM_PREVREGEX
    return _FROM_START


class DecoderPlan:
    """One decoder as decoding reads it for every event: its Decoder's attributes copied once
    into plain ones (a compiled module reads these directly, where each Decoder attribute is a
    look-up by name), and for a top-level decoder the plans of its children."""

    __slots__ = (
        "children",
        "decoder",
        "get_next",
        "order",
        "plugin",
        "plugin_from",
        "prematch",
        "prematch_after_parent",
        "prematch_exact",
        "prematch_first",
        "prematch_gate",
        "prematch_head",
        "prematch_prefix",
        "prematch_refused",
        "regex",
        "regex_first",
        "regex_from",
        "regex_prefix",
    )

    def __init__(self, decoder: Decoder, children: list[Decoder] | None = None) -> None:
        self.decoder = decoder
        self.children: tuple[DecoderPlan, ...] = tuple(DecoderPlan(kid) for kid in children or ())
        self.get_next: bool = decoder.get_next
        self.plugin: str | None = decoder.plugin
        # A plugin never starts after a previous regex.
        plugin_from = _start_kind(decoder.plugin_offset)
        self.plugin_from: int = _FROM_START if plugin_from == _FROM_PREVREGEX else plugin_from
        self.prematch: Pattern | None = decoder.prematch
        self.prematch_after_parent: bool = bool(decoder.prematch_offset & AFTER_PARENT)
        self.prematch_first: frozenset[str] | None = decoder.prematch_first
        self.prematch_gate: tuple[str, ...] | None = decoder.prematch_gate
        self.prematch_prefix: tuple[str, ...] | None = decoder.prematch_prefix
        self.prematch_exact: tuple[str, ...] | None = decoder.prematch_exact
        self.prematch_refused: tuple[str, ...] | None = decoder.prematch_refused
        # Top-level decoders only: their prematch is tried at the start of the log.
        self.prematch_head: tuple[tuple[frozenset[str], ...], ...] | None = (
            head_gate(decoder.prematch) if children is not None else None
        )
        self.regex: Pattern | None = decoder.regex
        self.regex_from: int = _start_kind(decoder.regex_offset)
        # A child whose regex proves its prematch (and ends its chain): try the regex first.
        self.regex_first: bool = decoder.regex_implies_prematch and not decoder.get_next
        self.regex_prefix: tuple[str, ...] | None = decoder.regex_prefix
        # Per capture: (event attribute, logtest label) of a standard field, (None, name) of a
        # dynamic one, (None, "") for a capture that goes nowhere.
        self.order: tuple[tuple[str | None, str], ...] = tuple(
            (slot.standard.attr, slot.standard.label)
            if slot.standard is not None
            else (None, slot.dynamic)
            for slot in decoder.order
        )


def _fits_head(lowered: str, head: tuple[tuple[frozenset[str], ...], ...]) -> bool:
    """Whether `lowered` begins as one of the alternatives of a `head_gate` allows."""
    size = len(lowered)
    for sets in head:
        if size < len(sets):
            continue
        for i in range(len(sets)):
            if lowered[i] not in sets[i]:
                break
        else:
            return True
    return False


def _exact_end(lowered: str, prefixes: tuple[str, ...], start: int) -> int | None:
    """Where a prematch that is only `^`-anchored plain alternatives (`prematch_exact`) ends
    when searched from `start` of an ASCII log (`lowered`): after the first alternative, in
    order, the text starts with there; None when none does."""
    for prefix in prefixes:
        if lowered.startswith(prefix, start):
            return start + len(prefix)
    return None


def _assign(
    ev: EventInfo, order: tuple[tuple[str | None, str], ...], groups: tuple[str, ...]
) -> None:
    trace = ev.decoder_trace
    # Indexed, not zip(): the compiled build reads typed tuples by index without an iterator
    # and a tuple per item.
    for i in range(min(len(order), len(groups))):
        attr, name = order[i]
        value = groups[i]
        if attr is not None:
            setattr(ev, attr, value)
            trace.append((name, value))
        elif name:
            ev.dynamic[name] = value
            trace.append((name, value))


def _search(
    pattern: Pattern, ev: EventInfo, start: int | None
) -> tuple[int, tuple[str, ...]] | None:
    """Search log[start:]; the absolute end offset of the match and its groups, or None."""
    if start is None:
        return None
    found: Captured | None
    if start:
        # The lowercased log's slice is the slice's own only where lowering kept every
        # character's length (it grows 'İ' to two): else the pattern lowers the slice itself.
        low = ev.lower()
        found = pattern.search(ev.log[start:], low[start:] if len(low) == len(ev.log) else None)
    else:
        found = pattern.search(ev.log, ev.lower())
    if found is None:
        return None
    end: int = found.end
    groups: tuple[str, ...] = found.groups
    return start + end, groups


class DecoderPlans:
    """Every top-level decoder of a DecoderSet as a DecoderPlan (with its children's), built
    once per rule set (at load, and when the rule cache is read: the plans are made again from
    the DecoderSet then), so engines only pick which of them a program name selects."""

    __slots__ = ("dset", "programs", "wazuh", "with_program", "without_program")

    def __init__(self, dset: DecoderSet) -> None:
        self.dset = dset
        self.wazuh: bool = dset.wazuh
        self.with_program: tuple[DecoderPlan, ...] = _plans(dset.with_program)
        self.without_program: tuple[DecoderPlan, ...] = _plans(dset.without_program)
        # For `_for_program`: each of `with_program` with its program_name pattern and the
        # literal gate on it, read here once instead of from the Decoder per program name.
        self.programs: tuple[tuple[DecoderPlan, Pattern | None, tuple[str, ...] | None], ...] = (
            tuple(
                (plan, plan.decoder.program_name, plan.decoder.pname_gate)
                for plan in self.with_program
            )
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (DecoderPlans, (self.dset,))


def _plans(nodes: Sequence[DecoderNode]) -> tuple[DecoderPlan, ...]:
    return tuple(DecoderPlan(node.decoder, node.children) for node in nodes)


def _for_program(plans: DecoderPlans, pname: str) -> tuple[DecoderPlan, ...]:
    """The top-level decoders whose program_name matches `pname`, in list order."""
    low = pname.lower() if pname.isascii() else None
    out = []
    for plan, pattern, gate in plans.programs:
        if pattern is not None:
            # The literal gate inlined (`gates.gated_out`): every decoder with a program name
            # is tried on every new program name.
            if gate is not None and low is not None:
                for literal in gate:
                    if literal in low:
                        break
                else:
                    continue
            if pattern.test(pname, low) == pattern.negate:
                continue
        out.append(plan)
    return tuple(out)


PROGRAM_CACHE_SIZE: Final = 4096


def decode(
    plans: DecoderPlans,
    ev: EventInfo,
    cache: dict[str, tuple[DecoderPlan, ...]] | None = None,
) -> bool:
    """Run decoder.c's DecodeEvent on `ev` with a rule set's `plans`. Returns False when no
    decoder list applies (logtest then prints no phase 2); `ev.decoder` is the decoder that
    matched, if any.

    `cache` (owned by the caller) remembers which decoders accept a program name: that depends
    only on the name and the immutable decoder set.
    """
    pname = ev.program_name
    if pname is None:
        nodes = plans.without_program
        if not nodes:
            return False
    else:
        if not plans.with_program:
            return False
        found = None if cache is None else cache.get(pname)
        if found is None:
            found = _for_program(plans, pname)
            if cache is not None:
                if len(cache) >= PROGRAM_CACHE_SIZE:
                    cache.clear()
                cache[pname] = found
        nodes = found
    lowered = ev.lower() if ev.ascii else None
    for node in nodes:
        pmatch: int | None = 0 if pname is not None else None
        prematch = node.prematch
        if prematch is not None:
            # Gates inlined: without a program name every event walks this whole list.
            if lowered is not None:
                prefixes = node.prematch_prefix
                if prefixes is not None and not lowered.startswith(prefixes):
                    continue
                first = node.prematch_first
                if first is not None and lowered[:1] not in first:
                    continue
                head = node.prematch_head
                if head is not None and not _fits_head(lowered, head):
                    continue
                gate = node.prematch_gate
                if gate is not None:
                    for literal in gate:
                        if literal in lowered:
                            break
                    else:
                        continue
                exact = node.prematch_exact
                if exact is not None:
                    # The prefix gate is the whole prematch: no regex to run.
                    end = _exact_end(lowered, exact, 0)
                    if end is None:
                        continue
                    ev.decoder = node.decoder
                    _run_children(node, ev, end, plans.wazuh)
                    return True
                refused = node.prematch_refused
                if refused is not None:
                    # `^(?!pam_)`: the whole prematch, an empty match at the start.
                    if lowered.startswith(refused):
                        continue
                    ev.decoder = node.decoder
                    _run_children(node, ev, 0, plans.wazuh)
                    return True
            hit = _search(prematch, ev, 0)
            if hit is None:
                continue
            pmatch = hit[0]
        ev.decoder = node.decoder
        _run_children(node, ev, pmatch, plans.wazuh)
        return True
    return True


def _run_children(node: DecoderPlan, ev: EventInfo, pmatch: int | None, wazuh: bool) -> None:
    """The children of a matching top-level decoder (`wazuh`: the event keeps the decoder
    whose prematch matched, as Wazuh's DecodeEvent, not the last one whose regex did)."""
    cmatch: int | None = None
    kids = node.children
    if not kids:
        chain: tuple[DecoderPlan, ...] = (node,)
        index = 0
    else:
        chain = kids
        index = 0
        found = None
        low = ev.lower() if ev.ascii else None
        while index < len(kids):
            cand = kids[index]
            prematch = cand.prematch
            if prematch is not None:
                base = pmatch if cand.prematch_after_parent else 0
                hit: tuple[int, tuple[str, ...]] | None = None
                # Gates inlined (no calls, no generators): this loop runs over every child of
                # a busy parent.
                passed = True
                if low is not None:
                    prefix = cand.prematch_prefix
                    if (
                        prefix is not None
                        and base is not None
                        and not (
                            # The one-argument form is a primitive of the compiled build.
                            low.startswith(prefix) if base == 0 else low.startswith(prefix, base)
                        )
                    ):
                        passed = False
                    else:
                        gate = cand.prematch_gate
                        if gate is not None:
                            for literal in gate:
                                if literal in low:
                                    break
                            else:
                                passed = False
                exact = cand.prematch_exact
                if passed and exact is not None and low is not None and base is not None:
                    # The prefix gate is the whole prematch: no regex to run.
                    end = _exact_end(low, exact, base)
                    hit = None if end is None else (end, ())
                elif passed:
                    regex = cand.regex
                    if cand.regex_first and regex is not None:
                        # Its regex matching is its prematch matching: one search, not two.
                        found_regex = _search(regex, ev, 0)
                        if found_regex is not None:
                            ev.decoder = cand.decoder
                            _assign(ev, cand.order, found_regex[1])
                            return
                        if _search(prematch, ev, base) is not None:
                            ev.decoder = cand.decoder  # chosen, but its regex found nothing
                            return
                    else:
                        hit = _search(prematch, ev, base)
                if hit is not None:
                    cmatch = hit[0]
                    ev.decoder = cand.decoder
                    found = cand
                    break
            else:
                cmatch = pmatch
                found = cand
                break
            if cand.get_next:
                while index < len(kids) and kids[index].get_next:
                    index += 1
                if index >= len(kids):
                    return
            index += 1
        if found is None:
            return
    regex_prev: int | None = None
    while index < len(chain):
        dec = chain[index]
        if dec.plugin is not None:
            where = dec.plugin_from
            start = pmatch if where == _FROM_PARENT else cmatch if where == _FROM_PREMATCH else 0
            run_plugin(dec.decoder, ev, start or 0)
            if dec.get_next:
                index += 1
                continue
            return
        regex = dec.regex
        if regex is None:
            return
        where = dec.regex_from
        if where == _FROM_PARENT:
            start = pmatch
        elif where == _FROM_PREMATCH:
            start = cmatch
        elif where == _FROM_PREVREGEX:
            start = cmatch if regex_prev is None else regex_prev
        else:
            start = 0
        prefixes = dec.regex_prefix
        if prefixes is not None and start is not None and ev.ascii:
            # An anchored regex cannot match where none of its plain-text prefixes starts.
            hit = _search(regex, ev, start) if ev.lower().startswith(prefixes, start) else None
        else:
            hit = _search(regex, ev, start)
        if hit is None:
            if dec.get_next:
                index += 1
                continue
            return
        regex_prev = hit[0]
        if not wazuh:
            ev.decoder = dec.decoder
        _assign(ev, dec.order, hit[1])
        if dec.get_next:
            index += 1
            continue
        return

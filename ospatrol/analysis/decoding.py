"""Decoding one event with a DecoderSet: analysisd's DecodeEvent (decoder.c).

The first top-level decoder of the applicable list (with or without program name) whose
program name and prematch match wins; then its first child whose prematch matches (a child
without prematch always does); then that child's regex, and the regexes of the chained
children of the same name, fill the event's fields in `<order>`. Offsets (`after_parent`,
`after_prematch`, `after_regex`) choose where each search starts. Gates
(`ospatrol.analysis.gates`) skip patterns that cannot match.
"""

from __future__ import annotations

from ospatrol.analysis.decoders import (
    AFTER_PARENT,
    AFTER_PREMATCH,
    AFTER_PREVREGEX,
    Decoder,
    DecoderNode,
    DecoderSet,
    OrderSlot,
)
from ospatrol.analysis.eventinfo import EventInfo
from ospatrol.analysis.gates import gated_out, prefix_out
from ospatrol.analysis.patterns import Pattern
from ospatrol.analysis.plugins import run_plugin


def _assign(ev: EventInfo, order: tuple[OrderSlot, ...], groups: tuple[str, ...]) -> None:
    trace = ev.decoder_trace
    for slot, value in zip(order, groups, strict=False):
        std = slot.standard
        if std is not None:
            setattr(ev, std.attr, value)
            trace.append((std.label, value))
        elif slot.dynamic:
            ev.dynamic[slot.dynamic] = value
            trace.append((slot.dynamic, value))


def _search(
    pattern: Pattern, ev: EventInfo, start: int | None
) -> tuple[int, tuple[str, ...]] | None:
    """Search log[start:]; the absolute end offset of the match and its groups, or None."""
    if start is None:
        return None
    if start:
        found = pattern.search(ev.log[start:], ev.lower()[start:])
    else:
        found = pattern.search(ev.log, ev.lower())
    if found is None:
        return None
    return start + found.end, found.groups


def _for_program(dset: DecoderSet, pname: str) -> tuple[DecoderNode, ...]:
    """The top-level decoders whose program_name matches `pname`, in list order."""
    low = pname.lower() if pname.isascii() else None
    out = []
    for node in dset.with_program:
        pattern = node.decoder.program_name
        if pattern is None or (
            not gated_out(node.decoder.pname_gate, low)
            and (pattern.test(pname, low) != pattern.negate)
        ):
            out.append(node)
    return tuple(out)


PROGRAM_CACHE_SIZE = 4096


def decode(dset: DecoderSet, ev: EventInfo, cache: dict[str, tuple] | None = None) -> bool:
    """Run decoder.c's DecodeEvent on `ev`. Returns False when no decoder list applies (logtest
    then prints no phase 2); `ev.decoder` is the decoder that matched, if any.

    `cache` (owned by the caller) remembers which decoders accept a program name: that depends
    only on the name and the immutable decoder set.
    """
    pname = ev.program_name
    listed = dset.without_program if pname is None else dset.with_program
    if not listed:
        return False
    if pname is None:
        nodes: tuple[DecoderNode, ...] | list[DecoderNode] = listed
    elif cache is None:
        nodes = _for_program(dset, pname)
    else:
        found = cache.get(pname)
        if found is None:
            if len(cache) >= PROGRAM_CACHE_SIZE:
                cache.clear()
            found = cache[pname] = _for_program(dset, pname)
        nodes = found
    lowered = ev.lower() if ev.ascii else None
    for node in nodes:
        dec = node.decoder
        pmatch: int | None = 0 if pname is not None else None
        if dec.prematch is not None:
            # Gates inlined: without a program name every event walks this whole list.
            if lowered is not None:
                prefixes = dec.prematch_prefix
                if prefixes is not None and not lowered.startswith(prefixes):
                    continue
                first = dec.prematch_first
                if first is not None and lowered[:1] not in first:
                    continue
                gate = dec.prematch_gate
                if gate is not None:
                    for literal in gate:
                        if literal in lowered:
                            break
                    else:
                        continue
            hit = _search(dec.prematch, ev, 0)
            if hit is None:
                continue
            pmatch = hit[0]
        ev.decoder = dec
        _run_children(node, ev, pmatch, dset.wazuh)
        return True
    return True


def _run_children(node: DecoderNode, ev: EventInfo, pmatch: int | None, wazuh: bool) -> None:
    """The children of a matching top-level decoder (`wazuh`: the event keeps the decoder
    whose prematch matched, as Wazuh's DecodeEvent, not the last one whose regex did)."""
    cmatch: int | None = None
    kids = node.children
    if not kids:
        chain: list[Decoder] = [node.decoder]
        index = 0
    else:
        chain = kids
        index = 0
        found = None
        low = ev.lower() if ev.ascii else None
        while index < len(kids):
            cand = kids[index]
            if cand.prematch is not None:
                base = pmatch if cand.prematch_offset & AFTER_PARENT else 0
                hit = None
                # Gates inlined (no calls, no generators): this loop runs over every child of
                # a busy parent.
                passed = True
                if low is not None:
                    prefix = cand.prematch_prefix
                    if prefix is not None and base is not None and not low.startswith(prefix, base):
                        passed = False
                    elif cand.prematch_gate is not None:
                        for literal in cand.prematch_gate:
                            if literal in low:
                                break
                        else:
                            passed = False
                if passed:
                    hit = _search(cand.prematch, ev, base)
                if hit is not None:
                    cmatch = hit[0]
                    ev.decoder = cand
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
            offset = dec.plugin_offset
            start = pmatch if offset & AFTER_PARENT else cmatch if offset & AFTER_PREMATCH else 0
            run_plugin(dec, ev, start or 0)
            if dec.get_next:
                index += 1
                continue
            return
        if dec.regex is None:
            return
        offset = dec.regex_offset
        if offset & AFTER_PARENT:
            start = pmatch
        elif offset & AFTER_PREMATCH:
            start = cmatch
        elif offset & AFTER_PREVREGEX:
            start = cmatch if regex_prev is None else regex_prev
        else:
            start = 0
        gated = prefix_out(dec.regex_prefix, ev.lower() if ev.ascii else None, start)
        hit = None if gated else _search(dec.regex, ev, start)
        if hit is None:
            if dec.get_next:
                index += 1
                continue
            return
        regex_prev = hit[0]
        if not wazuh:
            ev.decoder = dec
        _assign(ev, dec.order, hit[1])
        if dec.get_next:
            index += 1
            continue
        return

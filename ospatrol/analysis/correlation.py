"""Correlation memory: the events that frequency/if_matched_* rules search (eventinfo.c).

analysisd keeps the last alerting events (a bounded list), a list per rule named by some
`if_matched_sid`, and a list per rule that uses `if_matched_group`. A correlating rule walks
its list from the newest event back, stops at the first event outside its timeframe or one
already used by a correlation of equal or higher level, skips events that differ in a `same_*`
field, and fires when it has seen `frequency + 1` earlier events (so on the frequency+2-th).

Walking every list linearly costs O(list) per event, so this keeps, for each list and each
combination of `same_*` fields some rule asks for, an index from those field values to the
events that have them, plus the newest "blocking" event per list. Walking an index bucket gives
the same answer as walking the whole list, as long as event times do not go backwards.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Final

from ospatrol.analysis.eventinfo import EventInfo
from ospatrol.analysis.rules import DYNAMIC_PREFIX

if TYPE_CHECKING:
    from ospatrol.analysis.loader import Ruleset
    from ospatrol.analysis.patterns import Pattern
    from ospatrol.analysis.rules import Rule

# analysisd's bounded list of recent alerting events; leaving it also removes an event from the
# if_matched lists (Free_Eventinfo). Not Final: tests lower it.
EVENT_MEMORY = 1024

EVENTS: Final[tuple] = ("events",)
# Search_LastEvents only honours these same_* options.
_EVENTS_KEYS: Final = ("dstuser", "id", "srcip")

ListKey = tuple
KeySet = tuple[str, ...]


def list_key(rule: Rule) -> ListKey:
    """Which list a correlating rule searches."""
    if rule.if_matched_sid:
        return ("sid", rule.if_matched_sid)
    if rule.if_matched_group is not None:
        return ("group", rule.id)
    return EVENTS


def key_set(rule: Rule) -> KeySet:
    if list_key(rule) == EVENTS:
        return tuple(a for a in rule.same if a in _EVENTS_KEYS)
    return rule.same


def _value(ev: EventInfo, attr: str) -> str | None:
    """An event attribute, or a dynamic field named "field:NAME" (Wazuh's same_field)."""
    if attr.startswith(DYNAMIC_PREFIX):
        return ev.field(attr[len(DYNAMIC_PREFIX) :])
    return getattr(ev, attr, None)


# The event attributes a same_* option names (rules.py), in the order `_read` tests them.
_CODES: Final = {
    name: code
    for code, name in enumerate(
        (
            *("srcip", "dstuser", "id", "srcport", "dstport", "dstip", "srcuser", "location"),
            *("hostname", "protocol", "action", "url", "data", "status", "systemname"),
        )
    )
}


def _read(ev: EventInfo, code: int) -> str | None:
    """The attribute of `ev` that `_CODES` numbers `code`, read without a look-up by name."""
    if code < 3:
        return ev.srcip if code == 0 else ev.dstuser if code == 1 else ev.id
    if code < 8:
        if code == 3:
            return ev.srcport
        if code == 4:
            return ev.dstport
        if code == 5:
            return ev.dstip
        return ev.srcuser if code == 6 else ev.location
    if code == 8:
        return ev.hostname
    if code == 9:
        return ev.protocol
    if code == 10:
        return ev.action
    if code == 11:
        return ev.url
    if code == 12:
        return ev.data
    return ev.status if code == 13 else ev.systemname


class Key:
    """An event's values of the `same_*` fields `names` (an index key), as a tuple; events
    with one of them unset (None) are not indexed under it. Standard fields are read by code
    (`_read`), others (a dynamic "field:NAME", one the event lacks) through `_value`."""

    __slots__ = ("codes", "names", "native")

    def __init__(self, names: KeySet) -> None:
        self.names = names
        self.codes: tuple[int, ...] = tuple(_CODES.get(name, -1) for name in names)
        self.native = all(code >= 0 for code in self.codes)

    def values(self, ev: EventInfo) -> tuple:
        if not self.native:
            return tuple([_value(ev, name) for name in self.names])
        codes = self.codes
        if len(codes) == 1:
            return (_read(ev, codes[0]),)
        if len(codes) == 2:
            return (_read(ev, codes[0]), _read(ev, codes[1]))
        return tuple([_read(ev, code) for code in codes])


def is_correlating(rule: Rule) -> bool:
    """Rules that search earlier events (a pure check_diff rule does not)."""
    return rule.context and (bool(rule.if_matched_sid) or not rule.check_diff)


class EventList:
    """One list some correlating rule searches (a rule's alerts, a group's, or the last
    events): its newest event, its indexes, and per correlation level the newest event (its
    seq) a correlation of that level used. Only that newest one matters: a search stops at
    it, and an older one that has left the memory is older than every event still indexed,
    so a blocker is never removed."""

    __slots__ = ("blockers", "newest", "tables")

    def __init__(self, tables: tuple[tuple[Key, dict], ...]) -> None:
        self.newest: EventInfo | None = None
        # (key, index) of each key set.
        self.tables = tables
        self.blockers: dict[int, int] = {}

    def raise_blocker(self, seq: int, level: int) -> None:
        if self.blockers.get(level, 0) < seq:
            self.blockers[level] = seq


class Correlation:
    """All correlation state of one engine."""

    def __init__(self, ruleset: Ruleset) -> None:
        keysets: dict[ListKey, list[KeySet]] = {}
        for rule in ruleset.rules.values():
            if is_correlating(rule):
                sets = keysets.setdefault(list_key(rule), [])
                if key_set(rule) not in sets:
                    sets.append(key_set(rule))
        self._index: dict[tuple[ListKey, KeySet], dict[tuple, deque[EventInfo]]] = {}
        self._lists: dict[ListKey, EventList] = {
            lk: EventList(tuple((Key(ks), self._index.setdefault((lk, ks), {})) for ks in sets))
            for lk, sets in keysets.items()
        }
        # analysisd's list holds the last EVENT_MEMORY alerting events of any kind; events
        # older than that have left every list. Event seq's slot is seq % EVENT_MEMORY: the
        # event in it when seq arrives is the one EVENT_MEMORY alerts older (an earlier one
        # left at its own turn), so it leaves.
        self._memory = EVENT_MEMORY
        self._ring: list[EventInfo | None] = [None] * self._memory
        # Per rule id: the lists its alerts join, and (list, key, index) it searches;
        # derived from the immutable rule set.
        self._members: dict[int, tuple[EventList, ...]] = {}
        self._searched: dict[int, _Search] = {}
        self.seq = 0

    def remember(self, ev: EventInfo, rule: Rule) -> None:
        """After an alert: add the event to the lists analysisd would (OSList_AddData)."""
        self.seq += 1
        seq = ev.seq = self.seq
        ring = self._ring
        slot = seq % self._memory
        old = ring[slot]
        if old is not None:
            ring[slot] = None
            self._evict(old)
        members = self._members.get(rule.id)
        if members is None:
            members = self._members[rule.id] = self._lists_fed(rule)
        if not members:
            return
        ev.lists = members
        matched = ev.matched
        for lst in members:
            lst.newest = ev
            for key, index in lst.tables:
                values = key.values(ev)
                if None in values:
                    continue
                bucket = index.get(values)
                if bucket is None:
                    bucket = index[values] = deque()
                bucket.append(ev)
            if matched:
                lst.raise_blocker(seq, matched)
        ring[slot] = ev

    def _lists_fed(self, rule: Rule) -> tuple[EventList, ...]:
        """The lists an alert of `rule` joins (only those some correlating rule searches)."""
        keys: list[ListKey] = []
        if rule.feeds_sid_list:
            keys.append(("sid", rule.id))
        elif rule.feeds_group_lists:
            keys.extend(("group", searcher) for searcher in rule.feeds_group_lists)
        keys.append(EVENTS)
        return tuple(self._lists[k] for k in keys if k in self._lists)

    def _evict(self, old: EventInfo) -> None:
        for lst in old.lists:
            for key, index in lst.tables:
                values = key.values(old)
                if None in values:
                    continue
                bucket = index.get(values)
                if bucket and bucket[0] is old:
                    bucket.popleft()
                    if not bucket:
                        del index[values]
            if lst.newest is old:
                lst.newest = None
        old.lists = ()

    def _block(self, ev: EventInfo, level: int) -> None:
        ev.matched = level
        for lst in ev.lists:
            lst.raise_blocker(ev.seq, level)

    def search(self, ev: EventInfo, rule: Rule) -> tuple[str, ...] | None:
        """Search_LastSids/Groups/Events: the logs of the correlated events, or None."""
        plan = self._searched.get(rule.id)
        if plan is None:
            lk, ks = list_key(rule), key_set(rule)
            plan = self._searched[rule.id] = _Search(
                rule, lk, self._lists[lk], Key(ks), self._index.get((lk, ks))
            )
        first = plan.list.newest
        index = plan.index
        if first is None or not index:
            return None
        values = plan.key.values(ev)
        if None in values:
            return None
        bucket = index.get(values)
        if not bucket:
            return None
        level = plan.level
        floor = 0
        blockers = plan.list.blockers
        if blockers:
            for lvl, seq in blockers.items():
                if lvl >= level and seq > floor:
                    floor = seq
        wanted = plan.frequency
        count = 0
        collected: list[str] = []
        regex = plan.regex
        events_kind = plan.events_kind
        now = ev.time
        timeframe = plan.timeframe
        different = plan.different
        category = ev.category if events_kind else ""
        for old in reversed(bucket):
            if old.seq <= floor or now - old.time > timeframe or old.matched >= level:
                return None
            if events_kind:
                if old.category != category:
                    continue
                if regex is not None and regex.test(old.log) == regex.negate:
                    continue
            if different and not all(
                _value(old, a) is not None
                and _value(ev, a) is not None
                and _value(old, a) != _value(ev, a)
                for a in different
            ):
                continue
            if count <= 10 and (count < wanted or plan.sids):
                collected.append(old.full_log)
            if count < wanted:
                count += 1
                continue
            ev.matched = level
            self._block(old, level)
            self._block(first, level)
            return tuple(collected)
        return None


class _Search:
    """What `Correlation.search` reads of one correlating rule, copied once: its list, the
    index it walks and the rule's conditions on the events it finds there."""

    __slots__ = (
        "different",
        "events_kind",
        "frequency",
        "index",
        "key",
        "level",
        "list",
        "regex",
        "sids",
        "timeframe",
    )

    def __init__(
        self,
        rule: Rule,
        lk: ListKey,
        searched: EventList,
        key: Key,
        index: dict[tuple, deque[EventInfo]] | None,
    ) -> None:
        self.list = searched
        self.key = key
        self.index = index
        self.level: int = rule.level
        self.frequency: int = rule.frequency
        self.regex: Pattern | None = rule.if_matched_regex
        self.timeframe: float = float(rule.timeframe)
        self.different: tuple[str, ...] = rule.different
        self.events_kind: bool = lk == EVENTS
        self.sids: bool = lk[0] == "sid"

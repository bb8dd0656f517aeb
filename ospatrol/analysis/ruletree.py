"""analysisd's rule tree (rules_list.c), built in load order from compiled rules.

Ids below 10 are the category templates at the top. A rule with `if_sid` becomes a child of
each listed rule, under every place that rule has (a rule listed by several parents has a node
under each, and _AddtoRule walks every branch), `if_group`/`if_level` of
every rule in the tree whose group/level fits, and any other rule a child of its category's
template. Children are kept sorted by level, highest first, in load order among equals (level
0 sorts as 99). Unlike analysisd, an `if_sid` may name a rule loaded later: such rules are
placed once everything is read, and only what stays unresolved is an error (Wazuh's dialect:
a warning, like a duplicate rule id, which keeps the first).
"""

from __future__ import annotations

from ospatrol.analysis.rules import Rule, RuleNode
from ospatrol.errors import InputError


def word_match(pattern: str, text: str) -> bool:
    """OS_WordMatch: case-insensitive substring, `|` between alternatives, `^` anchors at start."""
    low = text.lower()
    for alt in pattern.lower().split("|"):
        if alt.startswith("^"):
            if low.startswith(alt[1:]):
                return True
        elif alt in low:
            return True
    return False


# Fields an overwriting rule replaces (rules_list.c OS_AddRuleInfo); the tree place is kept.
_OVERWRITTEN = tuple(
    name
    for name in Rule.__slots__  # type: ignore[attr-defined]
    if name not in ("id", "sort_level", "if_sid", "if_group", "if_level", "category")
)
# Wazuh's OS_AddRuleInfo leaves the correlation source alone.
_KEPT_BY_WAZUH = ("if_matched_sid", "if_matched_group", "if_matched_regex")


class RuleTree:
    """Builds the rule tree in load order, like OS_AddRule/OS_AddChild, collecting errors."""

    def __init__(
        self,
        errors: list[InputError],
        *,
        wazuh: bool = False,
        warnings: list[InputError] | None = None,
    ) -> None:
        self.errors = errors
        self.wazuh = wazuh
        # What wazuh-analysisd only warns about (the OSSEC dialect: errors).
        self.lenient = warnings if wazuh and warnings is not None else errors
        self.top: list[RuleNode] = []
        self.by_id: dict[int, Rule] = {}
        self.nodes: dict[int, list[RuleNode]] = {}
        self._deferred: list[Rule] = []
        # Set for the last placing round: Wazuh then places a rule under the if_sid members
        # that exist (warning about the others).
        self._finishing = False

    @staticmethod
    def _insert(siblings: list[RuleNode], node: RuleNode) -> None:
        level = node.rule.sort_level
        for index, other in enumerate(siblings):
            if level > other.rule.sort_level:
                siblings.insert(index, node)
                return
        siblings.append(node)

    def _attach(self, siblings: list[RuleNode], rule: Rule) -> None:
        """Give `rule` a node among `siblings` (a parent's children, or the top)."""
        node = RuleNode(rule)
        self._insert(siblings, node)
        self.nodes.setdefault(rule.id, []).append(node)

    def _walk(self) -> list[RuleNode]:
        out: list[RuleNode] = []
        stack = list(reversed(self.top))
        while stack:
            node = stack.pop()
            out.append(node)
            stack.extend(reversed(node.children))
        return out

    def add(self, rule: Rule) -> None:
        if rule.overwrite:
            target = self.by_id.get(rule.id)
            if target is None:
                self.errors.append(
                    InputError(f"overwrite: rule {rule.id} not found", rule.path, rule.line)
                )
                return
            for name in _OVERWRITTEN:
                if not (self.wazuh and name in _KEPT_BY_WAZUH):
                    setattr(target, name, getattr(rule, name))
            return
        if rule.id in self.by_id:
            first = self.by_id[rule.id]
            self.lenient.append(
                InputError(
                    f"duplicate rule id {rule.id} (first defined at {first.path}:{first.line})",
                    rule.path,
                    rule.line,
                )
            )
            return
        self.by_id[rule.id] = rule
        if rule.id < 10:
            self._attach(self.top, rule)
            return
        if not self._place(rule):
            self._deferred.append(rule)

    def _place(self, rule: Rule) -> bool:
        if rule.if_sid:
            known = [sid for sid in rule.if_sid if sid in self.nodes]
            if len(known) < len(rule.if_sid) and not (self.wazuh and self._finishing and known):
                return False
            for sid in known:
                for parent in list(self.nodes[sid]):
                    rule.category = parent.rule.category
                    self._attach(parent.children, rule)
            return True
        if rule.if_level:
            wanted = rule.if_level * 100
            hits = [n for n in self._walk() if n.rule.sort_level >= wanted and n.rule.id != rule.id]
        elif rule.if_group:
            group = rule.if_group
            hits = [
                n for n in self._walk() if n.rule.id != rule.id and word_match(group, n.rule.group)
            ]
        else:
            hits = [n for n in self.top if n.rule.category == rule.category][:1]
        for parent in hits:
            self._attach(parent.children, rule)
        return bool(hits)

    def finish(self) -> None:
        """Place forward references, report what stays unresolved, link correlation lists."""
        pending = self._deferred
        progress = True
        while pending and progress:
            progress = False
            still: list[Rule] = []
            for rule in pending:
                if self._place(rule):
                    progress = True
                else:
                    still.append(rule)
            pending = still
            if not progress and self.wazuh and not self._finishing:
                self._finishing = progress = True
        for rule in self.by_id.values():
            missing = [s for s in rule.if_sid if s not in self.nodes]
            if missing and rule not in pending:
                what = f"rule {rule.id}: if_sid {missing[0]} not found"
                self.lenient.append(InputError(what, rule.path, rule.line))
        for rule in pending:
            del self.by_id[rule.id]
            if rule.if_sid:
                missing = [s for s in rule.if_sid if s not in self.nodes]
                what = f"if_sid {missing[0]} not found"
            elif rule.if_level:
                what = f"if_level {rule.if_level}: no rule at that level"
            elif rule.if_group:
                what = f"if_group {rule.if_group!r}: no rule in that group"
            else:
                what = f"no template rule for category {rule.category!r}"
            self.lenient.append(InputError(f"rule {rule.id}: {what}", rule.path, rule.line))
        for rule in self.by_id.values():
            self._mark_extra(rule)
        self._link_correlation()

    @staticmethod
    def _mark_extra(rule: Rule) -> None:
        rule.has_extra = bool(
            rule.action is not None
            or rule.fields
            or rule.srcip
            or rule.dstip
            or rule.compiled_rule is not None
            or rule.maxsize
            or rule.day_time is not None
            or rule.week_days is not None
            or rule.check_diff
            or rule.if_fts
            or rule.lists
            or rule.context
        )

    def _link_correlation(self) -> None:
        feeders: dict[int, list[int]] = {}
        nodes = self._walk()
        for rule in self.by_id.values():
            if rule.if_matched_sid:
                target = self.by_id.get(rule.if_matched_sid)
                if target is None:
                    self.errors.append(
                        InputError(
                            f"rule {rule.id}: if_matched_sid {rule.if_matched_sid} not found",
                            rule.path,
                            rule.line,
                        )
                    )
                    continue
                target.feeds_sid_list = True
            elif rule.if_matched_group is not None:
                pattern = rule.if_matched_group
                for node in nodes:
                    if pattern.test(node.rule.group) != pattern.negate:
                        feeders.setdefault(node.rule.id, [])
                        if rule.id not in feeders[node.rule.id]:
                            feeders[node.rule.id].append(rule.id)
        for rule_id, searchers in feeders.items():
            self.by_id[rule_id].feeds_group_lists = tuple(searchers)

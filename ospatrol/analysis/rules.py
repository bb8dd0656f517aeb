"""OSSEC rules: reading `<group><rule>` elements into compiled `Rule` records.

Reading follows rules.c (Rules_OP_ReadRules): repeated elements are concatenated (`<match>`,
`<pcre2>`, `<description>`, ...), `<group>` text is appended to the enclosing group's name, a
level-0 rule sorts as level 99 so that "ignore" rules are tried first among siblings. Every
problem is collected as an InputError naming file and line. `ospatrol.analysis.ruletree`
arranges the rules in analysisd's tree.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from ospatrol.analysis.cdb import list_key
from ospatrol.analysis.patterns import Pattern, compile_element
from ospatrol.analysis.xmlload import Node
from ospatrol.errors import InputError

MAX_LEVEL = 16
"""The highest rule level OSSEC and Wazuh accept (levels are 0-16)."""
CATEGORIES = ("syslog", "firewall", "ids", "web-log", "squid", "windows", "ossec")

# Rule elements whose value is an OS_Match expression, with their `_pcre2` twins.
MATCH_FIELDS = (
    "match",
    "srcport",
    "dstport",
    "user",
    "url",
    "id",
    "status",
    "hostname",
    "program_name",
    "extra_data",
    "srcgeoip",
    "dstgeoip",
    "location",
    "system_name",
    "protocol",
    "data",
)
# Event attribute a MATCH_FIELDS element tests, where its name differs.
_MATCH_ATTRS = {"system_name": "systemname"}

CONTEXT_SAME = {
    "same_source_ip": "srcip",
    "same_src_port": "srcport",
    "same_dst_port": "dstport",
    "same_user": "dstuser",
    "same_location": "hostname",
    "same_id": "id",
    "same_srcip": "srcip",
}
CONTEXT_DIFFERENT = {"different_url": "url", "different_srcip": "srcip"}
# not_same_* clear a same_* given earlier (rules.c masks the bit out); agent is not tracked.
CONTEXT_NOT_SAME = {
    "not_same_source_ip": "srcip",
    "not_same_user": "dstuser",
    "not_same_id": "id",
    "not_same_agent": "",
}
_CONTEXT_IGNORED = {"different_srcgeoip", *CONTEXT_NOT_SAME}
# Wazuh's same_*/different_* options (rules.c): the event attribute each compares.
_WAZUH_CONTEXT = {
    "source_ip": "srcip",
    "srcip": "srcip",
    "dstip": "dstip",
    "src_port": "srcport",
    "srcport": "srcport",
    "dst_port": "dstport",
    "dstport": "dstport",
    "location": "location",
    "user": "dstuser",
    "srcuser": "srcuser",
    "id": "id",
    "protocol": "protocol",
    "action": "action",
    "url": "url",
    "data": "data",
    "extra_data": "data",
    "status": "status",
    "system_name": "systemname",
    "srcgeoip": "srcgeoip",
    "dstgeoip": "dstgeoip",
    "agent": "",
}
WAZUH_CONTEXT_ELEMENTS = frozenset(
    f"{prefix}_{name}" for prefix in ("same", "different", "not_same") for name in _WAZUH_CONTEXT
) | {"same_field", "different_field", "not_same_field", "global_frequency"}

FTS_NAMES = (
    ("user", "dstuser"),
    ("srcip", "srcip"),
    ("dstip", "dstip"),
    ("id", "id"),
    ("location", "location"),
    ("data", "data"),
    ("name", "name"),
)

COMPILED_RULES = (
    "comp_srcuser_dstuser",
    "check_id_size",
    "comp_mswin_targetuser_calleruser_diff",
    "is_simple_http_request",
    "is_valid_crawler",
)

INFO_TYPES = {"text": "Text", "link": "Link", "cve": "CVE", "osvdb": "OSVDB"}

LIST_LOOKUPS = (
    "match_key",
    "not_match_key",
    "match_key_value",
    "address_match_key",
    "not_address_match_key",
    "address_match_key_value",
)
LIST_FIELDS = (
    "srcip",
    "srcport",
    "dstip",
    "dstport",
    "user",
    "url",
    "id",
    "hostname",
    "program_name",
    "status",
    "action",
)

_SIMPLE_ELEMENTS = frozenset(
    {
        "regex",
        "pcre2",
        "decoded_as",
        "category",
        "cve",
        "info",
        "time",
        "weekday",
        "group",
        "description",
        "srcip",
        "dstip",
        "action",
        "list",
        "compiled_rule",
        "if_sid",
        "if_level",
        "if_group",
        "if_fts",
        "if_matched_regex",
        "if_matched_group",
        "if_matched_sid",
        "check_diff",
        "options",
        "ignore",
        "check_if_ignored",
        "field",
        *CONTEXT_SAME,
        *CONTEXT_DIFFERENT,
        *_CONTEXT_IGNORED,
        *MATCH_FIELDS,
        *(f"{name}_pcre2" for name in MATCH_FIELDS),
        "if_matched_regex_pcre2",
        "mitre",
        *WAZUH_CONTEXT_ELEMENTS,
    }
)
# Wazuh's pattern attributes (`type="osmatch|osregex|pcre2"`, `negate="yes"`), on these.
_PATTERN_ELEMENTS = frozenset({"regex", "action", "srcip", "dstip", "field", *MATCH_FIELDS})
_KINDS = {"osmatch": "osmatch", "osregex": "osregex", "pcre2": "pcre2"}
# Attributes rule elements may carry (all others take none).
_ELEMENT_ATTRS = {
    "info": frozenset({"type"}),
    "list": frozenset({"lookup", "field", "check_value"}),
    "field": frozenset({"name", "type"}),
}
_WAZUH_ATTRS = frozenset({"type", "negate"})
_RULE_ATTRS = frozenset(
    {
        "id",
        "level",
        "maxsize",
        "timeframe",
        "frequency",
        "accuracy",
        "noalert",
        "ignore",
        "overwrite",
    }
)
# Context fields of the Wazuh dialect that are dynamic (`<same_field>`): "field:NAME".
DYNAMIC_PREFIX = "field:"


@dataclass(frozen=True, slots=True)
class IpMatch:
    """A `<srcip>`/`<dstip>` entry: an address or CIDR network, optionally negated with `!`."""

    network: ipaddress.IPv4Network | ipaddress.IPv6Network
    negate: bool

    def matches(self, value: str) -> bool:
        try:
            addr = ipaddress.ip_address(value.strip())
        except ValueError:
            return self.negate
        inside = addr.version == self.network.version and addr in self.network
        return inside != self.negate


@dataclass(frozen=True, slots=True)
class ListCheck:
    """A `<list>` lookup: which field, how, which list file (`path` as written, `key` the name
    it is loaded under), optional value matcher."""

    field: str
    lookup: str
    path: str
    check_value: Pattern | None
    line: int
    key: str


@dataclass(frozen=True, slots=True)
class FieldCheck:
    """A `<field name="...">` condition on a decoded (often dynamic) field."""

    name: str
    pattern: Pattern


@dataclass(frozen=True, slots=True)
class TimeRange:
    """`<time>`: minutes since midnight, start inclusive, end exclusive, may wrap midnight."""

    start: int
    end: int
    negate: bool

    def contains(self, minute: int) -> bool:
        inside = (
            self.start <= minute < self.end
            if self.start <= self.end
            else minute >= self.start or minute < self.end
        )
        return inside != self.negate


@dataclass(slots=True)
class Rule:
    """One compiled rule. Immutable once the ruleset is built (the engine keeps all state)."""

    id: int
    level: int
    path: str
    line: int
    sort_level: int = 0
    maxsize: int = 0
    frequency: int = 0
    timeframe: int = 360
    noalert: bool = False
    ignore_time: int = 0
    overwrite: bool = False
    group: str = ""
    description: str = ""
    info: tuple[tuple[str, str], ...] = ()
    category: str = "syslog"
    decoded_as: str | None = None
    match: Pattern | None = None
    regex: Pattern | None = None
    patterns: tuple[tuple[str, Pattern], ...] = ()
    srcip: tuple[IpMatch, ...] = ()
    dstip: tuple[IpMatch, ...] = ()
    action: str | None = None
    fields: tuple[FieldCheck, ...] = ()
    lists: tuple[ListCheck, ...] = ()
    compiled_rule: str | None = None
    day_time: TimeRange | None = None
    week_days: frozenset[int] | None = None
    if_sid: tuple[int, ...] = ()
    if_group: str | None = None
    if_level: int = 0
    if_fts: bool = False
    if_matched_sid: int = 0
    if_matched_group: Pattern | None = None
    if_matched_regex: Pattern | None = None
    context: bool = False
    same: tuple[str, ...] = ()
    different: tuple[str, ...] = ()
    check_diff: bool = False
    log_alert: bool = True
    mail_alert: bool = False
    no_ar: bool = False
    ignore: tuple[str, ...] = ()
    check_if_ignored: tuple[str, ...] = ()
    mitre: tuple[str, ...] = ()
    # Set while building the tree: does some correlating rule search this rule's alerts?
    feeds_sid_list: bool = False
    feeds_group_lists: tuple[int, ...] = ()
    # Set when the tree is finished: any condition beyond decoder, field and log patterns?
    has_extra: bool = False

    @property
    def groups(self) -> tuple[str, ...]:
        # map/filter, not a generator: an engine asks once per rule it matches, and Wazuh's
        # rules carry some twenty groups each (compliance tags).
        return tuple(filter(None, map(str.strip, self.group.split(","))))


@dataclass(slots=True)
class RuleNode:
    """A place of a rule in the tree; a rule listed by several parents has several nodes."""

    rule: Rule
    children: list[RuleNode] = field(default_factory=list)


@dataclass
class AlertLevels:
    """From ossec.conf `<alerts>`: minimum level logged and mailed."""

    log_alert_level: int = 1
    email_alert_level: int = 7


_TIME_RE = re.compile(r"^\s*(\d{1,2})(?::(\d{2}))?\s*(am|pm)?\s*$", re.I)
_DAYS = {
    "sunday": 6,
    "sun": 6,
    "monday": 0,
    "mon": 0,
    "tuesday": 1,
    "tue": 1,
    "wednesday": 2,
    "wed": 2,
    "thursday": 3,
    "thu": 3,
    "friday": 4,
    "fri": 4,
    "saturday": 5,
    "sat": 5,
}


def _parse_clock(text: str) -> int | None:
    m = _TIME_RE.match(text)
    if not m:
        return None
    hour, minute = int(m.group(1)), int(m.group(2) or 0)
    ampm = (m.group(3) or "").lower()
    if ampm == "pm" and hour < 12:
        hour += 12
    elif ampm == "am" and hour == 12:
        hour = 0
    if hour > 23 or minute > 59:
        return None
    return hour * 60 + minute


def parse_time_range(text: str) -> TimeRange | None:
    """OS_IsValidTime: `[!]H[:MM][am|pm] - H[:MM][am|pm]`."""
    negate = text.strip().startswith("!")
    body = text.strip().lstrip("!")
    parts = body.split("-")
    if len(parts) != 2:
        return None
    start, end = _parse_clock(parts[0]), _parse_clock(parts[1])
    if start is None or end is None:
        return None
    return TimeRange(start, end, negate)


def parse_week_days(text: str) -> frozenset[int] | None:
    """OS_IsValidDay: day names, `weekdays`, `weekends`, comma separated, optional `!`."""
    negate = text.strip().startswith("!")
    days: set[int] = set()
    for raw in text.strip().lstrip("!").replace(" ", ",").split(","):
        word = raw.strip().lower()
        if not word:
            continue
        if word in ("weekdays", "weekday"):
            days.update(range(5))
        elif word in ("weekends", "weekend"):
            days.update((5, 6))
        elif word in _DAYS:
            days.add(_DAYS[word])
        else:
            return None
    if not days:
        return None
    return frozenset(set(range(7)) - days) if negate else frozenset(days)


def _parse_ip(text: str) -> IpMatch | None:
    value = text.strip()
    negate = value.startswith("!")
    value = value.lstrip("!").strip()
    try:
        return IpMatch(ipaddress.ip_network(value, strict=False), negate)
    except ValueError:
        return None


def _int_attr(node: Node, name: str, errors: list[InputError]) -> int | None:
    raw = node.attrs.get(name)
    if raw is None:
        return None
    if not raw.strip().isdigit():
        errors.append(node.error(f"rule attribute {name}={raw!r} must be an integer"))
        return None
    return int(raw)


def _ignore_fields(text: str) -> tuple[str, ...]:
    return tuple(attr for needle, attr in FTS_NAMES if needle in text)


class _RuleReader:
    """Builds one Rule from its element, collecting every problem in `errors`. `wazuh` reads
    Wazuh 4.x's dialect; what wazuh-analysisd only warns about then goes to `warnings`."""

    def __init__(
        self,
        errors: list[InputError],
        levels: AlertLevels,
        known_decoders: set[str],
        wazuh: bool = False,
        warnings: list[InputError] | None = None,
    ):
        self.errors = errors
        self.levels = levels
        self.known_decoders = known_decoders
        self.wazuh = wazuh
        self.warnings = warnings if warnings is not None else errors
        # Set while reading a rule that Wazuh's dialect leaves out with a warning.
        self.dropped = False

    def compile(self, kind: str, source: str, node: Node) -> Pattern | None:
        return compile_element(kind, source, node, self.errors, wazuh=self.wazuh)

    def _kind(self, child: Node, default: str) -> str:
        """The dialect of a pattern element: its `type=` (Wazuh) or `default`."""
        wanted = child.attrs.get("type")
        if wanted is None or not self.wazuh:
            return default
        kind = _KINDS.get(wanted.lower())
        if kind is None:
            self.warnings.append(child.error(f"<{child.tag}>: unknown type {wanted!r}"))
            return default
        return kind

    def read(self, node: Node, group_name: str) -> Rule | None:
        errors = self.errors
        before = len(errors)
        for attr in node.attrs:
            if attr not in _RULE_ATTRS:
                errors.append(node.error(f"<rule>: unknown attribute {attr!r}"))
        rule_id = _int_attr(node, "id", errors)
        level = _int_attr(node, "level", errors)
        if rule_id is None or level is None:
            if len(errors) == before:
                errors.append(node.error("<rule> needs numeric id and level attributes"))
            return None
        if level > MAX_LEVEL:
            errors.append(node.error(f"rule {rule_id}: level {level} is outside 0-{MAX_LEVEL}"))
            return None
        rule = Rule(id=rule_id, level=level, path=node.path, line=node.line, group=group_name)
        rule.maxsize = _int_attr(node, "maxsize", errors) or 0
        rule.frequency = _int_attr(node, "frequency", errors) or 0
        if self.wazuh and rule.frequency:
            # rules.c stores frequency - 2 and counts like OSSEC: it fires on the Nth event.
            rule.frequency = max(rule.frequency - 2, 0)
        timeframe = _int_attr(node, "timeframe", errors)
        if timeframe is not None:
            rule.timeframe = timeframe
        rule.ignore_time = _int_attr(node, "ignore", errors) or 0
        accuracy = _int_attr(node, "accuracy", errors)
        # OSSEC: the attribute at all; Wazuh: noalert="1" (and "0" means alert).
        rule.noalert = "noalert" in node.attrs and (
            not self.wazuh or node.attrs["noalert"].strip() == "1"
        )
        overwrite = node.attrs.get("overwrite")
        if overwrite not in (None, "yes", "no"):
            errors.append(node.error(f"overwrite={overwrite!r}: must be yes or no"))
        rule.overwrite = overwrite == "yes"
        rule.sort_level = (99 if level == 0 else level) * (1 if accuracy == 0 else 100)
        rule.log_alert = level >= self.levels.log_alert_level
        rule.mail_alert = level >= self.levels.email_alert_level
        if not node.children:
            errors.append(node.error(f"rule {rule_id} has no options"))
        self.dropped = False
        texts = self._elements(rule, node)
        self._finish(rule, node, texts)
        if len(errors) > before or self.dropped:
            return None
        return rule

    def _elements(self, rule: Rule, node: Node) -> dict[str, str]:
        """Read every child element into `rule`; returns the concatenated pattern texts."""
        texts: dict[str, str] = {}
        first: dict[str, Node] = {}
        info: list[tuple[str, str]] = []
        fields: list[FieldCheck] = []
        lists: list[ListCheck] = []
        same: list[str] = []
        different: list[str] = []
        srcip: list[IpMatch] = []
        dstip: list[IpMatch] = []
        mitre: list[str] = []
        if_sid_text = ""
        for child in node.children:
            tag, content = child.tag, child.text
            if tag not in _SIMPLE_ELEMENTS:
                self.errors.append(child.error(f"unknown element <{tag}> in rule {rule.id}"))
                continue
            allowed = _ELEMENT_ATTRS.get(tag, frozenset())
            if self.wazuh and (tag in _PATTERN_ELEMENTS or tag.endswith("_pcre2")):
                allowed = allowed | _WAZUH_ATTRS
            extra = set(child.attrs) - allowed
            if extra:
                self.errors.append(
                    child.error(
                        f"<{tag}>: unknown attribute {sorted(extra)[0]!r} in rule {rule.id}"
                    )
                )
            if tag == "description":
                rule.description += content.replace("\n", " ", 1)
            elif tag == "group":
                rule.group += content
            elif tag == "info":
                kind = child.attrs.get("type", "text")
                info.append((INFO_TYPES.get(kind, "Text"), content))
            elif tag == "cve":
                info.append(("CVE", content))
            elif tag == "decoded_as":
                if content not in self.known_decoders:
                    self.errors.append(child.error(f"rule {rule.id}: unknown decoder {content!r}"))
                rule.decoded_as = content
            elif tag == "category":
                if content not in CATEGORIES:
                    self.errors.append(child.error(f"rule {rule.id}: invalid category {content!r}"))
                rule.category = content
            elif tag in ("srcip", "dstip"):
                ip = _parse_ip(content)
                if ip is None:
                    self.errors.append(child.error(f"rule {rule.id}: invalid IP {content!r}"))
                else:
                    if child.attrs.get("negate") == "yes":
                        ip = IpMatch(ip.network, not ip.negate)
                    (srcip if tag == "srcip" else dstip).append(ip)
            elif tag == "action" and not (set(child.attrs) & _WAZUH_ATTRS):
                rule.action = (rule.action or "") + content
            elif tag == "mitre":
                mitre.extend(item.text.strip() for item in child.children if item.tag == "id")
            elif tag in WAZUH_CONTEXT_ELEMENTS:
                self._wazuh_context(rule, child, same, different)
            elif tag == "time":
                rule.day_time = parse_time_range(content)
                if rule.day_time is None:
                    self.errors.append(child.error(f"rule {rule.id}: invalid time {content!r}"))
            elif tag == "weekday":
                rule.week_days = parse_week_days(content)
                if rule.week_days is None:
                    self.errors.append(child.error(f"rule {rule.id}: invalid weekday {content!r}"))
            elif tag == "compiled_rule":
                if content not in COMPILED_RULES:
                    self.errors.append(
                        child.error(f"rule {rule.id}: unknown compiled_rule {content!r}")
                    )
                rule.compiled_rule = content
            elif tag == "if_sid":
                if_sid_text += content
                first.setdefault(tag, child)
            elif tag == "if_level":
                if not content.isdigit() or int(content) == 0:
                    self.errors.append(child.error(f"rule {rule.id}: invalid if_level {content!r}"))
                else:
                    rule.if_level = int(content)
            elif tag == "if_group":
                rule.if_group = (rule.if_group or "") + content
            elif tag == "if_fts":
                rule.if_fts = True
            elif tag == "if_matched_sid":
                rule.context = True
                if not content.isdigit():
                    self.errors.append(child.error(f"rule {rule.id}: invalid if_matched_sid"))
                else:
                    rule.if_matched_sid = int(content)
            elif tag in ("if_matched_group", "if_matched_regex", "if_matched_regex_pcre2"):
                rule.context = True
                texts[tag] = texts.get(tag, "") + content
                first.setdefault(tag, child)
            elif tag in CONTEXT_SAME:
                same.append(CONTEXT_SAME[tag])
            elif tag in CONTEXT_DIFFERENT:
                different.append(CONTEXT_DIFFERENT[tag])
            elif tag in CONTEXT_NOT_SAME:
                attr = CONTEXT_NOT_SAME[tag]
                same = [a for a in same if a != attr]
            elif tag in _CONTEXT_IGNORED:
                continue
            elif tag == "check_diff":
                rule.context = True
                rule.check_diff = True
            elif tag == "options":
                self._option(rule, child)
            elif tag in ("ignore", "check_if_ignored"):
                chosen = _ignore_fields(content)
                if not chosen:
                    self.errors.append(child.error(f"rule {rule.id}: invalid <{tag}> {content!r}"))
                if tag == "ignore":
                    rule.ignore = chosen
                else:
                    rule.check_if_ignored = chosen
            elif tag == "field":
                name = child.attrs.get("name")
                if not name:
                    self.errors.append(child.error(f'rule {rule.id}: <field> needs name="..."'))
                    continue
                kind = "pcre2" if child.attrs.get("type") == "pcre2" else "osregex"
                pat = self.compile(self._kind(child, kind), content, child)
                if pat is not None:
                    if child.attrs.get("negate") == "yes":
                        pat.negate = not pat.negate
                    fields.append(FieldCheck(name, pat))
            elif tag == "list":
                check = self._list(rule, child)
                if check is not None:
                    lists.append(check)
            else:
                # regex/pcre2 and the OS_Match fields with their _pcre2 twins: concatenated.
                texts[tag] = texts.get(tag, "") + content
                first.setdefault(tag, child)
        rule.mitre = tuple(mitre)
        rule.info = tuple(info)
        rule.fields = tuple(fields)
        rule.lists = tuple(lists)
        rule.same = tuple(dict.fromkeys(same))
        rule.different = tuple(dict.fromkeys(different))
        rule.srcip = tuple(srcip)
        rule.dstip = tuple(dstip)
        if if_sid_text:
            sids: list[int] = []
            for part in re.split(r"[,\s]+", if_sid_text.strip()):
                if not part:
                    continue
                if not part.isdigit():
                    # wazuh-analysisd rejects the rule with a warning and loads the rest.
                    report = self.warnings if self.wazuh else self.errors
                    where = first["if_sid"]
                    report.append(where.error(f"rule {rule.id}: if_sid {part!r}"))
                    self.dropped = self.wazuh
                    continue
                sids.append(int(part))
            rule.if_sid = tuple(sids)
        self._patterns(rule, texts, first)
        return texts

    def _pattern(self, tag: str, default: str, texts: dict[str, str], first: dict[str, Node]):
        """The compiled pattern of element `tag` (type= and negate= honoured), or None."""
        node = first[tag]
        pat = self.compile(self._kind(node, default), texts[tag], node)
        if pat is not None and node.attrs.get("negate") == "yes":
            pat.negate = not pat.negate
        return pat

    def _patterns(self, rule: Rule, texts: dict[str, str], first: dict[str, Node]) -> None:
        for tag in ("regex", "pcre2"):
            if tag in texts:
                kind = "osregex" if tag == "regex" else "pcre2"
                rule.regex = self._pattern(tag, kind, texts, first)
        if "match" in texts:
            rule.match = self._pattern("match", "osmatch", texts, first)
        elif "match_pcre2" in texts:
            rule.match = self._pattern("match_pcre2", "pcre2", texts, first)
        patterns: list[tuple[str, Pattern]] = []
        for name in (*MATCH_FIELDS[1:], "action"):
            for tag, kind in ((name, "osmatch"), (f"{name}_pcre2", "pcre2")):
                if tag in texts:
                    pat = self._pattern(tag, kind, texts, first)
                    if pat is not None:
                        patterns.append((_MATCH_ATTRS.get(name, name), pat))
                    break
        rule.patterns = tuple(patterns)
        if "if_matched_group" in texts:
            node = first["if_matched_group"]
            rule.if_matched_group = self.compile("osmatch", texts["if_matched_group"], node)
        for tag, kind in (("if_matched_regex", "osregex"), ("if_matched_regex_pcre2", "pcre2")):
            if tag in texts:
                rule.if_matched_regex = self.compile(kind, texts[tag], first[tag])

    def _wazuh_context(
        self, rule: Rule, child: Node, same: list[str], different: list[str]
    ) -> None:
        """Wazuh's same_*/different_*/not_same_* options and their *_field forms."""
        tag = child.tag
        if tag == "global_frequency":
            return
        prefix, _, name = tag.partition("_")
        if prefix == "not":
            _, _, name = name.partition("_")
            prefix = "different"
        attr = DYNAMIC_PREFIX + child.text.strip() if name == "field" else _WAZUH_CONTEXT[name]
        if not attr:
            return  # agents are not tracked
        target = same if prefix == "same" else different
        if attr not in target:
            target.append(attr)

    def _option(self, rule: Rule, child: Node) -> None:
        value = child.text
        if value == "alert_by_email":
            rule.mail_alert = True
        elif value == "no_email_alert":
            rule.mail_alert = False
        elif value == "log_alert":
            rule.log_alert = True
        elif value == "no_log":
            rule.log_alert = False
        elif value == "no_ar":
            rule.no_ar = True
        elif value == "no_full_log":
            return
        else:
            self.errors.append(child.error(f"rule {rule.id}: invalid option {value!r}"))

    def _list(self, rule: Rule, child: Node) -> ListCheck | None:
        lookup = child.attrs.get("lookup", "match_key")
        field_name = child.attrs.get("field")
        if lookup not in LIST_LOOKUPS:
            self.errors.append(child.error(f"rule {rule.id}: invalid list lookup {lookup!r}"))
            return None
        if not field_name:
            self.errors.append(child.error(f'rule {rule.id}: <list> needs field="..."'))
            return None
        check = None
        if "check_value" in child.attrs:
            check = self.compile("osmatch", child.attrs["check_value"], child)
        return ListCheck(field_name, lookup, child.text, check, child.line, list_key(child.text))

    def _finish(self, rule: Rule, node: Node, texts: dict[str, str]) -> None:
        if (rule.same or rule.different or rule.frequency) and not rule.context:
            self.errors.append(
                node.error(f"rule {rule.id}: frequency/context options need an if_matched_*")
            )
        if rule.if_matched_group is not None and not rule.if_sid and not rule.if_group:
            rule.if_group = texts["if_matched_group"]
        if rule.if_matched_sid and not rule.if_sid and not rule.if_group:
            rule.if_sid = (rule.if_matched_sid,)


def read_rule_file(
    roots: list[Node],
    errors: list[InputError],
    levels: AlertLevels,
    known_decoders: set[str],
    *,
    wazuh: bool = False,
    warnings: list[InputError] | None = None,
) -> list[Rule]:
    """All rules of one parsed file, in file order; problems are appended to `errors`
    (`wazuh`: the Wazuh 4.x dialect, its load-time leniencies appended to `warnings`)."""
    reader = _RuleReader(errors, levels, known_decoders, wazuh, warnings)
    rules: list[Rule] = []
    for group in roots:
        if group.tag != "group":
            errors.append(
                group.error(f'invalid top-level element <{group.tag}>, only <group name="...">')
            )
            continue
        if set(group.attrs) != {"name"}:
            errors.append(group.error('<group> takes exactly one attribute, name="..."'))
            continue
        for node in group.children:
            if node.tag != "rule":
                errors.append(node.error(f"<{node.tag}> is not valid inside <group>, only <rule>"))
                continue
            rule = reader.read(node, group.attrs["name"])
            if rule is not None:
                rules.append(rule)
    return rules

"""OSSEC decoders: reading `<decoder>` elements and building the two decoder lists.

Structure follows analysisd's decode-xml.c and decoders_list.c (decoding itself is in
`ospatrol.analysis.decoding`):

- Top-level decoders live in two lists, one for decoders with a `program_name` and one without.
  An event with a program name is only offered to the first list, an event without one only to
  the second (that is why stock decoders say `<program_name_pcre2>.*</program_name_pcre2>`).
- A decoder with `<parent>` becomes a child of every top-level decoder of that name (parents may
  be defined later in the files).
- Several children with the same name form a chain: each adds fields from its own regex,
  optionally starting where the previous regex ended (`offset="after_regex"`).
- Children report the parent's name unless `<use_own_name>true</use_own_name>`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ospatrol.analysis.fields import StandardField, map_order_name
from ospatrol.analysis.gates import (
    first_chars,
    literal_gate,
    prefix_gate,
    refused_prefixes,
    regex_implies_prematch,
)
from ospatrol.analysis.patterns import Pattern, compile_element
from ospatrol.analysis.plugins import PLUGINS
from ospatrol.analysis.xmlload import Node
from ospatrol.errors import InputError

AFTER_PARENT = 1
AFTER_PREMATCH = 2
AFTER_PREVREGEX = 4
_OFFSETS = {
    "after_parent": AFTER_PARENT,
    "after_prematch": AFTER_PREMATCH,
    "after_regex": AFTER_PREVREGEX,
}

# Decoder `<type>` values, i.e. rule categories.
CATEGORIES = (
    "syslog",
    "firewall",
    "ids",
    "web-log",
    "squid",
    "windows",
    "host-information",
    "ossec",
)

# Plugin decoders OSSEC compiles in (see ospatrol.analysis.plugins).
PLUGIN_DECODERS = tuple(PLUGINS)

# FTS names map to event attributes (decode-xml.c: `user` and `dstuser` are dstuser).
_FTS_FIELDS = (
    ("dstuser", "dstuser"),
    ("user", "dstuser"),
    ("srcuser", "srcuser"),
    ("srcip", "srcip"),
    ("dstip", "dstip"),
    ("id", "id"),
    ("location", "location"),
    ("data", "data"),
    ("extra_data", "data"),
    ("system_name", "systemname"),
    ("name", "name"),
)

_DECODER_ELEMENTS = frozenset(
    {
        "parent",
        "program_name",
        "program_name_pcre2",
        "prematch",
        "prematch_pcre2",
        "regex",
        "pcre2",
        "order",
        "type",
        "fts",
        "ftscomment",
        "use_own_name",
        "plugin_decoder",
        "accumulate",
    }
)
# Elements only Wazuh's dialect has (JSON_Decoder options).
_WAZUH_DECODER_ELEMENTS = frozenset({"json_null_field", "json_array_structure"})
_KINDS = {"osmatch": "osmatch", "osregex": "osregex", "pcre2": "pcre2"}


@dataclass(frozen=True, slots=True)
class OrderSlot:
    """Where capture i of a decoder's regex goes: a standard field, or a dynamic field name."""

    standard: StandardField | None
    dynamic: str


@dataclass(slots=True)
class Decoder:
    """One compiled `<decoder>` element. `name` is the name events report (see use_own_name)."""

    own_name: str
    name: str
    path: str
    line: int
    parent: str | None = None
    program_name: Pattern | None = None
    prematch: Pattern | None = None
    prematch_offset: int = 0
    regex: Pattern | None = None
    regex_offset: int = 0
    order: tuple[OrderSlot, ...] = ()
    category: str = "syslog"
    fts: tuple[str, ...] = ()
    ftscomment: str = ""
    use_own_name: bool = False
    plugin: str | None = None
    plugin_offset: int = 0
    json_null: str = "string"
    json_array: str = "array"
    accumulate: bool = False
    get_next: bool = False
    # Literal pre-checks derived from the compiled patterns (see `literal_gate`).
    pname_gate: tuple[str, ...] | None = None
    prematch_gate: tuple[str, ...] | None = None
    prematch_prefix: tuple[str, ...] | None = None
    prematch_first: frozenset[str] | None = None
    prematch_refused: tuple[str, ...] | None = None
    # The prefix gate when it is the whole prematch (see `_exact_prefixes`).
    prematch_exact: tuple[str, ...] | None = None
    # Its regex matching proves its prematch matches (both from the log's start).
    regex_implies_prematch: bool = False
    regex_prefix: tuple[str, ...] | None = None


@dataclass(slots=True)
class DecoderNode:
    """A top-level decoder and its children, in load order."""

    decoder: Decoder
    children: list[Decoder] = field(default_factory=list)


@dataclass
class DecoderSet:
    """Both top-level lists, plus every decoder name seen (for `decoded_as` validation)."""

    with_program: list[DecoderNode] = field(default_factory=list)
    without_program: list[DecoderNode] = field(default_factory=list)
    names: set[str] = field(default_factory=set)
    wazuh: bool = False


def _offset(node: Node, errors: list[InputError], wazuh: bool = False) -> int:
    unknown = set(node.attrs) - ({"offset", "type"} if wazuh else {"offset"})
    if unknown:
        errors.append(node.error(f"<{node.tag}>: unknown attribute {sorted(unknown)[0]!r}"))
    value = node.attrs.get("offset")
    if value is None:
        return 0
    if value not in _OFFSETS:
        errors.append(node.error(f"<{node.tag}>: invalid offset {value!r}"))
        return 0
    return _OFFSETS[value]


def _parse_order(text: str, wazuh: bool = False) -> tuple[OrderSlot, ...]:
    """OSSEC maps an order name to a standard field by substring; Wazuh only the exact names
    and keeps every other name as a dynamic field (`fw_action` stays `fw_action`)."""
    slots = []
    for raw in text.split(","):
        name = raw.strip()
        slots.append(OrderSlot(map_order_name(name, exact=wazuh), name))
    return tuple(slots)


def _parse_fts(text: str, node: Node, errors: list[InputError]) -> tuple[str, ...]:
    chosen: list[str] = []
    for raw in text.split(","):
        name = raw.strip()
        for needle, attr in _FTS_FIELDS:
            if needle in name:
                if attr not in chosen:
                    chosen.append(attr)
                break
        else:
            errors.append(node.error(f"<fts>: unknown field {name!r}"))
    return tuple(chosen)


def read_decoder(
    node: Node,
    errors: list[InputError],
    *,
    wazuh: bool = False,
    warnings: list[InputError] | None = None,
) -> Decoder | None:
    """Compile one `<decoder>` element; problems are appended to `errors` (then returns None).
    `wazuh` reads Wazuh 4.x's dialect (`type=` on patterns, JSON_Decoder options, exact order
    names, case-sensitive PCRE2); what it only warns about goes to `warnings`."""
    warned = warnings if warnings is not None else errors

    def kind_of(child: Node, default: str) -> str:
        wanted = child.attrs.get("type")
        if wanted is None or not wazuh:
            return default
        if wanted.lower() not in _KINDS:
            warned.append(child.error(f"<{child.tag}>: unknown type {wanted!r}"))
            return default
        return _KINDS[wanted.lower()]

    before = len(errors)
    name = node.attrs.get("name", "").strip()
    if not name:
        errors.append(node.error('<decoder> needs a name="..." attribute'))
        return None
    for attr in node.attrs:
        if attr not in ("name", "status"):
            errors.append(node.error(f"<decoder name={name!r}>: unknown attribute {attr!r}"))
    dec = Decoder(own_name=name, name=name, path=node.path, line=node.line)
    texts: dict[str, str] = {}
    regex_node = prematch_node = pname_node = None
    kinds: dict[str, str] = {}
    for child in node.children:
        tag = child.tag
        if tag not in _DECODER_ELEMENTS and not (wazuh and tag in _WAZUH_DECODER_ELEMENTS):
            errors.append(child.error(f"unknown element <{tag}> in decoder {name!r}"))
            continue
        content = child.text
        with_attrs = {"regex", "pcre2", "prematch", "prematch_pcre2"}
        if wazuh:
            with_attrs |= {"program_name", "plugin_decoder"}
        if child.attrs and tag not in with_attrs:
            errors.append(child.error(f"<{tag}>: unknown attribute {sorted(child.attrs)[0]!r}"))
        if tag in ("regex", "pcre2"):
            off = _offset(child, errors, wazuh)
            if "regex" in texts and off:
                errors.append(child.error(f"decoder {name!r}: only the first regex may set offset"))
            if off:
                dec.regex_offset = off
            if not wazuh and "regex" in kinds and (kinds["regex"] == "pcre2") != (tag == "pcre2"):
                errors.append(child.error(f"decoder {name!r}: mixes <regex> and <pcre2>"))
            kinds["regex"] = tag if tag == "pcre2" else kind_of(child, "osregex")
            texts["regex"] = texts.get("regex", "") + content
            regex_node = regex_node or child
        elif tag in ("prematch", "prematch_pcre2"):
            off = _offset(child, errors, wazuh)
            if off and off != AFTER_PARENT:
                errors.append(
                    child.error(f"decoder {name!r}: prematch offset must be after_parent")
                )
            if off:
                dec.prematch_offset = off
            mixed = "prematch" in kinds and (kinds["prematch"] == "pcre2") != (
                tag == "prematch_pcre2"
            )
            if mixed and not wazuh:
                errors.append(child.error(f"decoder {name!r}: mixes prematch dialects"))
            kinds["prematch"] = "pcre2" if tag == "prematch_pcre2" else kind_of(child, "osregex")
            texts["prematch"] = texts.get("prematch", "") + content
            prematch_node = prematch_node or child
        elif tag in ("program_name", "program_name_pcre2"):
            # Repeated elements concatenate; the last one's type is the pattern's.
            kinds["program_name"] = kind_of(child, "osmatch") if tag == "program_name" else "pcre2"
            texts["program_name"] = texts.get("program_name", "") + content
            pname_node = child
        elif tag == "parent":
            dec.parent = (dec.parent or "") + content
        elif tag == "order":
            dec.order = _parse_order(content, wazuh)
        elif tag == "json_null_field":
            dec.json_null = content.strip().lower()
        elif tag == "json_array_structure":
            dec.json_array = content.strip().lower()
        elif tag == "type":
            if content not in CATEGORIES:
                errors.append(child.error(f"decoder {name!r}: invalid type {content!r}"))
            else:
                dec.category = content
        elif tag == "fts":
            dec.fts = _parse_fts(content, child, errors)
        elif tag == "ftscomment":
            dec.ftscomment = content
        elif tag == "use_own_name":
            dec.use_own_name = content == "true"
        elif tag == "accumulate":
            dec.accumulate = True
        elif tag == "plugin_decoder":
            if content not in PLUGIN_DECODERS:
                errors.append(child.error(f"decoder {name!r}: unknown plugin_decoder {content!r}"))
            dec.plugin = content
            dec.plugin_offset = _offset(child, errors, wazuh)
    if pname_node is not None:
        dec.program_name = compile_element(
            kinds["program_name"], texts["program_name"], pname_node, errors, wazuh=wazuh
        )
    if "prematch" in texts and prematch_node is not None:
        dec.prematch = compile_element(
            kinds["prematch"], texts["prematch"], prematch_node, errors, wazuh=wazuh
        )
    if "regex" in texts and regex_node is not None:
        dec.regex = compile_element(kinds["regex"], texts["regex"], regex_node, errors, wazuh=wazuh)
    _validate(dec, texts, node, errors)
    dec.pname_gate = literal_gate(dec.program_name)
    dec.prematch_gate = literal_gate(dec.prematch)
    pcre2 = kinds.get("prematch") == "pcre2"
    dec.prematch_prefix = prefix_gate(dec.prematch, pcre2=pcre2)
    dec.prematch_exact = None if wazuh else _exact_prefixes(dec.prematch, dec.prematch_prefix)
    dec.prematch_first = first_chars(dec.prematch, pcre2=pcre2)
    # `^(?!pam_)`: settled by `startswith` where the pattern is caseless (Wazuh's PCRE2 is not).
    dec.prematch_refused = refused_prefixes(dec.prematch) if pcre2 and not wazuh else None
    dec.regex_prefix = prefix_gate(dec.regex, pcre2=kinds.get("regex") == "pcre2")
    dec.regex_implies_prematch = (
        dec.parent is not None
        and dec.plugin is None
        and not dec.prematch_offset
        and not dec.regex_offset
        and kinds.get("prematch") == kinds.get("regex")
        and regex_implies_prematch(dec.prematch, dec.regex, pcre2=pcre2)
    )
    if len(errors) > before:
        return None
    return dec


def _exact_prefixes(
    prematch: Pattern | None, prefixes: tuple[str, ...] | None
) -> tuple[str, ...] | None:
    """`prefixes` (the prematch's prefix gate) when they are the whole of a caseless prematch:
    every top-level alternative `^` and plain text, nothing else (`^Failed |^Accepted `). On
    an ASCII text such a prematch matches exactly where the lowered text starts with one of
    them, and ends after the first that does, in order: the engine runs no regex for it. None
    otherwise (escapes, classes, quantifiers: the spelled-out source then differs)."""
    if prematch is None or prefixes is None:
        return None
    if prematch.source.lower() != "|".join("^" + prefix for prefix in prefixes):
        return None
    return prefixes


def _validate(dec: Decoder, texts: dict[str, str], node: Node, errors: list[InputError]) -> None:
    """The consistency checks decode-xml.c makes after reading a decoder."""
    name = dec.own_name
    if "prematch" not in texts and dec.parent is None and "program_name" not in texts:
        errors.append(node.error(f"decoder {name!r} needs a prematch, a program_name or a parent"))
    has_regex = "regex" in texts
    if (not has_regex and (dec.fts or dec.order)) or (has_regex and not dec.order):
        errors.append(node.error(f"decoder {name!r}: a regex needs an order and vice versa"))
    if dec.regex_offset & AFTER_PARENT and dec.parent is None:
        errors.append(node.error(f"decoder {name!r}: offset after_parent without a parent"))
    if dec.regex_offset & AFTER_PREMATCH:
        if dec.parent is None:
            dec.regex_offset = AFTER_PARENT
        elif "prematch" not in texts:
            errors.append(node.error(f"decoder {name!r}: offset after_prematch without a prematch"))
    if dec.regex_offset & AFTER_PREVREGEX and (dec.parent is None or not has_regex):
        errors.append(node.error(f"decoder {name!r}: offset after_regex needs a parent and regex"))
    if dec.prematch_offset & AFTER_PARENT and dec.parent is None:
        errors.append(
            node.error(f"decoder {name!r}: prematch offset after_parent without a parent")
        )
    if dec.plugin and (has_regex or dec.order):
        errors.append(node.error(f"decoder {name!r}: a plugin decoder takes no regex or order"))


def _decoder_error(dec: Decoder, message: str) -> InputError:
    """A problem of a compiled decoder, at its `<decoder>` element."""
    return InputError(f"decoder {dec.own_name!r}: {message}", dec.path, dec.line)


def _add_child(parent: DecoderNode, dec: Decoder, errors: list[InputError]) -> None:
    """decoders_list.c's _OS_AddOSDecoder for a child: same-name siblings form a chain."""
    chained = False
    for sibling in parent.children:
        if sibling.own_name != dec.own_name:
            continue
        if (sibling.prematch or sibling.regex) and dec.regex_offset:
            chained = True
        if dec.prematch is not None:
            errors.append(_decoder_error(dec, "a chained decoder cannot have a prematch"))
            return
        if dec.fts:
            errors.append(_decoder_error(dec, "a chained decoder cannot have fts"))
            return
        if (sibling.regex is not None or sibling.plugin) and dec.regex is not None:
            # Wazuh chains regexes after a plugin sibling too (JSON_Decoder, then a regex).
            sibling.get_next = True
        else:
            errors.append(_decoder_error(dec, "duplicate decoder name without a regex"))
            return
    if dec.regex_offset & AFTER_PREVREGEX and not (chained and parent.children):
        errors.append(_decoder_error(dec, "offset after_regex without a previous regex"))
        return
    parent.children.append(dec)


def build_decoder_set(decoders: list[Decoder], errors: list[InputError]) -> DecoderSet:
    """Arrange compiled decoders (in load order) into OSSEC's two lists and children."""
    result = DecoderSet()
    for dec in decoders:
        result.names.add(dec.own_name)
        if dec.parent is None:
            target = result.with_program if dec.program_name is not None else result.without_program
            target.append(DecoderNode(dec))
    for dec in decoders:
        if dec.parent is None:
            continue
        parents = [
            n
            for n in (*result.with_program, *result.without_program)
            if n.decoder.own_name == dec.parent
        ]
        if not parents:
            errors.append(_decoder_error(dec, f"parent {dec.parent!r} not found"))
            continue
        for node in parents:
            child = dec if len(parents) == 1 else replace(dec)
            if not child.use_own_name:
                child.name = node.decoder.own_name
            _add_child(node, child, errors)
    return result

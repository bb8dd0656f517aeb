"""OSSEC's compiled-in decoder plugins (`<plugin_decoder>`), as analysisd's decoders/plugins/.

- PF_Decoder (OpenBSD pf): action, source/destination address and port, protocol.
- SonicWall_Decoder: status (priority), id (message id), addresses and ports, protocol, and the
  event category from the message id (IDS, firewall pass/drop/close, web proxy).
- SymantecWS_Decoder and OSSECAlert_Decoder only classify the event (their field extraction is
  not reproduced).
- JSON_Decoder (Wazuh): every member of a JSON object becomes a field named by its dotted path
  (`win.system.eventID`); a few top-level names fill the standard fields (`srcip`, `user`, ...).
  Arrays are kept as JSON text (or joined with commas, `<json_array_structure>csv`), null as
  "null" unless `<json_null_field>discard`; the plugin reads the log, or what follows the
  parent's or the decoder's prematch (`offset=`).

A plugin fills the event's fields directly; like OSSEC, logtest prints none of them.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

import orjson

from ospatrol.analysis.eventinfo import EventInfo

if TYPE_CHECKING:
    from ospatrol.analysis.decoders import Decoder

_SONIC_ID = re.compile(r"pri=(\d) c=(\d+) m=(\d+) ")
_SONIC_ADDR = re.compile(r"src=(\d+\.\d+\.\d+\.\d+):(\d+):\S+ dst=(\d+\.\d+\.\d+\.\d+):(\d+):")
_SONIC_PROXY = re.compile(r"result=(\d+) dstname=(\S+) arg=(\S+)$")
_SONIC_PASS = ("98", "597", "598")
_SONIC_DROP = ("38", "36", "173", "174", "37")
_VALID = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-@_.")


def _split_port(address: str) -> tuple[str, str | None]:
    """pf prints `a.b.c.d.port`: the fifth dotted part is the port."""
    parts = address.split(".")
    if len(parts) > 4:
        return ".".join(parts[:4]), ".".join(parts[4:])
    return address, None


def pf(ev: EventInfo) -> None:
    log = ev.log
    close = log.find(")")
    if close < 0 or log[close + 1 : close + 2] != " ":
        return
    rest = log[close + 2 :]
    if rest.startswith("p"):
        ev.action = "pass"
    elif rest.startswith("b"):
        ev.action = "block"
    else:
        return
    colon = rest.find(":")
    if colon < 0 or rest[colon + 1 : colon + 2] != " ":
        return
    rest = rest[colon + 2 :]
    space = rest.find(" ")
    if space < 0:
        return
    ev.srcip, ev.srcport = _split_port(rest[:space])
    rest = rest[space + 1 :]
    if not rest.startswith("> "):
        return
    rest = rest[2:]
    colon = rest.find(":")
    if colon < 0:
        return
    ev.dstip, ev.dstport = _split_port(rest[:colon])
    tail = rest[colon + 1 :].lstrip(" ")
    if tail:
        ev.protocol = "UDP" if tail[0] == "u" else "ICMP" if tail[0] == "i" else "TCP"


def sonicwall(ev: EventInfo) -> None:
    ev.category_override = "syslog"
    found = _SONIC_ID.search(ev.log)
    if found is None:
        return
    ev.status, category, ev.id = found.group(1), found.group(2)[:7], found.group(3)
    addr = _SONIC_ADDR.search(ev.log, found.end())
    if addr is None:
        return
    ev.srcip, ev.srcport, ev.dstip, ev.dstport = addr.groups()
    after = ev.log[addr.end() :]
    space = after.find(" ")
    rest = after[space + 1 :] if space >= 0 else None
    if rest is not None and rest.startswith("proto="):
        proto = []
        for ch in rest[6:]:
            if ch not in _VALID or ch == "/" or len(proto) >= 6:
                break
            proto.append(ch)
        ev.protocol = "".join(proto)
    if category == "32":
        ev.category_override = "ids"
    elif ev.id in _SONIC_PASS:
        ev.category_override, ev.action = "firewall", "pass"
    elif ev.id in _SONIC_DROP:
        ev.category_override, ev.action = "firewall", "drop"
    elif ev.id == "537":
        ev.category_override, ev.action = "firewall", "close"
    elif ev.id == "97":
        ev.category_override = "squid"
        proxy = _SONIC_PROXY.search(rest or "")
        if proxy is not None:
            ev.id = proxy.group(1)
            ev.url = proxy.group(2) + proxy.group(3)


# json_decoder.c's fillData: member names that fill a standard field (and how it is printed).
_JSON_STANDARD = {
    "srcip": "srcip",
    "dstip": "dstip",
    "dstport": "dstport",
    "srcport": "srcport",
    "protocol": "protocol",
    "action": "action",
    "srcuser": "srcuser",
    "dstuser": "dstuser",
    "id": "id",
    "status": "status",
    "url": "url",
    "data": "data",
    "extra_data": "data",
    "systemname": "systemname",
}
_JSON = json.JSONDecoder()


# orjson reads an integer literal outside 64 bits as a float, where the standard library keeps
# it exact: an integral float this large from orjson sends the document to the standard library.
_INEXACT = 2.0**63


class _Inexact(Exception):
    """orjson may have read a large integer as a float (see `_INEXACT`)."""


def _json_scalar(value: object, strict: bool = False) -> str | None:
    """A JSON scalar as cJSON prints it into a field (None for null and containers). `strict`:
    `value` comes from orjson, so an integral float past 2**63 raises _Inexact."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if strict and abs(value) >= _INEXACT and value.is_integer():
            raise _Inexact
        return str(int(value)) if value.is_integer() and abs(value) < 2**31 else f"{value:f}"
    if isinstance(value, str):
        return value
    return None


def _cjson_print(value: object, strict: bool, depth: int = 0) -> str:
    """cJSON_Print's formatted text of a JSON value (arrays on one line, objects indented)."""
    if isinstance(value, dict):
        if not value:
            return "{\n" + "\t" * depth + "}"
        inner = "\t" * (depth + 1)
        items = [
            f"{inner}{json.dumps(k, ensure_ascii=False)}:\t{_cjson_print(v, strict, depth + 1)}"
            for k, v in value.items()
        ]
        return "{\n" + ",\n".join(items) + "\n" + "\t" * depth + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_cjson_print(v, strict, depth) for v in value) + "]"
    if value is None:
        return "null"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return _json_scalar(value, strict) or "null"


def _json_members(
    obj: dict, prefix: str, csv: bool, keep_null: bool, strict: bool, out: list[tuple[str, str]]
) -> None:
    """The (dotted name, text) of every member of `obj` as json_decoder.c's readJSON reads
    them, into `out`, in document order; `strict` as in `_json_scalar`."""
    for name, value in obj.items():
        kind = type(value)
        if kind is str:
            out.append((prefix + name, value))
            continue
        if kind is dict:
            _json_members(value, prefix + name + ".", csv, keep_null, strict, out)
            continue
        if kind is list:
            if csv:
                parts = [
                    "null" if v is None else _json_scalar(v, strict)
                    for v in value
                    if not isinstance(v, dict | list)
                ]
                text = ",".join(p for p in parts if p is not None)
            else:
                text = _cjson_print(value, strict)
            if not text:
                continue
        elif value is None:
            if not keep_null:
                continue
            text = "null"
        else:
            text = _json_scalar(value, strict) or ""
        out.append((prefix + name, text))


def _parsed_members(text: str, csv: bool, keep_null: bool) -> list[tuple[str, str]] | None:
    """The members of the JSON object `text` starts with (None: not an object). orjson reads
    it when it reads the whole text (about four times faster); the standard library when
    there is text after the document (cJSON ignores it), when orjson refuses it (NaN,
    infinite numbers, lone surrogates, nesting past 1,024), may have read a number otherwise
    (`_INEXACT`) or nests deeper than the interpreter's recursion limit."""
    members: list[tuple[str, str]] = []
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    else:
        if type(parsed) is not dict:
            return None
        try:
            _json_members(parsed, "", csv, keep_null, True, members)
        except (_Inexact, RecursionError):
            # RecursionError: orjson nests deeper (1,024) than the interpreter lets the
            # standard library go; what the standard library does with it is what counts.
            members.clear()
        else:
            return members
    try:
        parsed, _ = _JSON.raw_decode(text)
    except (ValueError, RecursionError):
        return None
    if type(parsed) is not dict:
        return None
    _json_members(parsed, "", csv, keep_null, False, members)
    return members


def json_decoder(ev: EventInfo, dec: Decoder, start: int) -> None:
    """Wazuh's JSON_Decoder on the log from `start` (trailing text after the JSON is ignored,
    as cJSON_ParseWithOpts without require_null_terminated). Fills `ev` as json_decoder.c's
    fillData: a standard name sets that field (the last one wins), `user` sets dstuser when it
    is still empty, any other name a dynamic field (the first one wins)."""
    members = _parsed_members(
        ev.log[start:].lstrip(), dec.json_array == "csv", dec.json_null != "discard"
    )
    if members is None:
        return
    dynamic = ev.dynamic
    for key, text in members:
        attr = _JSON_STANDARD.get(key)
        if attr is not None:
            setattr(ev, attr, text)
        elif key == "user" and not ev.dstuser:
            ev.dstuser = text
        else:
            dynamic.setdefault(key, text)
    ev.decoder_trace.extend(members)


PLUGINS = {
    "PF_Decoder": pf,
    "SonicWall_Decoder": sonicwall,
    "SymantecWS_Decoder": None,
    "OSSECAlert_Decoder": None,
    "JSON_Decoder": json_decoder,
}


def run_plugin(dec: Decoder, ev: EventInfo, start: int) -> None:
    """Run `dec`'s plugin on `ev` (names are validated when decoders load); `start` is where
    its offset says the input begins."""
    plugin = PLUGINS.get(dec.plugin or "")
    if plugin is json_decoder:
        json_decoder(ev, dec, start)
    elif plugin is not None:
        plugin(ev)  # type: ignore[call-arg]

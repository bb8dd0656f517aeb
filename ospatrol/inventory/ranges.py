"""Host names as Ansible inventories write them: `name[:port]` addresses and `[x:y(:step)]` ranges.

Pure string functions shared by the INI and YAML readers and by the `--limit` pattern splitter.
They follow ansible-core's rules, quirks included, because inventories rely on them:

- `web[01:20]` pads to the width of the start (`01`..`20`); a padded start needs an end of the
  same width. `db[a:c]` counts letters; `[1:10:2]` has a step; several ranges in one name expand
  left to right (`r[1:2]-n[a:b]`); an empty start means 0; a start above the end expands to nothing.
- A trailing `:NN` is a port for a host name or IPv4 address; an IPv6 address needs brackets
  (`[::1]:22`). Anything that is not a valid address is kept whole, without a port.
"""

from __future__ import annotations

import re
import string

_NUMERIC_RANGE = r"\[[0-9]+:[0-9]+(?::[0-9]+)?\]"
_HEX_RANGE = r"\[[0-9a-f]+:[0-9a-f]+(?::[0-9]+)?\]"
_ALNUM_RANGE = r"\[(?:[a-z]:[a-z]|[0-9]+:[0-9]+)(?::[0-9]+)?\]"

_V4_PART = rf"(?:[01]?[0-9]{{1,2}}|2[0-4][0-9]|25[0-5]|{_NUMERIC_RANGE})"
_V6_PART = rf"(?:[0-9a-f]{{1,4}}|{_HEX_RANGE})"
_V4 = rf"(?:{_V4_PART}\.){{3}}{_V4_PART}"
_LABEL = rf"(?:\w|{_ALNUM_RANGE})(?:[\w-]|{_ALNUM_RANGE})*(?<![_-])"


def _v6_forms(p: str) -> str:
    """Every way an IPv6 address (parts `p`, possibly ranges) can be written, with `::` or not."""
    forms = [
        rf"(?:{p}:){{7}}{p}",
        rf"(?:{p}:){{1,6}}:",
        *(rf"(?:{p}:){{{n}}}(?::{p}){{1,{7 - n}}}" for n in range(1, 7)),
        rf":(?::{p}){{1,6}}",
        rf"{p}?::",
        rf"(?:0:){{6}}{_V4}",
        rf"::(?:ffff:)?{_V4}",
        rf"(?:0:){{5}}ffff:{_V4}",
    ]
    return "|".join(forms)


_BRACKETED_PORT = re.compile(r"\[(.+)\]:([0-9]+)")
_HOST_PORT = re.compile(r"((?:[^:\[\]]|\[[^\]]*\])*):([0-9]+)")
_IPV4 = re.compile(_V4, re.I)
_IPV6 = re.compile(rf"(?:{_v6_forms(_V6_PART)})", re.I)
_HOSTNAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*", re.I)


class RangeError(ValueError):
    """A `[x:y]` host range that cannot be expanded; the message says why."""


def parse_address(text: str) -> tuple[str, int | None] | None:
    """Split `text` into (host, port) as Ansible does; None when it is not a valid address.

    Ranges are allowed inside the host part. Both port forms are tried in turn, as Ansible does,
    so `[h:1]:2` yields host `h` and port 1.
    """
    port = None
    for form in (_BRACKETED_PORT, _HOST_PORT):
        m = form.fullmatch(text)
        if m:
            text, port = m.group(1), int(m.group(2))
    if any(form.fullmatch(text) for form in (_IPV4, _IPV6, _HOSTNAME)):
        return text, port
    return None


def split_host_port(pattern: str) -> tuple[str, int | None]:
    """The host pattern and port of an inventory host entry; invalid addresses stay whole."""
    parsed = parse_address(pattern)
    return parsed if parsed is not None else (pattern, None)


def has_range(name: str) -> bool:
    return "[" in name


def expand_range(name: str) -> list[str]:
    """Expand every `[begin:end(:step)]` range in `name`, leftmost first; raise RangeError."""
    if not has_range(name):
        return [name]
    head, _bracket, rest = name.partition("[")
    spec, closing, tail = rest.partition("]")
    if not closing:
        raise RangeError(f"unterminated host range in {name!r}")
    bounds = spec.split(":")
    if len(bounds) not in (2, 3):
        raise RangeError(f"host range must be begin:end or begin:end:step, got [{spec}]")
    begin, end = bounds[0] or "0", bounds[1]
    step_text = bounds[2] if len(bounds) == 3 else "1"
    if not end:
        raise RangeError(f"host range must specify an end value, got [{spec}]")
    width = len(begin) if begin[0] == "0" and len(begin) > 1 else 0
    if width and len(end) != width:
        raise RangeError(f"host range must have begin and end of equal width, got [{spec}]")
    try:
        step = int(step_text)
        if step <= 0:
            raise ValueError
    except ValueError:
        raise RangeError(f"host range step must be a positive number, got [{spec}]") from None
    items = _letters(begin, end, step, spec)
    if items is None:
        try:
            numbers = range(int(begin), int(end) + 1, step)
        except ValueError:
            raise RangeError(
                f"host range bounds must be numbers or letters, got [{spec}]"
            ) from None
        items = [str(n).zfill(width) for n in numbers]
    names: list[str] = []
    for item in items:
        names.extend(expand_range(f"{head}{item}{tail}"))
    return names


def _letters(begin: str, end: str, step: int, spec: str) -> list[str] | None:
    """Letters from `begin` to `end` (a-z then A-Z, as Ansible counts), or None if not letters."""
    alphabet = string.ascii_letters
    # Ansible looks the bounds up as substrings of a-zA-Z, so only single letters really work.
    if begin not in alphabet or end not in alphabet:
        return None
    first, last = alphabet.index(begin), alphabet.index(end)
    if first > last:
        raise RangeError(f"host range must have begin <= end, got [{spec}]")
    return list(alphabet[first : last + 1 : step])

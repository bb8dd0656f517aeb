"""The PCRE2 library OSSEC 4.3 links (libpcre2-8), called through ctypes: the reference for how
OSSEC compares caselessly, without going through ossec-logtest.

`Pcre2.search(pattern, text, flags)` compiles (cached) and matches as os_regex does;
`ossec_os_match(expression, text)` and `ossec_os_regex(source, translated, text)` follow
OSSEC's OSMatch_Compile/OSRegex_Compile: the same "could be optimized" checks (run on PCRE2
as OSSEC runs them), strcasecmp & co. on the bytes for the patterns they accept, PCRE2 with
UTF|CASELESS on the conversion for the rest (the conversion is OSPatrol's, which
test_hostile_ossec.py checks against the binary).
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import lru_cache

UTF = 0x00080000
CASELESS = 0x00000008


class Pcre2:
    """libpcre2-8, loaded; None from `load()` where it is not installed."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        self._lib = lib
        lib.pcre2_compile_8.restype = ctypes.c_void_p
        lib.pcre2_compile_8.argtypes = [
            ctypes.c_char_p,
            ctypes.c_size_t,
            ctypes.c_uint32,
            ctypes.POINTER(ctypes.c_int),
            ctypes.POINTER(ctypes.c_size_t),
            ctypes.c_void_p,
        ]
        lib.pcre2_match_data_create_from_pattern_8.restype = ctypes.c_void_p
        lib.pcre2_match_data_create_from_pattern_8.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        lib.pcre2_match_8.argtypes = [
            ctypes.c_void_p,
            ctypes.c_char_p,
            ctypes.c_size_t,
            ctypes.c_size_t,
            ctypes.c_uint32,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        lib.pcre2_get_ovector_pointer_8.restype = ctypes.POINTER(ctypes.c_size_t)
        lib.pcre2_get_ovector_pointer_8.argtypes = [ctypes.c_void_p]
        self._compiled: dict[tuple[str, int], tuple[int, int]] = {}

    def _program(self, pattern: str, flags: int) -> tuple[int, int]:
        key = (pattern, flags)
        if key not in self._compiled:
            error, offset = ctypes.c_int(), ctypes.c_size_t()
            data = pattern.encode()
            code = self._lib.pcre2_compile_8(
                data, len(data), flags, ctypes.byref(error), ctypes.byref(offset), None
            )
            assert code, f"PCRE2 refuses {pattern!r} (error {error.value})"
            match_data = self._lib.pcre2_match_data_create_from_pattern_8(code, None)
            self._compiled[key] = (code, match_data)
        return self._compiled[key]

    def spans(self, pattern: str, text: str, flags: int = UTF | CASELESS) -> list[str]:
        """Every non-overlapping match of `pattern` in `text`, as the matched strings."""
        code, match_data = self._program(pattern, flags)
        data = text.encode()
        out, start = [], 0
        while start <= len(data):
            rc = self._lib.pcre2_match_8(code, data, len(data), start, 0, match_data, None)
            if rc < 0:
                break
            vector = self._lib.pcre2_get_ovector_pointer_8(match_data)
            begin, end = vector[0], vector[1]
            out.append(data[begin:end].decode())
            start = end if end > begin else end + 1
        return out

    def search(self, pattern: str, text: str, flags: int = UTF | CASELESS) -> bool:
        return self.groups(pattern, text, flags) is not None

    def groups(
        self, pattern: str, text: str, flags: int = UTF | CASELESS
    ) -> tuple[int, tuple[bytes | None, ...]] | None:
        """The first match of `pattern` in `text`'s bytes (UTF-8; surrogate escapes as the
        bytes they stand for), as analysisd reads it: (byte offset where it ends, each
        group's bytes or None where unset), or None."""
        code, match_data = self._program(pattern, flags)
        data = text.encode("utf-8", "surrogateescape")
        rc = self._lib.pcre2_match_8(code, data, len(data), 0, 0, match_data, None)
        if rc < 0:
            return None
        vector = self._lib.pcre2_get_ovector_pointer_8(match_data)
        unset = ctypes.c_size_t(-1).value
        groups = tuple(
            None if vector[2 * i] == unset else data[vector[2 * i] : vector[2 * i + 1]]
            for i in range(1, rc)
        )
        return vector[1], groups


@lru_cache(maxsize=1)
def load() -> Pcre2 | None:
    name = ctypes.util.find_library("pcre2-8")
    if name is None:
        return None
    try:
        return Pcre2(ctypes.CDLL(name))
    except OSError:
        return None


def _strcasecmp_family(pattern: str, text: str) -> bool:
    """OSSEC's optimized execution of `^x`, `x$`, `^x$` (strncasecmp, strrcasecmp,
    strcasecmp on the bytes: ASCII letters folded)."""
    at_start, at_end = pattern.startswith("^"), pattern.endswith("$")
    literal = pattern[1 if at_start else 0 : -1 if at_end else None].encode().lower()
    data = text.encode("utf-8", "surrogateescape").lower()
    if at_start and at_end:
        return data == literal
    return data.startswith(literal) if at_start else data.endswith(literal)


def ossec_os_match(pcre2: Pcre2, expression: str, translated: str, text: str) -> bool:
    """OSMatch_Compile + OSMatch_Execute on `expression` (its PCRE2 conversion `translated`)."""
    if not expression:
        return True
    if pcre2.search("^\\^?[^$|^]+\\$?$", expression) and (
        expression.startswith("^") or expression.endswith("$")
    ):
        return _strcasecmp_family(expression, text)
    return pcre2.search(translated, text)


def ossec_os_regex(pcre2: Pcre2, source: str, translated: str, text: str) -> bool:
    """OSRegex_Compile + OSRegex_Execute on `source` (its PCRE2 conversion `translated`)."""
    optimizable = "^\\^?[A-Za-z0-9 !\"#%&',/:;<=>@_`~-]*\\$?$"
    if pcre2.search(optimizable, source) and (source.startswith("^") or source.endswith("$")):
        return _strcasecmp_family(source, text)
    return pcre2.search(translated, text)


def ossec_pcre2(pcre2: Pcre2, source: str, text: str) -> bool:
    """OSPcre2_Compile + OSPcre2_Execute on `<pcre2>` `source` as OSSEC 4.3's analysisd
    compiles it: PCRE2_CASELESS only (no UTF: bytes, ASCII folding), after the same kind of
    "could be optimized" check (its class read without CASELESS)."""
    optimizable = "^\\^?[a-zA-Z0-9 !\"#%&',/:;<=>@_`~-]*\\$?$"
    if pcre2.search(optimizable, source, UTF) and (source.startswith("^") or source.endswith("$")):
        return _strcasecmp_family(source, text)
    return pcre2.search(source, text, CASELESS)

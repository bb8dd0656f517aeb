"""The engine's working record for one event while it is decoded and matched (OSSEC's Eventinfo).

It is mutable on purpose and private to the analysis package: decoders fill fields, rules read
them, correlation keeps a few of them. What leaves the engine is an `EngineResult` / `Alert`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ospatrol.analysis.fields import FIELD_NAMES

if TYPE_CHECKING:
    from ospatrol.analysis.correlation import EventList
    from ospatrol.analysis.decoders import Decoder


class EventInfo:
    """One event: pre-decoded header parts, decoded fields and correlation bookkeeping."""

    __slots__ = (
        "action",
        "agent",
        "ascii",
        "category_override",
        "data",
        "decoder",
        "decoder_trace",
        "dstip",
        "dstport",
        "dstuser",
        "dynamic",
        "folded",
        "fts_result",
        "full_log",
        "hostname",
        "id",
        "lists",
        "location",
        "log",
        "lowered",
        "matched",
        "program_name",
        "protocol",
        "seq",
        "srcip",
        "srcport",
        "srcuser",
        "status",
        "systemname",
        "time",
        "timestamp",
        "url",
    )

    def __init__(
        self,
        full_log: str,
        log: str,
        hostname: str,
        program_name: str | None,
        location: str,
        time: float,
        agent: str = "",
        timestamp: str = "",
    ) -> None:
        self.full_log = full_log
        self.log = log
        self.lowered: str | None = None
        # Lowercasing an ASCII text never changes its length, so literal gates are exact.
        self.ascii = log.isascii()
        self.hostname = hostname
        self.program_name = program_name
        self.location = location
        self.agent = agent
        self.time = time
        self.timestamp = timestamp
        self.srcip: str | None = None
        self.dstip: str | None = None
        self.srcport: str | None = None
        self.dstport: str | None = None
        self.protocol: str | None = None
        self.action: str | None = None
        self.srcuser: str | None = None
        self.dstuser: str | None = None
        self.id: str | None = None
        self.url: str | None = None
        self.data: str | None = None
        self.status: str | None = None
        self.systemname: str | None = None
        self.dynamic: dict[str, str] = {}
        # Dynamic fields by lowercased name, first of each name; see `field`.
        self.folded: dict[str, str] | None = None
        self.decoder: Decoder | None = None
        # The top-level decoder that matched (logtest prints its name first).
        # (label, value) pairs in the order the decoders set them, for logtest's phase 2.
        self.decoder_trace: list[tuple[str, str]] = []
        # Highest level of a correlation rule this event took part in (OSSEC's lf->matched).
        self.matched = 0
        self.fts_result: bool | None = None
        # Plugin decoders (SonicWall) reclassify an event; OSSEC mutates the decoder for that.
        self.category_override: str | None = None
        # Position among alerting events (0: never alerted); old ones leave correlation lists.
        self.seq = 0
        # The correlation lists it is in (until it leaves the correlation memory).
        self.lists: tuple[EventList, ...] = ()

    def standard_fields(self) -> dict[str, str]:
        """The standard fields that are set, by the names alerts use, in `ALERT_NAMES` order
        (attributes read one by one, not through getattr: this runs for every event)."""
        out: dict[str, str] = {}
        if self.srcip is not None:
            out["srcip"] = self.srcip
        if self.dstip is not None:
            out["dstip"] = self.dstip
        if self.srcport is not None:
            out["srcport"] = self.srcport
        if self.dstport is not None:
            out["dstport"] = self.dstport
        if self.protocol is not None:
            out["protocol"] = self.protocol
        if self.action is not None:
            out["action"] = self.action
        if self.srcuser is not None:
            out["srcuser"] = self.srcuser
        if self.dstuser is not None:
            out["dstuser"] = self.dstuser
        if self.id is not None:
            out["id"] = self.id
        if self.url is not None:
            out["url"] = self.url
        if self.data is not None:
            out["data"] = self.data
        if self.status is not None:
            out["status"] = self.status
        if self.systemname is not None:
            out["system_name"] = self.systemname
        return out

    def lower(self) -> str:
        """The log lowercased once per event (literal matchers compare against it)."""
        low = self.lowered
        if low is None:
            low = self.lowered = self.log.lower()
        return low

    @property
    def category(self) -> str:
        if self.category_override is not None:
            return self.category_override
        return self.decoder.category if self.decoder is not None else "syslog"

    @property
    def decoder_name(self) -> str | None:
        return self.decoder.name if self.decoder is not None else None

    def field(self, name: str) -> str | None:
        """A field by the name rules use (`<field name=...>`, lists): standard or dynamic."""
        attr = FIELD_NAMES.get(name)
        if attr is not None:
            return getattr(self, attr)
        dynamic = self.dynamic
        found = dynamic.get(name)
        if found is None and dynamic:
            # analysisd compares field names with strcasecmp (OSSEC and Wazuh alike). Only rules
            # and correlation ask, once decoding is over and fields no longer change: the names
            # are folded once per event.
            folded = self.folded
            if folded is None:
                folded = {}
                for key, value in dynamic.items():
                    folded.setdefault(key.lower(), value)
                self.folded = folded
            found = folded.get(name.lower())
        return found

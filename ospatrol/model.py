"""Records that cross pipeline stages: hosts, events, alerts, findings and check results.

All are frozen dataclasses: a stage receives them, never edits them, and builds new ones with
`dataclasses.replace` when it needs to add something.
"""

from __future__ import annotations

import dataclasses
import time
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

if TYPE_CHECKING:
    from ospatrol.inventory.options import ConnectionOptions


class FrozenMap(dict):
    """A read-only dict: what records carry as mappings.

    Unlike `types.MappingProxyType` it pickles (worker processes, job queues) and serialises as
    a JSON object; every mutator raises, so a record stays unchanged after it is built.
    """

    __slots__ = ()

    def _readonly(self, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError("FrozenMap is read-only")

    __setitem__ = __delitem__ = _readonly
    clear = pop = popitem = setdefault = update = _readonly  # type: ignore[assignment]
    __ior__ = _readonly  # type: ignore[assignment]

    def __reduce__(self) -> tuple[type, tuple[dict]]:
        return (FrozenMap, (dict(self),))

    def __repr__(self) -> str:
        return f"FrozenMap({dict.__repr__(self)})"


_EMPTY: Mapping[str, Any] = FrozenMap()


def frozen_map(value: Mapping[str, Any] | None) -> FrozenMap:
    """`value` as a FrozenMap (itself when it already is one)."""
    if isinstance(value, FrozenMap):
        return value
    return FrozenMap(value or {})


SECRET_VAR_MARKERS = ("pass", "secret", "token", "private_key", "community", "psk")
"""Substrings of variable names whose values are credentials (masked wherever shown)."""


def is_secret_var(name: str) -> bool:
    """True when a variable named `name` holds a credential and must never be shown or stored.

    A `..._file` variable (`ansible_ssh_private_key_file`) names where a secret is, not the
    secret: it is shown, so an operator can see which key a host uses."""
    lowered = name.lower()
    if lowered.endswith("_file"):
        return False
    return any(marker in lowered for marker in SECRET_VAR_MARKERS)


def mask_secrets(value: Any) -> Any:
    """`value` with every credential replaced by `"***"`: the value of each mapping key that
    `is_secret_var` names, at any depth (a password inside a dict or a list of dicts too)."""
    if isinstance(value, Mapping):
        return {
            k: ("***" if isinstance(k, str) and is_secret_var(k) else mask_secrets(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [mask_secrets(v) for v in value]
    return value


@dataclass(frozen=True)
class Credentials:
    """How to log in to a host. Never printed: the repr hides every secret."""

    user: str | None = None
    password: str | None = field(default=None, repr=False)
    private_key_file: str | None = None
    become: bool = False
    become_method: str = "sudo"
    become_user: str = "root"
    become_password: str | None = field(default=None, repr=False)
    enable_secret: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        shown = "***" if self.password else None
        return (
            f"Credentials(user={self.user!r}, password={shown!r}, "
            f"private_key_file={self.private_key_file!r}, become={self.become!r})"
        )


@dataclass(frozen=True)
class Host:
    """One inventory host, resolved: connection settings are typed fields, the rest stays in vars.

    `vars` holds every variable as Ansible would resolve it for this host (secrets included, for
    the transport's use); `public_vars()` is the copy that may be shown.
    """

    name: str
    address: str
    port: int = 22
    platform: str = "linux"
    connection: str = "ssh"
    credentials: Credentials = field(default_factory=Credentials)
    groups: tuple[str, ...] = ()
    vars: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, repr=False)
    options: ConnectionOptions = field(default_factory=lambda: _default_options(), repr=False)
    """Typed connection settings (time-outs, algorithms, host-key policy...), built once by the
    inventory; transports read these, never `vars`."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "vars", frozen_map(self.vars))

    @property
    def user(self) -> str | None:
        return self.credentials.user

    def public_vars(self) -> dict[str, Any]:
        """The host's vars, sorted by name, with every credential (nested ones too) `"***"`."""
        return mask_secrets(dict(sorted(self.vars.items())))


def _default_options() -> ConnectionOptions:
    # Imported late: the inventory package imports this module.
    from ospatrol.inventory.options import ConnectionOptions

    return ConnectionOptions()


_now = time.time


@dataclass(frozen=True, init=False)
class Event:
    """One thing that happened, as a log line: the unit every source feeds to the analysis engine.

    `location` follows OSSEC's conventions: a log file path, `syslog:ADDR`, or for agentless
    findings `agentless:HOST:COLLECTOR`. `text` is the log line itself (for syslog, the whole
    line including its header). `source` names the producer (`syslog`, `agent`, `agentless`,
    `logtest`); `extra` carries structured detail that is not part of the text (a diff, a path).
    `time` defaults to now.
    """

    text: str
    location: str
    host: str = ""
    time: float = field(default_factory=_now)
    source: str = "agentless"
    extra: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)

    def __init__(
        self,
        text: str,
        location: str,
        host: str = "",
        time: float | None = None,
        source: str = "agentless",
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        # One is built per log line: filling the instance dict directly costs a third of the
        # frozen dataclass's generated __init__ (one object.__setattr__ per field).
        state = self.__dict__
        state["text"] = text
        state["location"] = location
        state["host"] = host
        state["time"] = _now() if time is None else time
        state["source"] = source
        state["extra"] = _EMPTY if not extra else frozen_map(extra)


@dataclass(frozen=True)
class Alert:
    """An event that matched a rule with a level worth reporting."""

    rule_id: int
    level: int
    description: str
    event: Event
    groups: tuple[str, ...] = ()
    fields: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    decoder: str | None = None
    firedtimes: int = 1
    mail: bool = False
    info: tuple[str, ...] = ()
    # Filled by the analysis engine: the pre-decoded header (hostname as in the log or the
    # default), the sanitised log line, the logs of correlated events (frequency rules) and an
    # OSSEC-style alert id ("<epoch>.<counter>").
    hostname: str = ""
    program_name: str | None = None
    full_log: str = ""
    previous_output: tuple[str, ...] = ()
    alert_id: str = ""
    # Wazuh rule sets: the rule's <mitre> technique ids, and the decoder's parent.
    mitre: tuple[str, ...] = ()
    decoder_parent: str | None = None
    # The timestamp text of the log's own header as the pre-decoder read it ("" when it found
    # none; None when unknown, for an alert not made by the engine): alerts.json's
    # `predecoder.timestamp`, which outputs would otherwise pre-decode the log again to find.
    header_timestamp: str | None = None
    # No __post_init__: the engine builds alerts without __init__ (see analysis.engine._builder)
    # and gives `fields` as a FrozenMap, so alerts pickle.


@dataclass(frozen=True)
class Finding:
    """What a collector learned about a host in one audit, before analysis.

    `kind` is one of `added`, `deleted`, `changed`, `attributes`, `incomplete`, `hostkey`,
    `error` (collectors may add more). `subject` is the path for files and the command for
    command output. `event_text` is the log line the finding becomes.
    """

    host: str
    collector: str
    kind: str
    subject: str
    detail: str = ""
    diff: str | None = None
    event_text: str = ""


@dataclass(frozen=True)
class CheckResult:
    """Outcome of one policy check on one host: `passed`, `failed` or `not_applicable`."""

    host: str
    policy: str
    check_id: str
    title: str
    result: str
    reason: str = ""


Record = TypeVar("Record")


def to_dict(record: Any) -> dict[str, Any]:
    """A JSON-ready dict of a record (nested records, tuples and mappings included).

    A `Host`'s credentials come out in clear: this is for handing records to another process of
    ours, never for showing them (use `Host.public_vars` and the reports for that).
    """
    return dataclasses.asdict(record, dict_factory=dict)


def from_dict(cls: type[Record], data: Mapping[str, Any]) -> Record:
    """The record of type `cls` that `to_dict` (possibly through JSON) turned into `data`."""
    from ospatrol.inventory.options import ConnectionOptions

    hints = typing.get_type_hints(cls, localns={"ConnectionOptions": ConnectionOptions})
    values = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name in data:
            values[f.name] = _revive(hints[f.name], data[f.name])
    return cls(**values)


def _revive(hint: Any, value: Any) -> Any:
    """`value` decoded from JSON back into the shape `hint` declares."""
    if value is None:
        return None
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return _revive(next(a for a in args if a is not type(None)), value)
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value)  # type: ignore[arg-type]
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_revive(args[0], v) for v in value)
        return tuple(_revive(a, v) for a, v in zip(args, value, strict=True))
    return value

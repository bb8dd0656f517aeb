"""The manager's config file (`ospatrol manager -c ospatrol.yml`): typed sections, checked whole.

Every problem is collected with the file, the line and the dotted key (`syslog[1].listen`,
`outputs.email.min_level`) before one `InputErrors` is raised, as the other loaders do. The shape
is documented in docs/manager.md and deploy/ospatrol.yml; unknown keys are errors, so a typo
never silently disables a feature.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ospatrol.config import SETTINGS, Config, settings_from
from ospatrol.errors import InputError, InputErrors
from ospatrol.manager.sections import MANAGER_SECTIONS
from ospatrol.respond.active import ActiveResponseConfig, parse_active_response
from ospatrol.scheduler import Job, parse_jobs
from ospatrol.syslog.acl import SourceFilter, parse_networks
from ospatrol.syslog.receiver import ListenerSpec
from ospatrol.yamlfile import LineDict, load_yaml_file

PROTOCOLS = ("udp", "tcp", "tls")
FORWARD_FORMATS = ("json", "cef")


@dataclass(frozen=True)
class AnalysisConfig:
    """Rule set (as for `ospatrol logtest`: the shipped one unless given) and worker count."""

    workers: int = 0  # 0: one per CPU core
    ossec_conf: Path | None = None
    rules_dir: Path | None = None
    decoders: tuple[Path, ...] = ()
    hostname: str | None = None
    queue_size: int = 100_000
    batch_size: int = 512


@dataclass(frozen=True)
class FileOutput:
    """alerts.json / alerts.log in the state dir: rotated by size or day, never losing a line."""

    enabled: bool = True
    max_size: int = 512 * 1024 * 1024
    daily: bool = True
    queue_size: int = 100_000


@dataclass(frozen=True)
class ArchivesOutput:
    """archives.json / archives.log: every analysed event, alerting or not (OSSEC's logall)."""

    file: FileOutput = field(default_factory=FileOutput)
    formats: tuple[str, ...] = ("json", "log")


@dataclass(frozen=True)
class EmailOutput:
    smtp: str
    sender: str
    to: tuple[str, ...]
    min_level: int = 7
    starttls: bool = False
    ca: Path | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    max_per_hour: int = 12
    group_seconds: float = 0.0
    timeout: float = 30.0
    queue_size: int = 1000


@dataclass(frozen=True)
class SyslogOutput:
    target: str
    protocol: str = "udp"
    format: str = "json"
    min_level: int = 0
    ca: Path | None = None
    queue_size: int = 10_000


@dataclass(frozen=True)
class WebhookOutput:
    url: str
    min_level: int = 7
    retries: int = 5
    backoff: float = 1.0
    timeout: float = 10.0
    queue_size: int = 1000


@dataclass(frozen=True)
class Outputs:
    alerts_json: FileOutput = field(default_factory=FileOutput)
    alerts_log: FileOutput = field(default_factory=FileOutput)
    archives: ArchivesOutput | None = None
    email: EmailOutput | None = None
    syslog: SyslogOutput | None = None
    webhook: WebhookOutput | None = None


@dataclass(frozen=True)
class AlertRetention:
    """`alerts:`: stored alerts older than `retention_days` are deleted when the manager starts
    and every `prune_interval` seconds (None: kept forever)."""

    retention_days: float | None = None
    prune_interval: float = 3600.0


@dataclass(frozen=True)
class ManagerConfig:
    """Everything `ospatrol manager` reads from its config file (paths resolved against it)."""

    path: Path | None = None
    syslog: tuple[ListenerSpec, ...] = ()
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)
    outputs: Outputs = field(default_factory=Outputs)
    schedules: tuple[Job, ...] = ()
    responses: ActiveResponseConfig = field(default_factory=ActiveResponseConfig)
    alerts: AlertRetention = field(default_factory=AlertRetention)
    metrics_listen: tuple[str, int] | None = None
    log_file: Path | None = None
    audit: Config = field(default_factory=Config)
    """The audit settings (concurrency, time-outs, host-key policy) for scheduled audits."""
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def workers(self) -> int:
        return self.analysis.workers or os.cpu_count() or 1


class _Reader:
    """Walks one mapping of the file, collecting errors with the line of each key."""

    def __init__(self, path: str, errors: list[InputError]) -> None:
        self.path = path
        self.errors = errors

    def error(self, where: str, message: str, node: Any, key: Any = None) -> None:
        line = None
        if isinstance(node, LineDict):
            line = node.line_of(key) if key is not None else node.line
        self.errors.append(InputError(f"{where}: {message}", self.path, line))

    def mapping(self, node: Any, where: str, known: tuple[str, ...]) -> LineDict | None:
        if node is None:
            node = LineDict()
            node.key_lines = {}
        if not isinstance(node, LineDict):
            self.error(where, f"must be a mapping, got {type(node).__name__}", None)
            return None
        for key in node:
            if key not in known:
                self.error(
                    f"{where}.{key}" if where else str(key),
                    f"unknown key (known: {', '.join(known)})",
                    node,
                    key,
                )
        return node

    def get(
        self,
        node: LineDict,
        where: str,
        key: str,
        convert: Callable[[Any], Any],
        default: Any = None,
        *,
        required: bool = False,
    ) -> Any:
        name = f"{where}.{key}" if where else key
        if key not in node:
            if required:
                self.error(name, "is required", node)
            return default
        try:
            return convert(node[key])
        except (TypeError, ValueError) as exc:
            self.error(name, str(exc) or f"invalid value {node[key]!r}", node, key)
            return default


def _int(minimum: int = 0) -> Callable[[Any], int]:
    def convert(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"expected an integer, got {value!r}")
        if value < minimum:
            raise ValueError(f"must be at least {minimum}, got {value}")
        return value

    return convert


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"expected a non-negative number, got {value!r}")
    return float(value)


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def _str(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected a non-empty string, got {value!r}")
    return value


def _choice(options: tuple[str, ...]) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        if value not in options:
            raise ValueError(f"must be one of {', '.join(options)}, got {value!r}")
        return value

    return convert


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"expected a list of strings, got {value!r}")
    return tuple(value)


def parse_endpoint(value: Any, default_port: int | None = None) -> tuple[str, int]:
    """`"host:port"`, `"[v6]:port"` or `":port"` as (host, port)."""
    if not isinstance(value, str | int):
        raise ValueError(f"expected HOST:PORT, got {value!r}")
    text = str(value)
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = text, "" if default_port is None else str(default_port)
    host = host.strip("[]") or "0.0.0.0"
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected HOST:PORT with a port number, got {value!r}")
    return host, int(port)


def _endpoint(default_port: int | None) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        host, port = parse_endpoint(value, default_port)
        return f"{host}:{port}"

    return convert


def _listen_address(value: Any) -> tuple[str, int]:
    host, port = parse_endpoint(value)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"listen address must be an IP address, got {host!r}") from None
    return host, port


def _path(base: Path) -> Callable[[Any], Path]:
    def convert(value: Any) -> Path:
        path = Path(_str(value)).expanduser()
        return path if path.is_absolute() else base / path

    return convert


def _existing_file(base: Path) -> Callable[[Any], Path]:
    def convert(value: Any) -> Path:
        path = _path(base)(value)
        if not path.is_file():
            raise ValueError(f"no such file: {path}")
        return path

    return convert


_LISTENER_KEYS = (
    "protocol", "listen", "allowed_ips", "denied_ips", "cert", "key", "client_ca",
    "max_message", "idle_timeout", "max_connections",
)  # fmt: skip


def _listener(r: _Reader, node: Any, where: str, base: Path) -> ListenerSpec | None:
    node = r.mapping(node, where, _LISTENER_KEYS)
    if node is None:
        return None
    protocol = r.get(node, where, "protocol", _choice(PROTOCOLS), required=True)
    listen = r.get(node, where, "listen", _listen_address, required=True)
    allowed = r.get(node, where, "allowed_ips", lambda v: parse_networks(_strings(v)), ())
    denied = r.get(node, where, "denied_ips", lambda v: parse_networks(_strings(v)), ())
    files = {}
    for key in ("cert", "key", "client_ca"):
        files[key] = r.get(node, where, key, _existing_file(base))
    if protocol == "tls":
        for key in ("cert", "key"):
            if key not in node:
                r.error(f"{where}.{key}", "is required for protocol tls", node)
    elif protocol is not None:
        for key in ("cert", "key", "client_ca"):
            if key in node:
                r.error(f"{where}.{key}", "only applies to protocol tls", node, key)
    max_message = r.get(node, where, "max_message", _int(64), 65536)
    idle = r.get(node, where, "idle_timeout", _number, 300.0)
    max_conn = r.get(node, where, "max_connections", _int(1), 1024)
    if protocol is None or listen is None:
        return None
    return ListenerSpec(
        protocol=protocol,
        host=listen[0],
        port=listen[1],
        sources=SourceFilter(allowed or (), denied or ()),
        cert=files["cert"],
        key=files["key"],
        client_ca=files["client_ca"],
        max_message=max_message,
        idle_timeout=idle,
        max_connections=max_conn,
    )


def _workers(value: Any) -> int:
    if value == "auto":
        return 0
    return _int(1)(value)


def _analysis(r: _Reader, node: Any, base: Path) -> AnalysisConfig:
    known = ("workers", "ossec_conf", "rules_dir", "decoders", "hostname", "queue_size", "batch")
    node = r.mapping(node, "analysis", known)
    if node is None:
        return AnalysisConfig()
    return AnalysisConfig(
        workers=r.get(node, "analysis", "workers", _workers, 0),
        ossec_conf=r.get(node, "analysis", "ossec_conf", _existing_file(base)),
        rules_dir=r.get(node, "analysis", "rules_dir", _path(base)),
        decoders=tuple(_path(base)(p) for p in r.get(node, "analysis", "decoders", _strings, ())),
        hostname=r.get(node, "analysis", "hostname", _str),
        queue_size=r.get(node, "analysis", "queue_size", _int(1), 100_000),
        batch_size=r.get(node, "analysis", "batch", _int(1), 512),
    )


def _retention(r: _Reader, node: Any) -> AlertRetention:
    node = r.mapping(node, "alerts", ("retention_days", "prune_interval"))
    if node is None:
        return AlertRetention()
    days = r.get(node, "alerts", "retention_days", _number)
    if days == 0:
        r.error("alerts.retention_days", "must be more than 0 (leave it out to keep alerts)", node,
                "retention_days")  # fmt: skip
        days = None
    interval = r.get(node, "alerts", "prune_interval", _number, AlertRetention.prune_interval)
    return AlertRetention(days, max(interval, 1.0))


def _file_output(r: _Reader, node: Any, where: str, extra: tuple[str, ...] = ()) -> FileOutput:
    node = r.mapping(node, where, ("enabled", "max_size", "daily", "queue_size", *extra))
    if node is None:
        return FileOutput()
    return FileOutput(
        enabled=r.get(node, where, "enabled", _bool, True),
        max_size=r.get(node, where, "max_size", _int(1024), FileOutput.max_size),
        daily=r.get(node, where, "daily", _bool, True),
        queue_size=r.get(node, where, "queue_size", _int(1), FileOutput.queue_size),
    )


def _archives(r: _Reader, node: Any) -> ArchivesOutput | None:
    where = "outputs.archives"
    file = _file_output(r, node, where, ("formats",))
    formats = ("json", "log")
    if isinstance(node, LineDict) and "formats" in node:
        value = node["formats"]
        if not isinstance(value, list) or not value or any(f not in ("json", "log") for f in value):
            r.error(f"{where}.formats", "expected a list of json, log", node, "formats")
        else:
            formats = tuple(dict.fromkeys(value))
    return ArchivesOutput(file, formats) if file.enabled else None


def _email(r: _Reader, node: Any, base: Path) -> EmailOutput | None:
    where = "outputs.email"
    known = (
        "smtp", "from", "to", "min_level", "starttls", "ca", "username", "password",
        "max_per_hour", "group_seconds", "timeout", "queue_size",
    )  # fmt: skip
    node = r.mapping(node, where, known)
    if node is None:
        return None
    smtp = r.get(
        node,
        where,
        "smtp",
        _endpoint(25),
        required=True,
    )
    sender = r.get(node, where, "from", _str, required=True)
    to = r.get(node, where, "to", _strings, required=True)
    password = node.get("password")
    if isinstance(password, str) and password.startswith("env:"):
        password = os.environ.get(password[4:])
    if smtp is None or sender is None or not to:
        return None
    return EmailOutput(
        smtp=smtp,
        sender=sender,
        to=to,
        min_level=r.get(node, where, "min_level", _int(0), 7),
        starttls=r.get(node, where, "starttls", _bool, False),
        ca=r.get(node, where, "ca", _existing_file(base)),
        username=r.get(node, where, "username", _str),
        password=password if isinstance(password, str) else None,
        max_per_hour=r.get(node, where, "max_per_hour", _int(1), 12),
        group_seconds=r.get(node, where, "group_seconds", _number, 0.0),
        timeout=r.get(node, where, "timeout", _number, 30.0),
        queue_size=r.get(node, where, "queue_size", _int(1), 1000),
    )


def _syslog_output(r: _Reader, node: Any, base: Path) -> SyslogOutput | None:
    where = "outputs.syslog"
    known = ("target", "protocol", "format", "min_level", "ca", "queue_size")
    node = r.mapping(node, where, known)
    if node is None:
        return None
    target = r.get(node, where, "target", _endpoint(None), required=True)
    if target is None:
        return None
    return SyslogOutput(
        target=target,
        protocol=r.get(node, where, "protocol", _choice(PROTOCOLS), "udp"),
        format=r.get(node, where, "format", _choice(FORWARD_FORMATS), "json"),
        min_level=r.get(node, where, "min_level", _int(0), 0),
        ca=r.get(node, where, "ca", _existing_file(base)),
        queue_size=r.get(node, where, "queue_size", _int(1), 10_000),
    )


def _url(value: Any) -> str:
    text = _str(value)
    if not text.startswith(("http://", "https://")):
        raise ValueError(f"expected an http:// or https:// URL, got {value!r}")
    return text


def _webhook(r: _Reader, node: Any) -> WebhookOutput | None:
    where = "outputs.webhook"
    known = ("url", "min_level", "retries", "backoff", "timeout", "queue_size")
    node = r.mapping(node, where, known)
    if node is None:
        return None
    url = r.get(node, where, "url", _url, required=True)
    if url is None:
        return None
    return WebhookOutput(
        url=url,
        min_level=r.get(node, where, "min_level", _int(0), 7),
        retries=r.get(node, where, "retries", _int(0), 5),
        backoff=r.get(node, where, "backoff", _number, 1.0),
        timeout=r.get(node, where, "timeout", _number, 10.0),
        queue_size=r.get(node, where, "queue_size", _int(1), 1000),
    )


def _outputs(r: _Reader, node: Any, base: Path) -> Outputs:
    known = ("alerts_json", "alerts_log", "archives", "email", "syslog", "webhook")
    node = r.mapping(node, "outputs", known)
    if node is None:
        return Outputs()
    return Outputs(
        alerts_json=_file_output(r, node.get("alerts_json"), "outputs.alerts_json"),
        alerts_log=_file_output(r, node.get("alerts_log"), "outputs.alerts_log"),
        archives=_archives(r, node["archives"]) if "archives" in node else None,
        email=_email(r, node["email"], base) if "email" in node else None,
        syslog=_syslog_output(r, node["syslog"], base) if "syslog" in node else None,
        webhook=_webhook(r, node["webhook"]) if "webhook" in node else None,
    )


def _list_of_mappings(r: _Reader, data: LineDict, key: str) -> tuple[LineDict, ...]:
    value = data.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, LineDict) for v in value):
        r.error(key, "must be a list of mappings", data, key)
        return ()
    return tuple(value)


def load_manager_config(path: Path | None) -> ManagerConfig:
    """Read and check `path` (None: built-in defaults, no listeners). Raises InputErrors."""
    if path is None:
        return ManagerConfig()
    data = load_yaml_file(path)
    errors: list[InputError] = []
    r = _Reader(str(path), errors)
    if data is None:
        data = LineDict()
        data.key_lines = {}
    if not isinstance(data, LineDict):
        raise InputError("the manager config must be a mapping", str(path), 1)
    r.mapping(data, "", MANAGER_SECTIONS + SETTINGS)
    try:
        # Keys that are neither a section nor a setting were reported just above.
        others = [key for key in data if key not in SETTINGS]
        audit = Config(**settings_from(data, str(path), skip=others))
    except InputErrors as exc:
        errors.extend(exc.errors)
        audit = Config()
    base = path.resolve().parent
    listeners = []
    for i, entry in enumerate(_list_of_mappings(r, data, "syslog")):
        spec = _listener(r, entry, f"syslog[{i}]", base)
        if spec is not None:
            listeners.append(spec)
    metrics = None
    if "metrics" in data:
        node = r.mapping(data["metrics"], "metrics", ("listen",))
        if node is not None:
            metrics = r.get(node, "metrics", "listen", _listen_address, required=True)
    responses = ActiveResponseConfig()
    try:
        responses = parse_active_response(
            _list_of_mappings(r, data, "commands"),
            _list_of_mappings(r, data, "active_response"),
            data.get("allow_list"),
            str(path),
            base,
            data.get("inventory"),
            data,
        )
    except InputErrors as exc:
        errors.extend(exc.errors)
    jobs: tuple[Job, ...] = ()
    try:
        jobs = parse_jobs(_list_of_mappings(r, data, "schedules"), str(path), base)
    except InputErrors as exc:
        errors.extend(exc.errors)
    config = ManagerConfig(
        path=path,
        syslog=tuple(listeners),
        analysis=_analysis(r, data.get("analysis"), base),
        outputs=_outputs(r, data.get("outputs"), base),
        schedules=jobs,
        responses=responses,
        alerts=_retention(r, data.get("alerts")),
        metrics_listen=metrics,
        log_file=r.get(data, "", "log_file", _path(base)),
        audit=audit,
        raw=data,
    )
    if errors:
        raise InputErrors(errors)
    return config

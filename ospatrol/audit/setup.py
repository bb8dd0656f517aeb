"""Build what an audit needs from config and shipped data: collectors, transport opener, engine.

`audit_configured` puts them together and runs the audit under the state dir's lock, as
`ospatrol audit` and the Ansible module both do.

Collectors are looked up by name in `COLLECTORS` (name -> factory); a factory imports its module
only when called, so `--only commands` never imports the FIM code. The analysis engine is optional:
when `ospatrol.analysis` cannot give one, findings keep the audit's default levels.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ospatrol.audit.lock import locked_store
from ospatrol.audit.records import RunRecord
from ospatrol.audit.run import Analyzer, AuditObserver, AuditOptions, Opener, run_audit
from ospatrol.collect.base import Collector
from ospatrol.config import Config
from ospatrol.errors import InputError
from ospatrol.model import Host
from ospatrol.store import Store

if TYPE_CHECKING:
    from ospatrol.respond.sink import AlertSink

log = logging.getLogger(__name__)


def _commands(config: Config, checks_dir: Path | None) -> Collector:
    from ospatrol.collect.commands import CommandsCollector, load_command_profiles

    return CommandsCollector(load_command_profiles(checks_dir))


def _fim(config: Config, checks_dir: Path | None) -> Collector:
    from ospatrol.collect.fim import FimCollector

    return FimCollector.from_checks(checks_dir)


def _config(config: Config, checks_dir: Path | None) -> Collector:
    from ospatrol.collect.configs import ConfigsCollector
    from ospatrol.collect.secret_tags import load_key
    from ospatrol.profiles import load_profiles

    # The key is made by a real run (`audit_configured`); a dry run only reads it.
    return ConfigsCollector(load_profiles(checks_dir), load_key(config.state_dir, create=False))


def _facts(config: Config, checks_dir: Path | None) -> Collector:
    from ospatrol.collect.facts import FactsCollector
    from ospatrol.profiles import load_profiles

    return FactsCollector(load_profiles(checks_dir))


def _esx(config: Config, checks_dir: Path | None) -> Collector:
    from ospatrol.collect.esx import EsxCollector

    return EsxCollector()


def _cis(config: Config, checks_dir: Path | None, policy_files: Sequence[Path] = ()) -> Collector:
    from ospatrol.collect.policies import PolicyCollector, shipped_policies
    from ospatrol.policy.load import load_policy

    extra = [load_policy(Path(f)) for f in policy_files]
    return PolicyCollector([*shipped_policies(), *extra])


COLLECTORS: dict[str, Callable[[Config, Path | None], Collector]] = {
    "fim": _fim,
    "commands": _commands,
    "config": _config,
    "facts": _facts,
    "esx": _esx,
    "cis": _cis,
}
"""Every collector `ospatrol audit` can run, in run order. Each one skips the hosts whose
platform it does not serve (`esx`: ESXi hosts only; `config`, `facts`: platforms whose profile has
the section), so a default audit runs all but opt-in ones."""


COLLECTOR_MODULES = {
    "fim": "ospatrol.collect.fim",
    "commands": "ospatrol.collect.commands",
    "config": "ospatrol.collect.configs",
    "facts": "ospatrol.collect.facts",
    "esx": "ospatrol.collect.esx",
    "cis": "ospatrol.collect.policies",
}
OPT_IN = frozenset({"cis"})
"""Collectors that run only when named (`--only cis`): the compliance policies walk the whole
filesystem of each host, which a default audit does not ask for yet."""


def available() -> tuple[str, ...]:
    """Collectors whose module is installed (a partial install may lack one), opt-in ones left
    out: the default of `--only`."""
    return tuple(
        n for n in COLLECTORS if n not in OPT_IN and importlib.util.find_spec(COLLECTOR_MODULES[n])
    )


def parse_only(value: str | None) -> tuple[str, ...]:
    """`--only fim,commands` as a tuple of known names (all when None); unknown names are errors."""
    if not value:
        return available()
    names = tuple(dict.fromkeys(n.strip() for n in value.split(",") if n.strip()))
    unknown = [n for n in names if n not in COLLECTORS]
    if unknown or not names:
        raise InputError(
            f"--only: unknown collector {', '.join(unknown) or value!r}; "
            f"known: {', '.join(COLLECTORS)}"
        )
    return names


def build_collectors(
    names: Sequence[str],
    config: Config,
    checks_dir: Path | None = None,
    policy_files: Sequence[Path] = (),
) -> list[Collector]:
    """The collectors `names`, built from the profiles in `checks_dir` (default: shipped);
    `policy_files` (`--policy`) add policies to the `cis` collector and imply it."""
    if policy_files and "cis" not in names:
        names = [*names, "cis"]
    return [
        _cis(config, checks_dir, policy_files)
        if name == "cis"
        else COLLECTORS[name](config, checks_dir)
        for name in names
    ]


def transport_opener(config: Config, *, dry_run: bool = False) -> Opener:
    """Opens one transport per host with the manager's time-outs and host-key policy; in a dry
    run a first-contact host key is checked against the policy but not pinned."""
    from ospatrol.transport import TransportSettings, open_transport

    settings = TransportSettings.from_config(config, pin_host_keys=not dry_run)

    def opener(host: Host) -> Any:
        return open_transport(host, settings)

    return opener


def load_engine() -> Analyzer | None:
    """The analysis engine over the default rule set, or None when it cannot be built."""
    try:
        from ospatrol.analysis.engine import Engine
    except ImportError:
        log.info("analysis engine not available: findings keep their default levels")
        return None
    return Engine.for_default_ruleset()


def audit_configured(
    hosts: Sequence[Host],
    names: Sequence[str],
    config: Config,
    checks_dir: Path | None,
    *,
    dry_run: bool,
    lock_wait: float,
    options: dict[str, Any],
    observers: Sequence[AuditObserver] = (),
    sinks: Sequence[AlertSink] = (),
    policy_files: Sequence[Path] = (),
) -> RunRecord:
    """Audit `hosts` with the collectors `names` under `config`, holding the audit lock of its
    state dir (waiting up to `lock_wait` s); `options` (no secrets) is recorded with the run.

    A dry run takes no lock and writes nothing: it reads the state dir's database if there is
    one and creates no file or folder."""
    if not dry_run and "config" in names:
        from ospatrol.collect.secret_tags import load_key

        load_key(config.state_dir, create=True)
    collectors = build_collectors(names, config, checks_dir, policy_files)
    engine = load_engine()
    audit_options = AuditOptions(
        concurrency=config.concurrency,
        dry_run=dry_run,
        alert_level=config.alert_level,
        options=options,
    )
    if dry_run:
        opened: Any = contextlib.closing(Store.open_for_reading(config.state_dir))
    else:
        opened = locked_store(config.state_dir, lock_wait)
        # Hosts with `config_git` get their committed config versions in git too; a dry run
        # writes nothing, so it has no such observer.
        from ospatrol.collect.config_git import ConfigGit

        observers = [*observers, ConfigGit(config.state_dir)]
    with opened as store:
        return run_audit(
            hosts,
            collectors,
            store,
            transport_opener(config, dry_run=dry_run),
            engine=engine,
            options=audit_options,
            observers=observers,
            sinks=sinks,
        )

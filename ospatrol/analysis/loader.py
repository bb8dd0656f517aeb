"""Load a complete rule set (decoders, lists, rules) in OSSEC's order, validating everything.

The load order comes from the `<rules>` block of an ossec.conf (`<decoder>`, `<decoder_dir>`,
`<list>`, `<include>`/`<rule>`, `<rule_dir>`), optionally overridden by explicit decoder files
and a rules directory. Every file is parsed and compiled; all problems are collected and raised
together as `InputErrors`, so `ospatrol rules check` can print every one. The result is an
immutable `Ruleset`; all run-time state lives in `ospatrol.analysis.engine.Engine`.

A Wazuh `<ruleset>` block instead (Wazuh 4.x's ossec.conf) selects Wazuh's dialect for the
whole rule set: its paths are relative to the installation folder (`home`, by default the
folder above the config's `etc/`), every decoder and rule file of all `<decoder_dir>`s and
`<rule_dir>`s is merged and sorted by file name as wazuh-analysisd sorts them, and what
wazuh-analysisd only warns about (a duplicate rule id, a bad `if_sid` member, a missing list
file) is kept in `Ruleset.warnings` instead of failing the load.
"""

from __future__ import annotations

import contextlib
import gc
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from ospatrol.analysis import rulecache, xmlload
from ospatrol.analysis.cdb import CdbList, list_key, load_list
from ospatrol.analysis.decoders import Decoder, DecoderSet, build_decoder_set, read_decoder
from ospatrol.analysis.decoding import DecoderPlans
from ospatrol.analysis.engine import RuleIndex, index_rules
from ospatrol.analysis.patterns import Pattern
from ospatrol.analysis.pcre import RegexPattern
from ospatrol.analysis.rules import AlertLevels, Rule, RuleNode, read_rule_file
from ospatrol.analysis.ruletree import RuleTree
from ospatrol.errors import InputError, InputErrors

# Decoder names wazuh-analysisd registers itself for the events of its own modules.
WAZUH_BUILTIN_DECODERS = (
    "syscollector",
    "ciscat",
    "sca",
    "windows_eventchannel",
    "winevt",
    "dbsync",
    "upgrade",
    "task_manager",
    "syscheck_registry_key_added",
    "syscheck_registry_key_modified",
    "syscheck_registry_key_deleted",
    "syscheck_registry_value_added",
    "syscheck_registry_value_modified",
    "syscheck_registry_value_deleted",
)
# Decoder names analysisd registers itself (SetDecodeXML) so rules may say decoded_as them.
BUILTIN_DECODERS = (
    "rootcheck",
    "syscheck_integrity_changed",
    "syscheck_integrity_changed_2nd",
    "syscheck_integrity_changed_3rd",
    "syscheck_new_entry",
    "syscheck_deleted",
    "hostinfo_new",
    "hostinfo_modified",
    "agentless",
)

_DEFAULT_RULE_DIR_PATTERN = r"_rules\.xml$"


@dataclass(frozen=True)
class Ruleset:
    """A compiled, immutable rule set: decoder lists, rule tree, lists, and its source files."""

    decoders: DecoderSet
    top: tuple[RuleNode, ...]
    rules: Mapping[int, Rule]
    lists: Mapping[str, CdbList]
    max_frequency: int
    # What engines walk, built once here from `decoders` and `top` (and kept in the rule
    # cache with them), never per engine.
    decoder_plans: DecoderPlans
    index: RuleIndex
    files: tuple[str, ...] = field(default=())
    dialect: str = "ossec"
    warnings: tuple[InputError, ...] = field(default=())

    def _all_decoders(self) -> Iterator[Decoder]:
        """Every decoder of both lists: each top-level one, then its children."""
        for node in (*self.decoders.with_program, *self.decoders.without_program):
            yield node.decoder
            yield from node.children

    def patterns(self) -> list[Pattern]:
        """Every compiled pattern of the rule set (decoders and rules)."""
        found: list[Pattern] = []
        for dec in self._all_decoders():
            found.extend(p for p in (dec.program_name, dec.prematch, dec.regex) if p is not None)
        for rule in self.rules.values():
            found.extend(p for p in (rule.match, rule.regex, rule.if_matched_regex) if p)
            found.extend(p for _, p in rule.patterns)
            found.extend(f.pattern for f in rule.fields)
        return found

    def regex_timeouts(self) -> dict[str, int]:
        """Patterns that gave up on some text (time budget exceeded), with how often."""
        counts: dict[str, int] = {}
        for pattern in self.patterns():
            if pattern.timeouts:
                counts[pattern.source] = counts.get(pattern.source, 0) + pattern.timeouts
        return counts

    @property
    def decoder_count(self) -> int:
        return len({id(dec) for dec in self._all_decoders()})


@dataclass
class LoadPlan:
    """Which files to read, in order."""

    decoder_files: list[Path] = field(default_factory=list)
    rule_files: list[Path] = field(default_factory=list)
    list_files: list[tuple[str, Path]] = field(default_factory=list)
    levels: AlertLevels = field(default_factory=AlertLevels)
    wazuh: bool = False


def _resolve(raw: str, bases: Sequence[Path]) -> Path:
    candidate = Path(raw)
    if candidate.is_absolute():
        return candidate
    for base in bases:
        if (base / candidate).exists():
            return base / candidate
    return bases[0] / candidate


def _dir_files(directory: Path, pattern: str) -> list[Path]:
    regex = re.compile(pattern)
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.is_file() and regex.search(p.name))


def _by_file_name(paths: list[Path]) -> list[Path]:
    """wazuh-analysisd's order: every file of every folder, sorted by file name alone."""
    return sorted(dict.fromkeys(paths), key=lambda p: p.name)


def _wazuh_ruleset(block: xmlload.Node, home: Path, plan: LoadPlan, errors: list) -> None:
    """A Wazuh `<ruleset>` block (config/rules-config.c Read_Rules), paths relative to home."""
    plan.wazuh = True
    excluded_rules: set[str] = set()
    excluded_decoders: set[str] = set()
    rules: list[Path] = []
    decoders: list[Path] = []
    for item in block.children:
        text = item.text.strip()
        path = Path(text) if Path(text).is_absolute() else home / text
        if item.tag in ("rule", "include"):
            rules.append(path if "/" in text else home / "ruleset" / "rules" / text)
        elif item.tag == "decoder":
            decoders.append(path if "/" in text else home / "ruleset" / "decoders" / text)
        elif item.tag in ("rule_dir", "decoder_dir"):
            regex = xmlload_pattern(item, errors)
            found = [p for p in _dir_files(path, r".") if regex is None or regex.search(str(p))]
            (rules if item.tag == "rule_dir" else decoders).extend(found)
        elif item.tag == "rule_exclude":
            excluded_rules.add(text)
        elif item.tag == "decoder_exclude":
            excluded_decoders.add(text)
        elif item.tag == "list":
            plan.list_files.append((list_key(text), home / list_key(text)))
        else:
            errors.append(item.error(f"unknown element <{item.tag}> in <ruleset>"))

    def kept(paths: list[Path], excluded: set[str]) -> list[Path]:
        return [p for p in paths if p.name not in excluded and str(p) not in excluded]

    plan.rule_files.extend(_by_file_name(kept(rules, excluded_rules)))
    plan.decoder_files.extend(_by_file_name(kept(decoders, excluded_decoders)))


def xmlload_pattern(item: xmlload.Node, errors: list) -> re.Pattern[str] | None:
    """A `<rule_dir>`/`<decoder_dir>` `pattern=` (an OS_Regex; `.xml$` by default)."""
    from ospatrol.analysis.osregex import translate_osregex
    from ospatrol.analysis.patterns import PatternError

    try:
        return re.compile(translate_osregex(item.attrs.get("pattern", ".xml$")))
    except (PatternError, re.error) as exc:
        errors.append(item.error(f"<{item.tag}> pattern: {exc}"))
        return None


def read_config(
    conf: Path,
    rules_dir: Path | None,
    errors: list[InputError],
    home: Path | None = None,
) -> LoadPlan:
    """The load plan of an ossec.conf's `<rules>` blocks, or of Wazuh's `<ruleset>` blocks
    (paths relative to `home`, by default the folder above the config's), and its `<alerts>`
    levels."""
    plan = LoadPlan()
    try:
        roots = xmlload.read_file(conf)
    except InputError as exc:
        errors.append(exc)
        return plan
    base = conf.resolve().parent
    home = home if home is not None else base.parent
    bases = [base, base.parent]
    # Bare rule file names live in <rules_dir>, else rules/ beside or above the config (the
    # 3.x and 4.x layouts), else the config's own folder.
    rule_base = rules_dir
    if rule_base is None:
        found = [d / "rules" for d in bases if (d / "rules").is_dir()]
        rule_base = found[0] if found else base
    for root in roots:
        for block in root.children:
            if block.tag == "alerts":
                for item in block.children:
                    if item.tag in ("log_alert_level", "email_alert_level") and item.text.isdigit():
                        setattr(plan.levels, item.tag, int(item.text))
            if block.tag == "ruleset":
                _wazuh_ruleset(block, home, plan, errors)
                continue
            if block.tag != "rules":
                continue
            for item in block.children:
                text = item.text.strip()
                if item.tag in ("include", "rule"):
                    path = rule_base / text if "/" not in text else _resolve(text, bases)
                    plan.rule_files.append(path)
                elif item.tag == "rule_dir":
                    pattern = item.attrs.get("pattern", _DEFAULT_RULE_DIR_PATTERN)
                    plan.rule_files.extend(_dir_files(_resolve(text, bases), pattern))
                elif item.tag == "decoder":
                    plan.decoder_files.append(_resolve(text, bases))
                elif item.tag == "decoder_dir":
                    pattern = item.attrs.get("pattern", r"\.xml$")
                    plan.decoder_files.extend(_dir_files(_resolve(text, bases), pattern))
                elif item.tag == "list":
                    plan.list_files.append((list_key(text), _resolve(list_key(text), bases)))
                else:
                    errors.append(item.error(f"unknown element <{item.tag}> in <rules>"))
    if not plan.decoder_files and not plan.wazuh:
        plan.decoder_files = _default_decoders(base)
    return plan


def _default_decoders(base: Path) -> list[Path]:
    """Decoders when the config names none: etc/decoder.xml and etc/local_decoder.xml (3.x),
    else every file of decoders/ beside or above the config (4.x)."""
    legacy = [base / name for name in ("decoder.xml", "local_decoder.xml")]
    if legacy[0].is_file():
        return [p for p in legacy if p.is_file()]
    for folder in (base / "decoders", base.parent / "decoders"):
        if folder.is_dir():
            return _dir_files(folder, r"\.xml$")
    return []


@contextlib.contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Loading a rule set allocates some hundred thousand objects that live on and makes no
    garbage cycles: the cyclic collector, run every few hundred allocations, would walk the
    growing rule set again and again for nothing (half the time of a cached load). After the
    load, they go straight to the oldest generation (`gc.freeze` then `gc.unfreeze`, which
    moves lists without walking them): left young, the first collections after the load
    would walk all of them twice on the way there (Wazuh's rule set: ~117,000 objects, ~50
    ms of its first events). Nothing is kept from the collector: what is garbage is
    collected with the oldest generation. Skipped where the process froze objects itself."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if gc.get_freeze_count() == 0:
            gc.freeze()
            gc.unfreeze()
        if enabled:
            gc.enable()


def load_ruleset(
    ossec_conf: Path | str | None = None,
    *,
    rules_dir: Path | str | None = None,
    decoders: Sequence[Path | str] | Path | str | None = None,
    rule_files: Sequence[Path | str] | None = None,
    lists: Sequence[Path | str] | None = None,
    cache: bool = False,
    home: Path | str | None = None,
) -> Ruleset:
    """Load and compile a rule set; raises `InputErrors` listing every problem found.

    `ossec_conf` gives the load order (its `<rules>` block); `rules_dir` is where bare rule file
    names are found (default: the `rules` folder beside the config); `decoders` replaces the
    config's decoder files; `rule_files` replaces its rule list. Without any config, every
    `*.xml` in `rules_dir` is loaded in name order. `cache` answers from the compiled-ruleset
    cache (`ospatrol.analysis.rulecache`) when it holds these exact files. `home` is the
    installation folder a Wazuh `<ruleset>` block's paths are relative to (wazuh-logtest's
    /var/ossec).
    """
    errors: list[InputError] = []
    rdir = Path(rules_dir) if rules_dir is not None else None
    if ossec_conf is not None:
        plan = read_config(Path(ossec_conf), rdir, errors, Path(home) if home else None)
    else:
        plan = LoadPlan()
        if rdir is not None and rule_files is None:
            plan.rule_files = _dir_files(rdir, r"\.xml$")
    if decoders is not None:
        seq = [decoders] if isinstance(decoders, str | Path) else list(decoders)
        plan.decoder_files = []
        for item in seq:
            p = Path(item)
            plan.decoder_files.extend(_dir_files(p, r"\.xml$") if p.is_dir() else [p])
    if rule_files is not None:
        plan.rule_files = [Path(p) if rdir is None else rdir / p for p in rule_files]
    if lists is not None:
        plan.list_files = [(list_key(str(p)), Path(list_key(str(p)))) for p in lists]
    with _cyclic_gc_paused():
        if cache and not errors:
            ruleset = rulecache.compile_cached(plan, errors, compile_plan)
        else:
            ruleset = compile_plan(plan, errors)
    if errors:
        raise InputErrors(errors)
    return ruleset


def compile_plan(plan: LoadPlan, errors: list[InputError]) -> Ruleset:
    """Read every file of `plan` (decoders, then lists, then rules) into a Ruleset."""
    wazuh = plan.wazuh
    warnings: list[InputError] = []
    compiled: list[Decoder] = []
    for path in plan.decoder_files:
        try:
            roots = xmlload.read_file(path, strict_variables=True, wazuh=wazuh)
        except InputError as exc:
            errors.append(exc)
            continue
        for node in roots:
            if node.tag != "decoder":
                errors.append(node.error(f"invalid top-level element <{node.tag}>, only <decoder>"))
                continue
            dec = read_decoder(node, errors, wazuh=wazuh, warnings=warnings)
            if dec is not None:
                compiled.append(dec)
    dset = build_decoder_set(compiled, errors)
    dset.wazuh = wazuh
    known = set(dset.names) | set(BUILTIN_DECODERS)
    if wazuh:
        known |= set(WAZUH_BUILTIN_DECODERS)

    loaded_lists: dict[str, CdbList] = {}
    for name, path in plan.list_files:
        try:
            loaded_lists[name] = load_list(name, path)
        except InputError as exc:
            (warnings if wazuh else errors).append(exc)

    tree = RuleTree(errors, wazuh=wazuh, warnings=warnings)
    for path in plan.rule_files:
        try:
            roots = xmlload.read_file(path, strict_variables=True, wazuh=wazuh)
        except InputError as exc:
            errors.append(exc)
            continue
        for rule in read_rule_file(
            roots, errors, plan.levels, known, wazuh=wazuh, warnings=warnings
        ):
            tree.add(rule)
    tree.finish()
    for rule in tree.by_id.values():
        for check in rule.lists:
            if check.key not in loaded_lists:
                # Wazuh: a lookup in a list that did not load finds nothing (a warning).
                (warnings if wazuh else errors).append(
                    InputError(
                        f"rule {rule.id}: list {check.path!r} is not loaded", rule.path, check.line
                    )
                )
    max_freq = max((r.frequency for r in tree.by_id.values()), default=0)
    files = tuple(str(p) for p in (*plan.decoder_files, *plan.rule_files))
    top = tuple(tree.top)
    ruleset = Ruleset(
        decoders=dset,
        top=top,
        rules=MappingProxyType(dict(tree.by_id)),
        lists=MappingProxyType(loaded_lists),
        max_frequency=max_freq,
        decoder_plans=DecoderPlans(dset),
        index=index_rules(top),
        files=files,
        dialect="wazuh" if wazuh else "ossec",
        warnings=tuple(warnings),
    )
    # Fresh patterns have their fast programs; compile their lowered ones now too, so that
    # every pattern runs its fastest program from the first event, and none pays for
    # compiling it on the way (unpickled from the rule cache, patterns compile their programs
    # when first used, the lowered one after some calls: see RegexPattern).
    for pattern in ruleset.patterns():
        if isinstance(pattern, RegexPattern):
            pattern.prepare()
    return ruleset


def load_default_ruleset(*, cache: bool = False) -> Ruleset:
    """OSPatrol's own rule set: `ospatrol.conf` in the shipped `rules` data folder."""
    from ospatrol.paths import data_dir

    return load_ruleset(data_dir("rules") / "ospatrol.conf", cache=cache)

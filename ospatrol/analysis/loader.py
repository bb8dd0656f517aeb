"""Load a complete rule set (decoders, lists, rules) in OSSEC's order, validating everything.

The load order comes from the `<rules>` block of an ossec.conf (`<decoder>`, `<decoder_dir>`,
`<list>`, `<include>`/`<rule>`, `<rule_dir>`), optionally overridden by explicit decoder files
and a rules directory. Every file is parsed and compiled; all problems are collected and raised
together as `InputErrors`, so `ospatrol rules check` can print every one. The result is an
immutable `Ruleset`; all run-time state lives in `ospatrol.analysis.engine.Engine`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from ospatrol.analysis import rulecache, xmlload
from ospatrol.analysis.cdb import CdbList, list_key, load_list
from ospatrol.analysis.decoders import Decoder, DecoderSet, build_decoder_set, read_decoder
from ospatrol.analysis.patterns import Pattern
from ospatrol.analysis.rules import AlertLevels, Rule, RuleNode, read_rule_file
from ospatrol.analysis.ruletree import RuleTree
from ospatrol.errors import InputError, InputErrors

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
    files: tuple[str, ...] = field(default=())

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


def read_config(
    conf: Path,
    rules_dir: Path | None,
    errors: list[InputError],
) -> LoadPlan:
    """The load plan of an ossec.conf's `<rules>` blocks (and its `<alerts>` levels)."""
    plan = LoadPlan()
    try:
        roots = xmlload.read_file(conf)
    except InputError as exc:
        errors.append(exc)
        return plan
    base = conf.resolve().parent
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
    if not plan.decoder_files:
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


def load_ruleset(
    ossec_conf: Path | str | None = None,
    *,
    rules_dir: Path | str | None = None,
    decoders: Sequence[Path | str] | Path | str | None = None,
    rule_files: Sequence[Path | str] | None = None,
    lists: Sequence[Path | str] | None = None,
    cache: bool = False,
) -> Ruleset:
    """Load and compile a rule set; raises `InputErrors` listing every problem found.

    `ossec_conf` gives the load order (its `<rules>` block); `rules_dir` is where bare rule file
    names are found (default: the `rules` folder beside the config); `decoders` replaces the
    config's decoder files; `rule_files` replaces its rule list. Without any config, every
    `*.xml` in `rules_dir` is loaded in name order. `cache` answers from the compiled-ruleset
    cache (`ospatrol.analysis.rulecache`) when it holds these exact files.
    """
    errors: list[InputError] = []
    rdir = Path(rules_dir) if rules_dir is not None else None
    if ossec_conf is not None:
        plan = read_config(Path(ossec_conf), rdir, errors)
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
    if cache and not errors:
        ruleset = rulecache.compile_cached(plan, errors, compile_plan)
    else:
        ruleset = compile_plan(plan, errors)
    if errors:
        raise InputErrors(errors)
    return ruleset


def compile_plan(plan: LoadPlan, errors: list[InputError]) -> Ruleset:
    """Read every file of `plan` (decoders, then lists, then rules) into a Ruleset."""
    compiled: list[Decoder] = []
    for path in plan.decoder_files:
        try:
            roots = xmlload.read_file(path, strict_variables=True)
        except InputError as exc:
            errors.append(exc)
            continue
        for node in roots:
            if node.tag != "decoder":
                errors.append(node.error(f"invalid top-level element <{node.tag}>, only <decoder>"))
                continue
            dec = read_decoder(node, errors)
            if dec is not None:
                compiled.append(dec)
    dset = build_decoder_set(compiled, errors)
    known = set(dset.names) | set(BUILTIN_DECODERS)

    loaded_lists: dict[str, CdbList] = {}
    for name, path in plan.list_files:
        try:
            loaded_lists[name] = load_list(name, path)
        except InputError as exc:
            errors.append(exc)

    tree = RuleTree(errors)
    for path in plan.rule_files:
        try:
            roots = xmlload.read_file(path, strict_variables=True)
        except InputError as exc:
            errors.append(exc)
            continue
        for rule in read_rule_file(roots, errors, plan.levels, known):
            tree.add(rule)
    tree.finish()
    for rule in tree.by_id.values():
        for check in rule.lists:
            if check.key not in loaded_lists:
                errors.append(
                    InputError(
                        f"rule {rule.id}: list {check.path!r} is not loaded", rule.path, check.line
                    )
                )
    max_freq = max((r.frequency for r in tree.by_id.values()), default=0)
    files = tuple(str(p) for p in (*plan.decoder_files, *plan.rule_files))
    return Ruleset(
        decoders=dset,
        top=tuple(tree.top),
        rules=MappingProxyType(dict(tree.by_id)),
        lists=MappingProxyType(loaded_lists),
        max_frequency=max_freq,
        files=files,
    )


def load_default_ruleset(*, cache: bool = False) -> Ruleset:
    """OSPatrol's own rule set: `ospatrol.conf` in the shipped `rules` data folder."""
    from ospatrol.paths import data_dir

    return load_ruleset(data_dir("rules") / "ospatrol.conf", cache=cache)

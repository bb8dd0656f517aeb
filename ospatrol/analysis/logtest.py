"""`ospatrol logtest` without the command line: OSSEC's output layout, unit-test codes, test suites.

- `format_phases(result)` renders one event exactly as ossec-logtest prints it (phase 1
  pre-decoding, phase 2 decoding, phase 3 rules, "**Alert to be generated.").
- `unit_code(result, expect)` is testrule.c's `-U rule:level:decoder` exit status.
- `read_ini_cases` / `run_ini_cases` reproduce contrib/ossec-testing/runtests.py: every `log N
  pass|fail` line of every section runs on its own, against a fresh engine, like one
  ossec-logtest process per line.
- `read_wazuh_cases` / `run_wazuh_cases` reproduce Wazuh's ruleset/testing/runtests.py: the
  ini files are read raw (`%%` stays `%%`), repeated keys of a section are one case whose
  lines go through one session, and `wazuh-logtest -U` compares [rule, level, decoder] of the
  last event exactly (`wazuh_unit_code`).
"""

from __future__ import annotations

import configparser
import json
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from ospatrol.analysis.engine import Engine, EngineResult
from ospatrol.errors import InputError

# ossec-logtest ignores lines shorter than this.
MIN_LINE = 2


def _q(value: str | None) -> str:
    return "(null)" if value is None else value


def format_phases(result: EngineResult) -> str:
    """The three phases of one event, byte for byte as ossec-logtest prints them."""
    lines = [
        "**Phase 1: Completed pre-decoding.",
        f"       full event: '{result.full_log}'",
        f"       hostname: '{result.hostname}'",
        f"       program_name: '{_q(result.program_name)}'",
        f"       log: '{result.log}'",
    ]
    if result.decoders_ran:
        lines.append("")
        lines.append("**Phase 2: Completed decoding.")
        if result.decoder_shown is None:
            lines.append("       No decoder matched.")
        else:
            lines.append(f"       decoder: '{result.decoder_shown}'")
            lines.extend(f"       {label}: '{value}'" for label, value in result.decoder_trace)
    if result.rule_trace:
        lines.append("")
        lines.append("**Rule debugging:")
        lines.extend(result.rule_trace)
    if result.accumulated:
        lines.append("")
        lines.append("**ACCUMULATOR: LEVEL UP!!**")
        lines.append("")
    rule = result.rule
    if rule is not None:
        lines.append("")
        lines.append("**Phase 3: Completed filtering (rules).")
        lines.append(f"       Rule id: '{rule.id}'")
        lines.append(f"       Level: '{rule.level}'")
        lines.append(f"       Description: '{rule.description}'")
        lines.extend(f"       Info - {kind}: '{text}'" for kind, text in rule.info)
        if result.generated and result.logged:
            lines.append("**Alert to be generated.")
            lines.append("")
            lines.append("")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Expectation:
    """`-U RULE:LEVEL:DECODER`."""

    rule: str
    level: str
    decoder: str

    @classmethod
    def parse(cls, text: str) -> Expectation:
        parts = text.split(":", 2)
        if len(parts) != 3:
            raise InputError(f"-U needs RULE:LEVEL:DECODER, got {text!r}")
        return cls(*parts)


UNIT_NO_RULE = 255


def unit_code(result: EngineResult, expect: Expectation) -> int:
    """0 all match, 1 level differs, 2 rule differs, 3 decoder differs, 255 decoded, no rule."""
    if result.decoder is None or result.decoder.lower() != expect.decoder.lower():
        return 3
    if result.rule is None:
        return UNIT_NO_RULE
    if str(result.rule.id) != expect.rule:
        return 2
    if str(result.rule.level) != expect.level:
        return 1
    return 0


def result_json(result: EngineResult) -> str:
    """One `--format jsonl` line."""
    return json.dumps(
        {
            "decoder": result.decoder,
            "rule": result.rule.id if result.rule else None,
            "level": result.rule.level if result.rule else None,
            "alert": result.alert is not None,
            "fields": dict(result.fields),
        },
        ensure_ascii=False,
        sort_keys=False,
    )


@dataclass(frozen=True)
class IniCase:
    """One `log N pass|fail` line of an ossec-testing .ini section."""

    file: str
    section: str
    name: str
    log: str
    expect: Expectation
    negate: bool


@dataclass(frozen=True)
class CaseOutcome:
    case: IniCase
    code: int
    result: EngineResult | None

    @property
    def passed(self) -> bool:
        return (self.code == 0) != self.case.negate

    def describe(self) -> str:
        r = self.result
        got = "no result"
        if r is not None:
            got = f"decoder={r.decoder} rule={r.rule.id if r.rule else None}"
            got += f" level={r.rule.level if r.rule else None}"
        kind = "fail" if self.case.negate else "pass"
        return (
            f"{Path(self.case.file).name} [{self.case.section}] {self.case.name} ({kind}): "
            f"want {self.case.expect.rule}:{self.case.expect.level}:{self.case.expect.decoder}, "
            f"got code {self.code} ({got})"
        )


def read_ini_cases(paths: Iterable[Path]) -> list[IniCase]:
    """Cases as runtests.py sees them (ConfigParser: later duplicate keys win, `%%` is `%`)."""
    cases: list[IniCase] = []
    for path in sorted(paths):
        parser = configparser.RawConfigParser(strict=False)
        try:
            parser.read(path, encoding="utf-8")
        except configparser.Error as exc:
            raise InputError(f"bad test file: {exc}", str(path)) from None
        for section in parser.sections():
            try:
                expect = Expectation(
                    parser.get(section, "rule"),
                    parser.get(section, "alert"),
                    parser.get(section, "decoder"),
                )
            except configparser.Error as exc:
                raise InputError(f"section [{section}]: {exc}", str(path)) from None
            for name, value in parser.items(section):
                if not name.startswith("log "):
                    continue
                # The files are written for Python 2's interpolating ConfigParser: `%%` is `%`.
                text = value.replace("%%", "%")
                cases.append(IniCase(str(path), section, name, text, expect, name.endswith("fail")))
    return cases


def run_ini_cases(
    cases: Iterable[IniCase], engine_factory: Callable[[], Engine]
) -> list[CaseOutcome]:
    """Run every case against its own fresh engine (one ossec-logtest process per line)."""
    outcomes: list[CaseOutcome] = []
    for case in cases:
        engine = engine_factory()
        result = None
        code = 3
        for line in case.log.split("\n"):
            if len(line) < MIN_LINE:
                continue
            result = engine.process_line(line)
            code = unit_code(result, case.expect)
        outcomes.append(CaseOutcome(case, code, result))
    return outcomes


class _MultiOrderedDict(OrderedDict):
    """runtests.py's dict_type: a key given twice in a section collects both values."""

    def __setitem__(self, key, value):
        if isinstance(value, list) and key in self:
            self[key].extend(value)
        else:
            super().__setitem__(key, value)


def read_wazuh_cases(paths: Iterable[Path]) -> list[IniCase]:
    """Cases as Wazuh's runtests.py sees them; `*geoip.ini` files are skipped as it does."""
    cases: list[IniCase] = []
    for path in sorted(paths):
        if path.name.endswith("geoip.ini"):
            continue
        parser = configparser.RawConfigParser(dict_type=_MultiOrderedDict, strict=False)
        try:
            parser.read(path, encoding="utf-8")
        except configparser.Error as exc:
            raise InputError(f"bad test file: {exc}", str(path)) from None
        for section in parser.sections():
            expect = Expectation(
                parser.get(section, "rule", fallback=""),
                parser.get(section, "alert", fallback=""),
                parser.get(section, "decoder", fallback=""),
            )
            for name, value in parser.items(section):
                if name.startswith("log "):
                    cases.append(
                        IniCase(str(path), section, name, value, expect, name.endswith("fail"))
                    )
    return cases


def wazuh_unit_code(result: EngineResult | None, expect: Expectation) -> int:
    """wazuh-logtest -U's exit status: 1 when the last event's [rule, level, decoder] differs
    from the expectation; when it is equal, the number of empty fields expected (0 for a full
    expectation: its "workaround to support runtest.py")."""
    got = ("", "", "")
    if result is not None:
        rule = result.rule
        got = (
            str(rule.id) if rule else "",
            str(rule.level) if rule else "",
            result.decoder or "",
        )
    wanted = (expect.rule, expect.level, expect.decoder)
    return wanted.count("") if got == wanted else 1


def run_wazuh_cases(
    cases: Iterable[IniCase], engine_factory: Callable[[], Engine]
) -> list[CaseOutcome]:
    """Every case through its own session (one wazuh-logtest process per case)."""
    outcomes: list[CaseOutcome] = []
    for case in cases:
        engine = engine_factory()
        result = None
        for line in case.log.split("\n"):
            if line:
                result = engine.process_line(line)
        code = wazuh_unit_code(result, case.expect)
        outcomes.append(CaseOutcome(case, code, result))
    return outcomes


def provision_wazuh_home(source: Path, home: Path) -> Path:
    """A Wazuh installation folder for the ruleset's own tests, as runtests.py prepares
    /var/ossec: `source` (Wazuh's etc/ and ruleset/) copied under `home`, the lists in
    etc/lists, the test decoders and rules in etc/decoders and etc/rules, and rule 60000
    switched to `decoded_as json`. Returns `home`."""
    import re
    import shutil

    shutil.copytree(source / "ruleset", home / "ruleset")
    (home / "etc").mkdir(parents=True)
    shutil.copy2(source / "etc" / "ossec.conf", home / "etc" / "ossec.conf")
    shutil.copytree(source / "ruleset" / "lists", home / "etc" / "lists")
    for kind in ("rules", "decoders"):
        target = home / "etc" / kind
        target.mkdir()
        for path in sorted((source / "ruleset" / "testing" / "ruleset").iterdir()):
            if re.match(rf"^test_(.*_)?{kind}\.xml$", path.name):
                shutil.copy2(path, target)
    win = home / "ruleset" / "rules" / "0575-win-base_rules.xml"
    text = win.read_text(encoding="utf-8")
    rule = re.search(r'<rule id="60000"[^>]*>.*?</rule>', text, re.S)
    if rule is not None:
        body = re.sub(r"\s*<(decoded_as|category)>[^<]*</\1>", "", rule.group(0))
        body = body.replace("</rule>", "  <decoded_as>json</decoded_as>\n  </rule>")
        text = text[: rule.start()] + body + text[rule.end() :]
        win.write_text(text, encoding="utf-8")
    return home

"""`checks/<profile>.yml`: what to collect per platform, read through a registry of section parsers.

A profile file is a mapping of sections (`fim:`, `commands:`, and the sections other collectors
register). Each known section is parsed by its parser into a typed value; an unknown section (a
typo like `comands:`) is an error naming its line, so a collector is never silently disabled.
Every error of every file is collected and reported together (`ospatrol checks check`). Which
file serves which platform comes from the platform table (`ospatrol.platforms`).

To add a section, add a row to `SECTIONS`: its name and a parser `(data, path, line) -> value`
that raises `InputError`/`InputErrors` naming file and line. Parsers import their module only
when called, so loading profiles stays cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ospatrol.errors import InputError, InputErrors
from ospatrol.platforms import BY_SPELLING
from ospatrol.scrub import SECRETS_FILE
from ospatrol.yamlfile import LineDict, load_yaml_file

if TYPE_CHECKING:
    from ospatrol.collect.commands import CommandSpec
    from ospatrol.profiles.fim import FimProfile

SectionParser = Callable[[Any, str, "int | None"], Any]


def _fim(data: Any, path: str, line: int | None) -> Any:
    from ospatrol.profiles.fim import parse_fim

    return parse_fim(data, path, line)


def _commands(data: Any, path: str, line: int | None) -> Any:
    from ospatrol.collect.commands import parse_command_specs

    return parse_command_specs(data, path, line)


def _config(data: Any, path: str, line: int | None) -> Any:
    from ospatrol.collect.configs import parse_config_section

    return parse_config_section(data, path, line)


def _facts(data: Any, path: str, line: int | None) -> Any:
    from ospatrol.collect.facts import parse_facts_section

    return parse_facts_section(data, path, line)


SECTIONS: Mapping[str, SectionParser] = MappingProxyType(
    {"fim": _fim, "commands": _commands, "config": _config, "facts": _facts}
)
"""Section name -> its parser. Read-only: a new section is a new row here."""


@dataclass(frozen=True)
class Profile:
    """One `checks/<name>.yml`: each of its sections, parsed."""

    name: str
    path: str
    sections: Mapping[str, Any] = field(default_factory=dict)

    @property
    def fim(self) -> FimProfile | None:
        """The `fim:` section (`ospatrol.profiles.fim`): watched paths and how."""
        return self.sections.get("fim")

    @property
    def commands(self) -> tuple[CommandSpec, ...]:
        """The `commands:` section (`ospatrol.collect.commands`): outputs diffed between audits."""
        return self.sections.get("commands", ())


def load_profile(path: Path) -> Profile:
    """Parse one profile file; raises `InputErrors` with every error in it."""
    data = load_yaml_file(path)
    if data is None:
        return Profile(path.stem, str(path))
    if not isinstance(data, LineDict):
        raise InputError("a checks profile must be a mapping of sections", str(path), 1)
    errors: list[InputError] = []
    sections: dict[str, Any] = {}
    for name, value in data.items():
        parser = SECTIONS.get(name)
        if parser is None:
            known = ", ".join(SECTIONS)
            errors.append(
                InputError(
                    f"unknown section {name!r}; known: {known}", str(path), data.line_of(name)
                )
            )
            continue
        try:
            sections[name] = parser(value, str(path), data.line_of(name))
        except InputErrors as exc:
            errors.extend(exc.errors)
        except InputError as exc:
            errors.append(exc)
    if errors:
        raise InputErrors(errors)
    return Profile(path.stem, str(path), MappingProxyType(sections))


def load_profiles(checks_dir: Path | None = None) -> dict[str, Profile]:
    """Every `*.yml` profile in `checks_dir` (default: the shipped `checks/`), by file stem."""
    from ospatrol.paths import data_dir

    folder = Path(checks_dir) if checks_dir else data_dir("checks")
    profiles: dict[str, Profile] = {}
    errors: list[InputError] = []
    for path in sorted(folder.glob("*.yml")):
        if path.name == SECRETS_FILE:
            continue  # the scrubber's base rules (ospatrol.scrub), not a platform
        try:
            profiles[path.stem] = load_profile(path)
        except InputErrors as exc:
            errors.extend(exc.errors)
        except InputError as exc:
            errors.append(exc)
    if errors:
        raise InputErrors(errors)
    return profiles


def profile_for(profiles: Mapping[str, Profile], platform: str) -> Profile | None:
    """The profile serving `platform` (any spelling the platform table knows), if its file
    exists."""
    known = BY_SPELLING.get(platform)
    return profiles.get(known.profile if known else platform)

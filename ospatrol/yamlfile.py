"""Load YAML keeping the line of every mapping key, so loaders can name file and line in errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ospatrol.errors import InputError


class LineDict(dict):
    """A dict from YAML that remembers where it and each of its keys were written (1-based)."""

    line: int = 0
    key_lines: dict[Any, int]

    def line_of(self, key: Any) -> int:
        return self.key_lines.get(key, self.line)


# libyaml's loader when PyYAML was built with it: several times faster on large files.
SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _LineLoader(SafeLoader):
    """SafeLoader that builds `LineDict`s."""


def construct_line_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> LineDict:
    """PyYAML constructor for mappings that builds a `LineDict`; register it on any safe loader."""
    loader.flatten_mapping(node)
    result = LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "unhashable mapping key", key_node.start_mark
            ) from None
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_line_mapping)


def load_yaml_text(text: str, path: str, loader: type[SafeLoader] = _LineLoader) -> Any:
    """Parse YAML `text` (read from `path`) with `loader` (a safe loader building `LineDict`s);
    syntax errors become `InputError` with the line."""
    try:
        # Only SafeLoader subclasses: no arbitrary Python objects.
        return yaml.load(text, Loader=loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise InputError(f"invalid YAML: {problem}", path, line) from None
    except yaml.YAMLError as exc:
        raise InputError(f"invalid YAML: {exc}", path) from None


def load_yaml_file(path: Path) -> Any:
    """Read and parse a YAML file; unreadable or undecodable files become `InputError`."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read: {exc}", str(path)) from None
    return load_yaml_text(text, str(path))

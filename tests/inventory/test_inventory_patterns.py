"""The `--limit` pattern resolver on a hand-made inventory (no files, no Ansible)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest

from ospatrol.errors import InputError
from ospatrol.inventory.patterns import evaluate, limit_parts, order_parts, split_pattern


class Source:
    """all -> ungrouped(u1), web(w1 w2 w3), db(d1 d2), prod -> (web, db), x.example.com in ext."""

    groups: ClassVar[dict[str, list[str]]] = {
        "all": ["u1", "w1", "w2", "w3", "d1", "d2", "x.example.com"],
        "ungrouped": ["u1"],
        "web": ["w1", "w2", "w3"],
        "db": ["d1", "d2"],
        "prod": ["w1", "w2", "w3", "d1", "d2"],
        "ext": ["x.example.com"],
    }

    def group_names(self):
        return list(self.groups)

    def host_names(self):
        return self.groups["all"]

    def hosts_of(self, group):
        return list(self.groups[group])


def select(pattern: str) -> list[str]:
    return evaluate(limit_parts(pattern), Source())


@pytest.mark.parametrize(
    ("pattern", "parts"),
    [
        ("web", ["web"]),
        ("web:db", ["web", "db"]),
        ("web,db", ["web", "db"]),
        ("web, db ,", ["web", "db"]),
        ("web:!db:&prod", ["web", "!db", "&prod"]),
        ("web[0:2]:db", ["web[0:2]", "db"]),
        ("web01:2222", ["web01:2222"]),
        ("web[1:3]", ["web[1:3]"]),
        ("::1", ["::1"]),
        ("a:b,c", ["a:b", "c"]),
    ],
)
def test_split_pattern(pattern: str, parts: list[str]):
    assert split_pattern(pattern) == parts


def test_plain_parts_first_then_intersections_then_exclusions():
    assert order_parts(["!a", "&b", "c", "!d", "e"]) == ["c", "e", "&b", "!a", "!d"]
    assert order_parts(["!a"]) == ["all", "!a"]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("all", ["u1", "w1", "w2", "w3", "d1", "d2", "x.example.com"]),
        ("web", ["w1", "w2", "w3"]),
        ("w2", ["w2"]),
        ("w*", ["w1", "w2", "w3"]),
        ("*.example.com", ["x.example.com"]),
        ("~[wd]1", ["w1", "d1"]),
        ("~w", ["w1", "w2", "w3"]),
        ("web[0]", ["w1"]),
        ("web[-1]", ["w3"]),
        ("web[1:]", ["w2", "w3"]),
        ("web[0:1]", ["w1", "w2"]),
        ("web[2:0]", ["w3"]),
        ("db:web", ["d1", "d2", "w1", "w2", "w3"]),
        ("prod:!web", ["d1", "d2"]),
        ("!web", ["u1", "d1", "d2", "x.example.com"]),
        ("&db", ["d1", "d2"]),
        ("prod:&web:!w2", ["w1", "w3"]),
        ("w1,w1,web", ["w1", "w2", "w3"]),
        ("nosuch", []),
        ("nosuch[0]", []),
        ("ungrouped", ["u1"]),
    ],
)
def test_evaluate(pattern: str, expected: list[str]):
    assert select(pattern) == expected


def test_subscript_out_of_range_is_an_error():
    with pytest.raises(InputError, match="subscripted pattern"):
        select("web[5]")


def test_invalid_regex_is_an_error():
    with pytest.raises(InputError, match="invalid host pattern"):
        select("~w(")


def test_limit_file_lines_are_patterns(tmp_path: Path):
    limit = tmp_path / "limit"
    limit.write_text("web\n!w2\n\n")
    assert select(f"@{limit},d1") == ["w1", "w3", "d1"]


def test_missing_limit_file_names_it(tmp_path: Path):
    with pytest.raises(InputError, match="limit file") as info:
        select(f"@{tmp_path / 'nope'}")
    assert info.value.path == str(tmp_path / "nope")

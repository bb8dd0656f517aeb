"""Host ranges and `name:port` addresses, as Ansible expands and splits them."""

from __future__ import annotations

import pytest

from ospatrol.inventory.ranges import RangeError, expand_range, parse_address, split_host_port


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("web01", ["web01"]),
        ("web[1:3]", ["web1", "web2", "web3"]),
        ("web[01:03]", ["web01", "web02", "web03"]),
        ("web[08:11]", ["web08", "web09", "web10", "web11"]),
        (
            "web[001:003].example.com",
            ["web001.example.com", "web002.example.com", "web003.example.com"],
        ),
        ("db[a:c]", ["dba", "dbb", "dbc"]),
        ("db[x:B]", ["dbx", "dby", "dbz", "dbA", "dbB"]),
        ("n[1:10:4]", ["n1", "n5", "n9"]),
        ("n[01:10:3]", ["n01", "n04", "n07", "n10"]),
        ("n[a:g:3]", ["na", "nd", "ng"]),
        ("n[:2]", ["n0", "n1", "n2"]),
        ("r[1:2]-s[a:b]", ["r1-sa", "r1-sb", "r2-sa", "r2-sb"]),
        ("n[5:1]", []),
        ("10.0.0.[1:3]", ["10.0.0.1", "10.0.0.2", "10.0.0.3"]),
    ],
)
def test_expand_range(name: str, expected: list[str]):
    assert expand_range(name) == expected


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("web[1:2", "unterminated"),
        ("web[1]", "begin:end"),
        ("web[1:2:3:4]", "begin:end"),
        ("web[1:]", "end value"),
        ("web[01:100]", "equal width"),
        ("web[c:a]", "begin <= end"),
        ("web[1:x]", "numbers or letters"),
        ("web[1:5:0]", "positive"),
        ("web[1:5:z]", "positive"),
    ],
)
def test_bad_ranges_say_why(name: str, message: str):
    with pytest.raises(RangeError, match=message):
        expand_range(name)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("web01", ("web01", None)),
        ("web01:2222", ("web01", 2222)),
        ("web[01:20]:2222", ("web[01:20]", 2222)),
        ("db[a:c].example.com", ("db[a:c].example.com", None)),
        ("192.0.2.1:22", ("192.0.2.1", 22)),
        ("10.0.0.[1:9]", ("10.0.0.[1:9]", None)),
        ("[::1]:2222", ("::1", 2222)),
        ("::1", ("::1", None)),
        ("fe80::1", ("fe80::1", None)),
        ("[web01]:2222", ("web01", 2222)),
        ("host_1.example", ("host_1.example", None)),
    ],
)
def test_parse_address(text: str, expected: tuple[str, int | None]):
    assert parse_address(text) == expected


@pytest.mark.parametrize("text", ["web:db", "web*", "-web", "web_", "a b", "web:&db"])
def test_not_an_address(text: str):
    assert parse_address(text) is None


def test_invalid_addresses_are_kept_whole_without_port():
    assert split_host_port("odd@name:22") == ("odd@name:22", None)
    assert split_host_port("odd@name") == ("odd@name", None)

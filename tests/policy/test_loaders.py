"""Loading: every shared SCA and Unix rootcheck policy unchanged; errors name file, line, check."""

from __future__ import annotations

from pathlib import Path

import pytest

from ospatrol.errors import InputError
from ospatrol.policy.load import load_policy
from ospatrol.policy.model import Policy, invalid_terms
from tests.policy.conftest import write_policy

HEAD = """policy:
  id: test
  file: test.yml
  name: Test policy
  description: test
checks:
"""


def test_every_shared_policy_loads_without_error(loaded_policies: dict[Path, Policy]):
    assert len(loaded_policies) >= 25
    for path, policy in loaded_policies.items():
        assert policy.checks, path
        assert len({c.id for c in policy.checks}) == len(policy.checks), path


def test_dialects_counts_and_requirements(loaded_policies: dict[Path, Policy]):
    by_name = {f"{p.parent.name}/{p.name}": policy for p, policy in loaded_policies.items()}
    four, five = by_name["wazuh-4.x/cis_debian12.yml"], by_name["wazuh-5.x/cis_debian12.yml"]
    assert (four.dialect, five.dialect) == ("sca4", "sca5")
    # the counts of the research notes' table
    assert len(four.checks) == len(five.checks) == 207
    assert len(by_name["wazuh-5.x/cis_ubuntu24-04.yml"].checks) == 279
    assert four.requirements is not None and len(four.requirements.rules) == 4
    check = four.check("33010")
    assert check is not None and check.compliance["cis"] == ("1.1.2.1.1",)
    # 5.x: object compliance plus mitre carried as mitre_* keys
    assert any(k.startswith("mitre_") for c in five.checks for k in c.compliance)
    assert any("nist_800_53" in c.compliance for c in five.checks)


def test_rootcheck_policies_polarity_requirements_and_ids(loaded_policies: dict[Path, Policy]):
    policies = {p.name: policy for p, policy in loaded_policies.items() if p.suffix == ".txt"}
    debian = policies["cis_debian_linux_rcl.txt"]
    assert debian.polarity == "finding" and debian.requirements is not None
    assert [c.id for c in debian.checks[:3]] == ["1", "2", "3"]
    # {PCI_DSS: ...} tags in titles become compliance entries, and leave the title
    tagged = next(c for p in policies.values() for c in p.checks if "pci_dss" in c.compliance)
    assert "{" not in tagged.title
    # `f:!/path` negates the entry
    negated = [r for c in debian.checks for r in c.rules if r.negate]
    assert negated and all(r.kind in "fdp" for r in negated)


def test_stock_quirks_load_as_wazuh_reads_them(
    shared_data: Path, loaded_policies: dict[Path, Policy]
):
    four = loaded_policies[shared_data / "sca" / "wazuh-4.x" / "cis_debian12.yml"]
    terms = {
        t.source: t
        for c in four.checks
        for r in c.rules
        if r.content
        for t in r.content.terms
        if t.kind == "numeric"
    }
    glued = next(t for s, t in terms.items() if "timestamp_timeout" in s)
    assert (glued.op, glued.value) == ("<=", 15)  # `compare <=15`
    lenient = next(t for s, t in terms.items() if "compare => 2" in s)
    assert lenient.op == "=="  # 4.x: an operator starting with '=' means '=='
    # `n:root_unlock_time >= 60` has no `compare`: Wazuh cannot evaluate it either
    assert any("33192" in w for w in four.warnings)
    broken = four.check("33192")
    assert broken is not None and any(invalid_terms(r) for r in broken.rules)


def test_yaml_error_names_file_and_line(tmp_path: Path):
    path = write_policy(tmp_path, HEAD + "  - id: 1\n    title: [unclosed\n")
    with pytest.raises(InputError) as info:
        load_policy(path)
    assert str(path) in str(info.value) and info.value.line is not None


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("x:/etc/passwd", "unknown rule type"),
        ("f:/etc/passwd -> n:^x(\\d+) compare ~ 3", "needs 'REGEX compare OP NUMBER'"),
        ("f:/etc/passwd -> r:\\q", "bad regex"),
    ],
)
def test_bad_rule_names_file_line_and_check(tmp_path: Path, rule: str, message: str):
    text = (
        HEAD
        + f"""  - id: 4242
    title: t
    condition: all
    rules:
      - 'f:/etc/hosts'
      - '{rule}'
"""
    )
    # native policies (platforms:) are strict; so is any SCA rule type we do not know
    path = write_policy(
        tmp_path, text.replace("  description: test\n", "  description: t\n  platforms: [linux]\n")
    )
    with pytest.raises(InputError) as info:
        load_policy(path)
    text_of = str(info.value)
    assert f"{path}:13:" in text_of and "check 4242" in text_of and message in text_of


def test_sca_bad_regex_is_a_warning_with_file_line_and_check(tmp_path: Path):
    path = write_policy(
        tmp_path,
        HEAD
        + """  - id: 7
    title: t
    condition: all
    rules:
      - 'f:/etc/hosts -> r:\\+'
""",
    )
    policy = load_policy(path)
    assert policy.warnings == (
        f"{path}:11: check 7: bad regex '\\\\+': invalid OS_Regex '\\\\+': "
        "unknown escape \\+ (rule is not applicable)",
    )


def test_every_error_is_reported_at_once(tmp_path: Path):
    path = write_policy(
        tmp_path,
        HEAD
        + """  - id: 1
    title: a
    condition: sometimes
    rules: ['f:/etc/hosts']
  - id: 1
    title: b
    condition: all
    rules: ['q:thing']
""",
    )
    with pytest.raises(InputError) as info:
        load_policy(path)
    text = str(info.value)
    assert "check 1: condition must be one of" in text and "unknown rule type" in text


def test_variables_are_substituted(tmp_path: Path):
    path = write_policy(
        tmp_path,
        HEAD.replace(
            "checks:\n", "variables:\n  $conf: /etc/a.conf,/etc/b.conf\n  $c: /nope\nchecks:\n"
        )
        + """  - id: 1
    title: a
    condition: all
    rules: ['f:$conf -> r:x']
""",
    )
    (rule,) = load_policy(path).checks[0].rules
    assert rule.targets == ("/etc/a.conf", "/etc/b.conf")

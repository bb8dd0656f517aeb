"""The module's DOCUMENTATION, EXAMPLES and RETURN agree with its argument_spec."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import yaml

MODULE = Path(__file__).resolve().parents[2] / "playbooks" / "library" / "ospatrol_audit.py"


def _module():
    spec = importlib.util.spec_from_file_location("ospatrol_audit_module", MODULE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_documentation_matches_argument_spec():
    module = _module()
    doc = yaml.safe_load(module.DOCUMENTATION)
    spec = module.ARGUMENT_SPEC
    assert set(doc["options"]) == set(spec)
    for name, option in doc["options"].items():
        assert option["type"] == spec[name]["type"], name
        assert option.get("default") == spec[name].get("default"), name
        assert bool(option.get("required")) == bool(spec[name].get("required")), name
        assert option.get("choices") == spec[name].get("choices"), name
    assert spec["password"]["no_log"] and spec["become_password"]["no_log"]
    assert isinstance(yaml.safe_load(module.EXAMPLES), list)
    assert {"findings", "hosts", "run_id", "exit_status"} <= set(yaml.safe_load(module.RETURN))


def test_only_offers_every_collector_the_audit_has():
    from ospatrol.audit.setup import COLLECTORS

    assert _module().ARGUMENT_SPEC["only"]["choices"] == list(COLLECTORS)

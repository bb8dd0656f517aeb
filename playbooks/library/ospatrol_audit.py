#!/usr/bin/python
"""Ansible module `ospatrol_audit`: audit hosts in one OSPatrol run, with OSPatrol's API."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ospatrol_audit
short_description: Audit hosts with OSPatrol (file integrity, command output) from a playbook
description:
  - Runs one OSPatrol audit (one run in the store) of I(hosts), or of the hosts matching
    I(limit), or of I(host), from the inventory I(inventory), as C(ospatrol audit) does, and
    returns the findings of every audited host.
  - The shipped playbook runs it once per play (C(run_once)) with I(hosts) set to the play's
    hosts, so C(ospatrol report) afterwards shows the whole play, and shows each host's part
    in a per-host task.
  - Runs on the controller (delegate the task to C(localhost)); the interpreter must be able
    to import C(ospatrol). The bundled action plugin fills I(inventory) from C(inventory_file)
    and, when neither I(hosts) nor I(limit) is given, I(host) from C(inventory_hostname).
  - C(changed) is true only when a stored baseline moved (the first audit of a host, or a
    change). In check mode the audit compares with the baselines and writes nothing.
  - Fails only on bad input (inventory, config) or when I(fail_on_findings) is set and a finding
    reaches the alert level; a host that cannot be audited is reported in C(hosts) with a warning.
version_added: "0.1.0"
options:
  inventory:
    description: Ansible inventory OSPatrol reads (YAML, INI, JSON or a directory).
    type: path
    required: true
  hosts:
    description:
      - Inventory hosts to audit, by name, in one run (e.g. C({{ ansible_play_batch }})).
    type: list
    elements: str
  host:
    description:
      - Inventory host to audit. Defaults to C(inventory_hostname) through the action plugin.
      - Ignored when I(hosts) or I(limit) is given.
    type: str
  limit:
    description: Ansible C(--limit) pattern of the hosts to audit, instead of I(host).
    type: str
  state_dir:
    description: OSPatrol state dir (store, baselines, pinned host keys).
    type: path
    default: var/ospatrol
  config:
    description: OSPatrol manager config (YAML).
    type: path
  checks:
    description: Folder of C(checks/<platform>.yml) profiles (default the shipped ones).
    type: path
  only:
    description: Collectors to run (default all).
    type: list
    elements: str
    choices: [fim, commands, config, facts, esx, cis]
  fail_on_findings:
    description: Fail the task when a finding reaches the configured alert level.
    type: bool
    default: false
  lock_wait:
    description: Seconds to wait for another audit of the same state dir (parallel forks).
    type: float
    default: 600
  password:
    description: SSH password overriding the inventory's, e.g. from a vault. Never logged.
    type: str
  become_password:
    description: sudo password overriding the inventory's. Never logged.
    type: str
author:
  - OSPatrol contributors
"""

EXAMPLES = r"""
- name: Audit the play's hosts in one run, from the controller
  hosts: all
  gather_facts: false
  tasks:
    - name: OSPatrol audit
      ospatrol_audit:
        hosts: "{{ ansible_play_batch }}"
        state_dir: /var/lib/ospatrol
      run_once: true
      delegate_to: localhost
      register: audit

- name: Audit a whole group in one run and fail on findings
  ospatrol_audit:
    inventory: /etc/ospatrol/inventory.yml
    limit: webservers
    fail_on_findings: true
  run_once: true
  delegate_to: localhost
"""

RETURN = r"""
run_id:
  description: Store id of the run (null in check mode, which stores nothing).
  returned: always
  type: int
exit_status:
  description: What C(ospatrol audit) would exit with (0 clean, 1 findings, 2 incomplete).
  returned: always
  type: int
findings:
  description:
    - Every finding of the audited hosts, as in C(ospatrol audit --format json), with the host's
      name and a one-line C(summary).
  returned: always
  type: list
  elements: dict
  sample:
    - host: web1
      collector: fim
      kind: changed
      path: /etc/hosts
      detail: "size, sha256"
      rule: 550
      level: 7
      alert: true
      summary: "fim changed /etc/hosts (level 7)"
hosts:
  description:
    - Per-host outcome (name, address, status ok|incomplete|unreachable|error, error,
      baseline_changed), every audited host.
  returned: always
  type: list
  elements: dict
alerting:
  description: Number of findings at or above the alert level.
  returned: always
  type: int
"""

from dataclasses import replace  # noqa: E402  (Ansible: imports follow the doc blocks)

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

ARGUMENT_SPEC = dict(
    inventory=dict(type="path", required=True),
    hosts=dict(type="list", elements="str"),
    host=dict(type="str"),
    limit=dict(type="str"),
    state_dir=dict(type="path", default="var/ospatrol"),
    config=dict(type="path"),
    checks=dict(type="path"),
    only=dict(
        type="list", elements="str", choices=["fim", "commands", "config", "facts", "esx", "cis"]
    ),
    fail_on_findings=dict(type="bool", default=False),
    lock_wait=dict(type="float", default=600.0),
    password=dict(type="str", no_log=True),
    become_password=dict(type="str", no_log=True),
)


def _with_credentials(hosts, password, become_password):
    """Hosts with the task's credentials (if given) in place of the inventory's."""
    result = []
    for host in hosts:
        creds = host.credentials
        if password is not None:
            creds = replace(creds, password=password)
        if become_password is not None:
            creds = replace(creds, become_password=become_password)
        result.append(replace(host, credentials=creds))
    return result


def _summary(finding):
    """One line for a play's output: `fim changed /etc/hosts (level 7)`, texts escaped."""
    from ospatrol.escape import escape

    words = [finding["collector"], finding["kind"], finding["subject"]]
    level = "" if finding["level"] is None else f" (level {finding['level']})"
    return escape(" ".join(w for w in words if w)) + level


def run(module):
    from pathlib import Path

    from ospatrol.audit.setup import audit_configured, parse_only
    from ospatrol.config import load_config
    from ospatrol.inventory import load_inventory
    from ospatrol.report import run_to_dict

    params = module.params
    pattern = params["limit"] or params["host"]
    if not params["hosts"] and not pattern:
        module.fail_json(
            msg="one of hosts, limit or host is required (the action plugin sets host)"
        )
    config_path = Path(params["config"]) if params["config"] else None
    config = load_config(config_path, state_dir=Path(params["state_dir"]))
    names = parse_only(",".join(params["only"]) if params["only"] else None)
    inventory = load_inventory(Path(params["inventory"]))
    if params["hosts"]:
        missing = [name for name in params["hosts"] if name not in inventory.hosts]
        if missing:
            module.fail_json(msg=f"not in {params['inventory']}: {', '.join(missing)}")
        hosts = [inventory.hosts[name] for name in params["hosts"]]
        pattern = ",".join(params["hosts"])
    else:
        hosts = inventory.select(pattern)
    if not hosts:
        module.fail_json(msg=f"no host of {params['inventory']} matches {pattern!r}")
    hosts = _with_credentials(hosts, params["password"], params["become_password"])
    record = audit_configured(
        hosts,
        names,
        config,
        Path(params["checks"]) if params["checks"] else None,
        dry_run=module.check_mode,
        lock_wait=params["lock_wait"],
        options={"inventory": params["inventory"], "limit": pattern, "via": "ansible"},
    )
    return record, run_to_dict(record)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    try:
        from ospatrol.errors import OSPatrolError
    except ImportError:
        module.fail_json(
            msg="ospatrol is not importable by this Python; set ansible_python_interpreter"
        )
    try:
        record, data = run(module)
    except OSPatrolError as exc:
        module.fail_json(msg=f"ospatrol: {exc}")
    findings = [
        dict(host=h["name"], summary=_summary(f), **f) for h in data["hosts"] for f in h["findings"]
    ]
    hosts = [
        {key: h[key] for key in ("name", "address", "status", "error", "baseline_changed")}
        for h in data["hosts"]
    ]
    for host in hosts:
        if host["status"] != "ok":
            module.warn(f"{host['name']} not fully audited: {host['status']}: {host['error']}")
    result = dict(
        changed=record.baseline_changed and not module.check_mode,
        run_id=record.id,
        exit_status=data["summary"]["exit_status"],
        findings=findings,
        hosts=hosts,
        alerting=data["summary"]["alerting_findings"],
    )
    if module.params["fail_on_findings"] and result["alerting"]:
        module.fail_json(
            msg=f"{result['alerting']} finding(s) at or above level {record.alert_level}", **result
        )
    module.exit_json(**result)


if __name__ == "__main__":
    main()

"""Compliance policies: load them (Wazuh SCA 4.x/5.x, OSSEC rootcheck, native `cis/`), fetch what
they need from a host in at most three exec round-trips, and evaluate them as plain functions.

- `load.load_policy(path)` -> `model.Policy` (loaders: `sca`, `rootcheck`; rule grammar: `rules`)
- `runner.run_policy(policy, transport)` -> `runner.PolicyRun` (fetching: `gather`, `walk`)
- `evaluate.evaluate_policy(policy, facts)` -> outcomes (device configs: `device`)
"""

"""Action plugin for `ospatrol_audit`: default `inventory` (and `host`) from the task's host.

A module cannot see `inventory_hostname` or `inventory_file`; this plugin runs on the controller,
fills them in when the task leaves them out (`host` only when neither `hosts` nor `limit` is
given), and runs the module (on the delegated host, normally localhost).
"""

from __future__ import annotations

from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):
    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        if not args.get("limit") and not args.get("hosts"):
            args.setdefault("host", task_vars.get("inventory_hostname"))
        if not args.get("inventory") and task_vars.get("inventory_file"):
            args["inventory"] = task_vars["inventory_file"]
        result.update(
            self._execute_module(
                module_name="ospatrol_audit", module_args=args, task_vars=task_vars
            )
        )
        return result

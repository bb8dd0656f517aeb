"""The top-level sections of the config file that belong to the manager.

Kept apart from `ospatrol.manager.config` (which imports the receivers, outputs and scheduler) so
that `ospatrol audit`, reading the same file, can skip these names cheaply."""

MANAGER_SECTIONS: tuple[str, ...] = (
    "syslog", "analysis", "outputs", "schedules", "active_response", "commands", "metrics",
    "log_file", "allow_list", "inventory", "alerts",
)  # fmt: skip

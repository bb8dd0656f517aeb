"""Domain errors. Library code raises these; only `ospatrol.cli` turns them into exit codes."""

from __future__ import annotations


class OSPatrolError(Exception):
    """Base class of every error OSPatrol reports to a user without a traceback."""


class InputError(OSPatrolError):
    """Bad user input (config, inventory, rule file): names the file and, when known, the line."""

    def __init__(self, message: str, path: str | None = None, line: int | None = None) -> None:
        self.message = message
        self.path = path
        self.line = line
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.path is None:
            return self.message
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.message}"


class InputErrors(InputError):
    """Several input errors collected before failing, so an operator can fix them in one pass."""

    def __init__(self, errors: list[InputError]) -> None:
        self.errors = errors
        first = errors[0]
        super().__init__(first.message, first.path, first.line)

    def __str__(self) -> str:
        return "\n".join(InputError.__str__(e) for e in self.errors)

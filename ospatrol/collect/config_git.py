"""Device config versions also committed to git, one repository per device, as Oxidized keeps them.

Optional, per host: `config_git: true` in the inventory's host or group vars (also `yes`, `1`).
After the audit has committed a `config` collector result that stored new versions (status
`ok`, never in a dry run: `audit_configured` registers `ConfigGit` only for real runs), each new
version is written to `<state dir>/configs/<host>.git`, a bare repository with one file per
config command, one commit per audit that changed something::

    git -C <state dir>/configs/<host>.git log -p

The store stays the source of truth: a git failure is logged and the audit goes on (a version
git missed stays in the store, `ospatrol config show`; later commits carry later versions).
The text committed is the stored one, normalised and secret-masked by the config collector.
git runs with argument lists (never a shell), a clean environment (no user config or hooks) and
plumbing commands only (`hash-object`, `mktree`, `commit-tree`, `update-ref`), so no work tree
or index can be left half-written. Host names are percent-encoded into the repository's file
name, so a name with `/`, `..` or control characters cannot leave the `configs` folder.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from ospatrol.audit.run import AuditObserver
from ospatrol.collect.configs import TAGS_PREFIX
from ospatrol.escape import escape
from ospatrol.store.records import PutState

if TYPE_CHECKING:
    from ospatrol.collect.base import CollectorResult
    from ospatrol.model import Host

log = logging.getLogger(__name__)

VAR = "config_git"
COLLECTOR = "config"
BRANCH = "refs/heads/main"
GIT_TIMEOUT = 30.0
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0", ""}
IDENTITY = {
    "GIT_AUTHOR_NAME": "OSPatrol",
    "GIT_AUTHOR_EMAIL": "ospatrol@localhost",
    "GIT_COMMITTER_NAME": "OSPatrol",
    "GIT_COMMITTER_EMAIL": "ospatrol@localhost",
}


class GitError(RuntimeError):
    """A git command failed; the message has its stderr."""


def enabled(host: Host) -> bool:
    """Whether `host` asks for git history (`config_git`, a boolean or its usual spellings);
    another value is a mistake, logged, and treated as off."""
    value = host.vars.get(VAR, False)
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE | _FALSE:
        return text in _TRUE
    log.warning("host %s: %s must be true or false, not %r: git history off", host.name, VAR, value)
    return False


def repository(state_dir: Path, host: str) -> Path:
    """`<state dir>/configs/<host>.git`, the host name percent-encoded (injective: `%` itself is
    encoded) and a leading dot too, so no name can climb out or hide as a dot-file."""
    safe = quote(host, safe="")
    if safe.startswith("."):
        safe = "%2E" + safe[1:]
    return Path(state_dir) / "configs" / f"{safe}.git"


def file_name(command: str) -> str:
    """The file a command's output is kept in (`show running-config` -> `show_running-config`):
    a tree entry cannot hold `/` or NUL; profiles name commands, so collisions are theirs."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", command).strip("._") or "output"


def _environment(home: Path) -> dict[str, str]:
    # A clean environment: no user or system config, hooks or templates of the operator's apply.
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "LC_ALL": "C",
        **IDENTITY,
    }


def _git(repo: Path, *args: str, data: bytes | None = None) -> str:
    result = subprocess.run(
        ["git", f"--git-dir={repo}", *args],
        input=data,
        capture_output=True,
        env=_environment(repo),
        timeout=GIT_TIMEOUT,
        check=False,
    )
    if result.returncode != 0:
        raise GitError(f"git {args[0]}: {result.stderr.decode(errors='replace').strip()}")
    return result.stdout.decode("utf-8", "surrogateescape")


def commit_versions(repo: Path, files: Mapping[str, bytes], message: str) -> str | None:
    """Commit `files` (name -> content) over the current tree of `repo` (created when missing);
    returns the new commit, or None when nothing differs from the last one."""
    if not (repo / "HEAD").exists():
        repo.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["git", "init", "--bare", "--quiet", "--initial-branch=main", str(repo)],
            capture_output=True,
            check=True,
            timeout=GIT_TIMEOUT,
            env=_environment(repo.parent),
        )
    try:
        parent = _git(repo, "rev-parse", "--verify", "--quiet", BRANCH).strip()
    except GitError:
        parent = ""
    entries: dict[str, str] = {}
    if parent:
        for line in _git(repo, "ls-tree", "-z", parent).split("\0"):
            if line:
                meta, name = line.split("\t", 1)
                entries[name] = meta
    for name, content in files.items():
        blob = _git(repo, "hash-object", "-w", "--stdin", data=content).strip()
        entries[name] = f"100644 blob {blob}"
    listing = "".join(f"{meta}\t{name}\0" for name, meta in sorted(entries.items()))
    tree = _git(repo, "mktree", "-z", data=listing.encode("utf-8", "surrogateescape")).strip()
    if parent and _git(repo, "rev-parse", f"{parent}^{{tree}}").strip() == tree:
        return None
    args = ["commit-tree", tree, "-m", message]
    if parent:
        args += ["-p", parent]
    commit = _git(repo, *args).strip()
    _git(repo, "update-ref", BRANCH, commit, parent or "0" * 40)
    return commit


class ConfigGit(AuditObserver):
    """An audit observer: after each committed `config` result of a host with `config_git`,
    commit its new versions to that host's repository (the audit notifies observers only once
    a result is committed). git runs on a few worker threads, not on the audit's event loop;
    the run's end waits for them. One commit a host a run, so no two workers share a repo."""

    WORKERS = 4

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = Path(state_dir)
        self._pool: ThreadPoolExecutor | None = None

    def collector_finished(self, host: Host, result: CollectorResult) -> None:
        if result.collector != COLLECTOR or result.status != "ok" or not enabled(host):
            return
        files = {
            file_name(u.key): u.blob
            for u in result.updates
            if isinstance(u, PutState) and not u.key.startswith(TAGS_PREFIX)
        }
        if not files:
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.WORKERS, thread_name_prefix="config-git")
        self._pool.submit(self._commit, host.name, files)

    def run_finished(self, record: object) -> None:
        """Wait for every commit of the run."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def _commit(self, name: str, files: Mapping[str, bytes]) -> None:
        repo = repository(self.state_dir, name)
        changed = ", ".join(sorted(files))
        try:
            commit_versions(repo, files, f"{escape(name)}: {changed}\n\nospatrol audit")
        except (GitError, OSError, subprocess.SubprocessError) as exc:
            log.warning("host %s: config not committed to %s: %s", escape(name), repo, exc)

"""The optional compiled build of the engine's hot modules, and the guard that loads it.

`make install` runs `main()` (`build`): mypyc compiles `HOT_MODULES` (the per-event path:
engine, decoding, correlation, eventinfo, predecode, and the patterns they call: patterns,
matchers) to C extension modules, about twice as fast
per event, into `_native/` beside this file, with a manifest of the SHA-256 of each source it
compiled. The build is never on the import path by itself: `activate()`, called when the
analysis package is first imported, puts a finder in front of the normal import system that
loads the compiled modules, and only when every hot module's source still has the hash it was
compiled from and the build is for this Python. A stale build (a source edited since), a
missing or partial one, or `OSPATROL_NATIVE=0` means the pure modules run, all of them: a
compiled module calls the others' compiled code directly, so the two are never mixed. A stale
build is reported once (RuntimeWarning), naming the module and the way to rebuild.

Without mypy (mypyc) or a C compiler the build says so and leaves the pure modules in charge;
results are the same either way (the test suite compares both on real logs).
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path
from types import ModuleType

PACKAGE = "ospatrol.analysis"
HOT_MODULES = (
    "correlation",
    "decoding",
    "engine",
    "eventinfo",
    "matchers",
    "patterns",
    "predecode",
)
HERE = Path(__file__).resolve().parent
BUILD_DIR = HERE / "_native"
MANIFEST = "manifest.json"


def source_hashes(folder: Path = HERE) -> dict[str, str]:
    """SHA-256 of each hot module's source in `folder`, by module name."""
    return {
        f"{PACKAGE}.{name}": hashlib.sha256((folder / f"{name}.py").read_bytes()).hexdigest()
        for name in HOT_MODULES
    }


def _python_tag() -> str:
    """The extension suffix of this interpreter (a build for another Python never loads)."""
    return importlib.machinery.EXTENSION_SUFFIXES[0]


def fresh_build(build_dir: Path = BUILD_DIR, source_dir: Path = HERE) -> dict[str, Path] | None:
    """Module name -> compiled file of a build whose sources match `source_dir` now, or None
    (no build, one for another Python, or stale: a RuntimeWarning names the changed module)."""
    try:
        manifest = json.loads((build_dir / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("python") != _python_tag():
        return None
    files = manifest.get("files")
    built = manifest.get("sources")
    if not isinstance(files, dict) or not isinstance(built, dict):
        return None
    for module, digest in source_hashes(source_dir).items():
        if built.get(module) != digest:
            warnings.warn(
                f"the compiled build of {module} is stale (its source changed since it was "
                "compiled): running the pure modules; `make install` rebuilds it",
                RuntimeWarning,
                stacklevel=3,
            )
            return None
    paths = {name: build_dir / str(file) for name, file in files.items()}
    if not all(path.is_file() for path in paths.values()):
        return None
    return paths


class _NativeFinder(importlib.abc.MetaPathFinder):
    """Finds the compiled hot modules (and mypyc's shared library) in the build folder."""

    def __init__(self, paths: dict[str, Path]) -> None:
        self.paths = paths

    def find_spec(
        self, fullname: str, path: object = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        file = self.paths.get(fullname)
        if file is None:
            return None
        loader = importlib.machinery.ExtensionFileLoader(fullname, str(file))
        return importlib.util.spec_from_file_location(fullname, file, loader=loader)


def activate() -> bool:
    """Load the compiled hot modules from now on if a fresh build exists (see the module
    docstring); True when they will be. Must run before any hot module is imported."""
    if os.environ.get("OSPATROL_NATIVE", "1") == "0":
        return False
    if any(isinstance(finder, _NativeFinder) for finder in sys.meta_path):
        return True
    if any(f"{PACKAGE}.{name}" in sys.modules for name in HOT_MODULES):
        return False  # pure modules already loaded: never mix the two
    paths = fresh_build()
    if paths is None:
        return False
    sys.meta_path.insert(0, _NativeFinder(paths))
    return True


def active() -> bool:
    """Whether the engine runs compiled (its module is an extension module)."""
    module = sys.modules.get(f"{PACKAGE}.engine")
    return module is not None and isinstance(
        getattr(module, "__loader__", None), importlib.machinery.ExtensionFileLoader
    )


def build(build_dir: Path = BUILD_DIR) -> str | None:
    """Compile the hot modules with mypyc into `build_dir` (replaced whole, manifest last).
    Returns None on success, else why nothing was built (the pure modules stay in charge)."""
    if importlib.util.find_spec("mypyc") is None:
        return "mypyc is not installed (pip install mypy)"
    with tempfile.TemporaryDirectory(prefix="ospatrol-native-") as tmp:
        work = Path(tmp)
        # A copy of the package: mypyc compiles modules by their package names.
        shutil.copytree(HERE.parents[0], work / "ospatrol", ignore=_not_source)
        sources = [f"ospatrol/analysis/{name}.py" for name in HOT_MODULES]
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "mypyc",
                "--follow-imports=silent",
                "--ignore-missing-imports",
                *sources,
            ],
            cwd=work,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            return f"mypyc failed:\n{(proc.stdout + proc.stderr)[-2000:]}"
        suffix = _python_tag()
        files = {
            f"{PACKAGE}.{name}": f"{name}{suffix}"
            for name in HOT_MODULES
            if (work / "ospatrol" / "analysis" / f"{name}{suffix}").is_file()
        }
        shared = sorted(work.glob(f"*__mypyc{suffix}"))
        if len(files) != len(HOT_MODULES) or len(shared) != 1:
            return "mypyc built no extension modules for this Python"
        files[shared[0].name.removesuffix(suffix)] = shared[0].name
        staging = work / "staging"
        staging.mkdir()
        for name in files.values():
            origin = shared[0] if name == shared[0].name else work / "ospatrol" / "analysis" / name
            shutil.copy2(origin, staging / name)
        manifest = {
            "python": suffix,
            "files": files,
            "sources": source_hashes(work / "ospatrol" / "analysis"),
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
        shutil.rmtree(build_dir, ignore_errors=True)
        shutil.copytree(staging, build_dir)
    return None


def _not_source(folder: str, names: list[str]) -> list[str]:
    """What the build's copy of the package leaves out: caches and an earlier build."""
    return [n for n in names if n in ("__pycache__", "_native") or n.endswith((".so", ".pyc"))]


def main() -> int:
    """The build hook `make install` runs: build, or say why not (exit 0 either way: the
    compiled build is optional)."""
    problem = build()
    if problem is None:
        print(f"ospatrol: compiled {', '.join(HOT_MODULES)} into {BUILD_DIR}")
    else:
        print(f"ospatrol: no compiled analysis modules ({problem}); the pure ones run")
    return 0

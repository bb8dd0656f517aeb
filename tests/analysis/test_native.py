"""The compiled build of the hot modules (ospatrol.analysis.native): its guard refuses a stale or
foreign build, and the compiled and the pure modules give the same results on real logs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from ospatrol.analysis import native


def _fake_build(tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the hot modules' sources and a build folder whose manifest matches them (the
    compiled files are stand-ins: the guard reads hashes and names, it loads nothing)."""
    sources = tmp_path / "src"
    sources.mkdir()
    for name in native.HOT_MODULES:
        shutil.copyfile(native.HERE / f"{name}.py", sources / f"{name}.py")
    build = tmp_path / "build"
    build.mkdir()
    suffix = native._python_tag()
    files = {f"{native.PACKAGE}.{name}": f"{name}{suffix}" for name in native.HOT_MODULES}
    for file in files.values():
        (build / file).write_bytes(b"")
    manifest = {"python": suffix, "files": files, "sources": native.source_hashes(sources)}
    (build / native.MANIFEST).write_text(json.dumps(manifest))
    return sources, build


def test_a_matching_build_is_used(tmp_path: Path) -> None:
    sources, build = _fake_build(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        paths = native.fresh_build(build, sources)
    assert paths is not None
    assert set(paths) == {f"ospatrol.analysis.{name}" for name in native.HOT_MODULES}


def test_a_stale_build_is_refused_and_said(tmp_path: Path) -> None:
    sources, build = _fake_build(tmp_path)
    with (sources / "decoding.py").open("a") as source:
        source.write("# edited after the build\n")
    with pytest.warns(RuntimeWarning, match=r"ospatrol\.analysis\.decoding is stale"):
        assert native.fresh_build(build, sources) is None


@pytest.mark.parametrize("damage", ["other python", "missing file", "no manifest", "garbage"])
def test_a_foreign_or_broken_build_is_refused(tmp_path: Path, damage: str) -> None:
    sources, build = _fake_build(tmp_path)
    manifest_path = build / native.MANIFEST
    manifest = json.loads(manifest_path.read_text())
    if damage == "other python":
        manifest["python"] = ".cpython-39-x86_64-linux-gnu.so"
        manifest_path.write_text(json.dumps(manifest))
    elif damage == "missing file":
        (build / manifest["files"]["ospatrol.analysis.engine"]).unlink()
    elif damage == "no manifest":
        manifest_path.unlink()
    else:
        manifest_path.write_text("{not json")
    assert native.fresh_build(build, sources) is None


# Runs the engine in a fresh interpreter (compiled or pure) and prints one JSON line per event.
_RUN = """
import json, sys
from pathlib import Path
from ospatrol.analysis import native
from ospatrol.analysis.engine import Engine
from ospatrol.analysis.loader import load_ruleset
from ospatrol.analysis.logtest import result_json
conf, rules, decoders, *logs = sys.argv[1:]
ruleset = load_ruleset(Path(conf), rules_dir=Path(rules), decoders=[Path(decoders)], cache=True)
engine = Engine(ruleset, hostname="native-test")
print(json.dumps({"compiled": native.active()}))
for log in logs:
    for line in Path(log).read_bytes().decode("utf-8", "surrogateescape").splitlines():
        result = engine.process_line(line, when=1700000000.0)
        print(result_json(result), result.alert.alert_id if result.alert else "")
"""


def test_compiled_and_pure_modules_agree_on_real_logs(
    ossec43: dict[str, Path], shared_data: Path
) -> None:
    """Every event of the OpenSSH and Linux corpora and the 4.3 suite's lines: the same
    decoder, fields, rule, level and alert, compiled or pure (skipped without a build)."""
    if native.fresh_build() is None:
        pytest.skip("no compiled build (make install builds it where mypyc is installed)")
    loghub = shared_data / "logs" / "loghub"
    logs = [loghub / "OpenSSH" / "OpenSSH_2k.log", loghub / "Linux" / "Linux_2k.log"]
    args = [str(ossec43["conf"]), str(ossec43["rules"]), str(ossec43["decoders"])]
    outputs = {}
    for mode in ("1", "0"):
        proc = subprocess.run(
            [sys.executable, "-c", _RUN, *args, *map(str, logs)],
            capture_output=True,
            text=True,
            env={**os.environ, "OSPATROL_NATIVE": mode},
            check=True,
        )
        first, _, rest = proc.stdout.partition("\n")
        assert json.loads(first) == {"compiled": mode == "1"}
        outputs[mode] = rest.splitlines()
    assert len(outputs["1"]) == 4000
    assert outputs["1"] == outputs["0"]


# Pickles the patterns of a rule set (as the rule cache does) or reads them back, in a fresh
# interpreter (compiled or pure), and prints what each answers on some log lines.
_PATTERNS = """
import json, pickle, sys
from pathlib import Path
from ospatrol.analysis import native
from ospatrol.analysis.loader import load_ruleset
from ospatrol.analysis.patterns import Pattern
action, blob, conf, rules, decoders, log = sys.argv[1:]
if action == "dump":
    ruleset = load_ruleset(Path(conf), rules_dir=Path(rules), decoders=[Path(decoders)])
    patterns = ruleset.patterns()
    Path(blob).write_bytes(pickle.dumps(patterns, protocol=pickle.HIGHEST_PROTOCOL))
else:
    patterns = pickle.loads(Path(blob).read_bytes())
lines = Path(log).read_bytes().decode("utf-8", "surrogateescape").splitlines()[:150]
lines += ["Failed password for r\\u0130ot from 1.2.3.4 port 22 ssh2", "su: \\u017fession x" * 9]
import ospatrol.analysis.engine
print(json.dumps({"compiled": native.active(), "patterns": len(patterns)}))
for pattern in patterns:
    assert isinstance(pattern, Pattern), pattern
    answers = [(pattern.test(line), pattern.search(line)) for line in lines]
    lowered = [(pattern.test(line, line.lower()), pattern.search(line, line.lower()))
               for line in lines if line.isascii()]
    print(json.dumps([pattern.source, answers, lowered]))
"""


@pytest.mark.parametrize("written, read", [("0", "1"), ("1", "0")])
def test_patterns_pickled_by_one_build_answer_alike_in_the_other(
    written: str, read: str, ossec43: dict[str, Path], shared_data: Path, tmp_path: Path
) -> None:
    """The rule cache holds patterns: those the pure build pickles, the compiled one reads
    (and back), and they answer as the patterns they were made from (skipped without a
    build)."""
    if native.fresh_build() is None:
        pytest.skip("no compiled build (make install builds it where mypyc is installed)")
    blob = tmp_path / "patterns.pickle"
    log = shared_data / "logs" / "loghub" / "OpenSSH" / "OpenSSH_2k.log"
    args = [str(ossec43["conf"]), str(ossec43["rules"]), str(ossec43["decoders"]), str(log)]
    outputs = []
    for action, mode in (("dump", written), ("load", read)):
        proc = subprocess.run(
            [sys.executable, "-c", _PATTERNS, action, str(blob), *args],
            capture_output=True,
            text=True,
            env={**os.environ, "OSPATROL_NATIVE": mode},
            check=True,
        )
        first, _, rest = proc.stdout.partition("\n")
        head = json.loads(first)
        assert head["compiled"] is (mode == "1")
        assert head["patterns"] > 1000
        outputs.append(rest.splitlines())
    assert outputs[0] == outputs[1]
    # Not a vacuous comparison: many patterns matched, and captured, on these lines.
    found = [json.loads(line)[1] for line in outputs[0]]
    assert sum(any(search for _, search in answers) for answers in found) > 50
    assert sum(any(search and search[0] for _, search in answers) for answers in found) > 10

"""The lab is a distribution of its own: the product wheel carries no simulator, and `ospatrol lab`
without it says in one line how to install it."""

from __future__ import annotations

import ast
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LAB_CODE = ("ospatrol_lab", "fake_switches", "twisted", "tftpy")


def test_the_ospatrol_wheel_carries_no_lab_code(tmp_path: Path):
    build = ["wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), str(REPO)]
    subprocess.run(
        [sys.executable, "-m", "pip", *build],
        check=True,
        capture_output=True,
        timeout=120,
    )
    (wheel,) = tmp_path.glob("ospatrol-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA")))
    assert "ospatrol/cli/lab_cmd.py" in names
    assert "ospatrol/_data/checks/linux.yml" in names
    lab_files = [n for n in names if any(part in n.lower() for part in LAB_CODE)]
    assert not lab_files
    assert not [n for n in names if n.startswith(("ospatrol/lab/", "lab/"))]
    requires = [
        line.split(":", 1)[1].strip()
        for line in metadata.decode().splitlines()
        if line.startswith("Requires-Dist:")
    ]
    core = [r for r in requires if "extra ==" not in r]
    assert "netmiko>=4.3" in core and "paramiko>=3.4" in core and "textfsm>=1.1.3" in core
    assert not [r for r in core if r.lower().startswith(("twisted", "fake", "ospatrol-lab"))]
    (lab,) = [r for r in requires if "extra == 'lab'" in r or 'extra == "lab"' in r]
    assert lab.startswith("ospatrol-lab @ file://") and "/lab" in lab


def test_the_product_imports_the_lab_only_in_the_lab_command():
    importers = []
    for path in (REPO / "ospatrol").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            if any(name.split(".")[0] in LAB_CODE for name in names):
                importers.append(path.relative_to(REPO).as_posix())
    assert sorted(set(importers)) == ["ospatrol/cli/lab_cmd.py"]


# Runs the real command line with the lab distribution made unimportable, as in a venv that has
# only `pip install ospatrol`.
WITHOUT_LAB = """
import sys

class NoLab:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "ospatrol_lab":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)

sys.meta_path.insert(0, NoLab())
sys.argv = ["ospatrol", *sys.argv[1:]]
from ospatrol.cli import main
main()
"""


def test_lab_without_the_extra_says_how_to_install_it(tmp_path: Path):
    for args in (["up"], ["status"], ["down"]):
        proc = subprocess.run(
            [sys.executable, "-c", WITHOUT_LAB, "lab", *args, "--dir", str(tmp_path / "lab")],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 3, proc.stderr
        assert proc.stdout == ""
        assert proc.stderr.splitlines() == [
            "ospatrol: the lab is not installed: pip install 'ospatrol[lab]'"
            " (in a checkout: pip install '.[lab]')"
        ]
    assert not (tmp_path / "lab").exists()
    help_text = subprocess.run(
        [sys.executable, "-c", WITHOUT_LAB, "lab", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "up" in help_text and "status" in help_text

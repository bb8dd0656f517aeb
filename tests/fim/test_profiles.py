"""The profiles loader: sections through their registry, unknown sections and bad values named
with file and line, and `ospatrol checks check` over a folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ospatrol.errors import InputErrors
from ospatrol.platforms import TABLE
from ospatrol.profiles import SECTIONS, load_profile, load_profiles, profile_for


def _checks(tmp_path: Path, **files: str) -> Path:
    folder = tmp_path / "checks"
    folder.mkdir()
    for name, text in files.items():
        (folder / f"{name}.yml").write_text(text)
    return folder


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ospatrol", *args], capture_output=True, text=True, check=False
    )


def test_a_misspelt_section_is_an_error_with_its_line(tmp_path: Path):
    folder = _checks(tmp_path, linux="fim:\n  paths: [/etc]\ncomands:\n  - uname -a\n")
    with pytest.raises(InputErrors) as caught:
        load_profile(folder / "linux.yml")
    (error,) = caught.value.errors
    assert error.line == 3 and error.path == str(folder / "linux.yml")
    assert "unknown section 'comands'" in str(error) and "commands" in str(error)


def test_every_error_of_every_file_is_reported(tmp_path: Path):
    folder = _checks(
        tmp_path,
        linux="fim:\n  paths: [/etc]\n  hashes: [crc32]\n",
        bsd="fim:\n  pathz: [/etc]\n",
    )
    with pytest.raises(InputErrors) as caught:
        load_profiles(folder)
    where = sorted((Path(e.path).name, e.line) for e in caught.value.errors)
    assert ("linux.yml", 3) in where and any(name == "bsd.yml" for name, _ in where)


def test_shipped_profiles_load_and_every_platform_finds_its_file():
    profiles = load_profiles()
    for name, profile in profiles.items():
        assert set(profile.sections) <= set(SECTIONS), name
    for platform in TABLE:
        found = profile_for(profiles, platform.name)
        assert found is None or found.name == platform.profile
    assert profile_for(profiles, "linux").fim is not None


def test_checks_check_cli(tmp_path: Path):
    ok = _cli("checks", "check")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("ok: ")
    bad = _checks(tmp_path, linux="comands: []\n")
    failed = _cli("checks", "check", str(bad))
    assert failed.returncode == 1
    assert f"{bad / 'linux.yml'}:1:" in failed.stderr and "unknown section" in failed.stderr

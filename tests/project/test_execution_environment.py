"""execution-environment.yml is a valid ansible-builder v3 definition."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from .helpers import PROJECT_ROOT

pytestmark = pytest.mark.slow


def test_ansible_builder_creates_a_build_context(tmp_path):
    shutil.copy(PROJECT_ROOT / "execution-environment.yml", tmp_path)
    shutil.copy(PROJECT_ROOT / "requirements.yml", tmp_path)
    (tmp_path / "_build").mkdir()
    (tmp_path / "_build" / "m1038-appcontrol.tar.gz").write_bytes(b"placeholder for the collection tarball")
    proc = subprocess.run(
        ["ansible-builder", "create", "-f", "execution-environment.yml", "-c", "context"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    containerfile = (tmp_path / "context" / "Containerfile").read_text()
    assert "ansible-core==2.19.14" in containerfile
    assert "ansible-galaxy collection install --offline /build/collections/m1038-appcontrol.tar.gz" in containerfile
    python_reqs = (tmp_path / "context" / "_build" / "requirements.txt").read_text()
    assert "pywinrm" in python_reqs


def test_ee_collections_match_requirements_yml():
    ee = yaml.safe_load((PROJECT_ROOT / "execution-environment.yml").read_text())
    assert ee["version"] == 3
    assert ee["dependencies"]["galaxy"] == "requirements.yml"
    lock = (PROJECT_ROOT / "requirements-lock.txt").read_text().splitlines()
    assert ee["dependencies"]["ansible_core"]["package_pip"] in lock

"""The README's other routes, run as written on a fresh copy of the project.

A fresh copy is the tree as a new clone has it (every tracked file, plus untracked files that
git does not ignore, so an uncommitted change is tested too) with no ``.cache/`` and no
``lab-output/``.

* ``bash scripts/lab.sh --check --diff`` (a dry run before the lab ever ran): the lab's own
  infrastructure must come up for real, the main job must run in check mode, exit 0 and
  write nothing into the copy's ``lab-output/``. Warm: the copy uses this checkout's cache
  (venv, molecule image, podman storage) through ``M1038_CACHE``; its manager container has
  never run (a unique name), which is the state the dry run failed on.
* ``source scripts/env.sh && scripts/build-molecule-image.sh && molecule test -s default``
  (the molecule-only route, without command one): the copy has its own ``.cache`` with no
  podman storage settings, which is the state the route failed on. Two things are taken
  warm, to keep the test command inside its time budget, and both are built from scratch
  by scripts/setup.sh at the start of every CI run: the venv (``.cache/venv`` is a link to
  this checkout's, whose lock stamp matches) and the image (loaded into the copy's own
  storage, so the route's build step finds it up to date). This test runs in the molecule
  lane of scripts/test.sh (marker ``molecule_lane``), where it is the run of the default
  scenario, so no two molecule runs share a container name at once.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from .helpers import CACHE, PROJECT_ROOT

IMAGE = os.environ.get("M1038_MOLECULE_IMAGE", "localhost/m1038-debian12-systemd:latest")


def fresh_copy(destination: Path) -> Path:
    """Copy what a clone of the current tree holds (tracked + untracked, not ignored)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        check=True,
    ).stdout
    for rel in filter(None, listed.decode().split("\0")):
        source = PROJECT_ROOT / rel
        target = destination / rel
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the work tree, not yet in git
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(os.readlink(source))
        else:
            shutil.copy2(source, target)
    return destination


def clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without anything scripts/env.sh would set: a new shell."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("ANSIBLE_", "M1038_", "CONTAINERS_", "XDG_", "PIP_", "MOLECULE_"))
        and key not in ("PYTHONPYCACHEPREFIX", "RUFF_CACHE_DIR", "VIRTUAL_ENV")
    }
    venv_bin = str(CACHE / "venv" / "bin")
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != venv_bin)
    env.update(extra)
    return env


def run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: int) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.mark.slow
def test_lab_dry_run_works_on_a_fresh_clone(tmp_path):
    copy = fresh_copy(tmp_path / "clone")
    manager = f"m1038-test-dryrun-{uuid.uuid4().hex[:8]}"
    hosts = copy / "inventories" / "lab" / "hosts.yml"
    hosts.write_text(hosts.read_text().replace("m1038-lab-manager:", f"{manager}:"))
    try:
        proc = run(
            ["bash", "scripts/lab.sh", "--check", "--diff"], copy, clean_env(M1038_CACHE=str(CACHE)), timeout=1200
        )
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, out[-20000:]
        assert "UNREACHABLE" not in proc.stdout, out[-20000:]
        assert re.search(rf"^{manager}\s+: ok=\d+ .*failed=0", proc.stdout, re.MULTILINE), out[-5000:]
        # The main job ran in check mode: it planned the render and wrote nothing.
        assert "TASK [Render rules, CDB lists and ruleset tests]" in proc.stdout, out[-20000:]
        assert not (copy / "lab-output").exists(), sorted(str(p) for p in (copy / "lab-output").rglob("*"))
    finally:
        subprocess.run(["podman", "rm", "-f", "-t", "0", manager], capture_output=True, check=False)


@pytest.mark.slow
@pytest.mark.molecule_lane
def test_molecule_only_route_works_on_a_fresh_clone(tmp_path):
    copy = fresh_copy(tmp_path / "clone")
    cache = copy / ".cache"
    cache.mkdir()
    (cache / "venv").symlink_to(CACHE / "venv")
    # Warm the copy's own podman storage with the image (the route's build step then
    # finds it up to date); the storage settings file itself is left for the route to write.
    archive = tmp_path / "image.tar"
    saved = run(["podman", "image", "save", "-o", str(archive), IMAGE], PROJECT_ROOT, dict(os.environ), timeout=600)
    assert saved.returncode == 0, saved.stderr
    storage = cache / "containers"
    loader_conf = tmp_path / "storage.conf"
    loader_conf.write_text(
        f'[storage]\ndriver = "overlay"\ngraphroot = "{storage / "storage"}"\nrunroot = "{storage / "run"}"\n'
    )
    loaded = run(
        ["podman", "image", "load", "-i", str(archive)],
        PROJECT_ROOT,
        clean_env(CONTAINERS_STORAGE_CONF=str(loader_conf)),
        timeout=600,
    )
    assert loaded.returncode == 0, loaded.stderr
    archive.unlink()
    assert not (storage / "storage.conf").exists()
    route = "source scripts/env.sh && scripts/build-molecule-image.sh && molecule test -s default"
    try:
        proc = run(["bash", "-c", route], copy, clean_env(HOME=str(tmp_path / "home")), timeout=2400)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, out[-30000:]
        assert "is up to date" in out, out[-5000:]
        assert "Verifier completed successfully" in out, out[-5000:]
    finally:
        subprocess.run(
            ["bash", "-c", "source scripts/env.sh && molecule destroy -s default"],
            cwd=copy,
            env=clean_env(HOME=str(tmp_path / "home")),
            capture_output=True,
            check=False,
        )
        # Remove the copy's image layers with podman, and only those: never `podman system
        # reset`, which also deletes the engine's shared runtime directory (/run/libpod) under
        # every other podman user on the machine (measured: the lab tests running beside it failed).
        subprocess.run(
            ["podman", "image", "rm", "--all", "--force"],
            env=clean_env(CONTAINERS_STORAGE_CONF=str(loader_conf)),
            capture_output=True,
            check=False,
        )

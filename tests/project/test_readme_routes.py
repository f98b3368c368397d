"""The README's molecule-only route, run as written on a fresh copy of the project.

A fresh copy is the tree as a new clone has it (helpers.fresh_copy). Command one on a fresh
copy (a dry run first, then the lab) is tested in test_lab.py.

``source scripts/env.sh && scripts/build-molecule-image.sh && molecule test -s default`` (the
molecule-only route, without command one): the copy has its own ``.cache`` with no podman
storage settings, which is the state the route failed on. Two things are taken warm, to keep
the test command inside its time budget, and both are built from scratch by scripts/setup.sh
at the start of every CI run: the venv (``.cache/venv`` is a link to this checkout's, whose
lock stamp matches) and the image (loaded into the copy's own storage, so the route's build
step finds it up to date). This test runs in a lane of its own in scripts/test.sh (marker
``molecule_lane``), where it is the run of the default scenario, so no two molecule runs share
a container name at once.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from .helpers import CACHE, PROJECT_ROOT, clean_env, fresh_copy

IMAGE = os.environ.get("M1038_MOLECULE_IMAGE", "localhost/m1038-debian12-systemd:latest")


def run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: int) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


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

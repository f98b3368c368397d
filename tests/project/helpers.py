"""Helpers for tests that run the project's own commands."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# scripts/env.sh lets M1038_CACHE move the cache (venv, podman storage, images) out of the tree.
CACHE = Path(os.environ.get("M1038_CACHE") or PROJECT_ROOT / ".cache")


def ansible_env(**extra: str) -> dict[str, str]:
    """The environment scripts/env.sh sets, for subprocesses started by tests."""
    env = dict(os.environ)
    env.update(
        ANSIBLE_CONFIG=str(PROJECT_ROOT / "ansible.cfg"),
        ANSIBLE_HOME=str(CACHE / "ansible"),
        ANSIBLE_LOCAL_TEMP=str(CACHE / "ansible" / "tmp"),
        M1038_CACHE=str(CACHE),
        ANSIBLE_ASYNC_DIR=str(CACHE / "ansible" / "async"),
        ANSIBLE_NOCOLOR="1",
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
    )
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", f"{PROJECT_ROOT / 'collections'}:{CACHE / 'ansible' / 'collections'}")
    env.update(extra)
    return env


def fresh_copy(destination: Path) -> Path:
    """Copy what a clone of the current tree holds (tracked + untracked, not ignored).

    An uncommitted change is tested too; ``.cache/`` and ``lab-output/`` are ignored, so the
    copy has neither, as a fresh clone has not.
    """
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

"""Helpers for tests that run the project's own commands."""

from __future__ import annotations

import os
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CACHE = PROJECT_ROOT / ".cache"


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

"""Shared pytest setup for the project's tests.

Makes ``ansible_collections.m1038.appcontrol`` importable from a checkout (through the
``collections/`` symlink) and keeps hypothesis' example database in the project cache.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

PROJECT_ROOT = Path(__file__).resolve().parent.parent
_COLLECTIONS = PROJECT_ROOT / "collections"
if (_COLLECTIONS / "ansible_collections").is_dir() and str(_COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(_COLLECTIONS))

settings.register_profile(
    "project",
    database=DirectoryBasedExampleDatabase(str(PROJECT_ROOT / ".cache" / "hypothesis")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("ci", parent=settings.get_profile("project"), max_examples=200)
settings.load_profile(os.environ.get("M1038_HYPOTHESIS_PROFILE", "project"))

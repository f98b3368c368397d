"""Fixtures for the whole-module tests (helpers in ``utils.py``)."""

from __future__ import annotations

import pytest

from .utils import patch_exit_and_fail


@pytest.fixture(autouse=True)
def module_exits_raise(monkeypatch):
    """Every test here catches a module's result as AnsibleExitJson / AnsibleFailJson."""
    patch_exit_and_fail(monkeypatch)

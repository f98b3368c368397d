"""Shared helpers for the whole-module tests: run a module's ``main()`` in-process and catch its result.

``conftest.py`` makes ``exit_json``/``fail_json`` raise ``AnsibleExitJson``/``AnsibleFailJson`` for every
test here, so a test reads the result from ``exc.value.args[0]`` instead of the process exiting.
Import with ``from .utils import ...`` (works under plain pytest and under ``ansible-test units``).
"""

from __future__ import annotations

import contextlib

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args


class AnsibleExitJson(Exception):
    """Raised by the patched ``exit_json``; ``args[0]`` is the module's result."""


class AnsibleFailJson(Exception):
    """Raised by the patched ``fail_json``; ``args[0]`` is the result with its ``msg``."""


def exit_json(self, **kwargs):
    kwargs.setdefault("changed", False)
    raise AnsibleExitJson(kwargs)


def fail_json(self, msg, **kwargs):
    raise AnsibleFailJson({"msg": msg, **kwargs})


def patch_exit_and_fail(monkeypatch):
    """Make ``AnsibleModule.exit_json``/``fail_json`` raise instead of printing and exiting."""
    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)


@contextlib.contextmanager
def set_module_args(args, tmpdir=None):
    """Give ``args`` to the next ``AnsibleModule``.

    With ``tmpdir``, the internal temporary-directory arguments point there (unless ``args`` sets them),
    so a module never writes to the user's ``~/.ansible/tmp``.
    """
    if tmpdir is not None:
        internal = {"_ansible_tmpdir": str(tmpdir), "_ansible_remote_tmp": str(tmpdir)}
        args = {**internal, "_ansible_keep_remote_files": True, **args}
    with patch_module_args(args):
        yield

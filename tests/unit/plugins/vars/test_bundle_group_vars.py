from __future__ import annotations

import os

from ansible_collections.m1038.appcontrol.plugins.vars.bundle_group_vars import is_playbook_dir, resolve_group_vars_dir


def test_relative_path_resolves_against_the_config_file(tmp_path):
    cfg = tmp_path / "ansible.cfg"
    assert resolve_group_vars_dir("group_vars", str(cfg)) == os.path.realpath(tmp_path / "group_vars")


def test_relative_path_without_config_file_is_not_resolved():
    assert resolve_group_vars_dir("group_vars", None) is None


def test_absolute_path_is_kept(tmp_path):
    assert resolve_group_vars_dir(str(tmp_path), None) == os.path.realpath(tmp_path)


def test_playbook_dir_detection(tmp_path):
    (tmp_path / "pb").mkdir()
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "pb")
    assert is_playbook_dir(str(link), str(tmp_path / "pb"))
    assert not is_playbook_dir(str(tmp_path), str(tmp_path / "pb"))
    assert not is_playbook_dir(str(tmp_path), None)

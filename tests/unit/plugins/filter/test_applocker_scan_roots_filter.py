"""The applocker_scan_roots filter: the scan roots applocker_policy returns, before anything is rendered.

Kept apart from the module_utils tests: it needs ``ansible.errors`` (the controller's ``ansible`` package).
"""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.m1038.appcontrol.plugins.filter.applocker_scan_roots import FilterModule
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_model import parse_model
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_writable import scan_roots

ROOTS = FilterModule().filters()["applocker_scan_roots"]


def test_the_default_rules_give_the_windows_and_program_files_roots():
    model = {name: {"mode": "enforce", "default_rules": True} for name in ("Exe", "Msi", "Script", "Appx")}
    assert ROOTS(model) == ["%PROGRAMFILES%\\*", "%WINDIR%\\*"]  # %WINDIR%\Installer\* lies inside %WINDIR%\*


def test_the_same_list_as_the_module_with_model_rules():
    model = {
        "Exe": {
            "mode": "audit",
            "rules": [
                {"name": "Tools", "path": "%OSDRIVE%\\Tools\\*", "sid": "S-1-5-32-545"},
                {"name": "Admin tools", "path": "%OSDRIVE%\\Admin\\*", "sid": "S-1-5-32-544"},
                {"name": "Signed", "publisher": "O=CONTOSO LTD, L=SEATTLE, S=WASHINGTON, C=US"},
            ],
        }
    }
    assert ROOTS(model) == scan_roots(parse_model(model)) == ["%OSDRIVE%\\Tools\\*"]
    assert ROOTS({}) == []


def test_a_bad_model_is_a_filter_error_naming_the_value():
    with pytest.raises(AnsibleFilterError, match=r"applocker_scan_roots: .*%USERPROFILE%"):
        ROOTS({"Exe": {"rules": [{"name": "Home", "path": "%USERPROFILE%\\*"}]}})

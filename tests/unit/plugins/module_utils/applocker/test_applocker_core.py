"""Core helpers: path wildcards, variable expansion, case folding, versions."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_core import (
    AppLockerError,
    applocker_form,
    canonical_version,
    expansions,
    fold,
    path_matches,
    version_bounds,
)

_alphabet = st.sampled_from(list("ab\\*.é"))


@given(pattern=st.text(_alphabet, max_size=8), text=st.text(st.sampled_from(list("ab\\.é")), max_size=10))
def test_wildcard_matching_agrees_with_a_regular_expression(pattern, text):
    reference = re.fullmatch(".*".join(re.escape(part) for part in pattern.upper().split("*")), text.upper(), re.DOTALL)
    assert path_matches(pattern, text) is (reference is not None)


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("%WINDIR%\\*", "C:\\Windows\\Tasks\\x.exe", True),
        ("%windir%\\*", "c:\\WINDOWS\\x.exe", True),
        ("%WINDIR%\\*", "C:\\WindowsApps\\x.exe", False),
        ("%SYSTEM32%\\*", "C:\\Windows\\SysWOW64\\cmd.exe", True),
        ("%PROGRAMFILES%\\*", "C:\\Program Files (x86)\\App\\a.exe", True),
        ("%OSDRIVE%\\Users\\*\\Downloads\\*", "C:\\Users\\pat\\Downloads\\setup.exe", True),
        ("%OSDRIVE%\\Users\\*\\Downloads\\*", "C:\\Users\\pat\\Documents\\setup.exe", False),
        ("*\\powershell.exe", "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe", True),
        ("%REMOVABLE%\\*", "E:\\tool.exe", False),
        ("C:\\Tools\\a?.exe", "C:\\Tools\\ab.exe", False),  # '?' is no wildcard in AppLocker
        ("*", "anything at all", True),
    ],
)
def test_path_matches(pattern, path, expected):
    assert path_matches(pattern, path) is expected


def test_expansions_use_the_hosts_own_folders():
    variables = {"%WINDIR%": ("D:\\Windows",)}
    assert expansions("%WINDIR%\\Temp\\*", variables) == ("D:\\Windows\\Temp\\*",)
    assert expansions("%HOT%\\*") == ()
    assert expansions("C:\\Tools\\*") == ("C:\\Tools\\*",)


@pytest.mark.parametrize(
    ("folder", "form"),
    [
        ("C:\\Windows\\System32\\spool\\drivers\\color", "%SYSTEM32%\\spool\\drivers\\color"),
        ("C:\\Windows\\SysWOW64\\Tasks\\", "%SYSTEM32%\\Tasks"),
        ("c:\\windows\\Temp", "%WINDIR%\\Temp"),
        ("C:\\Program Files (x86)\\Fabrikam", "%PROGRAMFILES%\\Fabrikam"),
        ("C:\\Tools", "%OSDRIVE%\\Tools"),
        ("C:\\WindowsApps", "%OSDRIVE%\\WindowsApps"),
        ("E:\\Data", "E:\\Data"),
    ],
)
def test_applocker_form(folder, form):
    assert applocker_form(folder) == form


def test_fold_is_a_simple_per_character_upper_case():
    assert fold("o=Société générale, c=fr") == "O=SOCIÉTÉ GÉNÉRALE, C=FR"
    assert fold("straße") == "STRAßE"  # Windows compares character by character: not "STRASSE"
    assert fold("ß") != fold("SS")


def test_versions():
    assert canonical_version("01.002.0.0") == "1.2.0.0"
    assert version_bounds("*", "9.9.9.9") == ((0, 0, 0, 0), (9, 9, 9, 9))
    assert version_bounds("1.0.0.0", "*") == ((1, 0, 0, 0), (65535, 65535, 65535, 65535))
    for bad in ("1.2.3", "1.2.3.4.5", "a.b.c.d", "1.2.3.65536", "", "1.2.3.-4"):
        with pytest.raises(AppLockerError):
            canonical_version(bad)

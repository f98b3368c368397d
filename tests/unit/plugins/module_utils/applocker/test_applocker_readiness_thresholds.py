"""Readiness thresholds: which budget an event counts against, and errors that name the setting."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_readiness_events import Event, Signature
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_readiness_thresholds import (
    ThresholdError,
    parse_thresholds,
    wildcard,
)

SIGNED = Signature("O=CONTOSO LTD, L=SEATTLE, S=WASHINGTON, C=US", "CONTOSO TOOLS", "TOOL.EXE", "2.0.0.0")


def event(
    *,
    collection="Exe",
    path="%OSDRIVE%\\TOOLS\\TOOL.EXE",
    full="C:\\Tools\\tool.exe",
    signature=None,
    sha=None,
    user=None,
):
    return Event("h", 8003, collection, "audit", path, full, signature, sha, user, 0.0, 0.0)


def budget(thresholds, ev) -> str:
    return thresholds.budgets[thresholds.budget_for(ev)].label


def test_without_thresholds_every_collection_allows_nothing():
    thresholds = parse_thresholds(None)
    assert [(b.name, b.limit) for b in thresholds.budgets] == [
        ("Exe", 0),
        ("Msi", 0),
        ("Script", 0),
        ("Dll", 0),
        ("Appx", 0),
    ]
    assert budget(thresholds, event(collection="Dll")) == "collection Dll"


def test_binary_before_user_group_before_collection():
    thresholds = parse_thresholds(
        {
            "default": 3,
            "collections": {"Dll": None},
            "binaries": [
                {"name": "tools", "path": "%OSDRIVE%\\Tools\\*", "max_events": 5},
                {"name": "contoso", "publisher": "O=CONTOSO*", "product": "CONTOSO TOOLS", "max_events": None},
                {"name": "one file", "hash": "0x" + "ab" * 32, "collections": ["script"], "max_events": 0},
            ],
            "user_groups": [{"name": "admins", "sids": ["S-1-5-21-*-500"], "max_events": 2}],
        }
    )
    admin = "S-1-5-21-1-2-3-500"
    assert budget(thresholds, event(user=admin)) == "binary tools"  # by the variable form
    assert budget(thresholds, event(path="X", full="C:\\TOOLS\\sub\\x.exe", user=admin)) == "binary tools"  # concrete
    assert budget(thresholds, event(path="X", full="D:\\x.exe", signature=SIGNED)) == "binary contoso"
    assert budget(thresholds, event(path="X", full="D:\\x.exe", user=admin)) == "user group admins"
    hashed = event(collection="Script", path="X", full="D:\\x.ps1", sha="AB" * 32)
    assert budget(thresholds, hashed) == "binary one file"
    assert budget(thresholds, event(collection="Exe", path="X", full="D:\\x.exe", sha="AB" * 32)) == "collection Exe"
    limits = {b.name: b.limit for b in thresholds.budgets}
    assert (limits["Exe"], limits["Dll"], limits["contoso"]) == (3, None, None)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([], r"thresholds: expected a mapping"),
        ({"colections": {}}, r"thresholds: unknown key 'colections'"),
        ({"collections": {"Exec": 1}}, r"thresholds.collections key 'Exec': 'Exec' is not a rule collection"),
        ({"collections": {"Exe": -1}}, r"thresholds.collections.Exe: -1 is not a number of events"),
        ({"collections": {"Exe": 1, "exe": 2}}, r"Exe is given twice"),
        ({"default": "many"}, r"thresholds.default: 'many' is not a number"),
        ({"binaries": {}}, r"thresholds.binaries: expected a list"),
        ({"binaries": [{"name": "x", "path": "*"}]}, r"binaries\[0\] \('x'\): max_events is required"),
        ({"binaries": [{"name": "x", "max_events": 1}]}, r"give at least one of path, publisher, hash"),
        ({"binaries": [{"name": "x", "path": "*", "binary": "A", "max_events": 1}]}, r"give publisher too"),
        ({"binaries": [{"name": "x", "hash": "abc", "max_events": 1}]}, r"hash: 'abc' is not a SHA256 hash"),
        ({"binaries": [{"name": "x", "path": "*", "max_events": 1, "collection": "Exe"}]}, r"unknown key 'collection'"),
        ({"binaries": [{"path": "*", "max_events": 1}]}, r"binaries\[0\].name: None must be a non-empty string"),
        ({"user_groups": [{"name": "g", "sids": [], "max_events": 1}]}, r"user_groups\[0\] \('g'\).sids: expected"),
        ({"user_groups": [{"name": "g", "sids": ["Domain Users"], "max_events": 1}]}, r"'Domain Users' is not a SID"),
        ({"user_groups": [{"name": "g", "sids": ["S-1-1-0"], "max_events": True}]}, r"True is not a number"),
    ],
)
def test_errors_name_the_setting(value, message):
    with pytest.raises(ThresholdError, match=message):
        parse_thresholds(value)


def test_a_count_given_as_text_is_read():
    assert parse_thresholds({"collections": {"Exe": "4"}}).budgets[0].limit == 4


@given(st.text(max_size=30), st.text(max_size=30))
def test_wildcard_without_star_is_case_insensitive_equality(left, right):
    left, right = left.replace("*", ""), right.replace("*", "")
    assert wildcard(left, right) == (left.upper() == right.upper())


@given(st.text(max_size=20), st.text(max_size=20), st.text(max_size=20))
def test_a_star_matches_any_run(prefix, middle, suffix):
    prefix, suffix = prefix.replace("*", ""), suffix.replace("*", "")
    assert wildcard(f"{prefix}*{suffix}", prefix + middle + suffix)

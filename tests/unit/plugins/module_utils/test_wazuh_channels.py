"""The channel table both roles read (plugins/module_utils/_wazuh_channels.py)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_agent_conf import normalize_channels, render
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_channels import (
    KEYS,
    WITHSECURE_PROVIDER,
    WITHSECURE_QUERY,
    ChannelTableError,
    channels,
    provider_query,
)

# The manager role's literal default before the table existed (issue 11 moved it here): the table must
# give exactly this, or every agent group's agent.conf would change on the next run.
MANAGER_DEFAULT_BEFORE = [
    {"location": "Microsoft-Windows-Sysmon/Operational", "query": ""},
    {"location": "Microsoft-Windows-AppLocker/EXE and DLL", "query": ""},
    {"location": "Microsoft-Windows-AppLocker/MSI and Script", "query": ""},
    {"location": "Microsoft-Windows-AppLocker/Packaged app-Execution", "query": ""},
    {"location": "Microsoft-Windows-AppLocker/Packaged app-Deployment", "query": ""},
    {"location": "Application", "query": "Event/System[Provider[@Name='F-Secure Ultralight SDK']]"},
]


def test_default_table_is_the_manager_roles_former_default():
    assert channels() == MANAGER_DEFAULT_BEFORE
    assert render(channels()) == render(MANAGER_DEFAULT_BEFORE)


def test_withsecure_settings_and_exclusions():
    table = channels(withsecure_channel="F-Secure", withsecure_query="")
    assert table[-1] == {"location": "F-Secure", "query": ""}
    assert [c["location"] for c in channels(exclude=["withsecure", "sysmon"])] == [
        c["location"] for c in MANAGER_DEFAULT_BEFORE[1:5]
    ]
    assert channels(withsecure_channel="", exclude=["withsecure"]) == MANAGER_DEFAULT_BEFORE[:5]
    assert normalize_channels(channels()) == MANAGER_DEFAULT_BEFORE  # what both writers accept


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"exclude": ["applocker"]}, r"unknown channel keys \['applocker'\]"),
        ({"withsecure_channel": " "}, "withsecure_channel must not be empty"),
        ({"withsecure_query": None}, "withsecure_query must be a string, got NoneType"),
    ],
)
def test_bad_parameters_are_named(kwargs, message):
    with pytest.raises(ChannelTableError, match=message):
        channels(**kwargs)


def test_keys_are_unique_and_stable():
    assert KEYS == (
        "sysmon",
        "applocker_exe_dll",
        "applocker_msi_script",
        "applocker_packaged_execution",
        "applocker_packaged_deployment",
        "withsecure",
    )


# --- provider_query: the endpoint route's XPath, from the provider the rules match -------------------
PROVIDER_QUERY = re.compile(r"^Event/System\[Provider\[@Name=(['\"])(.*)\1\]\]$", re.DOTALL)


def test_the_default_provider_gives_the_tables_query():
    assert provider_query(WITHSECURE_PROVIDER) == WITHSECURE_QUERY


@given(st.text(alphabet=st.characters(min_codepoint=0x20, blacklist_characters="\x7f"), min_size=1))
def test_any_quotable_provider_reads_back_from_the_query(provider):
    if not provider.strip() or ("'" in provider and '"' in provider):
        with pytest.raises(ChannelTableError):
            provider_query(provider)
        return
    match = PROVIDER_QUERY.match(provider_query(provider))
    assert match and match.group(2) == provider and match.group(1) not in provider


@pytest.mark.parametrize(
    ("provider", "message"),
    [
        ("", "must not be empty"),
        ("   ", "must not be empty"),
        ("A\nB", "control character"),
        ('It\'s "quoted"', "both quote characters"),
        (None, "must be a string"),
    ],
)
def test_an_unquotable_provider_is_refused_naming_it(provider, message):
    with pytest.raises(ChannelTableError, match=message):
        provider_query(provider)


def test_a_provider_with_an_apostrophe_is_quoted_with_double_quotes():
    assert provider_query("O'Brien SDK") == 'Event/System[Provider[@Name="O\'Brien SDK"]]'

"""The preflight filters wrap the module_utils functions and turn bad input into filter errors."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.m1038.appcontrol.plugins.filter.preflight import FilterModule

FILTERS = FilterModule().filters()


def test_winrm_findings_filter_rejects_a_non_dict():
    with pytest.raises(AnsibleFilterError, match="expects a dict of host -> settings, got list"):
        FILTERS["winrm_findings"](["ws1"])


def test_collection_findings_filter_names_a_bad_requirement():
    with pytest.raises(AnsibleFilterError, match="not a version requirement"):
        FILTERS["collection_findings"](
            {"collections": [{"name": "a.b", "version": "~>1"}]}, {"/p": {"a.b": {"version": "1.0.0"}}}
        )


def test_filters_return_findings():
    assert FILTERS["winrm_findings"](
        {
            "w": {
                "connection": "winrm",
                "scheme": "http",
                "port": 5986,
                "transport": "ntlm",
                "cert_validation": "validate",
            }
        }
    )

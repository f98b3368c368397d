from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.m1038.appcontrol.plugins.module_utils._preflight import (
    collection_findings,
    parse_version,
    version_satisfies,
    winrm_findings,
)

SECURE = {
    "connection": "winrm",
    "scheme": "https",
    "port": 5986,
    "transport": "kerberos",
    "cert_validation": "validate",
    "message_encryption": "auto",
}


def test_secure_settings_have_no_findings():
    assert winrm_findings({"ws1": dict(SECURE), "ws2": dict(SECURE, transport="ntlm")}) == []


def test_each_weak_setting_is_named_with_host_and_value():
    weak = dict(
        SECURE, scheme="http", port=5985, transport="basic", cert_validation="ignore", message_encryption="never"
    )
    findings = winrm_findings({"ws9": weak})
    by_var = {f["variable"]: f for f in findings}
    assert set(by_var) == {
        "ansible_winrm_scheme",
        "ansible_port",
        "ansible_winrm_transport",
        "ansible_winrm_server_cert_validation",
        "ansible_winrm_message_encryption",
    }
    assert all(f["host"] == "ws9" for f in findings)
    assert by_var["ansible_winrm_transport"]["value"] == "basic"
    assert by_var["ansible_winrm_server_cert_validation"]["value"] == "ignore"


def test_non_winrm_hosts_are_skipped_and_output_is_sorted():
    settings = {"b": dict(SECURE, scheme="http"), "a": dict(SECURE, scheme="http"), "ssh": {"connection": "ssh"}}
    assert [f["host"] for f in winrm_findings(settings)] == ["a", "b"]


def test_non_numeric_port_is_a_finding():
    assert winrm_findings({"h": dict(SECURE, port="https")})[0]["variable"] == "ansible_port"


@pytest.mark.parametrize(
    ("version", "spec", "expected"),
    [
        ("3.3.0", ">=2.5.0,<4.0.0", True),
        ("4.0.0", ">=2.5.0,<4.0.0", False),
        ("2.4.9", ">=2.5.0", False),
        ("11.4.2", "*", True),
        ("1.18.0", "==1.18.0", True),
        ("1.18.0", "!=1.18.0", False),
        ("2.1", ">=2.1.0", True),
        ("1.0.0-beta1", "<1.0.1", True),
    ],
)
def test_version_satisfies(version, spec, expected):
    assert version_satisfies(version, spec) is expected


def test_bad_requirement_is_named():
    with pytest.raises(ValueError, match=r"~>1\.0"):
        version_satisfies("1.0.0", "~>1.0")


@given(st.tuples(st.integers(0, 99), st.integers(0, 99), st.integers(0, 99)))
def test_parse_version_round_trips(parts):
    assert parse_version(".".join(map(str, parts))) == parts


def test_collection_findings_reports_missing_and_out_of_range():
    requirements = {
        "collections": [
            {"name": "ansible.windows", "version": ">=2.5.0,<4.0.0"},
            {"name": "community.general", "version": ">=99.0.0"},
            {"name": "missing.one"},
            "ansible.posix",
        ]
    }
    installed = {
        "/first": {"ansible.windows": {"version": "3.3.0"}, "community.general": {"version": "11.4.2"}},
        "/second": {"ansible.windows": {"version": "1.0.0"}, "ansible.posix": {"version": "2.1.0"}},
    }
    findings = collection_findings(requirements, installed)
    assert [(f["collection"], f["problem"]) for f in findings] == [
        ("community.general", "installed version does not satisfy requirements.yml"),
        ("missing.one", "not installed"),
    ]

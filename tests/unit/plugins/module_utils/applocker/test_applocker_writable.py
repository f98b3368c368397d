"""The writable-folder planner against recorded probe-shaped results (tests/unit/fixtures/applocker/probes)."""

from __future__ import annotations

import copy
import json

import pytest

from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_core import AppLockerError, PathCondition
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_model import parse_model
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_writable import (
    admin_equivalent,
    check_probe,
    effective_mask,
    plan_writable,
    scan_roots,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_xml import parse_policy

from .strategies import FIXTURES, policy_bytes

PROBES = FIXTURES / "probes"
DOMAIN_ADMINS = "S-1-5-21-1004336348-1177238915-682003330-512"
MODEL = {name: {"mode": "enforce", "default_rules": True} for name in ("Exe", "Msi", "Script", "Appx")}


def probe(name):
    return (name, json.loads((PROBES / name).read_text()))


def exceptions_of(policy, collection, rule_name):
    rule = next(r for r in policy.collections[collection].rules if r.name == rule_name)
    return sorted(e.path for e in rule.exceptions if isinstance(e, PathCondition))


WINDOWS_RULE = "(Default Rule) All files located in the Windows folder"
PF_RULE = "(Default Rule) All files located in the Program Files folder"


def test_scan_roots_are_the_allow_path_rules_for_non_administrators():
    # %WINDIR%\Installer\* lies inside %WINDIR%\*: scanning the outer one covers it
    assert scan_roots(parse_model(MODEL)) == ["%PROGRAMFILES%\\*", "%WINDIR%\\*"]
    model = {
        "Exe": {
            "rules": [
                {"name": "a", "path": "%OSDRIVE%\\Tools\\*"},
                {"name": "b", "path": "%OSDRIVE%\\Tools\\Bin\\*.exe"},
                {"name": "c", "path": "%OSDRIVE%\\Users\\*\\Apps\\*"},
                {"name": "d", "path": "%REMOVABLE%\\*"},
                {"name": "e", "path": "%OSDRIVE%\\Tools\\one.exe"},  # a file, no folder to scan
                {"name": "f", "path": "%OSDRIVE%\\Data\\*", "sid": "S-1-5-32-544"},  # Administrators
            ]
        }
    }
    assert scan_roots(parse_model(model)) == ["%OSDRIVE%\\Tools\\*", "%OSDRIVE%\\Users\\*\\Apps\\*", "%REMOVABLE%\\*"]


def test_a_rule_inside_a_scanned_root_is_scanned():
    model = {
        "Exe": {
            "mode": "enforce",
            "rules": [
                {"name": "Vendor", "path": "%PROGRAMFILES%\\Fabrikam\\*"},
                {"name": "Tools", "path": "%OSDRIVE%\\Tools\\*"},
                {"name": "Stick", "path": "%REMOVABLE%\\*"},
            ],
        }
    }
    result = plan_writable(parse_model(model), [probe("win11-writable.json")])
    assert {(u["rule"], u["reason"]) for u in result.unscanned} == {
        ("Tools", "not scanned"),
        ("Stick", "%REMOVABLE% has no folder on this host (removable media are writable by their users)"),
    }
    assert exceptions_of(result.policy, "Exe", "Vendor") == [
        "%PROGRAMFILES%\\Fabrikam\\Updates:*",
        "%PROGRAMFILES%\\Fabrikam\\Updates\\*",
    ]


def test_win11_folders_become_exceptions_of_the_rules_that_cover_them():
    result = plan_writable(parse_model(MODEL), [probe("win11-writable.json")])
    assert exceptions_of(result.policy, "Exe", WINDOWS_RULE) == [
        "%SYSTEM32%\\Microsoft\\Crypto\\RSA\\MachineKeys\\*",  # Everyone, no execute right: no ':*'
        "%SYSTEM32%\\Tasks\\*",  # System32 and SysWOW64 both: one exception
        "%SYSTEM32%\\spool\\drivers\\color\\*",
        "%WINDIR%\\Logs\\Generic\\*",  # GENERIC_WRITE mapped to the file rights
        # a domain group is not an administrator unless known_admins says so
        "%WINDIR%\\Registration\\CRMLog:*",
        "%WINDIR%\\Registration\\CRMLog\\*",
        "%WINDIR%\\Tasks:*",  # the folder's own ACL lets users write an alternate data stream
        "%WINDIR%\\Tasks\\*",  # Tasks\Contoso is inside it: no exception of its own
        "%WINDIR%\\Temp\\*",
        "%WINDIR%\\tracing:*",
        "%WINDIR%\\tracing\\*",
    ]
    assert exceptions_of(result.policy, "Script", "(Default Rule) All scripts located in the Windows folder") == (
        exceptions_of(result.policy, "Exe", WINDOWS_RULE)
    )
    assert exceptions_of(result.policy, "Exe", PF_RULE) == [
        "%PROGRAMFILES%\\Fabrikam\\Updates:*",
        "%PROGRAMFILES%\\Fabrikam\\Updates\\*",
    ]
    assert (
        exceptions_of(
            result.policy, "Msi", "(Default Rule) All Windows Installer files in %systemdrive%\\Windows\\Installer"
        )
        == []
    )
    assert exceptions_of(result.policy, "Exe", "(Default Rule) All files") == []  # Administrators' rule untouched
    assert result.uncovered == [] and result.unscanned == []
    folders = {f["path"] for f in result.folders}
    assert "C:\\Windows\\ServiceProfiles\\Fabrikam" not in folders  # a service SID
    assert "C:\\Windows\\Logs\\Fabrikam" not in folders  # CREATOR OWNER
    assert "C:\\Windows\\Logs\\Denied" not in folders  # a deny ACE takes the write rights back
    assert "C:\\Windows\\Logs\\GenericRead" not in folders  # GENERIC_READ as a negative Int32
    assert "C:\\Windows\\Logs\\AdminsOnly" not in folders


def test_the_input_policy_is_not_changed():
    policy = parse_model(MODEL)
    before = copy.deepcopy(policy)
    plan_writable(policy, [probe("win11-writable.json")])
    assert policy == before


def test_known_admins_are_not_users():
    result = plan_writable(parse_model(MODEL), [probe("win11-writable.json")], known_admins=[DOMAIN_ADMINS.lower()])
    assert "%WINDIR%\\Registration\\CRMLog\\*" not in exceptions_of(result.policy, "Exe", WINDOWS_RULE)


def test_broad_principals_on_writable_folders_are_reported():
    result = plan_writable(parse_model(MODEL), [probe("win11-writable.json")])
    temp = [b for b in result.broad_principals if b["folder"] == "C:\\Windows\\Temp" and b["collection"] == "Exe"]
    assert temp == [
        {
            "collection": "Exe",
            "rule": WINDOWS_RULE,
            "rule_id": temp[0]["rule_id"],
            "rule_path": "%WINDIR%\\*",
            "host": "WIN11-01",
            "folder": "C:\\Windows\\Temp",
            "writers": [{"sid": "S-1-5-32-545", "name": "BUILTIN\\Users"}],
            "principal": "Everyone",
            "covered": True,
        }
    ]
    sids = {b["principal"] for b in result.broad_principals}
    assert sids == {"Everyone"}


def test_report_mode_leaves_folders_open_and_names_them():
    result = plan_writable(parse_model(MODEL), [probe("win11-writable.json")], add_exceptions=False)
    assert exceptions_of(result.policy, "Exe", WINDOWS_RULE) == []
    open_folders = {(u["collection"], u["folder"]) for u in result.uncovered}
    assert ("Exe", "C:\\Windows\\Tasks") in open_folders
    assert ("Exe", "C:\\Program Files (x86)\\Fabrikam\\Updates") in open_folders
    assert all(not b["covered"] for b in result.broad_principals)


def test_existing_exceptions_are_kept_and_only_the_missing_ones_added():
    policy = parse_policy(policy_bytes("aaronlocker-shaped-base.xml"))
    result = plan_writable(policy, [probe("win11-writable.json")])
    added = {(a["rule"], tuple(a["exceptions"])) for a in result.exceptions_added if a["collection"] == "Exe"}
    assert added == {
        ("Windows folder", ("%WINDIR%\\Logs\\Generic\\*",)),
        ("Windows folder", ("%WINDIR%\\Registration\\CRMLog\\*", "%WINDIR%\\Registration\\CRMLog:*")),
        # tracing\* was there; the folder also takes an alternate data stream
        ("Windows folder", ("%WINDIR%\\tracing\\*", "%WINDIR%\\tracing:*")),
        ("Program Files", ("%PROGRAMFILES%\\Fabrikam\\Updates\\*", "%PROGRAMFILES%\\Fabrikam\\Updates:*")),
    }
    windows = exceptions_of(result.policy, "Exe", "Windows folder")
    assert windows.count("%WINDIR%\\tracing\\*") == 1
    assert "%WINDIR%\\tracing:*" in windows


def test_an_incomplete_or_missing_scan_is_reported_per_rule_and_host():
    result = plan_writable(parse_model(MODEL), [probe("incomplete.json")])
    reasons = {(u["collection"], u["rule_path"], u["reason"]) for u in result.unscanned}
    assert ("Exe", "%WINDIR%\\*", "scan incomplete (1 errors under %WINDIR%\\*)") in reasons
    assert ("Exe", "%PROGRAMFILES%\\*", "not scanned") in reasons
    assert not any(u["rule_path"] == "%WINDIR%\\Installer\\*" for u in result.unscanned)
    none = plan_writable(parse_model(MODEL), [])
    assert {u["reason"] for u in none.unscanned} == {"no writable-folder probe"}
    assert {u["host"] for u in none.unscanned} == {None}


def test_a_truncated_scan_is_incomplete():
    name, data = probe("clean.json")
    data["writable_scan"]["truncated"] = True
    result = plan_writable(parse_model(MODEL), [(name, data)])
    assert {u["reason"] for u in result.unscanned} == {"scan incomplete (truncated)"}


def test_the_hosts_own_folders_are_used():
    result = plan_writable(parse_model(MODEL), [probe("windows-on-d.json")])
    assert exceptions_of(result.policy, "Exe", WINDOWS_RULE) == ["%SYSTEM32%\\Tasks\\*", "%WINDIR%\\Temp\\*"]


def test_probes_of_several_hosts_are_merged_once():
    result = plan_writable(
        parse_model(MODEL), [probe("win11-writable.json"), probe("windows-on-d.json"), probe("clean.json")]
    )
    windows = exceptions_of(result.policy, "Exe", WINDOWS_RULE)
    assert windows.count("%SYSTEM32%\\Tasks\\*") == 1
    assert windows.count("%WINDIR%\\Temp\\*") == 1
    assert {f["host"] for f in result.folders} == {"WIN11-01", "SRV-D-01"}


def test_a_writable_folder_that_is_the_rule_itself_cannot_be_an_exception():
    model = {
        "Exe": {"mode": "enforce", "rules": [{"name": "Tools", "path": "%OSDRIVE%\\Tools\\*", "sid": "S-1-5-32-545"}]}
    }
    name, data = probe("clean.json")
    data["writable_scan"]["roots"].append(
        {"rule_path": "%OSDRIVE%\\Tools\\*", "directories": ["C:\\Tools"], "complete": True}
    )
    data["writable_scan"]["folders"].append(
        {"path": "C:\\Tools\\", "grantees": [{"sid": "S-1-5-32-545", "allow_mask": 0x1301BF, "deny_mask": 0}]}
    )
    result = plan_writable(parse_model(model), [(name, data)])
    assert result.uncovered == [
        {
            "collection": "Exe",
            "rule": "Tools",
            "rule_id": result.policy.collections["Exe"].rules[0].id,
            "rule_path": "%OSDRIVE%\\Tools\\*",
            "host": "CLEAN-01",
            "folder": "C:\\Tools",
            "writers": [{"sid": "S-1-5-32-545", "name": ""}],
            "reason": "the rule's own folder is user-writable: an exception would void the rule",
        }
    ]
    assert result.policy.collections["Exe"].rules[0].exceptions == ()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p.update(concern="sysmon"), "probe is for concern 'sysmon', not 'applocker'"),
        (lambda p: p.update(probe_version=2), "probe_version 2; this planner reads version 1"),
        (lambda p: p.pop("writable_scan"), "writable_scan is NoneType None, expected dict"),
        (lambda p: p["writable_scan"].pop("variables"), "writable_scan.variables is NoneType None"),
        (lambda p: p["writable_scan"]["variables"].update({"%WINDIR%": "C:\\Windows"}), "variables['%WINDIR%'] is str"),
        (lambda p: p["writable_scan"]["roots"][0].pop("complete"), "writable_scan.roots[0].complete is NoneType"),
        (lambda p: p["writable_scan"].update(truncated="no"), "writable_scan.truncated is str 'no', expected bool"),
        (lambda p: p["writable_scan"]["folders"][0].pop("path"), "writable_scan.folders[0].path is NoneType"),
        (
            lambda p: p["writable_scan"]["folders"][0]["grantees"][0].update(allow_mask="0x1F01FF"),
            "writable_scan.folders[0].grantees[0].allow_mask is str '0x1F01FF', expected int",
        ),
        (
            lambda p: p["writable_scan"]["folders"][0]["grantees"][0].update(allow_mask=True),
            "grantees[0].allow_mask is True, expected int",
        ),
    ],
)
def test_a_malformed_probe_names_the_key(change, message):
    name, data = probe("win11-writable.json")
    change(data)
    with pytest.raises(AppLockerError) as exc:
        check_probe(data, name)
    assert str(exc.value).startswith("win11-writable.json: ")
    assert message in str(exc.value)


@pytest.mark.parametrize(
    ("allow", "deny", "expected"),
    [
        (0x1F01FF, 0, 0x1F01FF),
        (0x10000000, 0, 0x1F01FF),  # GENERIC_ALL
        (0x40000000, 0, 0x120116),  # GENERIC_WRITE
        (-2147483648, 0, 0x120089),  # GENERIC_READ as a negative Int32
        (0x1301BF, 0x6, 0x1301B9),
        (0x1301BF, 0x40000000, 0x100A9),  # FILE_GENERIC_WRITE includes READ_CONTROL and SYNCHRONIZE
    ],
)
def test_effective_mask(allow, deny, expected):
    assert effective_mask(allow, deny) == expected


def test_admin_equivalents():
    none = frozenset()
    assert admin_equivalent("S-1-5-18", none)
    assert admin_equivalent("s-1-5-32-544", none)
    assert admin_equivalent("S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464", none)
    assert admin_equivalent("S-1-15-2-1", none)
    assert not admin_equivalent("S-1-5-32-545", none)
    assert not admin_equivalent("S-1-1-0", none)
    assert admin_equivalent(DOMAIN_ADMINS, frozenset({DOMAIN_ADMINS}))

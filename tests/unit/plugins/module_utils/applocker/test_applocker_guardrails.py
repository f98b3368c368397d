"""Guardrails of the enforce variant: each error names the collection and what is missing; overrides by name."""

from __future__ import annotations

import pytest

from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_guardrails import (
    MICROSOFT,
    OVERRIDES,
    check_overrides,
    evaluate,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_model import parse_model
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_xml import parse_policy

from .strategies import policy_bytes

SAFE = {name: {"mode": "enforce", "default_rules": True} for name in ("Exe", "Msi", "Script", "Appx")}


def results(model, overrides=(), **kwargs):
    return evaluate(parse_model(model), overrides=set(overrides), **kwargs).results


def errors(model, overrides=(), **kwargs):
    return [(r["check"], r["collection"]) for r in results(model, overrides, **kwargs) if r["status"] == "error"]


def message(model, check, collection, overrides=()):
    (found,) = [r for r in results(model, overrides) if r["check"] == check and r["collection"] == collection]
    return found


def with_rules(collection, *rules, mode="enforce", base=SAFE):
    model = {name: dict(value) for name, value in base.items()}
    model[collection] = {**model.get(collection, {}), "mode": mode, "rules": list(rules)}
    return model


def test_the_default_rules_pass_every_guardrail():
    assert errors(SAFE) == []
    checks = {(r["check"], r["collection"], r["status"]) for r in results(SAFE)}
    assert ("no_admin_allow_all", "Exe", "ok") in checks
    assert ("no_admin_allow_all", "Script", "ok") in checks
    assert ("exe_without_appx", "Exe", "ok") in checks
    assert ("deny_blocks_ansible", "Exe", "ok") in checks


def test_audit_collections_are_not_judged():
    model = {
        "Exe": {"mode": "audit", "rules": [{"name": "x", "path": "%OSDRIVE%\\Tools\\*"}]},
        "Dll": {"mode": "audit"},
    }
    assert results(model) == []


def test_exe_enforced_without_the_administrators_rule():
    model = {
        "Exe": {"mode": "enforce", "rules": [{"name": "Tools", "path": "%OSDRIVE%\\Tools\\*"}]},
        **{"Appx": SAFE["Appx"]},
    }
    found = message(model, "no_admin_allow_all", "Exe")
    assert found["status"] == "error"
    assert found["message"].startswith("Exe: enforced without an Allow rule for Administrators (S-1-5-32-544)")
    assert "locked out" in found["message"] and "override: no_admin_allow_all" in found["message"]
    assert message(model, "no_admin_allow_all", "Exe", overrides=["no_admin_allow_all"])["status"] == "overridden"


def test_script_enforced_without_the_administrators_rule_names_constrained_language_mode():
    model = {"Script": {"mode": "enforce", "rules": [{"name": "Scripts", "path": "%WINDIR%\\*"}]}}
    assert "Constrained Language Mode" in message(model, "no_admin_allow_all", "Script")["message"]


def test_an_administrators_rule_with_exceptions_is_not_allow_all():
    model = with_rules(
        "Exe",
        {"name": "Admins", "path": "*", "sid": "S-1-5-32-544", "exceptions": [{"path": "%WINDIR%\\Temp\\*"}]},
        base={"Appx": SAFE["Appx"]},
    )
    assert ("no_admin_allow_all", "Exe") in errors(model)


def test_exe_enforced_without_appx_rules():
    model = {"Exe": SAFE["Exe"]}
    found = message(model, "exe_without_appx", "Exe")
    assert found["status"] == "error"
    assert found["message"].startswith("Exe: enforced while the Appx collection has no rule")
    assert errors({"Exe": SAFE["Exe"], "Appx": {"mode": "audit", "default_rules": True}}) == []


def test_dll_enforcement_needs_the_acknowledgement():
    model = {**SAFE, "Dll": {"mode": "enforce", "default_rules": True}}
    assert errors(model) == [("dll_enforcement", "Dll")]
    assert "acknowledge it by naming dll_enforcement" in message(model, "dll_enforcement", "Dll")["message"]
    assert errors(model, overrides=["dll_enforcement"]) == []


def test_an_empty_enforced_collection():
    model = {**SAFE, "Msi": {"mode": "enforce"}}
    assert errors(model) == [("empty_enforced", "Msi")]
    assert message(model, "empty_enforced", "Msi")["message"].startswith("Msi: enforced with no rule")


def test_not_configured_with_rules_is_enforced():
    model = {"Exe": {"mode": "not_configured", "rules": [{"name": "Tools", "path": "%OSDRIVE%\\Tools\\*"}]}}
    found = {(r["check"], r["status"]) for r in results(model)}
    assert ("not_configured_with_rules", "warning") in found
    assert ("no_admin_allow_all", "error") in found
    assert ("exe_without_appx", "error") in found


@pytest.mark.parametrize(
    ("collection", "rule"),
    [
        ("Exe", {"path": "%SYSTEM32%\\WindowsPowerShell\\*"}),
        ("Exe", {"path": "%WINDIR%\\SysWOW64\\WindowsPowerShell\\v1.0\\powershell.exe"}),
        ("Exe", {"path": "*\\powershell.exe"}),
        ("Exe", {"path": "C:\\Windows\\System32\\wsmprovhost.exe"}),
        ("Exe", {"path": "%OSDRIVE%\\Windows\\*"}),
        ("Exe", {"publisher": MICROSOFT}),
        (
            "Exe",
            {
                "publisher": MICROSOFT.lower(),
                "product": "MICROSOFT® WINDOWS® OPERATING SYSTEM",
                "binary": "POWERSHELL.EXE",
            },
        ),
        ("Exe", {"publisher": MICROSOFT, "binary": "wsmprovhost.exe", "version": {"low": "10.0.17763.0", "high": "*"}}),
        ("Exe", {"publisher": "*"}),
        ("Dll", {"path": "%WINDIR%\\Microsoft.NET\\assembly\\GAC_MSIL\\System.Management.Automation\\*"}),
        ("Dll", {"publisher": MICROSOFT, "binary": "SYSTEM.MANAGEMENT.AUTOMATION.DLL", "version": {"low": "10.0.0.0"}}),
        ("Dll", {"path": "%SYSTEM32%\\pwrshplugin.dll"}),
    ],
)
def test_a_deny_rule_on_what_ansible_runs(collection, rule):
    model = with_rules(
        collection,
        {"name": "block it", "action": "deny", **rule},
        base={**SAFE, "Dll": {"mode": "enforce", "default_rules": True}},
    )
    found = [
        r
        for r in results(model, overrides=["dll_enforcement"])
        if r["check"] == "deny_blocks_ansible" and r["status"] == "error"
    ]
    assert found, rule
    assert found[0]["message"].startswith(
        f"{collection}: Deny rule 'block it' (model {collection}.rules[0]) for S-1-1-0 matches "
    )
    assert found[0]["rule"] == "block it"
    overridden = results(model, overrides=["dll_enforcement", "deny_blocks_ansible"])
    assert not [r for r in overridden if r["status"] == "error"]


@pytest.mark.parametrize(
    ("collection", "rule"),
    [
        # AaronLocker's "Disallow PowerShell v2": file versions up to 9.9.9.9; PowerShell 5.1 is 10.0.x
        (
            "Dll",
            {
                "publisher": MICROSOFT,
                "product": "MICROSOFT (R) WINDOWS (R) OPERATING SYSTEM",
                "binary": "SYSTEM.MANAGEMENT.AUTOMATION.DLL",
                "version": {"low": "*", "high": "9.9.9.9"},
            },
        ),
        ("Exe", {"path": "%SYSTEM32%\\WindowsPowerShell\\v1.0\\powershell_ise.exe"}),
        ("Exe", {"publisher": MICROSOFT, "binary": "POWERSHELL_ISE.EXE"}),
        ("Exe", {"publisher": "O=CONTOSO, C=US"}),
        (
            "Exe",
            {
                "path": "%SYSTEM32%\\*",
                "exceptions": [{"path": "%SYSTEM32%\\WindowsPowerShell\\*"}, {"path": "%SYSTEM32%\\wsmprovhost.exe"}],
            },
        ),
        ("Exe", {"path": "%SYSTEM32%\\*", "sid": "S-1-5-21-1-2-3-1001"}),  # a group the connection is not in
        ("Exe", {"hash": "0x" + "AB" * 32}),  # a hash cannot be judged: PowerShell's hash is not known here
        ("Script", {"path": "*"}),  # no file Ansible runs is a script file
    ],
)
def test_deny_rules_that_leave_ansible_alone(collection, rule):
    model = with_rules(
        collection,
        {"name": "deny", "action": "deny", **rule},
        base={**SAFE, "Dll": {"mode": "enforce", "default_rules": True}},
    )
    assert not [r for r in results(model, overrides=["dll_enforcement"]) if r["status"] == "error"]


def test_connection_sids_decide_whose_deny_rules_count():
    group = "S-1-5-21-1-2-3-1001"
    model = with_rules("Exe", {"name": "deny", "action": "deny", "path": "%SYSTEM32%\\*", "sid": group})
    model["Exe"]["default_rules"] = True
    assert errors(model) == []
    found = [r for r in results(model, connection_sids=(group,)) if r["status"] == "error"]
    assert [r["message"].split(" matches ")[1].split(" ")[0] for r in found] == ["powershell.exe", "wsmprovhost.exe"]


def test_a_deny_in_an_audit_collection_is_not_judged():
    model = with_rules("Exe", {"name": "deny", "action": "deny", "path": "*"}, mode="audit")
    assert not [r for r in results(model) if r["collection"] == "Exe"]


def test_the_aaronlocker_shaped_policy_enforced():
    policy = parse_policy(policy_bytes("aaronlocker-shaped-base.xml"))
    for coll in policy.collections.values():
        coll.mode = "Enabled"
    found = evaluate(policy, overrides=set()).results
    assert [(r["check"], r["collection"]) for r in found if r["status"] == "error"] == [("dll_enforcement", "Dll")]
    assert ("deny_blocks_ansible", "Dll", "ok") in {(r["check"], r["collection"], r["status"]) for r in found}


def test_override_names_are_checked():
    assert check_overrides(["dll_enforcement"]) == {"dll_enforcement"}
    with pytest.raises(ValueError, match="'dll' is not a guardrail; the guardrails are no_admin_allow_all"):
        check_overrides(["dll"])
    assert set(OVERRIDES) == {
        "no_admin_allow_all",
        "exe_without_appx",
        "dll_enforcement",
        "empty_enforced",
        "deny_blocks_ansible",
        "unscanned_paths",
        "writable_uncovered",
    }

"""The applocker role's check, apply and apply again, and its rollback variables, against the Windows TEST DOUBLE.

tests/doubles/windows/README.md says what the double models and what it cannot prove; helpers in
applocker_double.py. A failed set and the domain target are in test_applocker_apply_double_rollback.py
(a file each, so they spread over pytest-xdist's workers). Each playbook run costs seconds: the
decisions themselves are unit tested against recorded probes (tests/unit/.../test_applocker_plan.py);
these tests prove the wiring, with as few runs as that takes.
"""

from __future__ import annotations

import pytest

from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_compare import compare
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_xml import parse_policy

from .applocker_double import REMOTE, SIZES, AppLockerLab, names, new_host, read_back

pytestmark = pytest.mark.slow

SET_POLICY = ["win_powershell keep", "win_copy", "win_powershell set"]
APPLY = [
    "applocker_probe local +scan",
    *SET_POLICY,
    "wevtutil EXE and DLL",
    "wevtutil MSI and Script",
    "wevtutil Packaged app-Deployment",
    "wevtutil Packaged app-Execution",
    "win_service",
    "applocker_probe local",  # verify
]
EVERY_COLLECTION = {"Appx", "Exe", "Msi", "Script"}  # what the default model configures


def modes(xml):
    return {name: coll.mode for name, coll in parse_policy(xml).collections.items()}


def test_check_changes_nothing_apply_changes_apply_again_changes_nothing(tmp_path):
    lab = AppLockerLab(tmp_path, new_host())
    changed, calls, stdout, (result,) = lab.run("--check", "--diff")
    assert changed > 0  # the plan says the host would change ...
    assert names(calls) == ["applocker_probe local +scan"]  # ... and nothing but the probe ran
    assert lab.state["applocker"]["local"] is None and not (tmp_path / "out").exists()
    # the semantic diff: the host's policy and the variant, both in their normal form
    assert "win-double: local policy (normalised)" in stdout
    assert '- <RuleCollection Type="Exe" EnforcementMode="NotConfigured" />' in stdout
    assert '+ <RuleCollection Type="Exe" EnforcementMode="AuditOnly">' in stdout
    assert result["applied"] is False and set(result["mode_changes"]) == EVERY_COLLECTION

    changed, calls, stdout, (result,) = lab.run()
    assert changed > 0 and names(calls) == APPLY  # policy, then the logs, then AppIDSvc (the safe order)
    assert calls[2]["dest"] == f"{REMOTE}\\policy.xml"
    assert calls[3]["parameters"] == {"PolicyFile": f"{REMOTE}\\policy.xml", "Ldap": ""}
    state = lab.state
    assert compare(state["applocker"]["local"], lab.rendered("audit")).equal
    assert modes(state["applocker"]["local"])["Exe"] == "AuditOnly"
    assert state["services"]["AppIDSvc"] == {"state": "running", "start_mode": "auto"}
    assert state["eventlogs"] == SIZES
    assert "local policy -> audit: Appx NotConfigured -> AuditOnly; Exe NotConfigured -> AuditOnly" in stdout
    assert result["applied"] is True and result["actions"] == ["policy", "eventlog", "service"]
    assert result["mode_changes"]["Exe"] == {"before": "NotConfigured", "after": "AuditOnly"}

    # The host hands the policy back re-serialised (no declaration, other order, upper-case Ids):
    # compared by meaning, it is the same, so a rerun is one probe and nothing else.
    assert read_back(state["applocker"]["local"]) != lab.rendered("audit")
    changed, calls, _stdout, (result,) = lab.run()
    assert changed == 0 and names(calls) == ["applocker_probe local +scan"]
    assert result == {**result, "actions": [], "mode_changes": {}, "applied": False}


def test_enforce_then_roll_back_to_audit_then_clear(tmp_path):
    lab = AppLockerLab(tmp_path, new_host())
    changed, calls, _stdout, (result,) = lab.run(applocker_variant="enforce")
    assert changed > 0 and names(calls) == APPLY
    assert modes(lab.state["applocker"]["local"])["Exe"] == "Enabled"
    assert compare(lab.state["applocker"]["local"], lab.rendered("enforce")).equal
    assert result["mode_changes"]["Exe"] == {"before": "NotConfigured", "after": "Enabled"}

    # applocker_rollback_to_audit: the audit variant whatever applocker_variant says, and not held
    # back by the enforce variant's guardrails (the host's scan is now incomplete: enforcing would
    # be refused, unscanned_paths).
    state = lab.state
    state["writable_scan"]["roots"][0]["complete"] = False
    state["writable_scan"]["roots"][0]["errors"] = ["C:\\Windows\\CSC: Access to the path is denied."]
    lab.write_state(state)
    changed, calls, stdout, (result,) = lab.run(applocker_variant="enforce", applocker_rollback_to_audit=True)
    assert changed > 0
    assert names(calls) == ["applocker_probe local +scan", *SET_POLICY, "applocker_probe local"]
    assert "enforce variant not rendered" in stdout and "unscanned_paths" in stdout
    assert set(modes(lab.state["applocker"]["local"]).values()) == {"AuditOnly", "NotConfigured"}
    assert "-> audit: Appx Enabled -> AuditOnly; Exe Enabled -> AuditOnly" in stdout
    assert {name: mode["after"] for name, mode in result["mode_changes"].items()} == dict.fromkeys(
        EVERY_COLLECTION, "AuditOnly"
    )
    kept = lab.file(f"{REMOTE}\\backup\\policy.previous.xml")
    assert modes(kept.decode("utf-16"))["Exe"] == "Enabled"  # the enforce policy was kept before it was replaced

    # applocker_clear_policy: the empty policy; no scan, no render
    changed, calls, _stdout, (result,) = lab.run(applocker_clear_policy=True)
    assert changed > 0
    assert names(calls) == ["applocker_probe local", *SET_POLICY, "applocker_probe local"]
    assert set(modes(lab.state["applocker"]["local"]).values()) == {"NotConfigured"}
    assert not any(parse_policy(lab.state["applocker"]["local"]).collections[n].rules for n in EVERY_COLLECTION)
    assert lab.state["services"]["AppIDSvc"]["state"] == "running"  # left running: nothing is enforced
    assert result["variant"] == "clear" and set(result["mode_changes"]) == EVERY_COLLECTION

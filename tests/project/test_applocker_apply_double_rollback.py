"""The applocker role's failed set (the previous policy set again) and domain target, against the Windows TEST DOUBLE.

tests/doubles/windows/README.md says what the double models and what it cannot prove; helpers in
applocker_double.py.
"""

from __future__ import annotations

import pytest

from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_compare import compare

from .applocker_double import LDAP, REMOTE, SIZES, AppLockerLab, names, new_host

pytestmark = pytest.mark.slow

PILOT = (
    '<AppLockerPolicy Version="1"><RuleCollection Type="Exe" EnforcementMode="AuditOnly">'
    '<FilePathRule Id="5b290184-345a-4453-b184-45305f6d9a54" Name="Tools share" Description="Left by a pilot" '
    'UserOrGroupSid="S-1-1-0" Action="Allow"><Conditions><FilePathCondition Path="%OSDRIVE%\\Tools\\*" />'
    "</Conditions></FilePathRule></RuleCollection></AppLockerPolicy>"
)


def test_a_refused_policy_is_replaced_by_the_previous_one_and_nothing_else_runs(tmp_path):
    state = new_host(applocker={"local": PILOT, "gpo": {}})
    # Set-AppLockerPolicy fails on the rendered policy (it holds this rule), not on the kept one.
    state["applocker"]["refuse_marker"] = "(Default Rule) All signed packaged apps"
    lab = AppLockerLab(tmp_path, state)
    _changed, calls, stdout, _results = lab.run(ok=False)
    assert names(calls) == [
        "applocker_probe local +scan",
        "win_powershell keep",
        "win_copy",
        "win_powershell set",  # refused
        "win_powershell set",  # the kept policy
    ]
    assert calls[3]["failed"] and calls[4]["parameters"]["PolicyFile"] == f"{REMOTE}\\backup\\policy.previous.xml"
    assert "setting the audit policy on win-double failed" in stdout and "refuse_marker" in stdout
    assert f"The previous policy ({REMOTE}\\backup\\policy.previous.xml) was set again." in stdout
    state = lab.state
    assert compare(state["applocker"]["local"], PILOT).equal
    # the safe order: nothing after the policy ran, so AppIDSvc never started on a half-applied host
    assert state["services"]["AppIDSvc"] == {"state": "stopped", "start_mode": "manual"}
    assert state["eventlogs"] != SIZES


def test_domain_target_sets_the_gpo_once_from_the_management_host(tmp_path):
    lab = AppLockerLab(tmp_path, new_host())
    domain = {
        "applocker_target": "domain",
        "applocker_domain_ldap": LDAP,
        "applocker_domain_management_host": "mgmt-double",
        "hosts": "win-double,win-double2",
    }
    changed, calls, stdout, results = lab.run(**domain)
    assert changed > 0
    steps = names(calls)
    # every endpoint's probe (their effective policy and their writable folders), then the GPO once
    assert steps[:3] == ["applocker_probe effective +scan", "applocker_probe effective +scan", "applocker_probe domain"]
    assert steps[3:7] == ["win_powershell keep -Ldap", "win_copy", "win_powershell set -Ldap", "applocker_probe domain"]
    assert steps.count("win_powershell set -Ldap") == 1 and steps.count("applocker_probe domain") == 2
    assert calls[5]["parameters"] == {"PolicyFile": f"{REMOTE}\\policy.xml", "Ldap": LDAP}
    # then each endpoint's own concerns, after the GPO's policy: logs, AppIDSvc, verify
    assert steps.count("win_service") == 2 and steps.index("win_service") > steps.index("win_powershell set -Ldap")
    assert steps[-2:] == ["applocker_probe effective", "applocker_probe effective"]
    state = lab.state
    assert compare(state["applocker"]["gpo"][LDAP], lab.rendered("audit", host="domain")).equal
    assert state["applocker"]["local"] is None  # the endpoints' local policy is not touched
    assert state["services"]["AppIDSvc"] == {"state": "running", "start_mode": "auto"} and state["eventlogs"] == SIZES
    assert "GPO " + LDAP + " (set from mgmt-double)" in stdout
    assert [r["gpo_actions"] for r in results] == [["policy"], ["policy"]]
    assert results[0]["mode_changes"]["Exe"] == {"before": "NotConfigured", "after": "AuditOnly"}

    changed, calls, _stdout, results = lab.run(**domain)
    assert changed == 0
    assert names(calls) == [*["applocker_probe effective +scan"] * 2, "applocker_probe domain"]
    assert [r["applied"] for r in results] == [False, False]


def test_both_rollback_variables_are_refused_before_anything_runs(tmp_path):
    lab = AppLockerLab(tmp_path, new_host())
    _changed, calls, stdout, _results = lab.run(ok=False, applocker_rollback_to_audit=True, applocker_clear_policy=True)
    assert "applocker_rollback_to_audit and applocker_clear_policy are both true" in stdout
    assert calls == []

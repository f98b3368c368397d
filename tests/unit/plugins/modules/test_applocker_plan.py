"""Whole-module tests for applocker_plan (and the applocker_policy options the role uses: variants, inline probes,
returned policies): check mode, the semantic diff, verify mode, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ansible_collections.m1038.appcontrol.plugins.modules import applocker_plan, applocker_policy

from .utils import AnsibleExitJson, AnsibleFailJson, set_module_args

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "applocker"
CLEAR = Path(__file__).resolve().parents[4] / "roles" / "applocker" / "files" / "clear.xml"
MICROSOFT = "O=MICROSOFT CORPORATION, L=REDMOND, S=WASHINGTON, C=US"
MODEL = {name: {"mode": "enforce", "default_rules": True} for name in ("Exe", "Msi", "Script", "Appx")}


def run(module, args, tmp_path, *, check_mode=False, diff=False, fail=False):
    module_tmp = tmp_path / "ansible-tmp"
    module_tmp.mkdir(exist_ok=True)
    full = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)
    expected = AnsibleFailJson if fail else AnsibleExitJson
    with set_module_args(full, tmpdir=module_tmp), pytest.raises(expected) as exc:
        module.main()
    return exc.value.args[0]


def host(name):
    return json.loads((FIXTURES / "hosts" / f"{name}.json").read_text())


def render_args(tmp_path, probe, **extra):
    return {
        "dest": str(tmp_path / "out"),
        "model": MODEL,
        "trusted_vendors": ["Microsoft Corporation"],
        "vendor_signers": {"Microsoft Corporation": MICROSOFT},
        "writable_results": [probe],
        "return_policies": True,
        **extra,
    }


def policy_arg(result, variant):
    return {"variant": variant, "path": result["files"][variant], "content": result["policies"][variant]}


# --- applocker_policy: what the role needs from it -----------------------------------------------------


def test_the_render_takes_the_probe_inline_and_returns_the_policies_in_check_mode(tmp_path):
    result = run(applocker_policy, render_args(tmp_path, host("writable-found")), tmp_path, check_mode=True)
    assert result["changed"] is True and not (tmp_path / "out").exists()
    assert set(result["policies"]) == {"audit", "enforce"}
    assert "%WINDIR%\\Tasks\\*" in result["policies"]["audit"]
    hosts = {item["host"] for item in result["coverage"]["writable"]["exceptions_added"]}
    assert hosts == {"WS-WRITABLE"}


def test_an_audit_only_render_is_not_held_back_by_the_enforce_guardrails(tmp_path):
    """A host whose scan is incomplete cannot enforce, but can audit (or be rolled back to audit)."""
    probe = host("audit-loaded")
    probe["writable_scan"]["truncated"] = True
    refused = run(applocker_policy, render_args(tmp_path, probe), tmp_path, fail=True)
    assert "unscanned_paths" in refused["msg"] and not (tmp_path / "out").exists()

    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "enforce.xml").write_text("an enforce.xml of an earlier run")
    audited = run(applocker_policy, render_args(tmp_path, probe, variants=["audit"]), tmp_path, diff=True)
    assert audited["changed"] is True
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["audit.xml", "coverage.json"]
    assert set(audited["files"]) == {"audit", "coverage"} and set(audited["policies"]) == {"audit"}
    assert audited["policy_changes"]["enforce.xml"] == ["removed: only the audit variant is rendered"]
    warnings = [g["message"] for g in audited["guardrails"] if g["status"] == "warning"]
    assert any(w.startswith("enforce variant not rendered, it would be refused: Exe: allowed paths") for w in warnings)
    assert not [g for g in audited["guardrails"] if g["status"] == "error"]
    again = run(applocker_policy, render_args(tmp_path, probe, variants=["audit"]), tmp_path)
    assert again["changed"] is False


def test_variants_must_include_audit(tmp_path):
    result = run(
        applocker_policy, render_args(tmp_path, host("audit-loaded"), variants=["enforce"]), tmp_path, fail=True
    )
    assert "variants: ['enforce'] must be [audit] or [audit, enforce]" in result["msg"]


# --- applocker_plan -----------------------------------------------------------------------------------


@pytest.fixture
def rendered(tmp_path):
    return run(applocker_policy, render_args(tmp_path, host("audit-loaded")), tmp_path)


def test_plan_check_mode_reports_the_change_with_the_semantic_diff(rendered, tmp_path):
    args = {"probe": host("merged-other-mode"), "host": "ws", "policy": policy_arg(rendered, "audit")}
    result = run(applocker_plan, args, tmp_path, check_mode=True, diff=True)
    assert result["changed"] is True
    assert result["plan"]["action_ids"] == ["policy"]
    assert result["mode_changes"] == {
        "Exe": {"before": "Enabled", "after": "AuditOnly"},
        "Script": {"before": "Enabled", "after": "AuditOnly"},
    }
    assert result["policy_changes"] == [
        "Exe: EnforcementMode Enabled -> AuditOnly",
        "Script: EnforcementMode Enabled -> AuditOnly",
    ]
    assert result["diff"]["before_header"] == "ws: local policy (normalised)"
    assert 'Type="Exe" EnforcementMode="Enabled"' in result["diff"]["before"]
    assert 'Type="Exe" EnforcementMode="AuditOnly"' in result["diff"]["after"]


def test_a_compliant_host_is_not_changed_and_passes_verify(rendered, tmp_path):
    args = {
        "probe": host("audit-loaded"),
        "policy": policy_arg(rendered, "audit"),
        "manage_eventlog": False,
        "expect_compliant": True,
    }
    result = run(applocker_plan, args, tmp_path, diff=True)
    assert result["changed"] is False and result["plan"]["compliant"] is True
    assert "diff" not in result and result["mode_changes"] == {} and result["policy_changes"] == []


def test_verify_fails_naming_what_is_still_pending(rendered, tmp_path):
    args = {
        "probe": host("appidsvc-stopped"),
        "host": "ws",
        "policy": policy_arg(rendered, "audit"),
        "expect_compliant": True,
    }
    result = run(applocker_plan, args, tmp_path, fail=True)
    assert result["msg"].startswith("applocker_plan: applocker on ws is not compliant after the apply: service (")


def test_a_recorded_probe_plans_but_never_reports_changed(rendered, tmp_path):
    args = {"probe": host("not-configured"), "recorded": True, "policy": policy_arg(rendered, "audit")}
    result = run(applocker_plan, args, tmp_path)
    assert result["changed"] is False and result["plan"]["action_ids"] == ["policy", "service"]


def test_the_clear_policy_is_planned_from_the_role_file(tmp_path):
    args = {
        "probe": host("enforce-loaded"),
        "policy": {"variant": "clear", "path": str(CLEAR), "content": CLEAR.read_text()},
        "manage_eventlog": False,
    }
    result = run(applocker_plan, args, tmp_path)
    assert result["plan"]["action_ids"] == ["policy"]
    assert set(result["mode_changes"]) == {"Exe", "Msi", "Script", "Appx"}


def test_a_policy_the_xsd_refuses_never_leaves_the_controller(tmp_path):
    bad = '<AppLockerPolicy Version="1"><RuleCollection Type="Bogus" EnforcementMode="Enabled" /></AppLockerPolicy>'
    args = {"probe": host("not-configured"), "policy": {"variant": "audit", "path": "/x/audit.xml", "content": bad}}
    result = run(applocker_plan, args, tmp_path, fail=True)
    assert "/x/audit.xml is not valid against the AppLocker policy XSD" in result["msg"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"policy": None}, "manage_policy is true but no policy was given"),
        ({"policy": {"variant": "audit", "path": "/x"}}, "policy lacks content"),
        ({"eventlog_max_sizes": {"Microsoft-Windows-AppLocker/EXE and DLL": "big"}}, "'big' is not a number of bytes"),
        ({"target": "domain", "ldap": "LDAP://dc/CN=x"}, "read the local policy; the domain target"),
    ],
)
def test_bad_arguments_are_named(extra, message, rendered, tmp_path):
    args = {"probe": host("audit-loaded"), "policy": policy_arg(rendered, "audit"), **extra}
    result = run(applocker_plan, args, tmp_path, fail=True)
    assert message in result["msg"]


def test_domain_target_requires_ldap(rendered, tmp_path):
    args = {"probe": host("gpo-not-configured"), "target": "domain", "policy": policy_arg(rendered, "audit")}
    result = run(applocker_plan, args, tmp_path, fail=True)
    assert "the domain target needs the GPO's LDAP path (LDAP://...), not ''" in result["msg"]

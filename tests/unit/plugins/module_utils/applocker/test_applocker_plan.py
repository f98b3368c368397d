"""The AppLocker planner against recorded probe results (tests/unit/fixtures/applocker/hosts, README there)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_compare import compare
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_core import Policy
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_plan import (
    CHANNELS,
    Desired,
    RenderedPolicy,
    enforced_without_allow,
    make_plan,
    policy_diff,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_render import render
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_xml import (
    parse_policy,
    render_policy,
    xsd_errors,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._winedge import PlanError, ProbeError, check_probe

PROJECT = Path(__file__).resolve().parents[5]
FIXTURES = PROJECT / "tests" / "unit" / "fixtures" / "applocker"
HOSTS = FIXTURES / "hosts"
CLEAR = PROJECT / "roles" / "applocker" / "files" / "clear.xml"
MICROSOFT = "O=MICROSOFT CORPORATION, L=REDMOND, S=WASHINGTON, C=US"
# The model every fixture was written against (README): the project's default model, Microsoft trusted.
PARAMS = {
    "model": {name: {"mode": "enforce", "default_rules": True} for name in ("Exe", "Msi", "Script", "Appx")},
    "trusted_vendors": ["Microsoft Corporation"],
    "vendor_signers": {"Microsoft Corporation": MICROSOFT},
}
SIZES = {
    "Microsoft-Windows-AppLocker/EXE and DLL": 67108864,
    "Microsoft-Windows-AppLocker/MSI and Script": 67108864,
    "Microsoft-Windows-AppLocker/Packaged app-Deployment": 16777216,
    "Microsoft-Windows-AppLocker/Packaged app-Execution": 16777216,
}
ROOT = "C:\\ProgramData\\m1038-appcontrol\\applocker"
LDAP = "LDAP://dc01.corp.example/CN={6AC1786C-016F-11D2-945F-00C04FB984F9},CN=Policies,CN=System,DC=corp,DC=example"
ENFORCED = ("Appx", "Exe", "Msi", "Script")


def probe(name: str) -> dict:
    return json.loads((HOSTS / f"{name}.json").read_text())


def rendered(variant: str, host: str = "audit-loaded") -> RenderedPolicy:
    """What the role renders for a host: the model with that host's writable-folder scan."""
    variants = ["audit", "enforce"] if variant == "enforce" else ["audit"]
    result = render({**PARAMS, "variants": variants}, probes=[(host, probe(host))])
    return RenderedPolicy(
        variant, f"/ctl/applocker/hosts/{host}/{variant}.xml", result.files[f"{variant}.xml"].decode()
    )


def cleared() -> RenderedPolicy:
    return RenderedPolicy("clear", str(CLEAR), CLEAR.read_text())


def desired(variant: str = "audit", host: str = "audit-loaded", **overrides) -> Desired:
    settings_ = {"policy": rendered(variant, host) if variant != "clear" else cleared(), "eventlog_max_sizes": SIZES}
    settings_.update(overrides)
    return Desired(**settings_)


def plan_for(name: str, variant: str = "audit", **overrides):
    return make_plan(probe(name), desired(variant, name, **overrides), host=name)


def action(plan, action_id):
    return next(a.to_dict() for a in plan.actions if a.id == action_id)


# --- the fixtures are what they claim ------------------------------------------------------------


def test_every_fixture_has_the_probe_shape():
    names = sorted(p.stem for p in HOSTS.glob("*.json"))
    assert len(names) == 12
    for name in names:
        data = probe(name)
        check_probe(data, concern="applocker", version=1, shape={"host": dict, "policy": dict}, host=name)
        assert [log["channel"] for log in data["eventlogs"]] == list(CHANNELS)


@pytest.mark.parametrize(("name", "variant"), [("audit-loaded", "audit"), ("enforce-loaded", "enforce")])
def test_the_loaded_fixtures_hold_what_the_role_renders_today(name, variant):
    """A renderer change that changes a policy's meaning would re-apply it to every compliant host: update
    these fixtures deliberately (README)."""
    host_xml = probe(name)["policy"]["xml"]
    assert host_xml != rendered(variant, name).content  # other bytes (no declaration, Ids upper-case, one line) ...
    assert compare(host_xml, rendered(variant, name).content).equal  # ... the same policy


def test_the_clear_file_is_the_empty_policy_and_valid():
    text = CLEAR.read_text()
    assert xsd_errors(text) == []
    assert compare(text, Policy()).equal
    assert compare(text, '<AppLockerPolicy Version="1" />').equal
    assert all(c.mode == "NotConfigured" and not c.rules for c in parse_policy(text).collections.values())


# --- local target ---------------------------------------------------------------------------------


def test_not_configured_host_gets_the_policy_then_the_logs_then_the_service():
    plan = plan_for("not-configured")
    assert plan.action_ids == ["policy", "eventlog", "service"]  # the safe order: policy with allow rules first
    policy = action(plan, "policy")
    assert policy["variant"] == "audit" and policy["target"] == "local" and policy["ldap"] is None
    assert policy["mode_changes"] == {name: {"before": "NotConfigured", "after": "AuditOnly"} for name in ENFORCED}
    assert policy["push"] == {"src": "/ctl/applocker/hosts/not-configured/audit.xml", "dest": ROOT + "\\policy.xml"}
    assert policy["keep"] == {
        "dest": ROOT + "\\backup\\policy.previous.xml",
        "parameters": {"Path": ROOT + "\\backup\\policy.previous.xml", "Ldap": ""},
    }
    assert policy["parameters"] == {"PolicyFile": ROOT + "\\policy.xml", "Ldap": ""}
    assert policy["restore_parameters"] == {"PolicyFile": ROOT + "\\backup\\policy.previous.xml", "Ldap": ""}
    assert "Exe: EnforcementMode NotConfigured -> AuditOnly" in policy["changes"]
    logs = action(plan, "eventlog")["logs"]
    assert [entry["argv"] for entry in logs] == [
        ["wevtutil.exe", "set-log", channel, f"/ms:{SIZES[channel]}"] for channel in sorted(SIZES)
    ]
    assert action(plan, "service") == {
        "id": "service",
        "reason": "service AppIDSvc is stopped, start mode manual; wanted running and automatic (after the policy, "
        "which has allow rules)",
        "name": "AppIDSvc",
        "start_mode": "auto",
        "state": "started",
    }
    assert plan.facts["mode_changes"] == policy["mode_changes"]
    assert plan.changed is True and plan.warnings == []


@pytest.mark.parametrize(("name", "variant"), [("audit-loaded", "audit"), ("enforce-loaded", "enforce")])
def test_a_compliant_host_plans_nothing(name, variant):
    plan = plan_for(name, variant)
    assert plan.compliant and plan.action_ids == [] and plan.changed is False
    assert plan.facts["policy_compliant"] is True and plan.facts["mode_changes"] == {}
    plan.require_compliant()  # the verify step passes


def test_audit_to_enforce_switches_every_mode_by_overwriting():
    policy = action(plan_for("audit-loaded", "enforce"), "policy")
    assert policy["mode_changes"] == {name: {"before": "AuditOnly", "after": "Enabled"} for name in ENFORCED}
    assert policy["changes"] == [f"{name}: EnforcementMode AuditOnly -> Enabled" for name in ENFORCED]
    assert "Merge" not in json.dumps(policy)  # the whole policy is set, never merged


def test_enforce_back_to_audit():
    policy = action(plan_for("enforce-loaded", "audit"), "policy")
    assert policy["mode_changes"] == {name: {"before": "Enabled", "after": "AuditOnly"} for name in ENFORCED}


def test_a_merged_policy_with_the_old_mode_is_overwritten():
    """The rules are the audit variant's, but a merge kept Exe and Script Enabled: only the modes differ."""
    plan = plan_for("merged-other-mode", "audit")
    assert plan.action_ids == ["policy"]
    policy = action(plan, "policy")
    assert policy["mode_changes"] == {
        "Exe": {"before": "Enabled", "after": "AuditOnly"},
        "Script": {"before": "Enabled", "after": "AuditOnly"},
    }
    assert policy["changes"] == [
        "Exe: EnforcementMode Enabled -> AuditOnly",
        "Script: EnforcementMode Enabled -> AuditOnly",
    ]


def test_another_policy_is_replaced_and_its_rules_named():
    plan = plan_for("other-policy")
    assert plan.action_ids == ["policy", "service"]
    changes = action(plan, "policy")["changes"]
    assert "Exe: - Tools share (5b290184-345a-4453-b184-45305f6d9a54)" in changes
    assert any(line.startswith("Exe: + (Default Rule) All files (") for line in changes)


def test_appidsvc_stopped_and_manual_is_started_and_made_automatic():
    plan = plan_for("appidsvc-stopped")
    assert plan.action_ids == ["service"]


@pytest.mark.parametrize("mode", ["auto", "delayed"])
def test_automatic_and_running_needs_nothing(mode):
    data = probe("appidsvc-stopped")
    data["service"].update(state="running", start_mode=mode)
    assert make_plan(data, desired()).action_ids == []


def test_a_writable_folder_found_on_the_host_changes_the_policy():
    """The render closes the host's writable folders, so the loaded policy (without them) differs in exceptions."""
    plan = plan_for("writable-found")
    assert plan.action_ids == ["policy"]
    policy = action(plan, "policy")
    assert policy["mode_changes"] == {}
    assert any(
        line.endswith(": exceptions") and "(Default Rule) All files located in the Windows folder" in line
        for line in policy["changes"]
    )
    content = rendered("audit", "writable-found").content
    assert "%WINDIR%\\Tasks\\*" in content and "%SYSTEM32%\\Tasks\\*" in content


def test_clearing_sets_the_empty_policy():
    plan = plan_for("enforce-loaded", "clear")
    policy = action(plan, "policy")
    assert policy["variant"] == "clear" and policy["push"]["src"] == str(CLEAR)
    assert policy["mode_changes"] == {name: {"before": "Enabled", "after": "NotConfigured"} for name in ENFORCED}
    assert plan_for("not-configured", "clear").action_ids == ["eventlog", "service"]  # nothing to clear


def test_the_service_is_not_started_under_an_enforced_collection_without_allow_rules():
    with pytest.raises(
        PlanError,
        match=r"starting AppIDSvc on enforced-without-allow would enforce the host's local "
        r"policy whose Exe collection has no Allow rule",
    ):
        plan_for("enforced-without-allow", manage_policy=False)
    # with the policy managed, the rendered policy (with allow rules) comes first and makes it safe
    assert plan_for("enforced-without-allow").action_ids == ["policy", "service"]


def test_enforced_without_allow():
    assert enforced_without_allow(None) == []
    assert enforced_without_allow(parse_policy(probe("enforced-without-allow")["policy"]["xml"])) == ["Exe"]
    assert enforced_without_allow(parse_policy(rendered("enforce").content)) == []


def test_a_host_without_appidsvc_is_refused():
    with pytest.raises(PlanError, match="service AppIDSvc does not exist on no-appidsvc: this Windows edition has no"):
        plan_for("no-appidsvc")
    assert plan_for("no-appidsvc", manage_service=False).action_ids == ["policy"]


def test_switched_off_concerns_are_not_planned():
    plan = plan_for("not-configured", manage_policy=False, manage_eventlog=False, manage_service=False)
    assert plan.compliant
    assert plan_for("not-configured", manage_policy=False, manage_service=False).action_ids == ["eventlog"]


def test_a_missing_channel_is_a_warning_and_sizes_compare_exactly():
    data = probe("not-configured")
    data["eventlogs"][3]["exists"] = False
    data["eventlogs"][3]["max_size"] = None
    plan = make_plan(data, desired(), host="ws")
    assert len(action(plan, "eventlog")["logs"]) == 3
    assert plan.warnings == [
        "event log Microsoft-Windows-AppLocker/Packaged app-Execution does not exist on this host; its size is not set"
    ]


@pytest.mark.parametrize("size", [1048575, 1048576 + 4096, True, "64M"])
def test_an_event_log_size_windows_would_round_is_refused(size):
    with pytest.raises(PlanError, match="must be at least 1048576"):
        plan_for("audit-loaded", eventlog_max_sizes={CHANNELS[0]: size})


def test_recorded_probe_never_reports_changed():
    plan = make_plan(probe("not-configured"), desired(), host="lab", recorded=True)
    assert plan.action_ids == ["policy", "eventlog", "service"] and plan.changed is False
    assert plan.to_dict()["recorded"] is True


def test_the_diff_is_the_normalised_policies():
    data = probe("merged-other-mode")
    diff = policy_diff(data, desired(), "ws")
    assert diff["before_header"] == "ws: local policy (normalised)"
    assert diff["after_header"].endswith("audit.xml (audit, normalised)")
    before, after = diff["before"].splitlines(), diff["after"].splitlines()
    changed = [(b, a) for b, a in zip(before, after, strict=True) if b != a]
    assert changed == [
        (
            '  <RuleCollection Type="Exe" EnforcementMode="Enabled">',
            '  <RuleCollection Type="Exe" EnforcementMode="AuditOnly">',
        ),
        (
            '  <RuleCollection Type="Script" EnforcementMode="Enabled">',
            '  <RuleCollection Type="Script" EnforcementMode="AuditOnly">',
        ),
    ]


# --- domain target --------------------------------------------------------------------------------


def domain(name="gpo-not-configured", **overrides):
    settings_ = {"target": "domain", "ldap": LDAP, "manage_eventlog": False, "manage_service": False}
    settings_.update(overrides)
    return make_plan(probe(name), desired("audit", "audit-loaded", **settings_), host="GPO")


def test_the_gpo_is_planned_through_ldap():
    plan = domain()
    assert plan.action_ids == ["policy"]
    policy = action(plan, "policy")
    assert policy["target"] == "domain" and policy["ldap"] == LDAP
    assert policy["parameters"]["Ldap"] == LDAP and policy["keep"]["parameters"]["Ldap"] == LDAP
    assert policy["restore_parameters"]["Ldap"] == LDAP
    assert policy["reason"].startswith(f"the GPO {LDAP} is not the audit policy (")
    assert plan.facts["target"] == "domain" and plan.facts["ldap"] == LDAP


def test_the_ldap_path_compares_case_insensitively_and_must_be_the_probed_one():
    assert domain(ldap=LDAP.lower().replace("ldap://", "LDAP://")).action_ids == ["policy"]
    other = LDAP.replace("6AC1786C", "31B2F340")
    with pytest.raises(PlanError, match="the probe read GPO 'LDAP://dc01"):
        domain(ldap=other)


def test_an_unreadable_gpo_is_an_error_naming_why():
    with pytest.raises(PlanError, match=r"the GPO LDAP://.* of GPO cannot be read: .*could not be contacted"):
        domain("gpo-unreadable")


def test_a_probe_of_another_source_is_refused():
    with pytest.raises(PlanError, match="read the local policy; the domain target compares the domain policy"):
        make_plan(probe("audit-loaded"), desired(target="domain", ldap=LDAP), host="ws")
    with pytest.raises(PlanError, match="read the domain policy; the local target compares the local policy"):
        make_plan(probe("gpo-not-configured"), desired(), host="mgmt")


def test_a_domain_endpoint_plans_its_service_from_its_effective_policy():
    plan = make_plan(probe("endpoint-effective"), desired(manage_policy=False, policy=None), host="ws")
    assert plan.action_ids == ["eventlog", "service"] and plan.facts["policy_source"] == "effective"


def test_a_domain_target_needs_an_ldap_path():
    with pytest.raises(PlanError, match="needs the GPO's LDAP path"):
        make_plan(probe("gpo-not-configured"), desired(target="domain", ldap="CN=x"), host="GPO")


# --- malformed input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda p: p.pop("policy"), "lacks applocker.policy"),
        (lambda p: p["service"].update(exists="yes"), "applocker.service.exists is 'yes', expected bool"),
        (lambda p: p["eventlogs"][1].pop("max_size"), r"lacks applocker.eventlogs\[1\].max_size"),
        (lambda p: p.update(eventlogs={}), "applocker.eventlogs is dict, expected a list"),
        (lambda p: p.update(probe_version=2), "probe_version 2"),
        (lambda p: p["policy"].update(xml="<NotAPolicy/>"), "not a policy this planner reads"),
    ],
)
def test_a_malformed_probe_names_the_key(mutate, message):
    data = probe("audit-loaded")
    mutate(data)
    with pytest.raises((ProbeError, PlanError), match=message):
        make_plan(data, desired(), host="ws")


def test_bad_desired_state_is_named():
    with pytest.raises(PlanError, match="applocker_remote_dir 'ProgramData'"):
        plan_for("audit-loaded", remote_dir="ProgramData")
    with pytest.raises(PlanError, match="no policy file was given"):
        plan_for("audit-loaded", policy=None)
    with pytest.raises(PlanError, match="policy variant 'strict'"):
        plan_for("audit-loaded", policy=RenderedPolicy("strict", "x", "<AppLockerPolicy Version='1'/>"))


# --- properties ----------------------------------------------------------------------------------

COLLECTION_ORDERS = st.permutations(["Appx", "Dll", "Exe", "Msi", "Script"])
ID = re.compile(r'Id="([0-9A-Fa-f-]{36})"')


@settings(max_examples=25, deadline=None)
@given(order=COLLECTION_ORDERS, upper=st.booleans(), bom=st.booleans(), compact=st.booleans())
def test_any_reserialisation_of_the_loaded_policy_is_compliant(order, upper, bom, compact):
    """However the host writes the same policy back (collection order, Id case, BOM, whitespace), nothing is planned."""
    data = probe("audit-loaded")
    policy = parse_policy(data["policy"]["xml"])
    text = render_policy(Policy(collections={name: policy.collections[name] for name in order}, version="1"))
    text = ID.sub(lambda m: f'Id="{m.group(1).upper() if upper else m.group(1).lower()}"', text)
    if compact:
        text = re.sub(r">\s+<", "><", text)
    data["policy"]["xml"] = ("\ufeff" if bom else "") + text
    assert make_plan(data, desired(), host="ws").compliant


def test_list_shapes_check_every_item():
    shape = {"names": [str], "logs": [{"channel": str}]}
    good = {"concern": "x", "probe_version": 1, "names": ["a"], "logs": [{"channel": "c"}]}
    assert check_probe(good, concern="x", version=1, shape=shape) is good
    with pytest.raises(ProbeError, match=r"x.names\[1\] is 2, expected str"):
        check_probe({**good, "names": ["a", 2]}, concern="x", version=1, shape=shape)
    with pytest.raises(ProbeError, match=r"x.logs\[0\] is str, expected an object"):
        check_probe({**good, "logs": ["c"]}, concern="x", version=1, shape=shape)

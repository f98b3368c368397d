"""Whole-module tests for m1038.appcontrol.applocker_policy: check mode, apply, idempotence, diff, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_compare import compare
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_xml import parse_policy
from ansible_collections.m1038.appcontrol.plugins.modules import applocker_policy

from .utils import AnsibleExitJson, AnsibleFailJson, set_module_args

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "applocker"
MICROSOFT = "O=MICROSOFT CORPORATION, L=REDMOND, S=WASHINGTON, C=US"


@pytest.fixture
def args(tmp_path):
    module_tmp = tmp_path / "ansible-tmp"
    module_tmp.mkdir()
    return {
        "dest": str(tmp_path / "applocker"),
        "model": {name: {"mode": "enforce", "default_rules": True} for name in ("Exe", "Msi", "Script", "Appx")},
        "trusted_vendors": ["Microsoft Corporation", "Wazuh, Inc."],
        "denied_vendors": ["AnyDesk Software GmbH"],
        "vendor_signers": {"Microsoft Corporation": MICROSOFT},
        "writable_probes": [str(FIXTURES / "probes" / "win11-writable.json")],
        "_ansible_tmpdir": str(module_tmp),
        "_ansible_remote_tmp": str(module_tmp),
        "_ansible_keep_remote_files": True,
    }


def run_module(args, check_mode=False, diff=False):
    with (
        set_module_args(dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)),
        pytest.raises(AnsibleExitJson) as exc,
    ):
        applocker_policy.main()
    return exc.value.args[0]


def fail_module(args):
    with set_module_args(args), pytest.raises(AnsibleFailJson) as exc:
        applocker_policy.main()
    return exc.value.args[0]


def files(dest):
    return {p.name: p.read_bytes() for p in Path(dest).iterdir()} if Path(dest).exists() else {}


def test_check_mode_reports_the_change_and_writes_nothing(args):
    result = run_module(args, check_mode=True, diff=True)
    assert result["changed"] is True
    assert not Path(args["dest"]).exists()
    assert {entry["after_header"] for entry in result["diff"]} == {
        f"{args['dest']}/audit.xml",
        f"{args['dest']}/enforce.xml",
        f"{args['dest']}/coverage.json",
    }
    assert result["policy_changes"] == {"audit.xml": ["new file"], "enforce.xml": ["new file"]}


def test_apply_then_the_second_run_changes_nothing(args, tmp_path):
    first = run_module(args, diff=True)
    assert first["changed"] is True
    written = files(args["dest"])
    assert set(written) == {"audit.xml", "enforce.xml", "coverage.json"}
    assert first["files"] == {
        "audit": f"{args['dest']}/audit.xml",
        "enforce": f"{args['dest']}/enforce.xml",
        "coverage": f"{args['dest']}/coverage.json",
    }
    assert json.loads(written["coverage.json"]) == first["coverage"]
    assert list((tmp_path / "ansible-tmp").iterdir()) == []  # no temporary file left behind

    second = run_module(args, diff=True)
    assert second["changed"] is False
    assert second["diff"] == []
    assert second["policy_changes"] == {"audit.xml": [], "enforce.xml": []}
    assert files(args["dest"]) == written
    assert run_module(args, check_mode=True)["changed"] is False


def test_the_variants_differ_only_in_enforcement_mode(args):
    run_module(args)
    written = files(args["dest"])
    audit, enforce = written["audit.xml"].decode(), written["enforce.xml"].decode()
    assert audit != enforce
    assert audit.replace('EnforcementMode="AuditOnly"', "X") == enforce.replace('EnforcementMode="Enabled"', "X")
    diff = compare(audit, enforce)
    assert all(entry["mode"] and not entry["added"] and not entry["changed"] for entry in diff.collections.values())


def test_result_reports_collections_guardrails_coverage_and_writable_exceptions(args):
    result = run_module(args)
    assert result["collections"]["Exe"] == {
        "model_mode": "enforce",
        "audit_mode": "AuditOnly",
        "enforce_mode": "Enabled",
        "enforced": True,
        "rules": 4,  # three default rules and Microsoft's signer (AnyDesk has none)
    }
    assert result["collections"]["Dll"]["enforce_mode"] == "NotConfigured"
    assert {r["status"] for r in result["guardrails"]} <= {"ok", "warning"}
    assert (
        "detection only: Wazuh, Inc. (trusted): no signer subject in vendor_signers: AppLocker cannot match this vendor"
        in (result["coverage_summary"])
    )
    assert result["scan_roots"] == ["%PROGRAMFILES%\\*", "%WINDIR%\\*"]
    enforce = parse_policy(Path(result["files"]["enforce"]).read_bytes())
    windows = next(r for r in enforce.collections["Exe"].rules if r.name.endswith("Windows folder"))
    assert "%WINDIR%\\Tasks\\*" in {e.path for e in windows.exceptions}
    assert result["coverage"]["writable"]["exceptions_added"]
    broad = {r["collection"]: r for r in result["guardrails"] if r["check"] == "broad_principal_writable"}
    assert set(broad) == {"Exe", "Script"}
    assert broad["Exe"]["status"] == "ok"
    assert broad["Exe"]["message"] == (
        "Exe: '(Default Rule) All files located in the Program Files folder' (Everyone), '(Default Rule) All files "
        "located in the Windows folder' (Everyone) cover 10 user-writable folders; every one closed by an exception"
    )


def test_a_model_change_is_reported_semantically(args):
    run_module(args)
    args["model"]["Msi"]["mode"] = "audit"
    result = run_module(args)
    assert result["changed"] is True
    assert result["policy_changes"]["enforce.xml"] == ["Msi: EnforcementMode Enabled -> AuditOnly"]
    assert result["policy_changes"]["audit.xml"] == []


def test_a_guardrail_refusal_writes_nothing_and_names_it(args):
    args["model"]["Exe"]["default_rules"] = False
    args["model"]["Exe"]["rules"] = [{"name": "Tools", "path": "%OSDRIVE%\\Tools\\*"}]
    result = fail_module(args)
    assert result["msg"].startswith(
        "the enforce variant is refused: Exe: enforced without an Allow rule for Administrators"
    )
    assert "unscanned_paths" in result["msg"]  # the probe did not scan %OSDRIVE%\Tools\*
    assert {r["check"] for r in result["guardrails"] if r["status"] == "error"} == {
        "no_admin_allow_all",
        "unscanned_paths",
    }
    assert not Path(args["dest"]).exists()
    args["guardrail_overrides"] = ["no_admin_allow_all", "unscanned_paths"]
    assert run_module(args)["changed"] is True


def test_an_uncovered_writable_folder_is_refused_by_name(args):
    args["writable_exceptions"] = "report"
    result = fail_module(args)
    assert "Exe: C:\\Windows\\Tasks on WIN11-01 is writable by NT AUTHORITY\\Authenticated Users" in result["msg"]
    assert "(override: writable_uncovered)" in result["msg"]


def test_without_a_probe_the_enforced_paths_are_unscanned(args):
    args["writable_probes"] = []
    result = fail_module(args)
    expected = (
        "Exe: allowed paths whose user-writable folders are unknown: %PROGRAMFILES%\\* (no host: no writable-folder"
    )
    assert expected in result["msg"]


def test_a_missing_detection_summary_falls_back_with_a_warning(args, tmp_path):
    args["detection_summary"] = str(tmp_path / "wazuh" / "summary.json")
    result = run_module(args)
    assert result["coverage"]["detection_source"]["kind"] == "trust_policy"


def test_bad_inputs_fail_naming_them(args, tmp_path):
    args["model"]["Exe"]["rules"] = [{"name": "x", "path": "%USERPROFILE%\\*"}]
    assert "Exe.rules[0] ('x').path: '%USERPROFILE%\\\\*' uses %USERPROFILE%" in fail_module(args)["msg"]
    del args["model"]["Exe"]["rules"]
    bad = tmp_path / "probe.json"
    bad.write_text("{not json")
    args["writable_probes"] = [str(bad)]
    assert fail_module(args)["msg"].startswith(f"writable probe {bad}: cannot be read as JSON")
    args["writable_probes"] = []
    args["vendor_signers"] = {"Microsoft Corporation": "Microsoft Corporation"}
    assert "vendor_signers['Microsoft Corporation'][0]" in fail_module(args)["msg"]


def test_without_lxml_the_module_says_what_to_install(args, monkeypatch):
    monkeypatch.setattr(applocker_policy, "lxml_available", lambda: False)
    assert "lxml" in fail_module(args)["msg"]


def test_connection_groups_make_their_deny_rules_count(args):
    group = "S-1-5-21-1004336348-1177238915-682003330-1105"
    args["model"]["Exe"]["rules"] = [
        {"name": "No shells for ops", "action": "deny", "sid": group, "path": "%SYSTEM32%\\*"}
    ]
    assert run_module(args)["changed"] is True
    args["connection_groups"] = [group]
    result = fail_module(args)
    assert (
        "Exe: Deny rule 'No shells for ops' (model Exe.rules[0]) for " + group + " matches powershell.exe"
        in result["msg"]
    )
    args["connection_groups"] = ["ops"]
    assert "connection_groups[0]: 'ops' is not a SID" in fail_module(args)["msg"]


def test_open_folders_under_broad_principals_are_a_warning_when_accepted(args):
    args["writable_exceptions"] = "report"
    args["guardrail_overrides"] = ["writable_uncovered"]
    result = run_module(args)
    broad = next(
        r for r in result["guardrails"] if r["check"] == "broad_principal_writable" and r["collection"] == "Exe"
    )
    assert broad["status"] == "warning"
    assert (
        "NOT closed: C:\\Program Files (x86)\\Fabrikam\\Updates on WIN11-01; C:\\Windows\\Logs\\Generic on WIN11-01"
        in (broad["message"])
    )
    uncovered = {(r["collection"], r["status"]) for r in result["guardrails"] if r["check"] == "writable_uncovered"}
    assert uncovered == {("Exe", "overridden"), ("Script", "overridden"), ("Msi", "ok")}

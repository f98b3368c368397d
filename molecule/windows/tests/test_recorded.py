"""Verify the recorded hosts of the windows scenario: every plan and every artifact.

converge ran the sysmon role against one recorded probe per fixture host; each host left
sysmon/<host>/sysmonconfig.xml (rendered and validated on the controller) and plan.json in the
scenario's ephemeral directory. It ran the applocker role against the lab's recorded host and
recorded AppLocker probes; each left applocker/hosts/<host>/ with audit.xml (and enforce.xml when
it plans the enforce variant), coverage.json and plan.json. This checks what the roles decided,
through the real Ansible machinery (argument specs, variables, module invocation), against what
the fixtures need. It ran the wazuh_agent role against the lab's recorded host and three agent
fixtures; each left wazuh_agent/<host>/plan.json, and the edited ossec.conf when the host's file
could be edited.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(PROJECT / "collections"))

from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_compare import compare  # noqa: E402
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_xml import (  # noqa: E402
    parse_policy,
    xsd_errors,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._sysmon_config import validate  # noqa: E402
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_agent_ossec import read_conf  # noqa: E402

EPHEMERAL = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/nonexistent"))
OUTPUT = EPHEMERAL / "sysmon"
APPLOCKER = EPHEMERAL / "applocker" / "hosts"
AGENT_OUTPUT = EPHEMERAL / "wazuh_agent"
AGENT_PROBES = PROJECT / "tests" / "unit" / "fixtures" / "wazuh_agent" / "probes"
LAB_AGENT_PROBE = PROJECT / "inventories" / "lab" / "files" / "windows" / "m1038-lab-win01" / "wazuh_agent_probe.json"
# host: (actions, edited ossec.conf left on the controller, a warning the plan must carry)
AGENT_EXPECTED = {
    "wazuh-agent-lab": (["upgrade", "restart"], True, None),
    "wazuh-agent-not-installed": (["install", "configure", "enroll", "restart"], False, "enrolls without one"),
    "wazuh-agent-other-manager": (["configure", "enroll", "restart"], True, "enrolls without one"),
    "wazuh-agent-broken-ossec-conf": (["blocked"], False, None),
}
# The role's default configuration for Sysmon 15.15 (the compliant fixtures hold its hash).
DEFAULT_SHA256 = "16d6a7c3448d11bbf98fb93a51dc0cdf3cf9af58900babc713749a55e58fec39"
EXPECTED = {
    "sysmon-not-installed": (["install", "eventlog"], "Sysmon64.exe"),
    "sysmon-arm64-not-installed": (["install", "eventlog"], "Sysmon64a.exe"),
    "sysmon-old-version": (["upgrade", "eventlog"], "Sysmon64.exe"),
    "sysmon-other-config": (["configure", "eventlog"], "Sysmon64.exe"),
    "sysmon-compliant": ([], "Sysmon64.exe"),
    "sysmon-x86-service-stopped": (["service"], "Sysmon.exe"),
    "sysmon-newer-installed": ([], "Sysmon64.exe"),
    "sysmon-hash-unreadable": ([], "Sysmon64.exe"),
}
WARNED = {"sysmon-newer-installed": "newer than sysmon_version", "sysmon-hash-unreadable": "no ConfigHash"}


def plan(host):
    return json.loads((OUTPUT / host / "plan.json").read_text())


def test_every_recorded_host_was_planned():
    assert sorted(p.name for p in OUTPUT.iterdir()) == sorted(EXPECTED)


@pytest.mark.parametrize("host", sorted(EXPECTED))
def test_plan(host):
    actions, binary = EXPECTED[host]
    result = plan(host)
    assert result["recorded"] is True and result["concern"] == "sysmon" and result["host"] == host
    assert result["action_ids"] == actions
    assert result["facts"]["binary_name"] == binary
    assert result["facts"]["config_schemaversion"] == "4.90"
    if host in WARNED:
        assert any(WARNED[host] in w for w in result["warnings"]), result["warnings"]
    else:
        assert result["warnings"] == []


@pytest.mark.parametrize("host", sorted(EXPECTED))
def test_configuration_is_valid_and_logs_every_process(host):
    data = (OUTPUT / host / "sysmonconfig.xml").read_bytes()
    assert hashlib.sha256(data).hexdigest() == DEFAULT_SHA256
    result = validate(data, source=host, max_schema="4.90", require_all_processes=True)
    assert result.ok, result.messages()
    assert result.process_create == "every process, minus exclusions"


def test_configure_steps_push_the_rendered_file_and_keep_the_loaded_one():
    (configure, eventlog) = plan("sysmon-other-config")["actions"]
    assert configure["push"]["src"] == str(OUTPUT / "sysmon-other-config" / "sysmonconfig.xml")
    assert configure["keep"]["src"] == "C:\\Windows\\sysmonconfig-export.xml"
    assert configure["argv"][1:3] == ["-accepteula", "-c"]
    assert eventlog["argv"][-1] == "/ms:268435456"


def test_an_install_without_a_package_sha256_plans_no_command():
    install = plan("sysmon-not-installed")["actions"][0]
    assert install["package"] is None and install["argv"] is None


# --- AppLocker ---------------------------------------------------------------------------------
CONFIGURED = ("Appx", "Exe", "Msi", "Script")  # the default model's collections
# host: (variant planned, action ids, mode every configured collection changes to). The compliant
# hosts' policies come back re-serialised (tests/unit/fixtures/applocker/README.md): the role must
# still plan nothing for them, here through the real Ansible machinery.
APPLOCKER_EXPECTED = {
    "applocker-lab-win01": ("enforce", ["policy", "eventlog", "service"], "Enabled"),
    "applocker-audit-loaded": ("audit", [], None),
    "applocker-enforce-loaded": ("enforce", [], None),
}


def applocker_plan(host):
    return json.loads((APPLOCKER / host / "plan.json").read_text())


def test_every_recorded_applocker_host_was_planned():
    assert sorted(p.name for p in APPLOCKER.iterdir()) == sorted(APPLOCKER_EXPECTED)


@pytest.mark.parametrize("host", sorted(APPLOCKER_EXPECTED))
def test_applocker_plan(host):
    variant, actions, mode = APPLOCKER_EXPECTED[host]
    result = applocker_plan(host)
    assert result["recorded"] is True and result["concern"] == "applocker" and result["host"] == host
    assert result["action_ids"] == actions and result["facts"]["variant"] == variant
    assert result["warnings"] == []
    changes = result["facts"]["mode_changes"]
    assert changes == ({name: {"before": "NotConfigured", "after": mode} for name in CONFIGURED} if mode else {})
    if "policy" in actions:
        policy = result["actions"][0]
        assert policy["push"]["src"] == str(APPLOCKER / host / f"{variant}.xml")
        assert policy["parameters"]["PolicyFile"].endswith("\\policy.xml") and policy["parameters"]["Ldap"] == ""


@pytest.mark.parametrize("host", sorted(APPLOCKER_EXPECTED))
def test_applocker_variants_are_valid_and_differ_only_in_modes(host):
    variant = APPLOCKER_EXPECTED[host][0]
    files = {name: (APPLOCKER / host / f"{name}.xml") for name in ("audit", "enforce")}
    assert files["enforce"].exists() is (variant == "enforce")  # audit alone when the audit variant is planned
    audit = files["audit"].read_bytes()
    assert xsd_errors(audit, "audit.xml") == []
    assert {parse_policy(audit).collections[n].mode for n in CONFIGURED} == {"AuditOnly"}
    if variant == "enforce":
        enforce = files["enforce"].read_bytes()
        assert xsd_errors(enforce, "enforce.xml") == []
        diff = compare(audit, enforce)
        assert all(not (entry["added"] or entry["removed"] or entry["changed"]) for entry in diff.collections.values())
        assert {name for name, entry in diff.collections.items() if entry["mode"]} == set(CONFIGURED)


def test_the_lab_host_scan_closed_its_writable_folders():
    """The lab's recorded scan fed the render: its user-writable folders became exceptions of the allow rules."""
    coverage = json.loads((APPLOCKER / "applocker-lab-win01" / "coverage.json").read_text())
    assert coverage["writable"]["exceptions_added"] and coverage["writable"]["uncovered"] == []
    assert coverage["writable"]["unscanned"] == []
    assert "%WINDIR%\\Tasks\\*" in (APPLOCKER / "applocker-lab-win01" / "enforce.xml").read_text()


def agent_plan(host):
    return json.loads((AGENT_OUTPUT / host / "plan.json").read_text())


def test_every_recorded_agent_host_was_planned():
    assert sorted(p.name for p in AGENT_OUTPUT.iterdir()) == sorted(AGENT_EXPECTED)


@pytest.mark.parametrize("host", sorted(AGENT_EXPECTED))
def test_agent_plan(host):
    actions, edited, warning = AGENT_EXPECTED[host]
    result = agent_plan(host)
    assert result["recorded"] is True and result["concern"] == "wazuh_agent" and result["host"] == host
    assert result["action_ids"] == actions
    assert result["facts"]["target_version"] == "4.14.7"
    assert (AGENT_OUTPUT / host / "ossec.conf").exists() is edited
    if warning is None:
        assert result["warnings"] == []
    else:
        assert any(warning in w for w in result["warnings"]), result["warnings"]


def test_the_lab_agent_is_left_as_it_is_apart_from_the_release():
    """The lab host's ossec.conf is already what the role writes for the lab manager: the copy is byte-identical."""
    probe = json.loads(LAB_AGENT_PROBE.read_text())
    data = (AGENT_OUTPUT / "wazuh-agent-lab" / "ossec.conf").read_bytes()
    assert hashlib.sha256(data).hexdigest() == probe["ossec_conf"]["sha256"]
    upgrade = agent_plan("wazuh-agent-lab")["actions"][0]
    assert (upgrade["from"], upgrade["to"]) == ("4.9.2", "4.14.7")
    assert upgrade["package"] is None  # no wazuh_agent_package_sha256: nothing to stage


def test_the_moved_agent_gets_the_new_manager_and_keeps_its_other_settings():
    edited = (AGENT_OUTPUT / "wazuh-agent-other-manager" / "ossec.conf").read_bytes()
    probe = json.loads((AGENT_PROBES / "other-manager.json").read_text())
    before = base64.b64decode(probe["ossec_conf"]["content_b64"])
    lines = zip(before.split(b"\r\n"), edited.split(b"\r\n"), strict=True)  # no line added or removed
    changed = [(old, new) for old, new in lines if old != new]
    assert [new.strip() for _old, new in changed] == [
        b"<address>wazuh.corp.example.com</address>",
        b"<manager_address>wazuh.corp.example.com</manager_address>",
        b"<groups>m1038-windows</groups>",
    ]
    assert read_conf(edited.decode("utf-8", "replace")).server_values()[0]["address"] == "wazuh.corp.example.com"
    configure, enroll, _restart = agent_plan("wazuh-agent-other-manager")["actions"]
    assert configure["push"]["src"] == str(AGENT_OUTPUT / "wazuh-agent-other-manager" / "ossec.conf")
    assert configure["expected_sha256"] == probe["ossec_conf"]["sha256"]
    assert enroll["kind"] == "other_manager" and enroll["clear_keys"]["path"].endswith("\\client.keys")


def test_the_broken_agent_is_blocked_naming_the_line():
    (blocked,) = agent_plan("wazuh-agent-broken-ossec-conf")["actions"]
    assert "Element 'localfile' not closed. (line 10)" in blocked["problem"]

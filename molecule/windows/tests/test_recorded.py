"""Verify the recorded hosts of the windows scenario: every plan and every configuration.

converge ran the sysmon role against one recorded probe per fixture host; each host left
sysmon/<host>/sysmonconfig.xml (rendered and validated on the controller) and plan.json in the
scenario's ephemeral directory. This checks what the role decided, through the real Ansible
machinery (argument specs, variables, module invocation), against what the fixtures need.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(PROJECT / "collections"))

from ansible_collections.m1038.appcontrol.plugins.module_utils._sysmon_config import validate  # noqa: E402

OUTPUT = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/nonexistent")) / "sysmon"
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

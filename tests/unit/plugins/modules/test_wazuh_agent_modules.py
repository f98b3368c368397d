"""Whole-module tests for wazuh_agent_config and wazuh_agent_plan: check mode, apply, idempotence, errors, diff."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_agent_ossec import BEGIN_MARK
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_channels import channels
from ansible_collections.m1038.appcontrol.plugins.modules import wazuh_agent_config, wazuh_agent_plan

from .utils import AnsibleExitJson, AnsibleFailJson, set_module_args

PROBES = Path(__file__).resolve().parents[2] / "fixtures" / "wazuh_agent" / "probes"
MANAGER = "wazuh.corp.example.com"


def probe(name: str) -> dict:
    return json.loads((PROBES / f"{name}.json").read_text())


def run(module, args, tmp_path, *, check_mode=False, diff=False, fail=False):
    module_tmp = tmp_path / "ansible-tmp"
    module_tmp.mkdir(exist_ok=True)
    full = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)
    expected = AnsibleFailJson if fail else AnsibleExitJson
    with set_module_args(full, tmpdir=module_tmp), pytest.raises(expected) as exc:
        module.main()
    return exc.value.args[0]


def config_args(tmp_path, name="not-enrolled", **extra):
    return {
        "probe": probe(name),
        "dest": str(tmp_path / "out" / "ws-01" / "ossec.conf"),
        "manager_address": MANAGER,
        "groups": "m1038-windows",
        "password_file": True,
        "channels": channels(),
        **extra,
    }


def plan_args(current, config=None, **extra):
    return {
        "probe": current,
        "host": "ws-01",
        "version": "4.14.7",
        "manager_address": MANAGER,
        "groups": "m1038-windows",
        "password_set": True,
        "channels": channels(),
        "package_id": "wazuh-agent-0123456789abcdef",
        **({"config": config} if config is not None else {}),
        **extra,
    }


# --- wazuh_agent_config ----------------------------------------------------------------------


def test_config_check_mode_writes_nothing_then_apply_then_idempotent(tmp_path):
    args = config_args(tmp_path)
    dest = Path(args["dest"])
    checked = run(wazuh_agent_config, args, tmp_path, check_mode=True, diff=True)
    assert checked["changed"] is True and not dest.exists()
    assert checked["error"] is None and checked["pending"] is False
    assert any("'0.0.0.0' -> 'wazuh.corp.example.com'" in change for change in checked["changes"])
    assert checked["diff"]["before"] == "" and MANAGER in checked["content"]

    applied = run(wazuh_agent_config, args, tmp_path)
    assert applied["changed"] is True
    data = dest.read_bytes()
    assert applied["sha256"] == hashlib.sha256(data).hexdigest() == checked["sha256"]
    assert applied["host_sha256"] == args["probe"]["ossec_conf"]["sha256"]
    assert data.count(b"\n") == data.count(b"\r\n") > 0  # the host's CRLF line endings, new lines too

    again = run(wazuh_agent_config, args, tmp_path)
    assert again["changed"] is False and again["sha256"] == applied["sha256"]
    assert run(wazuh_agent_config, args, tmp_path, check_mode=True)["changed"] is False


def test_config_local_collection_writes_the_block_and_agent_group_removes_it(tmp_path):
    local = run(wazuh_agent_config, config_args(tmp_path, "compliant", collection="ossec_conf"), tmp_path)
    text = Path(local["dest"]).read_text()
    assert BEGIN_MARK in text and "Microsoft-Windows-Sysmon/Operational" in text
    assert [c["location"] for c in local["channels"]] == [c["location"] for c in channels()[:5]]
    assert any("Application: ossec.conf already collects it" in w for w in local["warnings_found"])
    central = run(wazuh_agent_config, config_args(tmp_path, "compliant"), tmp_path)
    assert central["changes"] == [] and BEGIN_MARK not in Path(central["dest"]).read_text()


def test_config_reports_a_broken_file_and_writes_nothing(tmp_path):
    args = config_args(tmp_path, "broken-ossec-conf")
    result = run(wazuh_agent_config, args, tmp_path)
    assert result["changed"] is False and result["sha256"] is None
    assert "Element 'localfile' not closed. (line 10)" in result["error"]
    assert not Path(args["dest"]).exists()


def test_config_before_the_install_is_pending(tmp_path):
    args = config_args(tmp_path, "not-installed")
    result = run(wazuh_agent_config, args, tmp_path)
    assert result["pending"] is True and result["changed"] is False and not Path(args["dest"]).exists()


def test_config_bad_settings_fail_naming_them(tmp_path):
    result = run(wazuh_agent_config, config_args(tmp_path, manager_address="a b"), tmp_path, fail=True)
    assert "manager address 'a b' is not a host name" in result["msg"]
    bad = [{"location": "Microsoft-Windows-Sysmon/Operational", "query": "<!-- x -->"}]
    result = run(wazuh_agent_config, config_args(tmp_path, collection="ossec_conf", channels=bad), tmp_path, fail=True)
    assert "wazuh_agent_channels: channel #1 (Microsoft-Windows-Sysmon/Operational) query" in result["msg"]
    assert "holds '<!'" in result["msg"]


# --- wazuh_agent_plan ------------------------------------------------------------------------


def test_plan_reports_changed_with_the_host_diff_and_never_for_a_recording(tmp_path):
    config = run(wazuh_agent_config, config_args(tmp_path), tmp_path, diff=True)
    current = probe("not-enrolled")
    result = run(
        wazuh_agent_plan,
        plan_args(current, config, config_content=config["content"]),
        tmp_path,
        check_mode=True,
        diff=True,
    )
    assert result["changed"] is True
    assert result["plan"]["action_ids"] == ["configure", "enroll", "restart"]
    assert result["diff"]["before_header"] == "ws-01:C:\\Program Files (x86)\\ossec-agent\\ossec.conf"
    assert "<address>0.0.0.0</address>" in result["diff"]["before"]
    assert f"<address>{MANAGER}</address>" in result["diff"]["after"]
    assert result["needs"] == {"package": False, "blocked": None}
    recorded = run(wazuh_agent_plan, plan_args(current, config, recorded=True), tmp_path)
    assert recorded["changed"] is False and recorded["plan"]["recorded"] is True
    assert recorded["plan"]["action_ids"] == result["plan"]["action_ids"]


def test_plan_of_a_compliant_host_is_empty_and_verifies(tmp_path):
    config = run(wazuh_agent_config, config_args(tmp_path, "compliant"), tmp_path)
    result = run(wazuh_agent_plan, plan_args(probe("compliant"), config), tmp_path)
    assert result["changed"] is False and result["plan"]["compliant"] is True
    verified = run(wazuh_agent_plan, plan_args(probe("compliant"), config, expect_compliant=True), tmp_path)
    assert verified["changed"] is False


def test_plan_blocks_a_broken_file(tmp_path):
    config = run(wazuh_agent_config, config_args(tmp_path, "broken-ossec-conf"), tmp_path)
    result = run(wazuh_agent_plan, plan_args(probe("broken-ossec-conf"), config, version="4.14.9"), tmp_path)
    assert result["plan"]["action_ids"] == ["blocked"] and result["changed"] is False
    assert result["needs"]["blocked"].endswith("Element 'localfile' not closed. (line 10)")


def test_plan_verify_fails_naming_the_state_and_the_log(tmp_path):
    current = probe("not-enrolled")
    current["waited_seconds"] = 120
    args = plan_args(current, manage_enrollment=False, manage_config=False, manage_service=False, expect_compliant=True)
    result = run(wazuh_agent_plan, args, tmp_path, fail=True)
    assert "did not enroll and connect to wazuh.corp.example.com within 120 s" in result["msg"]
    assert "state pending" in result["msg"]


def test_plan_malformed_probe_and_bad_version_fail(tmp_path):
    current = probe("compliant")
    del current["service"]
    assert "lacks wazuh_agent.service" in run(wazuh_agent_plan, plan_args(current), tmp_path, fail=True)["msg"]
    result = run(wazuh_agent_plan, plan_args(probe("compliant"), version="4.14"), tmp_path, fail=True)
    assert "wazuh_agent_version '4.14' is not a release" in result["msg"]


def test_plan_output_is_valid_utf8_with_a_stray_byte_in_the_file(tmp_path):
    """A Latin-1 byte in the host's ossec.conf reaches the diff as U+FFFD, never as a lone surrogate."""
    current = probe("not-enrolled")
    data = base64.b64decode(current["ossec_conf"]["content_b64"]).replace(b"Mailing list", b"Mailing \xe9list")
    current["ossec_conf"].update(
        content_b64=base64.b64encode(data).decode(), sha256=hashlib.sha256(data).hexdigest(), size=len(data)
    )
    config = run(wazuh_agent_config, dict(config_args(tmp_path), probe=current), tmp_path, diff=True)
    assert b"Mailing \xe9list" in Path(config["dest"]).read_bytes()  # the byte itself is kept in the file
    result = run(wazuh_agent_plan, plan_args(current, config, config_content=config["content"]), tmp_path, diff=True)
    assert "Mailing \ufffdlist" in result["diff"]["before"]
    json.dumps(result).encode("utf-8")

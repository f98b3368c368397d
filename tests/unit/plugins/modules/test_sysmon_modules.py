"""Whole-module tests for sysmon_config and sysmon_plan: check mode, apply, idempotence, errors, diff."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from ansible_collections.m1038.appcontrol.plugins.modules import sysmon_config, sysmon_plan

from .utils import AnsibleExitJson, AnsibleFailJson, set_module_args

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "sysmon"
MANAGED = "C:\\ProgramData\\m1038-appcontrol\\sysmon\\sysmonconfig.xml"


def run(module, args, tmp_path, *, check_mode=False, diff=False, fail=False):
    module_tmp = tmp_path / "ansible-tmp"
    module_tmp.mkdir(exist_ok=True)
    full = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)
    expected = AnsibleFailJson if fail else AnsibleExitJson
    with set_module_args(full, tmpdir=module_tmp), pytest.raises(expected) as exc:
        module.main()
    return exc.value.args[0]


@pytest.fixture
def config_args(tmp_path):
    return {
        "dest": str(tmp_path / "out" / "ws-01" / "sysmonconfig.xml"),
        "target_version": "15.15",
        "process_create_exclusions": [
            {"field": "ParentImage", "value": r"C:\Program Files (x86)\ossec-agent\wazuh-agent.exe"}
        ],
    }


# --- sysmon_config --------------------------------------------------------------------------


def test_config_check_mode_writes_nothing_then_apply_then_idempotent(config_args, tmp_path):
    dest = Path(config_args["dest"])
    checked = run(sysmon_config, config_args, tmp_path, check_mode=True, diff=True)
    assert checked["changed"] is True and not dest.exists()
    assert checked["schemaversion"] == "4.90" and checked["max_schema"] == "4.90"
    assert "wazuh-agent.exe" in checked["content"] and checked["diff"]["before"] == ""

    applied = run(sysmon_config, config_args, tmp_path)
    assert applied["changed"] is True
    data = dest.read_bytes()
    assert applied["sha256"] == hashlib.sha256(data).hexdigest() == checked["sha256"]
    assert applied["md5"] == hashlib.md5(data).hexdigest()  # noqa: S324 - what Sysmon may report
    assert applied["summary"]["process_create"] == "every process, minus exclusions"
    assert oct(dest.stat().st_mode & 0o777) != "0o0"

    again = run(sysmon_config, config_args, tmp_path)
    assert again["changed"] is False
    assert run(sysmon_config, config_args, tmp_path, check_mode=True)["changed"] is False


def test_config_change_shows_a_diff(config_args, tmp_path):
    run(sysmon_config, config_args, tmp_path)
    changed = dict(config_args, events={"DriverLoad": {"exclude": []}})
    result = run(sysmon_config, changed, tmp_path, diff=True)
    assert result["changed"] is True
    assert '<DriverLoad onmatch="include"/>' in result["diff"]["before"]
    assert '<DriverLoad onmatch="exclude"/>' in result["diff"]["after"]


def test_invalid_user_file_fails_naming_line_and_writes_nothing(config_args, tmp_path):
    bad = tmp_path / "bad.xml"
    bad.write_text(
        '<Sysmon schemaversion="4.90">\n<EventFiltering>\n<ProcessCreate onmatch="exclude">\n'
        '<Imagee condition="is">x</Imagee>\n</ProcessCreate>\n</EventFiltering>\n</Sysmon>\n'
    )
    args = dict(config_args, source="file", src=str(bad))
    result = run(sysmon_config, args, tmp_path, fail=True)
    assert f"{bad}:4: <Imagee>: not a field of ProcessCreate" in result["msg"]
    assert result["errors"] == [
        f"{bad}:4: <Imagee>: not a field of ProcessCreate (event 1) in schema 4.90 (did you mean Image?)"
    ]
    assert not Path(config_args["dest"]).exists()


def test_user_file_is_copied_byte_for_byte(config_args, tmp_path):
    src = FIXTURES / "configs" / "swiftonsecurity-shaped.xml"
    result = run(sysmon_config, dict(config_args, source="file", src=str(src)), tmp_path)
    assert Path(config_args["dest"]).read_bytes() == src.read_bytes()
    assert result["schemaversion"] == "4.50" and result["summary"]["table_schema"] == "4.50"


def test_include_based_user_file_needs_the_policy_off(config_args, tmp_path):
    args = dict(config_args, source="file", src=str(FIXTURES / "configs" / "modular-shaped.xml"))
    assert "include-based" in run(sysmon_config, args, tmp_path, fail=True)["msg"]
    result = run(sysmon_config, dict(args, require_all_processes=False), tmp_path)
    assert any("include-based" in w for w in result["warnings_found"])


def test_schema_above_the_target_release_fails(config_args, tmp_path):
    args = dict(
        config_args, source="file", src=str(FIXTURES / "configs" / "modular-shaped.xml"), target_version="14.16"
    )
    assert (
        "schemaversion 4.90 is above 4.83, the highest Sysmon 14.16 loads"
        in run(sysmon_config, args, tmp_path, fail=True)["msg"]
    )
    args = dict(config_args, schema_version="4.90", target_version="14.16")
    assert "above 4.83" in run(sysmon_config, args, tmp_path, fail=True)["msg"]


def test_bad_setting_fails_naming_it(config_args, tmp_path):
    args = dict(config_args, process_create_exclusions=[{"field": "Image", "condition": "begins with", "value": "x"}])
    assert "process_create_exclusions[0].condition" in run(sysmon_config, args, tmp_path, fail=True)["msg"]
    args = dict(config_args, target_version="")
    assert "schema_version auto needs target_version" in run(sysmon_config, args, tmp_path, fail=True)["msg"]


def test_missing_source_file_fails(config_args, tmp_path):
    args = dict(config_args, source="file", src=str(tmp_path / "nope.xml"))
    assert "cannot read" in run(sysmon_config, args, tmp_path, fail=True)["msg"]


# --- sysmon_plan ----------------------------------------------------------------------------


def probe(name):
    return json.loads((FIXTURES / "probes" / f"{name}.json").read_text())


def plan_args(name, **extra):
    sha = "16d6a7c3448d11bbf98fb93a51dc0cdf3cf9af58900babc713749a55e58fec39"
    config = {"path": "/ctl/sysmonconfig.xml", "schemaversion": "4.90", "sha256": sha}
    return {"probe": probe(name), "host": name, "version": "15.15", "config": config, **extra}


def test_plan_module_reports_a_change_for_a_host_that_needs_one(tmp_path):
    result = run(sysmon_plan, plan_args("other-config"), tmp_path)
    assert result["changed"] is True
    assert result["plan"]["action_ids"] == ["configure", "eventlog"]
    assert result["needs"] == {"eula": True, "package": False}
    assert result["plan"]["actions"][0]["push"]["dest"] == MANAGED


def test_plan_module_on_a_compliant_host_and_a_recorded_probe(tmp_path):
    result = run(sysmon_plan, plan_args("compliant"), tmp_path)
    assert result["changed"] is False and result["plan"]["compliant"] is True
    recorded = run(sysmon_plan, plan_args("not-installed", recorded=True), tmp_path)
    assert recorded["changed"] is False and recorded["plan"]["action_ids"] == ["install", "eventlog"]


def test_plan_module_verify_mode(tmp_path):
    assert run(sysmon_plan, plan_args("compliant", expect_compliant=True), tmp_path)["changed"] is False
    failed = run(sysmon_plan, plan_args("other-config", expect_compliant=True), tmp_path, fail=True)
    assert "not compliant after the apply: configure" in failed["msg"]


def test_plan_module_diff_shows_the_host_config_against_the_rendered_one(tmp_path):
    current = probe("other-config")
    current["config"]["text"] = "<Sysmon schemaversion='4.50'/>\n"
    args = dict(plan_args("other-config"), probe=current, config_content="<Sysmon schemaversion='4.90'/>\n")
    result = run(sysmon_plan, args, tmp_path, diff=True)
    assert result["diff"]["before"] == "<Sysmon schemaversion='4.50'/>\n"
    assert result["diff"]["after_header"] == "/ctl/sysmonconfig.xml (rendered)"
    assert "diff" not in run(sysmon_plan, args, tmp_path)


def test_plan_module_errors(tmp_path):
    bad = probe("compliant")
    bad["probe_version"] = 9
    assert "probe_version 9" in run(sysmon_plan, dict(plan_args("compliant"), probe=bad), tmp_path, fail=True)["msg"]
    args = plan_args("compliant")
    args["config"] = {"path": "/x"}
    assert "config lacks schemaversion, sha256" in run(sysmon_plan, args, tmp_path, fail=True)["msg"]
    args = plan_args("compliant", version="")
    assert "version" in run(sysmon_plan, args, tmp_path, fail=True)["msg"]

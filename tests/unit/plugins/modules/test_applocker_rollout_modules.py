"""Whole-module tests for applocker_rollout_plan and applocker_rollout_health: check mode, the report, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_model import parse_model
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_xml import render_policy
from ansible_collections.m1038.appcontrol.plugins.modules import applocker_rollout_health, applocker_rollout_plan

from .utils import AnsibleExitJson, AnsibleFailJson, set_module_args

AUDIT = {"Exe": "audit", "Msi": "audit", "Script": "audit", "Dll": "not_configured", "Appx": "audit"}
CHANNELS = [
    "Microsoft-Windows-AppLocker/EXE and DLL",
    "Microsoft-Windows-AppLocker/MSI and Script",
    "Microsoft-Windows-AppLocker/Packaged app-Execution",
    "Microsoft-Windows-AppLocker/Packaged app-Deployment",
]
LOG = {
    "concern": "applocker_events",
    "probe_version": 1,
    "window": {"start": "2026-11-01T00:00:00Z", "end": "2026-12-01T00:00:00Z"},
    "channels": [{"channel": c, "exists": True, "enabled": True} for c in CHANNELS],
    "groups": [],
    "events_read": 0,
    "truncated": False,
}
READY = {"status": "ready", "reasons": [], "collections": {"Exe": {"events": 0, "status": "ready"}}}


def run(module, args, check_mode=False):
    with set_module_args(dict(args, _ansible_check_mode=check_mode)), pytest.raises(AnsibleExitJson) as exc:
        module.main()
    return exc.value.args[0]


def fail(module, args):
    with set_module_args(args), pytest.raises(AnsibleFailJson) as exc:
        module.main()
    return exc.value.args[0]["msg"]


@pytest.fixture
def args(tmp_path):
    readiness = tmp_path / "readiness.json"
    readiness.write_text(
        json.dumps(
            {
                "generator": "m1038.appcontrol.applocker_readiness",
                "window": {"end": "2026-12-01T00:00:00Z"},
                "hosts": {"ws-01": READY, "ws-02": READY, "ws-03": {**READY, "status": "not_ready", "reasons": ["x"]}},
            }
        )
    )
    module_tmp = tmp_path / "ansible-tmp"
    module_tmp.mkdir()
    return {
        "hosts": {
            "WS-01": {"modes": AUDIT, "events": LOG, "error": None},
            "WS-02": {"modes": AUDIT, "events": LOG, "error": None},
            "WS-03": {"modes": AUDIT, "events": LOG, "error": None},
            "WS-04": {"modes": None, "events": None, "error": "applocker probe: unreachable"},
        },
        "target_modes": {"Exe": "enforce"},
        "readiness_file": str(readiness),
        "report_dir": str(tmp_path / "rollout"),
        "started": "2026-12-02T08:00:00Z",
        "_ansible_tmpdir": str(module_tmp),
        "_ansible_remote_tmp": str(module_tmp),
        "_ansible_keep_remote_files": True,
    }


def test_check_mode_plans_prints_and_writes_nothing(args):
    result = run(applocker_rollout_plan, args, check_mode=True)
    assert result["changed"] is True and not Path(args["report_dir"]).exists()
    assert result["plan"]["serial"] == [1, 1] and result["plan"]["order"] == ["WS-01", "WS-02"]
    assert result["apply"]["WS-01"] == {"modes": {**AUDIT, "Exe": "enforce"}, "raise": ["Exe"], "lower": [], "batch": 0}
    assert "batch 0 (canary, 1 hosts): WS-01" in result["lines"]
    assert "held back: WS-03 (Exe): x" in result["lines"]
    assert "not probed, left out: WS-04: applocker probe: unreachable" in result["lines"]


def test_apply_writes_the_report_once_and_health_extends_it(args):
    result = run(applocker_rollout_plan, args)
    report = Path(result["report"])
    assert report.name == "rollout-20261202T080000Z.json"
    data = json.loads(report.read_text())
    assert data["status"] == "planned" and data["not_probed"] == {"WS-04": "applocker probe: unreachable"}
    assert "one report per rollout start" in fail(applocker_rollout_plan, args)

    policy = render_policy(parse_model({"Exe": {"mode": "enforce", "default_rules": True}}))
    probe = {
        "concern": "applocker",
        "policy": {"xml": policy},
        "service": {"exists": True, "state": "running", "start_mode": "auto"},
    }
    health = {
        "report": str(report),
        "hosts": {"WS-01": {"connection_ok": True, "probe": probe, "events": {"groups": []}}},
        "_ansible_tmpdir": args["_ansible_tmpdir"],
    }
    before = report.read_bytes()
    checked = run(applocker_rollout_health, health, check_mode=True)
    assert checked["verdict"]["continue"] is True and report.read_bytes() == before
    judged = run(applocker_rollout_health, health)
    assert judged["status"] == "running" and json.loads(report.read_text())["batches"][0]["healthy"] == ["WS-01"]
    assert "'WS-09' is not a host" in fail(applocker_rollout_health, {**health, "hosts": {"WS-09": {}}})


def test_nothing_to_do_writes_nothing_and_going_back_needs_no_readiness(args):
    args = {**args, "readiness_file": None, "target_modes": {"Exe": "audit"}}
    result = run(applocker_rollout_plan, args)
    assert result["changed"] is False and result["report"] is None and "nothing to do" in result["lines"]
    enforced = {h: {**v, "modes": {**AUDIT, "Exe": "enforce"}} for h, v in args["hosts"].items() if v["modes"]}
    result = run(applocker_rollout_plan, {**args, "hosts": enforced})
    assert result["plan"]["batches"] == [{"name": "audit", "hosts": ["WS-01", "WS-02", "WS-03"]}]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"readiness_file": None}, "readiness_file: none given, but target_modes raises Exe to enforce"),
        (
            {"readiness_file": "/nonexistent/readiness.json"},
            "readiness_file: /nonexistent/readiness.json: no such file",
        ),
        ({"target_modes": {"Exe": "on"}}, "target_modes.Exe: 'on' is not a mode"),
        ({"canary": "0%"}, "canary: '0%' is not a percentage"),
        ({"hosts": {"WS-01": "audit"}}, "hosts['WS-01']: expected {modes, events, error}"),
        ({"hosts": {"WS-01": {"modes": AUDIT, "events": {"concern": "x"}}}}, "hosts['WS-01'].events: probe_results"),
    ],
)
def test_bad_input_is_refused_naming_the_value(args, change, message):
    assert message in fail(applocker_rollout_plan, {**args, **change})

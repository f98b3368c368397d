"""The rollback decision after a batch: admin connection, AppIDSvc, effective modes, a burst of blocks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_core import variant
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_model import parse_model
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_rollout_health import (
    HealthThresholds,
    blocked_counts,
    judge_batch,
    judge_host,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_xml import render_policy

PROBES = Path(__file__).resolve().parents[3] / "fixtures" / "applocker" / "readiness" / "probes"
MODEL = {name: {"mode": "enforce", "default_rules": True} for name in ("Exe", "Msi", "Script", "Appx")}
RUNNING = {"name": "AppIDSvc", "exists": True, "state": "running", "start_mode": "auto"}
INTENDED = {"Exe": "enforce", "Script": "enforce", "Msi": "audit"}


def effective(exe="enforce", script="enforce", msi="audit") -> str:
    model = {**MODEL, "Exe": {**MODEL["Exe"], "mode": exe}, "Script": {**MODEL["Script"], "mode": script}}
    model["Msi"] = {**MODEL["Msi"], "mode": msi}
    return render_policy(parse_model(model))


def healthy(host="WS-01", **overrides):
    arguments = {
        "connection_ok": True,
        "service": RUNNING,
        "policy_xml": effective(),
        "blocked": {8004: 0, 8007: 0},
        "raised": ["Exe", "Script"],
    }
    arguments.update(overrides)
    return judge_host(host, INTENDED, **arguments)


def test_a_healthy_host_keeps_its_mode():
    verdict = healthy().to_dict()
    assert verdict["healthy"] is True and verdict["action"] == "keep"
    assert [c["check"] for c in verdict["checks"]] == ["connection", "appidsvc", "effective_policy", "blocks"]
    assert verdict["rollback_modes"] == {}


@pytest.mark.parametrize(
    ("overrides", "check", "reason"),
    [
        ({"service": {**RUNNING, "state": "stopped"}}, "appidsvc", "AppIDSvc is stopped, start mode auto"),
        ({"service": {**RUNNING, "start_mode": "manual"}}, "appidsvc", "start mode manual (running, auto needed)"),
        ({"service": {"exists": False}}, "appidsvc", "AppIDSvc does not exist"),
        ({"service": None}, "appidsvc", "no service state"),
        ({"policy_xml": effective(script="audit")}, "effective_policy", "Script is AuditOnly, intended Enabled"),
        ({"policy_xml": effective(msi="enforce")}, "effective_policy", "Msi is Enabled, intended AuditOnly"),
        ({"policy_xml": None}, "effective_policy", "could not be read"),
        ({"policy_xml": "<AppLockerPolicy"}, "effective_policy", "cannot be read"),
        (
            {"blocked": {8004: 3, 8007: 1}},
            "blocks",
            "4 AppLocker block(s) since the switch (8004: 3, 8007: 1), at most 0",
        ),
        ({"blocked": None}, "blocks", "could not be counted"),
    ],
)
def test_a_failing_check_sends_the_host_back_to_audit(overrides, check, reason):
    verdict = healthy(**overrides).to_dict()
    assert verdict["action"] == "rollback"
    failed = [c for c in verdict["checks"] if not c["ok"]]
    assert [c["check"] for c in failed] == [check]
    assert reason in failed[0]["detail"]
    assert verdict["rollback_modes"] == {"Exe": "audit", "Script": "audit"}


def test_a_burst_is_above_the_threshold_only():
    limits = HealthThresholds(max_blocked=5)
    assert healthy(blocked={8004: 5}, thresholds=limits).healthy
    assert not healthy(blocked={8004: 5, 8007: 1}, thresholds=limits).healthy
    packaged = HealthThresholds(max_blocked=0, blocked_event_ids=(8004, 8007, 8022))
    assert not healthy(blocked={8022: 1}, thresholds=packaged).healthy
    assert healthy(blocked={8022: 1}).healthy  # not counted unless asked for


def test_a_lost_connection_is_a_manual_rollback():
    verdict = healthy(connection_ok=False, service=None, policy_xml=None, blocked=None).to_dict()
    assert verdict["action"] == "manual_rollback"
    assert [c["check"] for c in verdict["checks"]] == ["connection"]
    assert "roll the host back from its console" in verdict["reasons"][0]


def test_blocked_counts_from_the_events_probe():
    probe = json.loads((PROBES / "ws-21.json").read_text())
    probe["groups"].append({**probe["groups"][0], "event_id": 8004, "count": 3})
    probe["groups"].append({**probe["groups"][0], "event_id": 8007, "count": 2})
    probe["groups"].append({**probe["groups"][0], "event_id": 8004, "count": 1})
    assert blocked_counts(probe) == {8004: 4, 8007: 2}
    assert blocked_counts(None) == {8004: 0, 8007: 0}


def test_the_batch_verdict_follows_max_fail_percentage():
    verdicts = [healthy(f"WS-0{n}") for n in range(1, 9)]
    verdicts.append(healthy("WS-09", service={**RUNNING, "state": "stopped"}))
    verdicts.append(healthy("WS-10", connection_ok=False))
    batch = judge_batch(verdicts, max_fail_percentage=20)
    assert batch["failed"] == ["WS-09", "WS-10"] and batch["failed_percent"] == 20.0
    assert batch["continue"] is True  # Ansible stops only above the percentage
    assert batch["rollback"] == ["WS-09"] and batch["manual_rollback"] == ["WS-10"]
    assert batch["report"][0].startswith("WS-09: rollback: AppIDSvc is stopped")
    assert judge_batch(verdicts, max_fail_percentage=19)["continue"] is False
    assert judge_batch([], max_fail_percentage=0)["continue"] is True


def test_under_a_gpo_the_verdict_is_a_flip_back():
    verdicts = [healthy("WS-01"), healthy("WS-02", blocked={8004: 40})]
    batch = judge_batch(verdicts, max_fail_percentage=0, scope="domain")
    assert batch["flip_back"] is True and batch["rollback"] == []
    assert judge_batch([healthy("WS-01")], scope="domain")["flip_back"] is False


def test_the_audit_variant_after_a_rollback_is_healthy_when_intended():
    policy = render_policy(variant(parse_model(MODEL), "audit"))
    verdict = judge_host(
        "WS-01",
        {"Exe": "audit", "Script": "audit"},
        connection_ok=True,
        service=RUNNING,
        policy_xml=policy,
        blocked={},
    )
    assert verdict.healthy and verdict.rollback_modes == {}

"""What the rollout checks before trusting readiness (the Wazuh-agent-without-AppLocker-channel caveat), and the
modes and report it writes."""

from __future__ import annotations

import pytest

from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_core import AppLockerError
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_model import parse_model
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_readiness_events import EvidenceError
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_rollout_evidence import (
    CHANNELS,
    apply_modes,
    channel_evidence,
    model_with_modes,
    probe_modes,
    rollback_modes,
    vet_readiness,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_rollout_health import HealthThresholds
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_rollout_plan import plan_rollout
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_rollout_report import (
    ReportError,
    judge,
    new_report,
    previous_rollbacks,
    record_batch,
    record_rollbacks,
    report_name,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_xml import render_policy

MODEL = {name: {"mode": "audit", "default_rules": True} for name in ("Exe", "Msi", "Script", "Appx")}
ALL_CHANNELS = sorted({c for names in CHANNELS.values() for c in names})
READY = {
    "status": "ready",
    "reasons": [],
    "collections": {c: {"events": 0, "status": "ready"} for c in ("Exe", "Msi", "Script", "Dll", "Appx")},
}
AUDIT = {"Exe": "audit", "Msi": "audit", "Script": "audit", "Dll": "not_configured", "Appx": "audit"}


def applocker_probe(model=MODEL, error=None) -> dict:
    return {
        "concern": "applocker",
        "policy": {"xml": None if error else render_policy(parse_model(model)), "error": error},
        "service": {"exists": True, "state": "running", "start_mode": "auto"},
    }


def events_probe(groups=(), missing=(), disabled=(), truncated=False) -> dict:
    return {
        "concern": "applocker_events",
        "probe_version": 1,
        "window": {"start": "2026-11-01T00:00:00Z", "end": "2026-12-01T00:00:00Z"},
        "channels": [
            {"channel": c, "exists": c not in missing, "enabled": c not in disabled, "error": None}
            for c in ALL_CHANNELS
        ],
        "groups": list(groups),
        "events_read": sum(g["count"] for g in groups),
        "truncated": truncated,
    }


def would_block(count, policy="EXE", event_id=8003, path="C:\\Users\\dave\\tool.exe"):
    return {"event_id": event_id, "policy": policy, "full_file_path": path, "count": count, "first": "x", "last": "x"}


def test_probe_modes_reads_every_collection_and_unknown_when_the_policy_could_not_be_read():
    assert probe_modes(applocker_probe(), "WS-01") == AUDIT
    assert (
        probe_modes(applocker_probe({"Exe": {"mode": "enforce", "default_rules": True}}), "WS-01")["Exe"] == "enforce"
    )
    assert probe_modes(applocker_probe(error="access denied"), "WS-01") == dict.fromkeys(AUDIT)
    with pytest.raises(AppLockerError, match="WS-01: expected an applocker_probe result"):
        probe_modes({"concern": "sysmon"}, "WS-01")


def test_channel_evidence_counts_would_be_blocks_per_collection_and_names_broken_logs():
    probe = events_probe(
        [
            would_block(2),
            would_block(1, "DLL", path="C:\\x\\a.dll"),
            would_block(4, "SCRIPT", 8006),
            would_block(9, event_id=8002),
        ],
        missing=["Microsoft-Windows-AppLocker/MSI and Script"],
    )
    seen = channel_evidence(probe, "WS-01")
    assert seen["would_be_blocked"] == {"Exe": 2, "Msi": 0, "Script": 4, "Dll": 1, "Appx": 0}  # 8002 is not a block
    assert seen["channels"]["Microsoft-Windows-AppLocker/MSI and Script"].endswith("does not exist on the host")
    assert seen["channels"]["Microsoft-Windows-AppLocker/EXE and DLL"] is None
    with pytest.raises(EvidenceError, match=r"probe_results\['WS-01'\]: concern"):
        channel_evidence({"concern": "applocker"}, "WS-01")


def vet(entry=None, modes=None, seen="clean", **kwargs):
    entry = READY if entry is None else entry
    modes = AUDIT if modes is None else modes
    if seen is None or seen == {}:  # not required / required but no reading of the host's log
        evidence = seen
    else:
        evidence = {"WS-01": channel_evidence(events_probe() if seen == "clean" else seen, "WS-01")}
    return vet_readiness({"WS-01": entry}, {"Exe": "enforce"}, {"ws-01": modes}, evidence=evidence, **kwargs)


def test_a_ready_host_in_audit_with_a_clean_readable_log_stays_ready():
    vetted, added = vet()
    assert vetted["WS-01"] is READY and added == {}


def test_ready_without_an_applocker_channel_reading_is_held_when_channel_evidence_is_required():
    # The caveat: a Wazuh agent that forwards other channels reports, raises no would-be block, looks ready.
    vetted, added = vet(seen={})  # required, but no reading of the host's own log
    assert vetted["WS-01"]["status"] == "not_ready"
    assert vetted["WS-01"]["collections"]["Exe"]["status"] == "not_ready"
    assert vetted["WS-01"]["collections"]["Script"]["status"] == "ready"
    assert "a Wazuh agent that does not forward the AppLocker channels looks ready" in added["WS-01"][0]
    assert vet(seen=None)[1] == {}  # not required: the report is trusted


def test_would_be_blocks_the_report_never_counted_hold_the_host():
    _vetted, added = vet(seen=events_probe([would_block(2)]))
    assert added["WS-01"] == [
        "Exe: the host's own log holds 2 would-be-blocked event(s) (2026-11-01T00:00:00Z .. 2026-12-01T00:00:00Z), the "
        "readiness report counted 0: its source missed them (is the AppLocker channel forwarded?) or they are newer "
        "than the report"
    ]
    counted = {**READY, "collections": {**READY["collections"], "Exe": {"events": 2, "status": "ready"}}}
    assert vet(counted, seen=events_probe([would_block(2)]))[1] == {}  # the report saw them: a threshold allowed them


@pytest.mark.parametrize(
    ("probe", "expected"),
    [
        (events_probe(disabled=["Microsoft-Windows-AppLocker/EXE and DLL"]), "the log is disabled"),
        (events_probe(missing=["Microsoft-Windows-AppLocker/EXE and DLL"]), "the log does not exist"),
        (events_probe(truncated=True), "stopped early (max_events)"),
    ],
)
def test_a_log_that_cannot_be_trusted_holds_the_host(probe, expected):
    assert expected in " ".join(vet(seen=probe)[1]["WS-01"])


def test_a_collection_not_in_audit_logged_nothing_and_is_held():
    _vetted, added = vet(modes={**AUDIT, "Exe": "not_configured"})
    assert added["WS-01"][0].startswith("Exe: not_configured on the host, not audit: it logged no would-be-blocked")
    assert "Exe: unknown on the host" in vet(modes={**AUDIT, "Exe": None})[1]["WS-01"][0]
    assert vet(modes={**AUDIT, "Exe": "enforce"})[1] == {}  # already enforced: nothing raised, nothing vetted


def test_no_evidence_hosts_and_lowering_are_left_to_the_planner():
    silent = {**READY, "status": "no_evidence"}
    assert vet(silent, seen={})[0]["WS-01"] is silent
    _vetted, added = vet_readiness({"WS-01": READY}, {"Exe": "audit"}, {"WS-01": AUDIT}, evidence={})
    assert added == {}


def test_a_host_rolled_back_after_the_evidence_is_held_until_newer_evidence():
    record = {"host": "WS-01", "time": "2026-12-02T10:00:00Z", "collections": ["Exe"], "reasons": ["a burst"]}
    held = vet(seen=None, rollbacks={"ws-01": record}, evidence_end="2026-12-01T00:00:00Z")[1]["WS-01"]
    assert held[0].startswith("Exe: rolled back to audit at 2026-12-02T10:00:00Z") and "a burst" in held[0]
    assert vet(seen=None, rollbacks={"ws-01": record}, evidence_end="2026-12-03T00:00:00Z")[1] == {}
    assert vet(seen=None, rollbacks={"ws-01": {**record, "collections": ["Script"]}})[1] == {}


def test_the_vetted_report_drives_the_planner():
    readiness = {"WS-01": READY, "WS-02": READY}
    vetted, _added = vet_readiness(
        readiness,
        {"Exe": "enforce"},
        {"WS-01": AUDIT, "WS-02": AUDIT},
        evidence={"WS-01": channel_evidence(events_probe(), "WS-01")},
    )
    plan = plan_rollout(
        ["WS-01", "WS-02"], {"Exe": "enforce"}, {"hosts": vetted}, current_modes={"WS-01": AUDIT, "WS-02": AUDIT}
    )
    result = plan.to_dict()
    assert result["order"] == ["WS-01"]
    assert result["held_back"][0]["host"] == "WS-02"


def test_apply_modes_keep_what_the_rollout_does_not_name():
    assert apply_modes(AUDIT, {"Exe": "enforce"}) == {**AUDIT, "Exe": "enforce"}
    assert apply_modes({}, {"Exe": "enforce"})["Msi"] == "not_configured"
    assert rollback_modes({**AUDIT, "Exe": "enforce"}, {"Exe": "audit"}) == AUDIT


def test_model_with_modes_sets_each_collection_and_refuses_bad_values():
    model = model_with_modes(MODEL, {"Exe": "enforce", "Dll": "not_configured", "Msi": "audit"})
    assert model["Exe"] == {"mode": "enforce", "default_rules": True} and "Dll" not in model
    assert MODEL["Exe"]["mode"] == "audit"  # a copy
    assert model_with_modes({"exe": {"rules": []}}, {"Exe": "enforce"}) == {"exe": {"rules": [], "mode": "enforce"}}
    assert model_with_modes({}, {"Dll": "audit"}) == {"Dll": {"mode": "audit"}}
    with pytest.raises(AppLockerError, match="'Bogus' is not a rule collection"):
        model_with_modes(MODEL, {"Bogus": "audit"})
    with pytest.raises(AppLockerError, match="Exe: 'on' is not one of audit, enforce, not_configured"):
        model_with_modes(MODEL, {"Exe": "on"})


# --- the report ------------------------------------------------------------------------------


def plan_and_report():
    current = {h: AUDIT for h in ("WS-01", "WS-02", "WS-03")}
    plan = plan_rollout(
        list(current), {"Exe": "enforce"}, {"hosts": dict.fromkeys(current, READY)}, current_modes=current
    ).to_dict()
    return new_report(plan, "2026-12-02T08:00:00Z", readiness_file="r.json", not_probed={}, vetted={})


def healthy_facts(exe="enforce", blocks=0):
    model = {**MODEL, "Exe": {"mode": exe, "default_rules": True}}
    events = {"groups": [{"event_id": 8004, "count": blocks}]} if blocks else {"groups": []}
    return {"connection_ok": True, "probe": applocker_probe(model), "events": events, "apply_error": ""}


def test_the_report_records_batches_rollbacks_and_the_status():
    report = plan_and_report()
    assert report_name(report["started"]) == "rollout-20261202T080000Z.json"
    verdict = judge({"WS-01": healthy_facts()}, report["plan"], HealthThresholds())
    report = record_batch(report, verdict, "2026-12-02T08:05:00Z")
    assert report["status"] == "running" and report["batches"][0]["name"] == "canary"

    verdict = judge({"WS-02": healthy_facts(), "WS-03": healthy_facts(blocks=3)}, report["plan"], HealthThresholds())
    assert verdict["failed"] == ["WS-03"] and verdict["rollback"] == ["WS-03"] and not verdict["continue"]
    report = record_batch(report, verdict, "2026-12-02T08:10:00Z")
    assert report["status"] == "stopped"
    assert report["rollbacks"] == [
        {
            "host": "WS-03",
            "time": "2026-12-02T08:10:00Z",
            "rollout": "2026-12-02T08:00:00Z",
            "batch": "batch 1",
            "collections": ["Exe"],
            "reasons": ["3 AppLocker block(s) since the switch (8004: 3, 8007: 0), at most 0: a burst"],
            "gpo": False,
            "applied": None,
        }
    ]
    report = record_rollbacks(report, {"WS-03": None}, "2026-12-02T08:11:00Z")
    assert report["rollbacks"][0]["applied"] is True
    assert previous_rollbacks([report])["ws-03"]["time"] == "2026-12-02T08:10:00Z"


def test_a_failed_apply_an_unreachable_host_and_a_stranger_are_judged():
    report = plan_and_report()
    facts = {**healthy_facts(), "apply_error": "setting the enforce policy failed"}
    verdict = judge({"WS-01": facts}, report["plan"], HealthThresholds())
    assert verdict["verdicts"]["WS-01"]["reasons"][0] == "the applocker role failed: setting the enforce policy failed"
    verdict = judge({"WS-01": {"connection_ok": False}}, report["plan"], HealthThresholds())
    assert verdict["manual_rollback"] == ["WS-01"]
    assert record_batch(report, verdict, "t")["manual_rollback"][0]["host"] == "WS-01"
    with pytest.raises(ReportError, match="'WS-99' is not a host of the rollout's plan"):
        judge({"WS-99": healthy_facts()}, report["plan"], HealthThresholds())

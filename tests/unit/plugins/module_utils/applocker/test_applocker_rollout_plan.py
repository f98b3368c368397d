"""The rollout planner over a readiness report: who switches in which batch, who is held back and why."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_readiness import Evidence, make_window
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_readiness_sources import read_alerts
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_readiness_thresholds import parse_thresholds
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_rollout_plan import (
    BatchPolicy,
    RolloutError,
    batch_sizes,
    plan_rollout,
)

ALERTS = Path(__file__).resolve().parents[3] / "fixtures" / "applocker" / "readiness" / "alerts.json"
HOSTS = [f"WS-{n:02d}" for n in range(1, 14)]
ENFORCE_EXE = {"Exe": "enforce"}


@pytest.fixture(scope="module")
def readiness() -> dict:
    """The recorded set judged: ready WS-01, WS-09; no evidence WS-10, WS-11; the rest not ready."""
    window = make_window(start="2026-11-01T00:00:00Z", end="2026-12-01T00:00:00Z")
    evidence = Evidence(window, parse_thresholds({}), HOSTS)
    return evidence.report(read_alerts([str(ALERTS)], evidence))


def test_only_ready_hosts_switch_and_the_others_are_held_back_with_reasons(readiness):
    plan = plan_rollout(HOSTS, ENFORCE_EXE, readiness).to_dict()
    assert plan["direction"] == "enforce"
    assert plan["batches"] == [{"name": "canary", "hosts": ["WS-01"]}, {"name": "batch 1", "hosts": ["WS-09"]}]
    assert plan["serial"] == [1, 1]
    assert plan["order"] == ["WS-01", "WS-09"]
    held = {item["host"]: item["reasons"] for item in plan["held_back"]}
    assert sorted(held) == sorted(set(HOSTS) - {"WS-01", "WS-09"})
    assert held["WS-02"] == ["collection Exe: 2 would-be-blocked event(s) in the window, at most 0 (Exe)"]
    assert "silence is not readiness" in held["WS-10"][0]
    assert plan["hosts"]["WS-01"]["modes"] == {"Exe": "enforce"}
    assert plan["hosts"]["WS-02"]["modes"] == {"Exe": None}  # unchanged: unknown current mode kept
    assert plan["summary"] == {"hosts": 13, "switch": 2, "lower": 0, "held_back": 11, "unchanged": 0, "batches": 2}


def test_forced_hosts_switch_without_evidence_and_the_operator_can_hold_a_ready_one(readiness):
    plan = plan_rollout(HOSTS, ENFORCE_EXE, readiness, forced=["WS-10", "ws-02.corp.example"], held={"WS-09": "CFO"})
    result = plan.to_dict()
    assert result["order"] == ["WS-01", "WS-02", "WS-10"]
    assert result["hosts"]["WS-10"]["forced"] is True
    assert result["hosts"]["WS-09"]["reasons"] == ["held by the operator: CFO"]


def test_a_canary_then_growing_batches_capped(readiness):
    everyone_ready = {"hosts": {name: {"status": "ready"} for name in HOSTS}}
    plan = plan_rollout(HOSTS, ENFORCE_EXE, everyone_ready, batches=BatchPolicy(canary=1, growth=2, max_batch=4))
    assert plan.to_dict()["serial"] == [1, 2, 4, 4, 2]
    assert [b["name"] for b in plan.to_dict()["batches"]] == ["canary", "batch 1", "batch 2", "batch 3", "batch 4"]
    assert plan.to_dict()["hosts"]["WS-04"]["batch"] == 2


def test_going_back_to_audit_needs_no_evidence_and_goes_in_one_batch(readiness):
    current = {name: {"Exe": "Enabled"} for name in HOSTS}
    plan = plan_rollout(HOSTS, {"Exe": "audit"}, readiness, current_modes=current).to_dict()
    assert plan["direction"] == "audit"
    assert plan["batches"] == [{"name": "audit", "hosts": HOSTS}]
    assert plan["held_back"] == []
    assert all(host["modes"] == {"Exe": "audit"} for host in plan["hosts"].values())


def test_mixed_lowers_first_and_raises_only_where_ready(readiness):
    current = {name: {"Exe": "AuditOnly", "Script": "Enabled"} for name in HOSTS}
    plan = plan_rollout(HOSTS, {"Exe": "enforce", "Script": "audit"}, readiness, current_modes=current).to_dict()
    assert plan["direction"] == "mixed"
    assert plan["batches"][0]["name"] == "audit"
    assert len(plan["batches"][0]["hosts"]) == 11  # not ready for Exe, but Script goes back to audit anyway
    assert plan["hosts"]["WS-02"]["action"] == "lower"
    assert plan["hosts"]["WS-02"]["modes"] == {"Exe": "audit", "Script": "audit"}
    assert plan["hosts"]["WS-02"]["held"] == {
        "Exe": ["collection Exe: 2 would-be-blocked event(s) in the window, at most 0 (Exe)"]
    }
    assert plan["hosts"]["WS-01"]["action"] == "switch"
    assert plan["hosts"]["WS-01"]["modes"] == {"Exe": "enforce", "Script": "audit"}


def test_hosts_already_at_the_target_are_unchanged(readiness):
    current = {name: {"Exe": "enforce"} for name in HOSTS}
    plan = plan_rollout(HOSTS, ENFORCE_EXE, readiness, current_modes=current).to_dict()
    assert plan["unchanged"] == HOSTS
    assert plan["batches"] == [] and plan["serial"] == []


def test_partial_switches_the_collections_a_host_is_ready_for(readiness):
    plan = plan_rollout(HOSTS, {"Exe": "enforce", "Msi": "enforce"}, readiness, partial=True).to_dict()
    ws04 = plan["hosts"]["WS-04"]  # an Msi and a Script would-be block, nothing for Exe
    assert ws04["raise"] == ["Exe"] and sorted(ws04["held"]) == ["Msi"]
    assert ws04["modes"] == {"Exe": "enforce", "Msi": None}
    whole = plan_rollout(HOSTS, {"Exe": "enforce", "Msi": "enforce"}, readiness).to_dict()
    assert whole["hosts"]["WS-04"]["action"] == "held_back"


def test_a_host_missing_from_the_report_is_held(readiness):
    plan = plan_rollout([*HOSTS, "WS-99"], ENFORCE_EXE, readiness).to_dict()
    assert plan["hosts"]["WS-99"]["reasons"] == ["not in the readiness report: no evidence was read for this host"]


def test_domain_gpo_flips_once_after_the_evidence_gate(readiness):
    gpo = {"Exe": "AuditOnly"}
    refused = plan_rollout(HOSTS, ENFORCE_EXE, readiness, scope="domain", gpo_modes=gpo).to_dict()
    assert refused["batches"] == [] and refused["serial"] == []
    assert refused["gpo"]["flip"] is False
    assert refused["gpo"]["gate"]["passed"] is False
    assert refused["gpo"]["gate"]["reasons"][0].startswith("Exe: 2 of 13 hosts ready (15.4 %), 100 % required")
    assert all(h["held"]["Exe"][0] == "the GPO's evidence gate did not pass" for h in refused["hosts"].values())
    everyone_ready = {"hosts": {name: {"status": "ready"} for name in HOSTS}}
    flipped = plan_rollout(HOSTS, ENFORCE_EXE, everyone_ready, scope="domain", gpo_modes=gpo).to_dict()
    assert flipped["gpo"]["flip"] is True and flipped["gpo"]["modes"] == {"Exe": "enforce"}
    assert flipped["gpo"]["verify_hosts"] == HOSTS
    lenient = plan_rollout(HOSTS, ENFORCE_EXE, readiness, scope="domain", gpo_modes=gpo, gpo_min_ready_percent=10)
    notes = lenient.to_dict()["hosts"]["WS-02"]["notes"]
    assert notes and notes[0].startswith("Exe: enforced by the GPO although this host is not ready")


def test_domain_gpo_goes_back_without_a_gate(readiness):
    plan = plan_rollout(HOSTS, {"Exe": "audit"}, readiness, scope="domain", gpo_modes={"Exe": "Enabled"}).to_dict()
    assert plan["gpo"]["flip"] is True and plan["gpo"]["lower"] == ["Exe"] and plan["gpo"]["gate"]["passed"]
    assert plan["direction"] == "audit"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target_modes": {"Exe": "block"}}, r"target_modes.Exe: 'block' is not a mode"),
        ({"target_modes": {"Exec": "enforce"}}, r"target_modes key 'Exec': 'Exec' is not a rule collection"),
        ({"target_modes": {}}, r"target_modes: expected collection -> mode"),
        ({"forced": ["WS-77"]}, r"forced: 'WS-77' is not one of the hosts"),
        ({"held": {"WS-77": "x"}}, r"held: 'WS-77' is not one of the hosts"),
        ({"scope": "site"}, r"scope: 'site' is neither local nor domain"),
        ({"batches": BatchPolicy(canary="0%")}, r"canary: '0%' is not a percentage"),
        ({"batches": BatchPolicy(canary=0)}, r"canary: 0 is neither a number of hosts"),
        ({"batches": BatchPolicy(growth=0.5)}, r"growth: 0.5 must be a number of 1 or more"),
        ({"batches": BatchPolicy(max_fail_percentage=101)}, r"max_fail_percentage: 101 must be 0 .. 100"),
        ({"current_modes": {"WS-01": {"Exe": "on"}}}, r"current_modes\['WS-01'\].Exe: 'on' is not a mode"),
        ({"scope": "domain", "gpo_min_ready_percent": 0}, r"gpo_min_ready_percent: 0 must be above 0"),
    ],
)
def test_errors_name_the_value(readiness, kwargs, message):
    arguments = {"target_modes": ENFORCE_EXE, **kwargs}
    with pytest.raises(RolloutError, match=message):
        plan_rollout(HOSTS, arguments.pop("target_modes"), readiness, **arguments)


def test_duplicate_hosts_are_refused(readiness):
    with pytest.raises(RolloutError, match="are the same host"):
        plan_rollout(["WS-01", "ws-01.corp.example"], ENFORCE_EXE, readiness)


@given(
    st.integers(0, 500),
    st.one_of(st.integers(1, 50), st.integers(1, 100).map(lambda p: f"{p}%")),
    st.floats(1, 5),
    st.none() | st.integers(1, 80),
)
def test_batches_cover_every_host_once_canary_first_and_never_shrink_until_the_last(total, canary, growth, cap):
    sizes = batch_sizes(total, BatchPolicy(canary=canary, growth=growth, max_batch=cap))
    assert sum(sizes) == total
    assert all(size >= 1 for size in sizes)
    if cap is not None:
        assert all(size <= cap for size in sizes)
    assert all(a <= b for a, b in itertools.pairwise(sizes[:-1]))  # growing (the last takes what is left)
    if sizes and isinstance(canary, int):
        assert sizes[0] == min(canary, total, cap or total)

"""The rollout's filters: a probe's modes, and the model with a host's modes."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.m1038.appcontrol.plugins.filter.applocker_rollout import (
    FilterModule,
    applocker_probe_modes,
    applocker_rollout_model,
)


def test_filters_are_registered_and_errors_name_the_value():
    assert set(FilterModule().filters()) == {"applocker_probe_modes", "applocker_rollout_model"}
    probe = {"concern": "applocker", "policy": {"xml": '<AppLockerPolicy Version="1" />'}}
    assert applocker_probe_modes(probe, "WS-01")["Exe"] == "not_configured"
    with pytest.raises(AnsibleFilterError, match="applocker_probe_modes: WS-01: expected an applocker_probe result"):
        applocker_probe_modes({}, "WS-01")
    assert applocker_rollout_model({"Exe": {"mode": "audit"}}, {"Exe": "enforce"}) == {"Exe": {"mode": "enforce"}}
    with pytest.raises(AnsibleFilterError, match="'Nope' is not a rule collection"):
        applocker_rollout_model({}, {"Nope": "audit"})

# Copyright: m1038.appcontrol contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the staged AppLocker rollout (playbooks/applocker_mode.yml, docs/applocker-rollout.md)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_core import AppLockerError
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_rollout_evidence import (
    model_with_modes,
    probe_modes,
)


def applocker_probe_modes(probe, where="applocker probe"):
    try:
        return probe_modes(probe, where)
    except AppLockerError as exc:
        raise AnsibleFilterError(f"applocker_probe_modes: {exc}") from exc


def applocker_rollout_model(model, modes):
    try:
        return model_with_modes(model, modes)
    except AppLockerError as exc:
        raise AnsibleFilterError(str(exc)) from exc


class FilterModule:
    def filters(self):
        return {"applocker_probe_modes": applocker_probe_modes, "applocker_rollout_model": applocker_rollout_model}

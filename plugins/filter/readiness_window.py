# Copyright: m1038.appcontrol contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: readiness_window
short_description: The AppLocker readiness evidence window, fixed once for every source
version_added: 0.1.0
description:
  - Returns C({start, end, days}) with ISO 8601 UTC times, the same window
    M(m1038.appcontrol.applocker_readiness) uses, so that the WinRM probe
    (M(m1038.appcontrol.applocker_events_probe)) and the controller read the same span.
  - The window ends at O(end) (default now) and starts O(_input) days before.
positional: _input, end
options:
  _input:
    description: Length of the window in days.
    type: float
    required: true
  end:
    description: End of the window (ISO 8601, exclusive); empty for now.
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: Fix the window once
  ansible.builtin.set_fact:
    m1038_readiness_window: "{{ 30 | m1038.appcontrol.readiness_window('2026-12-01T00:00:00Z') }}"
"""

RETURN = r"""
_value:
  description: C(start) and C(end) (ISO 8601 UTC, whole seconds) and C(days).
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_readiness import make_window
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_readiness_events import EvidenceError


def readiness_window(days, end=""):
    try:
        number = float(days)
    except (TypeError, ValueError):
        raise AnsibleFilterError(f"readiness_window: window_days {days!r} is not a number") from None
    try:
        return make_window(number, None, end or None).to_dict()
    except EvidenceError as exc:
        raise AnsibleFilterError(f"readiness_window: {exc}") from exc


class FilterModule:
    def filters(self):
        return {"readiness_window": readiness_window}

# Copyright: m1038.appcontrol contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: applocker_scan_roots
short_description: The allowed paths of an AppLocker policy model whose user-writable folders a probe must scan
version_added: 0.1.0
description:
  - Takes the AppLocker policy model (the C(model) of M(m1038.appcontrol.applocker_policy)) and returns the path
    patterns of its Allow path rules for non-administrators (default rules included), without those another one
    contains - the same list M(m1038.appcontrol.applocker_policy) returns as C(scan_roots).
  - M(m1038.appcontrol.applocker_probe) scans the folders under them for user-writable ones before the policy is
    rendered, so the role needs them first (the trust policy adds publisher rules only, which need no scan).
  - Fails naming the bad value when the model is not valid.
positional: _input
options:
  _input:
    description: The policy model, collection name to C({mode, default_rules, rules}).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Probe the host's writable folders under the model's allowed paths
  m1038.appcontrol.applocker_probe:
    scan_roots: "{{ m1038_applocker_model | m1038.appcontrol.applocker_scan_roots }}"
"""

RETURN = r"""
_value:
  description: Path patterns such as C(%PROGRAMFILES%\*) and C(%WINDIR%\*), sorted.
  type: list
  elements: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_core import AppLockerError
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_model import parse_model
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_writable import scan_roots


def applocker_scan_roots(model):
    try:
        return scan_roots(parse_model(model))
    except AppLockerError as exc:
        raise AnsibleFilterError(f"applocker_scan_roots: {exc}") from exc


class FilterModule:
    def filters(self):
        return {"applocker_scan_roots": applocker_scan_roots}

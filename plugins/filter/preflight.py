# Copyright: m1038.appcontrol contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.m1038.appcontrol.plugins.module_utils._preflight import (
    collection_findings,
    winrm_findings,
)


def _winrm_findings(settings_by_host):
    if not isinstance(settings_by_host, dict):
        raise AnsibleFilterError(
            f"winrm_findings expects a dict of host -> settings, got {type(settings_by_host).__name__}"
        )
    return winrm_findings(settings_by_host)


def _collection_findings(requirements, installed):
    try:
        return collection_findings(requirements, installed)
    except ValueError as exc:
        raise AnsibleFilterError(f"collection_findings: {exc}") from exc


class FilterModule:
    def filters(self):
        return {
            "winrm_findings": _winrm_findings,
            "collection_findings": _collection_findings,
        }

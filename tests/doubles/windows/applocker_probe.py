# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""TEST DOUBLE of m1038.appcontrol.applocker_probe: the probe's JSON, read from the host model.

tests/project/applocker_double.py puts this file in place of applocker_probe.ps1 in a copy of the
collection. It returns the shape plugins/modules/applocker_probe.ps1 returns (PROBE_SHAPE in
_applocker_plan.py). It scans nothing: the writable-folder scan is the model's canned
``writable_scan``, filtered to the roots asked for. ``effective`` reads the local policy, or the
GPO's as of the endpoint's last gpupdate when the model puts it under one (the model does not
merge the two).
"""

from __future__ import annotations

import copy

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ansible.windows.plugins.module_utils._double_applocker import AppLocker
from ansible_collections.ansible.windows.plugins.module_utils._double_host import Host


def main():
    module = AnsibleModule(
        argument_spec={
            "policy": {"type": "str", "default": "local", "choices": ["local", "domain", "effective", "none"]},
            "ldap": {"type": "str"},
            "scan_roots": {"type": "list", "elements": "str", "default": []},
            "max_folders": {"type": "int", "default": 500000},
            "max_errors": {"type": "int", "default": 50},
            "service_name": {"type": "str", "default": "AppIDSvc"},
            "channels": {"type": "list", "elements": "str", "default": []},
        },
        supports_check_mode=True,
    )
    params = module.params
    host = Host()
    host.call("applocker_probe", policy=params["policy"], scan_roots=params["scan_roots"])
    policy = {"source": params["policy"], "ldap": None, "xml": None, "error": None}
    if params["policy"] != "none":
        ldap = params["ldap"] if params["policy"] == "domain" else ""
        policy["ldap"] = ldap or None
        try:
            store = AppLocker(host)
            policy["xml"] = store.effective() if params["policy"] == "effective" else store.get(ldap)
        except OSError as exc:
            policy["error"] = f"System.Runtime.InteropServices.COMException: {exc}"
    service = host.state.get("services", {}).get(params["service_name"])
    logs = host.state.get("eventlogs", {})
    scan = copy.deepcopy(host.state.get("writable_scan") or {"variables": {}, "roots": [], "folders": []})
    scan["roots"] = [root for root in scan["roots"] if root["rule_path"] in params["scan_roots"]]
    if not params["scan_roots"]:
        scan["folders"] = []
    scan["truncated"] = False
    probe = {
        "concern": "applocker",
        "probe_version": 1,
        "host": {"computer_name": "DOUBLE", "os_version": "10.0.22631.0", "os_name": "TEST DOUBLE"},
        "policy": policy,
        "service": {
            "name": params["service_name"],
            "exists": service is not None,
            "state": service["state"] if service else None,
            "start_mode": service["start_mode"] if service else None,
        },
        "eventlogs": [
            {
                "channel": channel,
                "exists": channel in logs,
                "max_size": logs.get(channel),
                "enabled": True if channel in logs else None,
            }
            for channel in params["channels"]
        ],
        "writable_scan": scan,
    }
    host.save()
    module.exit_json(changed=False, probe=probe)


if __name__ == "__main__":
    main()

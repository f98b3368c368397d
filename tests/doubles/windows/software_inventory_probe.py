# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""TEST DOUBLE of m1038.appcontrol.software_inventory_probe: a recorded probe, returned as the module would.

tests/project/test_software_inventory_role.py puts this file in place of software_inventory_probe.ps1
in a copy of the collection, so that the role's live path (probe on the host, then the controller
module with the probe as its argument) runs without Windows. It returns the JSON file named by
M1038_WINDOWS_DOUBLE_SOFTWARE_PROBE (the shape of plugins/modules/software_inventory_probe.ps1,
PROBE_SHAPE), models include_user_hives (False drops the user scope, as the probe would not read
HKU) and appends one line per call to M1038_WINDOWS_DOUBLE_SOFTWARE_CALLS, so a test can count the
round trips. It reads no registry and proves nothing about Windows.
"""

from __future__ import annotations

import json
import os

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(
        argument_spec={
            "include_user_hives": {"type": "bool", "default": True},
            "max_value_chars": {"type": "int", "default": 4096},
        },
        supports_check_mode=True,
    )
    with open(os.environ["M1038_WINDOWS_DOUBLE_SOFTWARE_PROBE"], encoding="utf-8") as handle:
        probe = json.load(handle)
    if not module.params["include_user_hives"]:
        probe["sources"] = [s for s in probe["sources"] if s.get("scope") != "user"]
        probe["entries"] = [e for e in probe["entries"] if e.get("scope") != "user"]
    with open(os.environ["M1038_WINDOWS_DOUBLE_SOFTWARE_CALLS"], "a", encoding="utf-8") as calls:
        call = {"module": "software_inventory_probe", "check_mode": module.check_mode, **module.params}
        calls.write(json.dumps(call) + "\n")
    module.exit_json(changed=False, probe=probe)


if __name__ == "__main__":
    main()

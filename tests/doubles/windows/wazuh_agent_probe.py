# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""TEST DOUBLE of m1038.appcontrol.wazuh_agent_probe: the probe's JSON, read from the host model.

tests/project/test_wazuh_agent_apply_double.py puts this file in place of wazuh_agent_probe.ps1 in a copy
of the collection. It returns the shape plugins/modules/wazuh_agent_probe.ps1 returns (PROBE_SHAPE in
plugins/module_utils/_wazuh_agent_probe.py).
"""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ansible.windows.plugins.module_utils._double_host import Host
from ansible_collections.ansible.windows.plugins.module_utils._double_wazuh import Agent


def main():
    module = AnsibleModule(
        argument_spec={
            "install_dir": {"type": "str", "default": ""},
            "service_name": {"type": "str", "default": "WazuhSvc"},
            "product_name": {"type": "str", "default": "Wazuh Agent"},
            "max_conf_bytes": {"type": "int", "default": 1048576},
            "wait_connected": {"type": "int", "default": 0},
            "log_lines": {"type": "int", "default": 0},
        },
        supports_check_mode=True,
    )
    host = Host()
    host.call("wazuh_agent_probe", wait_connected=module.params["wait_connected"])
    probe = Agent(host).probe(log_lines=module.params["log_lines"])
    host.save()
    module.exit_json(changed=False, probe=probe)


if __name__ == "__main__":
    main()

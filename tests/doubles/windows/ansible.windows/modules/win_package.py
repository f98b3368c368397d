# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""TEST DOUBLE of ansible.windows.win_package: the model's Wazuh agent MSI (tests/doubles/windows/README.md)."""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ansible.windows.plugins.module_utils._double_host import Host
from ansible_collections.ansible.windows.plugins.module_utils._double_wazuh import Agent


def main():
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "str"},
            "product_id": {"type": "str"},
            "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
            "log_path": {"type": "str"},
            "arguments": {"type": "raw"},
            "expected_return_code": {"type": "list", "elements": "int", "default": [0, 3010]},
        },
        required_one_of=[("path", "product_id")],
        supports_check_mode=True,
    )
    host = Host()
    params = module.params
    host.call("win_package", path=params["path"], product_id=params["product_id"], state=params["state"])
    if params["arguments"]:
        module.fail_json(
            msg="TEST DOUBLE: the role must not pass msiexec arguments (they are visible to every process)"
        )
    changed, rc, message = Agent(host).package(params, module.check_mode)
    host.save()
    if rc not in params["expected_return_code"]:
        module.fail_json(msg=f"unexpected rc from msiexec: {rc}: {message}", rc=rc, changed=False)
    module.exit_json(changed=changed, rc=rc, reboot_required=rc == 3010)


if __name__ == "__main__":
    main()

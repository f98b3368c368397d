# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""TEST DOUBLE of ansible.windows.win_file (directories are implicit in the host model)."""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ansible.windows.plugins.module_utils._double_host import Host


def main():
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "str", "required": True},
            "state": {"type": "str", "choices": ["directory", "absent"], "required": True},
        },
        supports_check_mode=True,
    )
    host = Host()
    host.call("win_file", **module.params)
    changed = module.params["state"] == "absent" and host.remove_tree(module.params["path"])
    host.save()
    module.exit_json(changed=changed)


if __name__ == "__main__":
    main()

# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""TEST DOUBLE of ansible.windows.win_copy (tests/doubles/windows/README.md)."""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ansible.windows.plugins.module_utils._double_host import Host


def main():
    module = AnsibleModule(
        argument_spec={
            "src": {"type": "str", "required": True},
            "dest": {"type": "str", "required": True},
            "remote_src": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    host = Host()
    src, dest = module.params["src"], module.params["dest"]
    if module.params["remote_src"]:
        data, entry = host.read(src), host.entry(src)
        if data is None:
            module.fail_json(msg=f"Cannot copy src file: '{src}' as it does not exist")
        version = entry.get("version")
    else:
        with open(src, "rb") as handle:
            data, version = handle.read(), None
    host.call("win_copy", src=src, dest=dest, remote_src=module.params["remote_src"])
    changed = host.read(dest) != data
    if changed and not module.check_mode:
        host.write(dest, data, version)
    host.save()
    module.exit_json(changed=changed, dest=dest)


if __name__ == "__main__":
    main()

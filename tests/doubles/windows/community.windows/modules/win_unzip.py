# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""TEST DOUBLE of community.windows.win_unzip (a VERSION member gives the .exe files their file version)."""

from __future__ import annotations

import io
import ntpath
import zipfile

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ansible.windows.plugins.module_utils._double_host import Host


def main():
    module = AnsibleModule(
        argument_spec={
            "src": {"type": "str", "required": True},
            "dest": {"type": "str", "required": True},
            "creates": {"type": "str"},
        },
        supports_check_mode=True,
    )
    host = Host()
    params = module.params
    host.call("win_unzip", **params)
    if params["creates"] and host.entry(params["creates"]) is not None:
        host.save()
        module.exit_json(changed=False, skipped=True)
    data = host.read(params["src"])
    if data is None:
        module.fail_json(msg=f"File '{params['src']}' does not exist")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        version = archive.read("VERSION").decode().strip() if "VERSION" in archive.namelist() else None
        for name in archive.namelist():
            content = archive.read(name)
            host.write(ntpath.join(params["dest"], name), content, version if name.lower().endswith(".exe") else None)
    host.save()
    module.exit_json(changed=True)


if __name__ == "__main__":
    main()

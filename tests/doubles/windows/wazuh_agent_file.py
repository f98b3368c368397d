# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""TEST DOUBLE of m1038.appcontrol.wazuh_agent_file: the same decisions as wazuh_agent_file.ps1, on the host model.

Refuses a file whose SHA256 is not expected_sha256, keeps a backup, writes src's bytes or the secret, and marks
the file restricted (the model's stand-in for the protected DACL). The call is recorded without the secret.
"""

from __future__ import annotations

import hashlib

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ansible.windows.plugins.module_utils._double_host import Host


def main():
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "str", "required": True},
            "src": {"type": "str"},
            "secret": {"type": "str", "no_log": True},
            "expected_sha256": {"type": "str"},
            "backup": {"type": "str"},
            "restricted": {"type": "bool", "default": False},
        },
        mutually_exclusive=[("src", "secret")],
        required_one_of=[("src", "secret")],
        supports_check_mode=True,
    )
    host = Host()
    params = module.params
    path = params["path"]
    host.call(
        "wazuh_agent_file",
        path=path,
        src=params["src"],
        secret=None if params["secret"] is None else "(secret)",
        restricted=params["restricted"],
        backup=params["backup"],
    )
    if params["src"] is not None:
        data = host.read(params["src"])
        if data is None:
            module.fail_json(msg=f"src '{params['src']}' does not exist on the host")
    else:
        data = params["secret"].encode("utf-8")
    current = host.read(path)
    current_sha = "absent" if current is None else hashlib.sha256(current).hexdigest()
    expected = params["expected_sha256"]
    if expected and expected.lower() != current_sha:
        host.save()
        module.fail_json(msg=f"{path} changed since the plan was made (it is {current_sha}, the plan read {expected})")
    # A replaced file keeps its DACL (File.Replace); a new one inherits its folder's (not restricted).
    was_restricted = current is not None and bool(host.entry(path).get("restricted"))
    changed = current != data or (params["restricted"] and current is not None and not was_restricted)
    result = {"changed": changed, "path": path}
    if changed and not module.check_mode:
        if current is not None and params["backup"]:
            host.write(params["backup"], current)
            result["backup_file"] = params["backup"]
        host.write(path, data)
        host.entry(path)["restricted"] = params["restricted"] or was_restricted
    host.save()
    module.exit_json(**result)


if __name__ == "__main__":
    main()

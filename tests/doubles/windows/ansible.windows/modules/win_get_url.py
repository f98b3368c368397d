# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""TEST DOUBLE of ansible.windows.win_get_url: "downloads" from the host model's url map, checksum checked."""

from __future__ import annotations

import hashlib

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ansible.windows.plugins.module_utils._double_host import Host


def main():
    module = AnsibleModule(
        argument_spec={
            "url": {"type": "str", "required": True},
            "dest": {"type": "str", "required": True},
            "checksum": {"type": "str"},
            "checksum_algorithm": {"type": "str", "default": "sha1"},
            "validate_certs": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    host = Host()
    params = module.params
    host.call("win_get_url", url=params["url"], dest=params["dest"])
    source = host.state.get("urls", {}).get(params["url"])
    if source is None:
        module.fail_json(msg=f"Error downloading '{params['url']}' to '{params['dest']}': 404 Not Found")
    with open(source, "rb") as handle:
        data = handle.read()
    digest = hashlib.new(params["checksum_algorithm"], data).hexdigest()
    if params["checksum"] and digest != params["checksum"].lower():
        module.fail_json(msg=f"The checksum for {params['dest']} did not match {params['checksum']}; it was {digest}.")
    changed = host.read(params["dest"]) != data
    if changed and not module.check_mode:
        host.write(params["dest"], data)
    host.save()
    module.exit_json(changed=changed, dest=params["dest"], checksum_dest=digest)


if __name__ == "__main__":
    main()

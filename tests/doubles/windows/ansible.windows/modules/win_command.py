# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""TEST DOUBLE of ansible.windows.win_command: runs Sysmon, wevtutil and gpupdate as the host model says."""

from __future__ import annotations

import ntpath

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ansible.windows.plugins.module_utils._double_applocker import AppLocker
from ansible_collections.ansible.windows.plugins.module_utils._double_host import Host


def main():
    module = AnsibleModule(argument_spec={"argv": {"type": "list", "elements": "str", "required": True}})
    host = Host()
    argv = module.params["argv"]
    host.call("win_command", argv=argv)
    if ntpath.basename(argv[0]).lower() == "wevtutil.exe":
        rc, out, err = host.wevtutil(argv)
    elif ntpath.basename(argv[0]).lower() == "gpupdate.exe":
        AppLocker(host).refresh()
        rc, out, err = 0, "Computer Policy update has completed successfully.", ""
    else:
        rc, out, err = host.sysmon(argv)
    host.save()
    result = {"changed": True, "rc": rc, "stdout": out, "stderr": err, "cmd": " ".join(argv)}
    if rc:
        module.fail_json(msg="non-zero return code", **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()

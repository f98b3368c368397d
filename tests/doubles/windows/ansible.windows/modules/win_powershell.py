# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""TEST DOUBLE of ansible.windows.win_powershell: runs the applocker role's two fixed scripts against the host model.

It does not run PowerShell. It recognises the script by the AppLocker cmdlet it calls (the keep script
calls Get-AppLockerPolicy, the set script Set-AppLockerPolicy) and applies the script's parameters to
the model (_double_applocker.py); any other script fails. Like the real module it skips in check mode
(the scripts do not declare SupportsShouldProcess) and fails with the exception's message.
"""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ansible.windows.plugins.module_utils._double_applocker import AppLocker
from ansible_collections.ansible.windows.plugins.module_utils._double_host import Host


def main():
    module = AnsibleModule(
        argument_spec={
            "script": {"type": "str", "required": True},
            "parameters": {"type": "dict", "default": {}},
            "error_action": {"type": "str", "default": "continue"},
        },
        supports_check_mode=True,
    )
    if module.check_mode:
        module.exit_json(changed=False, skipped=True, msg="skipped, running in check mode")
    host = Host()
    script, params = module.params["script"], module.params["parameters"]
    host.call("win_powershell", parameters=params)
    applocker = AppLocker(host)
    try:
        if "Set-AppLockerPolicy" in script:
            host.state["calls"][-1]["script"] = "set"
            applocker.set(params["PolicyFile"], params.get("Ldap") or "")
        elif "Get-AppLockerPolicy" in script:
            host.state["calls"][-1]["script"] = "keep"
            applocker.export(params["Path"], params.get("Ldap") or "")
        else:
            raise NotImplementedError("the Windows double models only the applocker role's keep and set scripts")
    except (OSError, ValueError, KeyError, NotImplementedError) as exc:
        host.state["calls"][-1]["failed"] = True
        host.save()
        error = {"exception": {"message": str(exc), "type": type(exc).__name__}}
        module.fail_json(msg=f"Unhandled exception while executing script: {exc}", error=[error], output=[])
    host.save()
    module.exit_json(changed=True, output=[], error=[])


if __name__ == "__main__":
    main()

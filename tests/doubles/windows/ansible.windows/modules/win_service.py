# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""TEST DOUBLE of ansible.windows.win_service (the Sysmon service, the Wazuh agent's WazuhSvc, or one in `services`)."""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ansible.windows.plugins.module_utils._double_host import Host
from ansible_collections.ansible.windows.plugins.module_utils._double_wazuh import Agent


def main():
    module = AnsibleModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            "start_mode": {"type": "str"},
            "state": {"type": "str"},
        },
        supports_check_mode=True,
    )
    host = Host()
    host.call("win_service", **module.params)
    agent = Agent(host)
    if agent.handles(module.params["name"]):
        changed, error = agent.set_service(module.params, module.check_mode)
        host.save()
        if error:
            module.fail_json(msg=error, changed=changed)
        module.exit_json(changed=changed)
    service = host.state.get("service")
    if not service or service["name"].lower() != module.params["name"].lower():
        # other services (AppIDSvc), by name: {"services": {"AppIDSvc": {"state": ..., "start_mode": ...}}}
        service = host.state.get("services", {}).get(module.params["name"])
    if not service:
        module.fail_json(msg=f"Service '{module.params['name']}' is not installed")
    wanted = {"start_mode": module.params["start_mode"], "state": {"started": "running"}.get(module.params["state"])}
    changes = {k: v for k, v in wanted.items() if v and service[k] != v}
    if changes and not module.check_mode:
        service.update(changes)
    host.save()
    module.exit_json(changed=bool(changes))


if __name__ == "__main__":
    main()

#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: wazuh_agent_plan
short_description: Decide, on the controller, what a Windows host needs for its Wazuh agent to match the desired state
version_added: 0.1.0
description:
  - The planner of the Windows edge pattern for the Wazuh agent (C(docs/wazuh-agent.md)). Reads the result of
    M(m1038.appcontrol.wazuh_agent_probe) and of M(m1038.appcontrol.wazuh_agent_config) and returns the plan - the
    ordered actions the role's apply tasks run (C(install), C(upgrade), C(downgrade), C(enroll), C(password_file),
    C(configure), C(restart), C(service), or C(blocked) for a host whose C(ossec.conf) must not be edited), each with
    its reason. It changes nothing anywhere.
  - Never plans a downgrade unless O(allow_downgrade). Plans an enrollment only when C(client.keys) holds no entry or
    the agent points at another manager. Plans one restart when the release, the keys or the configuration change.
  - With O(expect_compliant) it is the verify step - it fails unless the (fresh) probe needs no action, the release
    is O(version) and the agent is enrolled and connected, naming what the agent logged otherwise.
  - "Runs on the controller (C(delegate_to: localhost)); the decisions live in
    C(plugins/module_utils/_wazuh_agent_plan.py)."
author:
  - m1038.appcontrol contributors (@m1038-appcontrol)
attributes:
  check_mode:
    support: full
    description: >-
      Plans the same in check mode; C(changed) then says the host would change (never for a recorded probe or a
      blocked plan).
  diff_mode:
    support: full
    description: When the plan changes C(ossec.conf), the host's file against the edited one.
options:
  probe:
    description: The RV(m1038.appcontrol.wazuh_agent_probe#module:probe) result (or a recorded one).
    type: dict
    required: true
  recorded:
    description: The probe is a recording - the plan is the same, but C(changed) is always false.
    type: bool
    default: false
  host:
    description: Name used in messages (the inventory hostname).
    type: str
    default: ""
  version:
    description: Wazuh agent release wanted (C(4.14.7)).
    type: str
    required: true
  allow_downgrade:
    description: Replace a newer installed release with O(version).
    type: bool
    default: false
  manage_install:
    description: Plan install, upgrade and downgrade.
    type: bool
    default: true
  manage_enrollment:
    description: Plan the enrollment and the password file.
    type: bool
    default: true
  manage_config:
    description: Plan writing the edited C(ossec.conf).
    type: bool
    default: true
  manage_service:
    description: Plan the restart and a running, automatic service.
    type: bool
    default: true
  manager_address:
    description: The Wazuh manager the agent must report to.
    type: str
    required: true
  agent_name:
    description: Name the agent should be enrolled under; empty for the host name. A different name only warns.
    type: str
    default: ""
  groups:
    description: Agent groups of the enrollment (for messages and the agent-group check).
    type: str
    default: ""
  password_set:
    description: >-
      A registration password is set (the role writes it to C(authd.pass)); its value never reaches this module.
    type: bool
    default: false
  collection:
    description: Where the channels are collected from - V(agent_group) (checked on the agent) or V(ossec_conf).
    type: str
    choices: [agent_group, ossec_conf]
    default: agent_group
  channels:
    description: The channels the agent must collect, each C(location) and C(query).
    type: list
    elements: dict
    default: []
  config:
    description:
      - The M(m1038.appcontrol.wazuh_agent_config) result - C(dest), C(sha256), C(host_sha256), C(changes),
        C(warnings_found), C(error). Omit when the configuration is not managed.
    type: dict
  config_content:
    description: >-
      Text of the edited C(ossec.conf), for the diff (M(m1038.appcontrol.wazuh_agent_config) returns it in diff
      mode).
    type: str
  remote_dir:
    description: Host folder of the role's files - the staged MSI and its log (C(package)), C(staging), C(backup).
    type: str
    default: C:\ProgramData\m1038-appcontrol\wazuh_agent
  package_id:
    description: Name of the staged MSI (the role passes C(wazuh-agent-) and the first 16 digits of its SHA256).
    type: str
    default: ""
  after_install:
    description:
      - The second plan of a run, right after the MSI ran - plans the restart for the new release, and fails when the
        probe still finds a release to install.
    type: bool
    default: false
  enrolled_manager:
    description:
      - With O(after_install) - the manager the first plan found in C(ossec.conf), the one the agent's key was issued
        by (a downgrade reinstalls the product, and its fresh C(ossec.conf) no longer says it). Empty - read
        C(ossec.conf).
    type: str
    default: ""
  expect_compliant:
    description: Verify mode - fail unless the plan is empty, the release is O(version) and the agent is connected.
    type: bool
    default: false
seealso:
  - module: m1038.appcontrol.wazuh_agent_probe
  - module: m1038.appcontrol.wazuh_agent_config
"""

EXAMPLES = r"""
- name: Plan the Wazuh agent for this host
  m1038.appcontrol.wazuh_agent_plan:
    probe: "{{ agent.probe }}"
    host: "{{ inventory_hostname }}"
    version: 4.14.7
    manager_address: wazuh.corp.example.com
    groups: m1038-windows
    config: "{{ edited }}"
  delegate_to: localhost
  register: agent_plan
"""

RETURN = r"""
plan:
  description:
    - C(schema) (1), C(concern) (C(wazuh_agent)), C(host), C(recorded), C(compliant), C(action_ids), C(actions) (each
      C(id), C(reason) and its details), C(warnings), C(facts) (installed_version, target_version, install_dir,
      service_name, current_manager, wanted_manager, collection, connection, managed_channels, ossec_conf_error).
  returned: always
  type: dict
  sample:
    schema: 1
    concern: wazuh_agent
    host: ws-01
    recorded: false
    compliant: false
    action_ids: [upgrade, restart]
    actions:
      - id: upgrade
        reason: upgrade the Wazuh agent 4.9.2 to 4.14.7 (wazuh_agent_version)
        version: 4.14.7
        from: 4.9.2
        to: 4.14.7
        package:
          dir: C:\ProgramData\m1038-appcontrol\wazuh_agent\package
          msi: C:\ProgramData\m1038-appcontrol\wazuh_agent\package\wazuh-agent-0123456789abcdef.msi
          log: C:\ProgramData\m1038-appcontrol\wazuh_agent\package\wazuh-agent-0123456789abcdef.log
        keep: []
      - id: restart
        reason: restart WazuhSvc (upgrade) and make it automatic
        name: WazuhSvc
        reasons: [upgrade]
    warnings: []
    facts: {installed_version: 4.9.2, target_version: 4.14.7, current_manager: wazuh.corp.example.com}
needs:
  description: C(package) (an action installs from the MSI) and C(blocked) (why the host must not be changed, or null).
  returned: always
  type: dict
"""

import base64

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.m1038.appcontrol.plugins.module_utils._ossec_conf import decode_conf
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_agent_plan import (
    DEFAULT_REMOTE_DIR,
    Desired,
    Rendered,
    make_plan,
    needs,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_agent_probe import json_safe
from ansible_collections.m1038.appcontrol.plugins.module_utils._winedge import PlanError, ProbeError, text_diff

ARGUMENT_SPEC = {
    "probe": {"type": "dict", "required": True},
    "recorded": {"type": "bool", "default": False},
    "host": {"type": "str", "default": ""},
    "version": {"type": "str", "required": True},
    "allow_downgrade": {"type": "bool", "default": False},
    "manage_install": {"type": "bool", "default": True},
    "manage_enrollment": {"type": "bool", "default": True},
    "manage_config": {"type": "bool", "default": True},
    "manage_service": {"type": "bool", "default": True},
    "manager_address": {"type": "str", "required": True},
    "agent_name": {"type": "str", "default": ""},
    "groups": {"type": "str", "default": ""},
    "password_set": {"type": "bool", "default": False, "no_log": False},
    "collection": {"type": "str", "default": "agent_group", "choices": ["agent_group", "ossec_conf"]},
    "channels": {"type": "list", "elements": "dict", "default": []},
    "config": {"type": "dict"},
    "config_content": {"type": "str"},
    "remote_dir": {"type": "str", "default": DEFAULT_REMOTE_DIR},
    "package_id": {"type": "str", "default": ""},
    "after_install": {"type": "bool", "default": False},
    "enrolled_manager": {"type": "str", "default": ""},
    "expect_compliant": {"type": "bool", "default": False},
}


def rendered(config: dict | None) -> Rendered | None:
    if not config:
        return None
    return Rendered(
        path=config.get("dest") or "",
        host_sha256=config.get("host_sha256"),
        sha256=config.get("sha256"),
        changes=list(config.get("changes") or []),
        warnings=list(config.get("warnings_found") or []),
        error=config.get("error"),
    )


def config_diff(probe: dict, after: str, path: str, host: str) -> dict | None:
    """The host's ossec.conf against the edited one."""
    report = probe.get("ossec_conf") or {}
    if report.get("content_b64") is None:
        return None
    before = decode_conf(base64.b64decode(report["content_b64"]))
    return text_diff(before, after, f"{host}:{report['path']}", f"{path or 'ossec.conf'} (edited)")


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    try:
        desired = Desired(
            version=params["version"],
            allow_downgrade=params["allow_downgrade"],
            manage_install=params["manage_install"],
            manage_enrollment=params["manage_enrollment"],
            manage_config=params["manage_config"],
            manage_service=params["manage_service"],
            manager_address=params["manager_address"],
            agent_name=params["agent_name"],
            groups=params["groups"],
            password=params["password_set"],
            collection=params["collection"],
            channels=params["channels"],
            rendered=rendered(params["config"]) if params["manage_config"] else None,
            remote_dir=params["remote_dir"],
            package_id=params["package_id"],
            after_install=params["after_install"],
            enrolled_manager=params["enrolled_manager"] or None,
            verify=params["expect_compliant"],
        )
        plan = make_plan(params["probe"], desired, host=params["host"], recorded=params["recorded"])
    except (ProbeError, PlanError) as exc:
        module.fail_json(msg=json_safe(f"wazuh_agent_plan: {exc}"))

    for warning in plan.warnings:
        module.warn(json_safe(f"{params['host'] or 'wazuh_agent'}: {warning}"))
    needed = needs(plan)
    # A blocked host is not about to change: the role stops it before anything is applied.
    result = {"changed": plan.changed and needed["blocked"] is None, "plan": plan.to_dict(), "needs": needed}
    configure = next((a for a in plan.actions if a.id == "configure"), None)
    if module._diff and configure is not None and desired.rendered is not None and params["config_content"] is not None:
        diff = config_diff(params["probe"], params["config_content"], desired.rendered.path, params["host"] or "host")
        if diff is not None:
            result["diff"] = diff
    module.exit_json(**json_safe(result))


if __name__ == "__main__":
    main()

#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: sysmon_plan
short_description: Decide, on the controller, what a Windows host needs for Sysmon to match the desired state
version_added: 0.1.0
description:
  - The planner of the Windows edge pattern for Sysmon (C(docs/windows-edge-pattern.md)). Reads the result of
    M(m1038.appcontrol.sysmon_probe) and the rendered configuration of M(m1038.appcontrol.sysmon_config), and
    returns the plan - the ordered actions the role's apply tasks run (C(uninstall), C(install), C(upgrade),
    C(downgrade), C(configure), C(eventlog), C(service)), each with its reason. It changes nothing anywhere.
  - Refuses to plan a configuration whose C(schemaversion) is above what the Sysmon release that will run loads.
  - With O(expect_compliant) it is the verify step - it fails unless the (fresh) probe needs no action and the
    installed release is the requested one.
  - "Runs on the controller (C(delegate_to: localhost)); the decisions live in
    C(plugins/module_utils/_sysmon_plan.py)."
author:
  - m1038.appcontrol contributors (@m1038-appcontrol)
attributes:
  check_mode:
    support: full
    description: Plans the same in check mode; C(changed) then says the host would change.
  diff_mode:
    support: full
    description: >-
      When the plan loads the configuration (configure, install, upgrade, downgrade), the host's configuration file
      (when the probe read it) against the rendered one.
options:
  probe:
    description:
      - The RV(m1038.appcontrol.sysmon_probe#module:probe) result (or a recorded one).
    type: dict
    required: true
  recorded:
    description:
      - The probe is a recording, not this run's. The plan is the same, but C(changed) is always false
        (no host can change).
    type: bool
    default: false
  host:
    description:
      - Name used in messages (the inventory hostname).
    type: str
    default: ""
  state:
    description:
      - V(present) installs and configures; V(absent) uninstalls.
    type: str
    choices: [present, absent]
    default: present
  version:
    description:
      - Sysmon release wanted on the host (C(15.15)). An older one is upgraded; a newer one is left unless
        O(allow_downgrade). Required with O(state=present).
    type: str
    default: ""
  allow_downgrade:
    description:
      - Replace a newer installed release with O(version).
    type: bool
    default: false
  manage_install:
    description:
      - Plan install, upgrade and uninstall.
    type: bool
    default: true
  manage_config:
    description:
      - Plan loading the rendered configuration.
    type: bool
    default: true
  manage_eventlog:
    description:
      - Plan the Sysmon/Operational log's maximum size.
    type: bool
    default: true
  manage_service:
    description:
      - Plan starting the service and making it automatic.
    type: bool
    default: true
  eventlog_max_size:
    description:
      - Wanted maximum size of the Sysmon/Operational log, in bytes.
    type: int
    default: 268435456
  config:
    description:
      - The rendered configuration - C(path) (controller), C(schemaversion), C(sha256), C(sha1), C(md5) (as
        M(m1038.appcontrol.sysmon_config) returns them). Omit when the configuration is not managed.
    type: dict
  remote_dir:
    description:
      - Host folder of the role's files - the pushed configuration (C(sysmonconfig.xml)), the previous one and the
        previous binary (subfolder C(backup)), and the staged package (subfolder C(package)). Every command line
        in the plan uses it.
    type: str
    default: C:\ProgramData\m1038-appcontrol\sysmon
  package_id:
    description:
      - Name of the staged package on the host (the role passes C(Sysmon-) and the first 16 digits of its SHA256).
        Empty when no package is given; an install then plans no command and RV(needs) says a package is needed.
    type: str
    default: ""
  config_content:
    description:
      - Text of the rendered configuration, for the diff (M(m1038.appcontrol.sysmon_config) returns it in diff mode).
    type: str
  binaries:
    description:
      - Binary name by native processor architecture.
    type: dict
    default: {AMD64: Sysmon64.exe, ARM64: Sysmon64a.exe, x86: Sysmon.exe}
  expect_compliant:
    description:
      - Verify mode - fail when the plan is not empty or the installed release is not O(version).
    type: bool
    default: false
seealso:
  - module: m1038.appcontrol.sysmon_probe
  - module: m1038.appcontrol.sysmon_config
"""

EXAMPLES = r"""
- name: Plan Sysmon for this host
  m1038.appcontrol.sysmon_plan:
    probe: "{{ sysmon_state.probe }}"
    host: "{{ inventory_hostname }}"
    version: "15.15"
    eventlog_max_size: 268435456
    config:
      path: "{{ rendered.dest }}"
      schemaversion: "{{ rendered.schemaversion }}"
      sha256: "{{ rendered.sha256 }}"
      sha1: "{{ rendered.sha1 }}"
      md5: "{{ rendered.md5 }}"
  delegate_to: localhost
  register: sysmon_plan

- name: Show what will be done
  ansible.builtin.debug:
    msg: "{{ sysmon_plan.plan.actions }}"
"""

RETURN = r"""
plan:
  description:
    - C(schema) (1), C(concern) (C(sysmon)), C(host), C(recorded), C(compliant), C(action_ids), C(actions) (each
      C(id), C(reason) and its details), C(warnings), C(facts) (architecture, binary_name, service_name,
      installed_version, target_version, max_schema, config_loaded, ...).
  returned: always
  type: dict
  sample:
    schema: 1
    concern: sysmon
    host: ws-01
    recorded: false
    compliant: false
    action_ids: [configure]
    actions:
      - id: configure
        reason: loaded configuration SHA256=0a1b2c3d4e5f... is not the rendered 9f8e7d6c5b4a...
        keep:
          src: C:\Windows\sysmon.xml
          dest: C:\ProgramData\m1038-appcontrol\sysmon\backup\sysmonconfig.previous.xml
        push:
          src: /srv/m1038/sysmon/ws-01/sysmonconfig.xml
          dest: C:\ProgramData\m1038-appcontrol\sysmon\sysmonconfig.xml
        argv:
          - C:\Windows\Sysmon64.exe
          - -accepteula
          - -c
          - C:\ProgramData\m1038-appcontrol\sysmon\sysmonconfig.xml
        restore_argv:
          - C:\Windows\Sysmon64.exe
          - -accepteula
          - -c
          - C:\ProgramData\m1038-appcontrol\sysmon\backup\sysmonconfig.previous.xml
    warnings: []
    facts: {architecture: AMD64, binary_name: Sysmon64.exe, service_name: Sysmon64, installed_version: "15.15"}
needs:
  description: C(eula) (an action runs the Sysmon binary) and C(package) (an action installs from the package).
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.m1038.appcontrol.plugins.module_utils._sysmon_plan import (
    DEFAULT_REMOTE_DIR,
    Desired,
    RenderedConfig,
    config_diff,
    make_plan,
    needs,
    shows_config_diff,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._sysmon_schema import BINARIES
from ansible_collections.m1038.appcontrol.plugins.module_utils._winedge import PlanError, ProbeError

ARGUMENT_SPEC = {
    "probe": {"type": "dict", "required": True},
    "recorded": {"type": "bool", "default": False},
    "host": {"type": "str", "default": ""},
    "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
    "version": {"type": "str", "default": ""},
    "allow_downgrade": {"type": "bool", "default": False},
    "manage_install": {"type": "bool", "default": True},
    "manage_config": {"type": "bool", "default": True},
    "manage_eventlog": {"type": "bool", "default": True},
    "manage_service": {"type": "bool", "default": True},
    "eventlog_max_size": {"type": "int", "default": 268435456},
    "config": {"type": "dict"},
    "remote_dir": {"type": "str", "default": DEFAULT_REMOTE_DIR},
    "package_id": {"type": "str", "default": ""},
    "config_content": {"type": "str"},
    "binaries": {"type": "dict", "default": dict(BINARIES)},
    "expect_compliant": {"type": "bool", "default": False},
}
CONFIG_KEYS = ("path", "schemaversion", "sha256")


def rendered_config(params: dict) -> RenderedConfig | None:
    config = params["config"]
    if not config:
        return None
    missing = [key for key in CONFIG_KEYS if not config.get(key)]
    if missing:
        raise PlanError(f"config lacks {', '.join(missing)} (pass what sysmon_config returned)")
    return RenderedConfig(
        path=config["path"],
        schemaversion=str(config["schemaversion"]),
        sha256=str(config["sha256"]).lower(),
        sha1=str(config.get("sha1") or "").lower(),
        md5=str(config.get("md5") or "").lower(),
        content=params["config_content"],
    )


def main():
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        required_if=[("state", "present", ("version",))],
        supports_check_mode=True,
    )
    params = module.params
    try:
        desired = Desired(
            state=params["state"],
            version=params["version"],
            allow_downgrade=params["allow_downgrade"],
            manage_install=params["manage_install"],
            manage_config=params["manage_config"],
            manage_eventlog=params["manage_eventlog"],
            manage_service=params["manage_service"],
            eventlog_max_size=params["eventlog_max_size"],
            config=rendered_config(params),
            binaries=params["binaries"],
            remote_dir=params["remote_dir"],
            package_id=params["package_id"],
            strict_version=params["expect_compliant"],
        )
        plan = make_plan(params["probe"], desired, host=params["host"], recorded=params["recorded"])
        if params["expect_compliant"]:
            plan.require_compliant()
    except (ProbeError, PlanError) as exc:
        module.fail_json(msg=f"sysmon_plan: {exc}")

    for warning in plan.warnings:
        module.warn(f"{params['host'] or 'sysmon'}: {warning}")
    result = {"changed": plan.changed, "plan": plan.to_dict(), "needs": needs(plan)}
    if module._diff and desired.config is not None and shows_config_diff(plan):
        diff = config_diff(params["probe"], desired.config, params["host"] or "host")
        if diff is not None:
            result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()

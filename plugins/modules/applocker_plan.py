#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: applocker_plan
short_description: Decide, on the controller, what a Windows host or a domain GPO needs for its AppLocker policy
version_added: 0.1.0
description:
  - The planner of the Windows edge pattern for AppLocker (C(docs/windows-edge-pattern.md), C(docs/applocker.md)).
    Reads the result of M(m1038.appcontrol.applocker_probe) and the policy to have (a variant rendered by
    M(m1038.appcontrol.applocker_policy), or the empty policy that clears it) and returns the plan - the ordered
    actions the role's apply tasks run (C(policy), C(eventlog), C(service)), each with its reason. It changes nothing
    anywhere.
  - The host's policy and the file are compared by meaning (rule and collection order, whitespace, the case of Ids,
    the encoding and default attributes do not count), so a compliant host plans nothing. A C(policy) action sets the
    whole policy without C(-Merge) (a merge keeps the target's EnforcementMode) and names the collections whose mode
    changes.
  - Refuses to start the Application Identity service while the policy the host will run enforces a collection that
    has no Allow rule.
  - The file to push is validated against the AppLocker policy XSD here too, before anything leaves the controller.
  - With O(expect_compliant) it is the verify step - it fails unless the (fresh) probe needs no action.
  - "Runs on the controller (C(delegate_to: localhost)); the decisions live in
    C(plugins/module_utils/_applocker_plan.py)."
author:
  - m1038.appcontrol contributors (@m1038-appcontrol)
requirements:
  - lxml (XSD validation), on the controller
attributes:
  check_mode:
    support: full
    description: Plans the same in check mode; C(changed) then says the host would change.
  diff_mode:
    support: full
    description: >-
      When the policy changes, the host's policy against the file, both in their normal form (the semantic difference).
options:
  probe:
    description:
      - The RV(m1038.appcontrol.applocker_probe#module:probe) result (or a recorded one).
    type: dict
    required: true
  recorded:
    description:
      - The probe is a recording, not this run's. The plan is the same, but C(changed) is always false.
    type: bool
    default: false
  host:
    description:
      - Name used in messages (the inventory hostname, or the GPO).
    type: str
    default: ""
  target:
    description:
      - V(local) compares and sets the host's local policy (C(Get-AppLockerPolicy -Local)); V(domain) the GPO O(ldap)
        names, probed on a management host.
    type: str
    choices: [local, domain]
    default: local
  ldap:
    description:
      - LDAP path of the GPO (C(LDAP://DC/CN={GUID},CN=Policies,CN=System,DC=...)). Required with O(target=domain).
    type: str
    default: ""
  manage_policy:
    description:
      - Plan setting the policy.
    type: bool
    default: true
  manage_eventlog:
    description:
      - Plan the AppLocker event logs' maximum sizes.
    type: bool
    default: true
  manage_service:
    description:
      - Plan starting the Application Identity service and making it automatic.
    type: bool
    default: true
  policy:
    description:
      - The policy to have - C(variant) (V(audit), V(enforce) or V(clear)), C(path) (controller path of the file to
        push) and C(content) (its text, as M(m1038.appcontrol.applocker_policy) returns it with C(return_policies)).
        Required when O(manage_policy) is true.
    type: dict
  eventlog_max_sizes:
    description:
      - Wanted maximum size in bytes per AppLocker event log channel (at least 1 MiB, a multiple of 64 KiB).
    type: dict
    default: {}
  service_name:
    description:
      - Name of the Application Identity service.
    type: str
    default: AppIDSvc
  remote_dir:
    description:
      - Folder of the role's files on the host (or the management host) - the pushed policy (C(policy.xml)) and the
        previous one (C(backup\policy.previous.xml)).
    type: str
    default: C:\ProgramData\m1038-appcontrol\applocker
  expect_compliant:
    description:
      - Verify mode - fail when the plan is not empty.
    type: bool
    default: false
seealso:
  - module: m1038.appcontrol.applocker_probe
  - module: m1038.appcontrol.applocker_policy
"""

EXAMPLES = r"""
- name: Plan AppLocker for this host
  m1038.appcontrol.applocker_plan:
    probe: "{{ applocker_state.probe }}"
    host: "{{ inventory_hostname }}"
    policy:
      variant: audit
      path: "{{ rendered.files.audit }}"
      content: "{{ rendered.policies.audit }}"
    eventlog_max_sizes:
      Microsoft-Windows-AppLocker/EXE and DLL: 67108864
  delegate_to: localhost
  register: applocker_plan

- name: Show the collections whose enforcement mode changes
  ansible.builtin.debug:
    msg: "{{ applocker_plan.mode_changes }}"
"""

RETURN = r"""
plan:
  description:
    - C(schema) (1), C(concern) (C(applocker)), C(host), C(recorded), C(compliant), C(action_ids), C(actions) (each
      C(id), C(reason) and its details), C(warnings), C(facts) (target, policy_source, variant, service state,
      mode_changes, ...).
  returned: always
  type: dict
  sample:
    schema: 1
    concern: applocker
    host: ws-01
    recorded: false
    compliant: false
    action_ids: [policy, service]
    actions:
      - id: policy
        reason: "the local policy is not the audit policy (Exe: EnforcementMode NotConfigured -> AuditOnly; ...)"
        target: local
        ldap: null
        variant: audit
        mode_changes: {Exe: {before: NotConfigured, after: AuditOnly}}
        keep:
          dest: C:\ProgramData\m1038-appcontrol\applocker\backup\policy.previous.xml
          parameters: {Path: C:\ProgramData\m1038-appcontrol\applocker\backup\policy.previous.xml, Ldap: ""}
        push:
          src: /srv/m1038/applocker/hosts/ws-01/audit.xml
          dest: C:\ProgramData\m1038-appcontrol\applocker\policy.xml
        parameters: {PolicyFile: C:\ProgramData\m1038-appcontrol\applocker\policy.xml, Ldap: ""}
        restore_parameters: {PolicyFile: C:\ProgramData\m1038-appcontrol\applocker\backup\policy.previous.xml, Ldap: ""}
      - id: service
        reason: service AppIDSvc is stopped, start mode manual; wanted running and automatic
        name: AppIDSvc
        start_mode: auto
        state: started
    warnings: []
    facts: {target: local, policy_source: local, variant: audit, service_name: AppIDSvc}
mode_changes:
  description: Collections whose EnforcementMode the plan changes, each C({before, after}); empty when none.
  returned: always
  type: dict
  sample: {Exe: {before: AuditOnly, after: Enabled}}
policy_changes:
  description: One line per semantic difference between the host's policy and the file (empty when equal).
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_plan import (
    DEFAULT_REMOTE_DIR,
    SERVICE,
    Desired,
    RenderedPolicy,
    make_plan,
    policy_diff,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_xml import lxml_available, xsd_errors
from ansible_collections.m1038.appcontrol.plugins.module_utils._winedge import PlanError, ProbeError

ARGUMENT_SPEC = {
    "probe": {"type": "dict", "required": True},
    "recorded": {"type": "bool", "default": False},
    "host": {"type": "str", "default": ""},
    "target": {"type": "str", "default": "local", "choices": ["local", "domain"]},
    "ldap": {"type": "str", "default": ""},
    "manage_policy": {"type": "bool", "default": True},
    "manage_eventlog": {"type": "bool", "default": True},
    "manage_service": {"type": "bool", "default": True},
    "policy": {"type": "dict"},
    "eventlog_max_sizes": {"type": "dict", "default": {}},
    "service_name": {"type": "str", "default": SERVICE},
    "remote_dir": {"type": "str", "default": DEFAULT_REMOTE_DIR},
    "expect_compliant": {"type": "bool", "default": False},
}
POLICY_KEYS = ("variant", "path", "content")
MAX_ERRORS_SHOWN = 10


def rendered_policy(params: dict) -> RenderedPolicy | None:
    policy = params["policy"]
    if not params["manage_policy"]:
        return None
    if not policy:
        raise PlanError("manage_policy is true but no policy was given (variant, path, content)")
    missing = [key for key in POLICY_KEYS if not isinstance(policy.get(key), str) or not policy.get(key)]
    if missing:
        raise PlanError(f"policy lacks {', '.join(missing)} (pass the variant, its file and its text)")
    errors = xsd_errors(policy["content"], policy["path"])
    if errors:
        raise PlanError(
            f"{policy['path']} is not valid against the AppLocker policy XSD: " + "; ".join(errors[:MAX_ERRORS_SHOWN])
        )
    return RenderedPolicy(policy["variant"], policy["path"], policy["content"])


def sizes(params: dict) -> dict:
    result = {}
    for channel, size in params["eventlog_max_sizes"].items():
        try:
            result[str(channel)] = int(size)
        except (TypeError, ValueError):
            raise PlanError(f"eventlog_max_sizes[{channel!r}]: {size!r} is not a number of bytes") from None
    return result


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    if params["manage_policy"] and not lxml_available():
        module.fail_json(msg=missing_required_lib("lxml"))
    try:
        desired = Desired(
            target=params["target"],
            ldap=params["ldap"],
            manage_policy=params["manage_policy"],
            manage_eventlog=params["manage_eventlog"],
            manage_service=params["manage_service"],
            policy=rendered_policy(params),
            eventlog_max_sizes=sizes(params),
            service_name=params["service_name"],
            remote_dir=params["remote_dir"],
        )
        plan = make_plan(params["probe"], desired, host=params["host"], recorded=params["recorded"])
        if params["expect_compliant"]:
            plan.require_compliant()
        diff = policy_diff(params["probe"], desired, params["host"]) if module._diff and plan.has("policy") else None
    except (ProbeError, PlanError) as exc:
        module.fail_json(msg=f"applocker_plan: {exc}")

    for warning in plan.warnings:
        module.warn(f"{params['host'] or 'applocker'}: {warning}")
    policy = next((a for a in plan.actions if a.id == "policy"), None)
    result = {
        "changed": plan.changed,
        "plan": plan.to_dict(),
        "mode_changes": plan.facts["mode_changes"],
        "policy_changes": policy.details["changes"] if policy else [],
    }
    if diff is not None:
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()

#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: applocker_rollout_health
short_description: Judge an AppLocker rollout batch's health on the controller and record it in the rollout report
version_added: 0.1.0
description:
  - After each batch of C(playbooks/applocker_mode.yml) (C(docs/applocker-rollout.md)). O(phase=judge) takes what the
    health probes read on each host of the batch (O(hosts)) and judges every host - admin connection, AppIDSvc
    running and automatic, the effective policy's modes as the plan intends, no burst of AppLocker blocks since the
    switch - and the batch against the plan's C(max_fail_percentage); a failing host that answers goes back to audit,
    one that does not is reported for a rollback by hand; under a domain GPO the verdict is whether to flip it back.
  - O(phase=rolled_back) records whether each rollback was applied.
  - Each phase rewrites the rollout report (O(report), written by M(m1038.appcontrol.applocker_rollout_plan)) whole,
    through a temporary file and an atomic rename.
author:
  - m1038.appcontrol contributors (@m1038-appcontrol)
attributes:
  check_mode:
    support: full
    description: Judges the same and writes nothing.
  diff_mode:
    support: none
    description: The report is evidence, not configuration.
  platform:
    support: full
    platforms: posix
    description: Runs on the controller.
options:
  report:
    description: Path of the rollout report (C(rollout-<start>.json)).
    type: path
    required: true
  phase:
    description: V(judge) a batch, or record that its rollbacks were V(rolled_back).
    type: str
    choices: [judge, rolled_back]
    default: judge
  hosts:
    description:
      - V(judge) - host to C(connection_ok) (bool), C(apply_error) (the role's message when it failed), C(probe) (the
        applocker probe result after the switch) and C(events) (the applocker events probe result since the switch).
      - V(rolled_back) - host to null (the rollback was applied) or the error.
    type: dict
    required: true
  max_blocked:
    description: More AppLocker blocks than this on a host since its switch are a burst.
    type: int
    default: 0
  blocked_event_ids:
    description: The events counted as blocks.
    type: list
    elements: int
    default: [8004, 8007]
  now:
    description: The time recorded (ISO 8601 UTC); defaults to now.
    type: str
seealso:
  - module: m1038.appcontrol.applocker_rollout_plan
  - module: m1038.appcontrol.applocker_events_probe
"""

EXAMPLES = r"""
- name: Judge the batch
  m1038.appcontrol.applocker_rollout_health:
    report: "{{ rollout_plan.report }}"
    hosts:
      ws-01:
        connection_ok: true
        probe: "{{ hostvars['ws-01'].health_probe.probe }}"
        events: "{{ hostvars['ws-01'].health_events.probe }}"
  register: rollout_health
"""

RETURN = r"""
verdict:
  description:
    - V(judge) - C(healthy), C(failed), C(failed_percent), C(continue), C(rollback) (hosts to set back to audit),
      C(manual_rollback), C(flip_back) (domain), C(verdicts) (per host C(checks), C(reasons), C(action),
      C(rollback_modes)) and C(report) (a line per failed host).
  returned: always
  type: dict
status:
  description: The rollout's status after this phase (V(running), V(stopped), V(complete)).
  returned: always
  type: str
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_core import AppLockerError
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_readiness_events import format_time
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_rollout_health import HealthThresholds
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_rollout_report import (
    GENERATOR,
    ReportError,
    judge,
    read_json,
    record_batch,
    record_rollbacks,
    render,
    write_json,
)

ARGUMENT_SPEC = {
    "report": {"type": "path", "required": True},
    "phase": {"type": "str", "choices": ["judge", "rolled_back"], "default": "judge"},
    "hosts": {"type": "dict", "required": True},
    "max_blocked": {"type": "int", "default": 0},
    "blocked_event_ids": {"type": "list", "elements": "int", "default": [8004, 8007]},
    "now": {"type": "str"},
}


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    if params["max_blocked"] < 0:
        module.fail_json(msg=f"max_blocked: {params['max_blocked']} must be 0 or more")
    now = params["now"] or format_time(time.time())
    verdict = {}
    try:
        report = read_json(params["report"])
        if report.get("generator") != GENERATOR:
            raise ReportError(f"{params['report']}: not a rollout report (generator {report.get('generator')!r})")
        if params["phase"] == "judge":
            thresholds = HealthThresholds(params["max_blocked"], tuple(params["blocked_event_ids"]))
            verdict = judge(params["hosts"], report["plan"], thresholds)
            updated = record_batch(report, verdict, now)
        else:
            updated = record_rollbacks(report, params["hosts"], now)
        if not module.check_mode:
            write_json(params["report"], render(updated), module.atomic_move, module.tmpdir)
    except (ReportError, AppLockerError, ValueError) as exc:
        module.fail_json(msg=f"report {params['report']}: {exc}")
    module.exit_json(changed=True, verdict=verdict, status=updated["status"])


if __name__ == "__main__":
    main()

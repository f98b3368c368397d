#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: applocker_rollout_plan
short_description: Plan a staged AppLocker switch (which hosts, which batch, who is held back and why) on the controller
version_added: 0.1.0
description:
  - The planning step of C(playbooks/applocker_mode.yml) (C(docs/applocker-rollout.md)). Reads the readiness report
    (O(readiness_file), C(readiness.json) of M(m1038.appcontrol.applocker_readiness)) itself, so the report never
    travels through a registered variable.
  - Before it trusts a C(ready) host it vets it against what the rollout's own read-only probes saw (O(hosts)) and
    against earlier rollouts' rollbacks in O(report_dir); then it plans - raising a collection to
    enforce needs evidence unless the host is forced, lowering never does and goes first in one batch, switching
    hosts go in a canary batch and growing batches; under a domain GPO the GPO flips once when the evidence gate
    passes.
  - Writes a new rollout report (C(rollout-<start>.json) in O(report_dir)) when the plan changes anything; the
    health checks after each batch extend it (M(m1038.appcontrol.applocker_rollout_health)).
author:
  - m1038.appcontrol contributors (@m1038-appcontrol)
attributes:
  check_mode:
    support: full
    description: Plans the same and writes no report.
  diff_mode:
    support: none
    description: The plan is the result; nothing on a host is changed here.
  platform:
    support: full
    platforms: posix
    description: Runs on the controller.
options:
  hosts:
    description:
      - What the rollout's read-only probes saw on each targeted host, host to C(modes) (collection to mode now, from
        the filter C(m1038.appcontrol.applocker_probe_modes) over its applocker probe), C(events) (its
        M(m1038.appcontrol.applocker_events_probe) result over the readiness window, or null) and C(error) (why its
        probe failed, or null).
      - A host with an C(error) is listed and left out of the plan.
    type: dict
    required: true
  target_modes:
    description:
      - Rule collection (C(Exe), C(Msi), C(Script), C(Dll), C(Appx)) to the mode the rollout sets, C(enforce), C(audit)
        or C(not_configured); the collections it does not name keep the mode each host runs now.
    type: dict
    required: true
  readiness_file:
    description:
      - The C(readiness.json) of M(m1038.appcontrol.applocker_readiness), read here. Required when O(target_modes)
        raises a collection to C(enforce); going back to audit needs none.
    type: path
  channel_evidence:
    description:
      - Require C(events) from each host's own AppLocker log before trusting its readiness - a host raised to enforce
        without them, or whose log of the collection is missing, disabled or holds would-be-blocked events the report
        did not count, is held back (a Wazuh agent that does not forward the AppLocker channels looks ready).
    type: bool
    default: true
  forced:
    description: Hosts that switch without evidence.
    type: list
    elements: str
    default: []
  held:
    description: Host to the operator's reason to keep it back.
    type: dict
    default: {}
  canary:
    description: Size of the first batch, a number of hosts or V(N%) of the switching hosts.
    type: raw
    default: 1
  growth:
    description: Each later batch is this many times the previous one.
    type: float
    default: 2.0
  max_batch:
    description: Largest batch, a number of hosts or V(N%); unset for no cap.
    type: raw
  max_fail_percentage:
    description: A batch whose failed share is above this stops the rollout (Ansible's rule).
    type: int
    default: 0
  partial:
    description: Judge readiness per collection (a host ready for Exe but not Script switches Exe).
    type: bool
    default: false
  scope:
    description: V(local) switches each host's local policy in batches; V(domain) flips one GPO.
    type: str
    choices: [local, domain]
    default: local
  gpo_modes:
    description: The GPO's mode per collection now (V(domain); filter C(m1038.appcontrol.applocker_probe_modes) of the
      management host's probe).
    type: dict
    default: {}
  gpo_min_ready_percent:
    description: Share of the GPO's hosts that must be ready before the GPO is raised to enforce.
    type: float
    default: 100.0
  report_dir:
    description: Controller folder of the rollout reports (earlier ones are read for rollbacks).
    type: path
    required: true
  started:
    description: The rollout's start time (ISO 8601 UTC); defaults to now.
    type: str
seealso:
  - module: m1038.appcontrol.applocker_rollout_health
  - module: m1038.appcontrol.applocker_readiness
"""

EXAMPLES = r"""
- name: Plan the switch of Exe and Script to enforce
  m1038.appcontrol.applocker_rollout_plan:
    target_modes: {Exe: enforce, Script: enforce}
    readiness_file: "{{ m1038_readiness_dir }}/readiness.json"
    hosts:
      ws-01: {modes: {Exe: audit, Script: audit}, events: "{{ hostvars['ws-01'].events_probe.probe }}", error: null}
    report_dir: "{{ m1038_output_dir }}/rollout"
  register: rollout_plan
"""

RETURN = r"""
plan:
  description: The plan (C(serial), C(order), C(batches), C(hosts) with each host's C(action), C(held_back) with the
    reasons, C(gpo)); C(docs/applocker-rollout.md).
  returned: always
  type: dict
apply:
  description:
    - Per host that switches or lowers, C(modes) (every collection's mode to set), C(raise), C(lower), C(batch).
  returned: always
  type: dict
gpo_apply:
  description: The GPO's modes to set (every collection) when the plan flips it, else empty.
  returned: always
  type: dict
evidence_holds:
  description: Per host, the reasons the vetting added to its readiness (C(_applocker_rollout_evidence)).
  returned: always
  type: dict
not_probed:
  description: The hosts left out because their probe failed, with the reason.
  returned: always
  type: dict
lines:
  description: The plan as lines a person reads.
  returned: always
  type: list
  elements: str
report:
  description: Path of the rollout report written (or that would be written in check mode); null when nothing changes.
  returned: always
  type: str
"""

import os
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_core import AppLockerError
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_readiness_events import (
    EvidenceError,
    format_time,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_rollout_evidence import (
    apply_modes,
    channel_evidence,
    vet_readiness,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_rollout_plan import (
    MAX_LISTED,
    BatchPolicy,
    RolloutError,
    plan_rollout,
    target,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_rollout_report import (
    ReportError,
    new_report,
    previous_rollbacks,
    read_json,
    read_reports,
    render,
    report_name,
    write_json,
)

ARGUMENT_SPEC = {
    "hosts": {"type": "dict", "required": True},
    "target_modes": {"type": "dict", "required": True},
    "readiness_file": {"type": "path"},
    "channel_evidence": {"type": "bool", "default": True},
    "forced": {"type": "list", "elements": "str", "default": []},
    "held": {"type": "dict", "default": {}},
    "canary": {"type": "raw", "default": 1},
    "growth": {"type": "float", "default": 2.0},
    "max_batch": {"type": "raw"},
    "max_fail_percentage": {"type": "int", "default": 0},
    "partial": {"type": "bool", "default": False},
    "scope": {"type": "str", "choices": ["local", "domain"], "default": "local"},
    "gpo_modes": {"type": "dict", "default": {}},
    "gpo_min_ready_percent": {"type": "float", "default": 100.0},
    "report_dir": {"type": "path", "required": True},
    "started": {"type": "str"},
}


def _size(value):
    """canary and max_batch arrive as text from a template: digits are a host count."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return value


def _listed(names: list[str]) -> str:
    shown = ", ".join(names[:MAX_LISTED])
    return shown + (f" and {len(names) - MAX_LISTED} more" if len(names) > MAX_LISTED else "")


def plan_lines(plan: dict, not_probed: dict) -> list[str]:
    summary = plan["summary"]
    modes = ", ".join(f"{c} {m}" for c, m in plan["target_modes"].items())
    lines = [
        f"{plan['scope']} rollout to {modes} ({plan['direction']}): {summary['hosts']} hosts - {summary['switch']} "
        f"switch, {summary['lower']} go back, {summary['held_back']} held back, {summary['unchanged']} unchanged; "
        f"max_fail_percentage {plan['max_fail_percentage']}"
    ]
    for index, batch in enumerate(plan["batches"]):
        lines.append(f"batch {index} ({batch['name']}, {len(batch['hosts'])} hosts): {_listed(batch['hosts'])}")
    gpo = plan.get("gpo")
    if gpo:
        if gpo["flip"]:
            changes = [f"{c} -> enforce" for c in gpo["raise"]] + [f"{c} -> {gpo['modes'][c]}" for c in gpo["lower"]]
            lines.append(f"GPO: flip once ({', '.join(changes)}), then check {len(gpo['verify_hosts'])} hosts")
        else:
            lines.append("GPO: no flip")
        lines.extend(f"GPO gate: {reason}" for reason in gpo["gate"]["reasons"])
    for entry in plan["held_back"][:MAX_LISTED]:
        lines.append(f"held back: {entry['host']} ({', '.join(entry['collections'])}): {'; '.join(entry['reasons'])}")
    if len(plan["held_back"]) > MAX_LISTED:
        lines.append(f"held back: and {len(plan['held_back']) - MAX_LISTED} more (plan.held_back)")
    for host, reason in list(not_probed.items())[:MAX_LISTED]:
        lines.append(f"not probed, left out: {host}: {reason}")
    if not plan["batches"] and not (gpo and gpo["flip"]):
        lines.append("nothing to do")
    return lines


def _seen(params: dict) -> tuple[dict, dict]:
    """The probed hosts' modes, and the hosts whose probe failed."""
    current, not_probed = {}, {}
    for host, value in params["hosts"].items():
        if not isinstance(value, dict):
            raise RolloutError(f"hosts[{host!r}]: expected {{modes, events, error}}, got {value!r}")
        if value.get("error"):
            not_probed[host] = str(value["error"])
        elif not isinstance(value.get("modes"), dict):
            raise RolloutError(f"hosts[{host!r}].modes: {value.get('modes')!r} is not collection -> mode")
        else:
            current[host] = value["modes"]
    return current, not_probed


def _readiness(params: dict, raises: list[str]) -> dict:
    path = params["readiness_file"]
    if not path:
        if raises and not params["forced"]:
            raise RolloutError(
                f"readiness_file: none given, but target_modes raises {', '.join(raises)} to enforce; name the "
                "readiness report (playbooks/readiness.yml writes readiness.json) or force hosts by name"
            )
        return {}
    try:
        readiness = read_json(path)
    except ReportError as exc:
        raise RolloutError(f"readiness_file: {exc}") from None
    if readiness.get("generator") != "m1038.appcontrol.applocker_readiness":
        raise RolloutError(f"readiness_file: {path} is not a readiness report (applocker_readiness)")
    return readiness


def _evidence(params: dict, hosts: list[str], raises: list[str]) -> dict | None:
    if not (params["channel_evidence"] and raises):
        return None
    evidence = {}
    for host in hosts:
        events = params["hosts"][host].get("events")
        if events is not None:
            try:
                evidence[host] = channel_evidence(events, host)
            except EvidenceError as exc:
                raise RolloutError(f"hosts[{host!r}].events: {exc}") from None
    return evidence


def build(params: dict) -> dict:
    """Parameters in, the vetted plan out (pure but for reading the readiness file and earlier reports)."""
    goal = target(params["target_modes"])
    current, not_probed = _seen(params)
    hosts = list(current)
    raises = [c for c, m in goal.items() if m == "enforce"]
    readiness = _readiness(params, raises)
    evidence = _evidence(params, hosts, raises)
    reports = read_reports(params["report_dir"]) if os.path.isdir(params["report_dir"]) else []
    vetted, holds = vet_readiness(
        readiness.get("hosts") or {},
        goal,
        current,
        evidence=evidence,
        rollbacks=previous_rollbacks(reports),
        evidence_end=(readiness.get("window") or {}).get("end"),
    )
    policy = BatchPolicy(
        canary=_size(params["canary"]),
        growth=params["growth"],
        max_batch=_size(params["max_batch"]),
        max_fail_percentage=params["max_fail_percentage"],
    )
    plan = plan_rollout(
        hosts,
        goal,
        {"hosts": vetted},
        current_modes=current,
        forced=params["forced"],
        held=params["held"],
        batches=policy,
        scope=params["scope"],
        gpo_modes=params["gpo_modes"],
        gpo_min_ready_percent=params["gpo_min_ready_percent"],
        partial=params["partial"],
    ).to_dict()
    apply = {}
    for host, entry in plan["hosts"].items():
        if params["scope"] == "local" and entry["action"] in ("switch", "lower"):
            apply[host] = {
                "modes": apply_modes(current.get(host) or {}, entry["modes"]),
                "raise": entry["raise"],
                "lower": entry["lower"],
                "batch": entry["batch"],
            }
    gpo = plan.get("gpo") or {}
    gpo_apply = apply_modes(params["gpo_modes"], gpo["modes"]) if gpo.get("flip") else {}
    return {"plan": plan, "apply": apply, "gpo_apply": gpo_apply, "evidence_holds": holds, "not_probed": not_probed}


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    try:
        result = build(params)
    except (RolloutError, ReportError, AppLockerError, EvidenceError) as exc:
        module.fail_json(msg=str(exc))
    plan = result["plan"]
    acts = bool(plan["batches"]) or bool((plan.get("gpo") or {}).get("flip"))
    started = params["started"] or format_time(time.time())
    path = os.path.join(params["report_dir"], report_name(started)) if acts else None
    if acts and not module.check_mode:
        report = new_report(
            plan,
            started,
            readiness_file=params["readiness_file"],
            not_probed=result["not_probed"],
            vetted=result["evidence_holds"],
        )
        try:
            if os.path.exists(path):
                raise ReportError(f"{path} exists already: one report per rollout start")
            write_json(path, render(report), module.atomic_move, module.tmpdir)
        except (ReportError, OSError) as exc:
            module.fail_json(msg=f"report_dir: writing the rollout report failed: {exc}")
    module.exit_json(
        changed=acts,
        lines=plan_lines(plan, result["not_probed"]),
        report=path,
        started=started,
        **result,
    )


if __name__ == "__main__":
    main()

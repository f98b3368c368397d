# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The staged rollout's plan: which hosts switch which collections, in which batch, and who is held back why.

Pure: hosts, the target mode per collection, the readiness report (``applocker_readiness``) and
what each host runs now go in; a ``RolloutPlan`` comes out (``to_dict()`` is what the playbook
``playbooks/applocker_mode.yml`` prints in check mode and wires into ``serial``). Rules:

- **Raising** a collection to ``enforce`` needs evidence: the host must be ``ready`` in the
  readiness report (per collection with ``partial=True``), unless it is **forced** by name.
  A host without evidence, not ready or missing from the report is **held back** with the reasons.
- **Lowering** (enforce -> audit, anything -> not_configured) and audit from not_configured block
  nothing: always allowed, no evidence needed, and done first, all in one batch (going back is fast).
- Switching hosts go in a **canary** batch, then batches that grow by ``growth`` up to
  ``max_batch``; ``serial`` is the list of batch sizes and ``order`` the hosts in batch order.
- **Domain GPO** scope: one GPO holds the mode, so there are no host batches: the GPO flips once
  when the evidence gate passes (``gpo_min_ready_percent`` of the GPO's hosts ready, forced hosts
  counting as ready); lowering flips without a gate.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_core import COLLECTIONS, XML_MODES
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_readiness import host_key

PLAN_SCHEMA = 1
MODES = ("audit", "enforce", "not_configured")
SCOPES = ("local", "domain")
MAX_LISTED = 20


class RolloutError(ValueError):
    """A rollout request that cannot be planned; the message names the value and where it is."""


@dataclass(frozen=True)
class BatchPolicy:
    """How switching hosts are batched. Sizes are host counts or ``"N%"`` of the switching hosts."""

    canary: int | str = 1
    growth: float = 2.0
    max_batch: int | str | None = None
    max_fail_percentage: int = 0


@dataclass
class HostPlan:
    name: str
    current: dict[str, str | None]
    modes: dict[str, str | None]  # after the rollout (held collections keep their current mode)
    raised: list[str] = field(default_factory=list)
    lowered: list[str] = field(default_factory=list)
    held: dict[str, list[str]] = field(default_factory=dict)  # collection -> reasons
    forced: bool = False
    batch: int | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def action(self) -> str:
        if self.raised:
            return "switch"
        if self.lowered:
            return "lower"
        return "held_back" if self.held else "unchanged"

    def reasons(self) -> list[str]:
        seen: dict[str, None] = {}
        for reasons in self.held.values():
            seen.update(dict.fromkeys(reasons))
        return list(seen)

    def to_dict(self) -> dict:
        return {
            "action": self.action,
            "batch": self.batch,
            "current": self.current,
            "modes": self.modes,
            "raise": self.raised,
            "lower": self.lowered,
            "held": self.held,
            "forced": self.forced,
            "reasons": self.reasons(),
            "notes": self.notes,
        }


@dataclass
class RolloutPlan:
    scope: str
    target_modes: dict[str, str]
    hosts: dict[str, HostPlan]
    batches: list[dict]
    max_fail_percentage: int
    gpo: dict | None = None

    @property
    def direction(self) -> str:
        raised = any(h.raised for h in self.hosts.values()) or bool(self.gpo and self.gpo["raise"])
        lowered = any(h.lowered for h in self.hosts.values()) or bool(self.gpo and self.gpo["lower"])
        return {(True, True): "mixed", (True, False): "enforce", (False, True): "audit"}.get((raised, lowered), "none")

    def to_dict(self) -> dict:
        held = [
            {"host": name, "collections": sorted(plan.held, key=COLLECTIONS.index), "reasons": plan.reasons()}
            for name, plan in self.hosts.items()
            if plan.held
        ]
        actions = [plan.action for plan in self.hosts.values()]
        return {
            "schema": PLAN_SCHEMA,
            "scope": self.scope,
            "direction": self.direction,
            "target_modes": self.target_modes,
            "batches": self.batches,
            "serial": [len(batch["hosts"]) for batch in self.batches],
            "order": [name for batch in self.batches for name in batch["hosts"]],
            "max_fail_percentage": self.max_fail_percentage,
            "hosts": {name: plan.to_dict() for name, plan in self.hosts.items()},
            "held_back": held,
            "unchanged": [name for name, plan in self.hosts.items() if plan.action == "unchanged"],
            "gpo": self.gpo,
            "summary": {
                "hosts": len(self.hosts),
                **{action: actions.count(action) for action in ("switch", "lower", "held_back", "unchanged")},
                "batches": len(self.batches),
            },
        }


# --- inputs ---------------------------------------------------------------------------------


def _collection(value: object, where: str) -> str:
    for name in COLLECTIONS:
        if isinstance(value, str) and value.strip().lower() == name.lower():
            return name
    raise RolloutError(f"{where}: {value!r} is not a rule collection ({', '.join(COLLECTIONS)})")


def _mode(value: object, where: str, *, allow_unknown: bool = False) -> str | None:
    if value is None and allow_unknown:
        return None
    if isinstance(value, str):
        text = value.strip()
        if text in XML_MODES:  # AuditOnly, Enabled, NotConfigured as a probe reads them
            return XML_MODES[text]
        if text.lower() in MODES:
            return text.lower()
    raise RolloutError(f"{where}: {value!r} is not a mode ({', '.join(MODES)}, or AuditOnly/Enabled/NotConfigured)")


def target(modes: object) -> dict[str, str]:
    """The target mode per collection, checked and in collection order."""
    if not isinstance(modes, Mapping) or not modes:
        raise RolloutError(f"target_modes: expected collection -> mode (audit, enforce, not_configured), got {modes!r}")
    checked = {}
    for key, value in modes.items():
        name = _collection(key, f"target_modes key {key!r}")
        if name in checked:
            raise RolloutError(f"target_modes: {name} is given twice")
        checked[name] = _mode(value, f"target_modes.{key}")
    return {name: checked[name] for name in COLLECTIONS if name in checked}


def _size(value: int | str | None, total: int, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            percent = float(value.strip()[:-1])
        except ValueError:
            percent = -1.0
        if not 0 < percent <= 100:
            raise RolloutError(f"{where}: {value!r} is not a percentage above 0 and at most 100")
        return max(1, math.ceil(total * percent / 100))
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise RolloutError(f"{where}: {value!r} is neither a number of hosts (1 or more) nor 'N%'")
    return value


def batch_sizes(total: int, policy: BatchPolicy) -> list[int]:
    """Canary first, then each batch ``growth`` times the previous (rounded up), capped by ``max_batch``."""
    if isinstance(policy.growth, bool) or not isinstance(policy.growth, (int, float)) or policy.growth < 1:
        raise RolloutError(f"growth: {policy.growth!r} must be a number of 1 or more (2: each batch doubles)")
    mfp = policy.max_fail_percentage
    if isinstance(mfp, bool) or not isinstance(mfp, int) or not 0 <= mfp <= 100:
        raise RolloutError(f"max_fail_percentage: {mfp!r} must be 0 .. 100")
    if total == 0:
        return []
    canary = _size(policy.canary, total, "canary")
    cap = _size(policy.max_batch, total, "max_batch") or total
    sizes, left, size = [], total, min(canary, cap)
    while left:
        size = min(size, left, cap)
        sizes.append(size)
        left -= size
        size = max(size + 1, math.ceil(size * policy.growth)) if policy.growth > 1 else size
    return sizes


def _readiness_hosts(readiness: object) -> dict[str, dict]:
    hosts = readiness.get("hosts", readiness) if isinstance(readiness, Mapping) else None
    if not isinstance(hosts, Mapping):
        raise RolloutError("readiness: expected the applocker_readiness report (or its hosts mapping)")
    return {host_key(str(name)): entry for name, entry in hosts.items() if isinstance(entry, Mapping)}


# --- the plan -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Request:
    goal: dict[str, str]
    readiness: dict[str, dict]
    forced: frozenset
    holds: dict[str, str]


def _host_plan(request: _Request, name: str, current: dict) -> HostPlan:
    key = host_key(name)
    forced, hold = key in request.forced, request.holds.get(key)
    plan = HostPlan(name, current=dict(current), modes=dict(current), forced=forced)
    raises = []
    for collection, mode in request.goal.items():
        now = current.get(collection)
        if now == mode:
            continue
        if mode == "enforce":
            raises.append(collection)
        else:
            plan.lowered.append(collection)
            plan.modes[collection] = mode
    if not raises:
        return plan
    entry = request.readiness.get(key)
    for collection in raises:
        reasons = _hold_reasons(collection, entry, forced, hold)
        if reasons:
            plan.held[collection] = reasons
        else:
            plan.raised.append(collection)
    return plan


def _hold_reasons(collection: str, entry: Mapping | None, forced: bool, hold: str | None) -> list[str]:
    if hold:
        return [f"held by the operator: {hold}"]
    if forced:
        return []
    if entry is None:
        return ["not in the readiness report: no evidence was read for this host"]
    status = entry.get("status")
    if status == "no_evidence":
        return ["no evidence: the host reported nothing in the readiness window (silence is not readiness)"]
    per_collection = (entry.get("collections") or {}).get(collection) or {}
    if status == "ready" or (entry.get("_partial") and per_collection.get("status") == "ready"):
        return []
    return list(entry.get("reasons") or [f"readiness status {status!r}"])


def _partial_readiness(readiness: dict[str, dict], partial: bool) -> dict[str, dict]:
    if not partial:
        return readiness
    return {key: {**entry, "_partial": True} for key, entry in readiness.items()}


def _check_hosts(hosts: Sequence[str], forced: Iterable[str], held: Mapping[str, str] | None) -> list[str]:
    names = [str(h) for h in hosts]
    keys: dict[str, str] = {}
    for name in names:
        if host_key(name) in keys:
            raise RolloutError(f"hosts: {name!r} and {keys[host_key(name)]!r} are the same host ({host_key(name)!r})")
        keys[host_key(name)] = name
    for label, given in (("forced", list(forced)), ("held", list(held or {}))):
        unknown = [h for h in given if host_key(str(h)) not in keys]
        if unknown:
            raise RolloutError(f"{label}: {unknown[0]!r} is not one of the hosts of this rollout")
    return names


def _batches(plans: dict[str, HostPlan], policy: BatchPolicy) -> list[dict]:
    """Lowering hosts first, all at once; then the canary and the growing batches of switching hosts."""
    lowering = [name for name, plan in plans.items() if plan.action == "lower"]
    switching = [name for name, plan in plans.items() if plan.action == "switch"]
    batch_list = []
    if lowering:
        batch_list.append({"name": "audit", "hosts": lowering})
    position = 0
    for index, size in enumerate(batch_sizes(len(switching), policy)):
        batch_list.append(
            {"name": "canary" if index == 0 else f"batch {index}", "hosts": switching[position : position + size]}
        )
        position += size
    for number, batch in enumerate(batch_list):
        for name in batch["hosts"]:
            plans[name].batch = number
    return batch_list


def plan_rollout(
    hosts: Sequence[str],
    target_modes: Mapping[str, str],
    readiness: Mapping,
    *,
    current_modes: Mapping[str, Mapping[str, str | None]] | None = None,
    forced: Iterable[str] = (),
    held: Mapping[str, str] | None = None,
    batches: BatchPolicy | None = None,
    scope: str = "local",
    gpo_modes: Mapping[str, str | None] | None = None,
    gpo_min_ready_percent: float = 100.0,
    partial: bool = False,
) -> RolloutPlan:
    """Plan a switch of ``hosts`` to ``target_modes`` (see the module docstring for the rules).

    ``current_modes``: host -> collection -> mode now (model or XML names; unknown or missing is
    treated as not enforced). ``forced``: hosts that switch without evidence. ``held``: host ->
    the operator's reason to keep it back. ``scope`` ``domain``: ``gpo_modes`` is the GPO's mode
    per collection now, and the plan's ``gpo`` says whether and how to flip it.
    """
    if scope not in SCOPES:
        raise RolloutError(f"scope: {scope!r} is neither local nor domain")
    goal = target(target_modes)
    policy = batches or BatchPolicy()
    forced = [str(h) for h in forced]
    names = _check_hosts(hosts, forced, held)
    request = _Request(
        goal,
        _partial_readiness(_readiness_hosts(readiness), partial),
        frozenset(host_key(str(h)) for h in forced),
        {host_key(str(h)): str(reason) for h, reason in (held or {}).items()},
    )
    if scope == "domain":
        return _plan_gpo(request, names, gpo_modes, gpo_min_ready_percent, policy)
    plans = {}
    known = {host_key(str(name)): modes for name, modes in (current_modes or {}).items()}
    for name in names:
        raw = known.get(host_key(name)) or {}
        if not isinstance(raw, Mapping):
            raise RolloutError(f"current_modes[{name!r}]: expected collection -> mode, got {raw!r}")
        current = {c: _mode(raw.get(c), f"current_modes[{name!r}].{c}", allow_unknown=True) for c in goal}
        plan = _host_plan(request, name, current)
        for collection in plan.raised:
            plan.modes[collection] = "enforce"
        plans[name] = plan
    batch_list = _batches(plans, policy)
    return RolloutPlan("local", goal, plans, batch_list, policy.max_fail_percentage)


def _plan_gpo(request: _Request, names: list[str], gpo_modes, min_ready, policy: BatchPolicy) -> RolloutPlan:
    goal = request.goal
    if isinstance(min_ready, bool) or not isinstance(min_ready, (int, float)) or not 0 < min_ready <= 100:
        raise RolloutError(f"gpo_min_ready_percent: {min_ready!r} must be above 0 and at most 100")
    batch_sizes(0, policy)  # checks growth and max_fail_percentage
    current = {c: _mode((gpo_modes or {}).get(c), f"gpo_modes.{c}", allow_unknown=True) for c in goal}
    plans = {}
    for name in names:
        plans[name] = _host_plan(request, name, current)
    raises = [c for c, mode in goal.items() if mode == "enforce" and current.get(c) != "enforce"]
    lowers = [c for c, mode in goal.items() if mode != "enforce" and current.get(c) != mode]
    gate_reasons, passed_raises = [], []
    for collection in raises:
        blocking = [name for name, plan in plans.items() if collection in plan.held]
        ready = len(names) - len(blocking)
        percent = 100.0 * ready / len(names) if names else 0.0
        if names and percent >= min_ready:
            passed_raises.append(collection)
        else:
            shown = ", ".join(blocking[:MAX_LISTED]) + (
                f" and {len(blocking) - MAX_LISTED} more" if len(blocking) > MAX_LISTED else ""
            )
            gate_reasons.append(
                f"{collection}: {ready} of {len(names)} hosts ready ({percent:.1f} %), {min_ready:g} % required"
                + (f"; not ready: {shown}" if blocking else "; no hosts in the GPO's scope")
            )
    modes = dict(current)
    for collection in lowers:
        modes[collection] = goal[collection]
    for collection in passed_raises:
        modes[collection] = "enforce"
    failed = [c for c in raises if c not in passed_raises]
    for plan in plans.values():
        own = plan.held
        plan.modes, plan.raised, plan.lowered = dict(modes), list(passed_raises), list(lowers)
        plan.held = {c: ["the GPO's evidence gate did not pass", *own.get(c, [])] for c in failed}
        plan.notes = [
            f"{c}: enforced by the GPO although this host is not ready: {'; '.join(own[c])}"
            for c in passed_raises
            if c in own
        ]
    gpo = {
        "flip": bool(passed_raises or lowers),
        "current": current,
        "modes": modes,
        "raise": passed_raises,
        "lower": lowers,
        "gate": {
            "passed": not gate_reasons,
            "required_percent": min_ready,
            "reasons": gate_reasons,
        },
        "verify_hosts": list(names),
    }
    return RolloutPlan("domain", goal, plans, [], policy.max_fail_percentage, gpo)

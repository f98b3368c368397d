# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""After each rollout batch: is every host still healthy, and which go back to audit?

Pure: what the health probes read goes in, a verdict per host and one per batch come out. A
host is healthy when

1. the Ansible admin connection still works (``connection_ok``);
2. the Application Identity service exists, runs and starts automatically (``service``, as the
   applocker probe reports it: ``{exists, state, start_mode}``);
3. the effective policy (``Get-AppLockerPolicy -Effective -Xml``) has the intended mode for every
   collection of the plan;
4. the AppLocker blocks since the switch (8004 Exe/Dll, 8007 Msi/Script by default, counted by
   ``applocker_events_probe`` started at the switch) are not a burst: at most ``max_blocked``.

A failing host that can still be reached goes back to audit (``action: rollback``,
``rollback_modes``: the batch's raised collections set to audit); one that cannot be reached is
reported for a rollback by hand (``manual_rollback``): a lost WinRM connection right after an
enforce is the lockout the guardrails exist for. A batch stops the rollout when its failed share
exceeds ``max_fail_percentage`` (Ansible's rule); under a domain GPO the verdict is whether to flip
the GPO back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_core import MODES, AppLockerError
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_xml import parse_policy

DEFAULT_BLOCKED_IDS = (8004, 8007)
AUTOMATIC = ("auto", "delayed")
RUNNING = "running"


@dataclass(frozen=True)
class HealthThresholds:
    max_blocked: int = 0  # more AppLocker blocks than this since the switch is a burst
    blocked_event_ids: tuple[int, ...] = DEFAULT_BLOCKED_IDS


@dataclass
class HostVerdict:
    host: str
    checks: list[dict] = field(default_factory=list)
    reachable: bool = True
    rollback_modes: dict[str, str] = field(default_factory=dict)

    @property
    def healthy(self) -> bool:
        return all(check["ok"] for check in self.checks)

    @property
    def action(self) -> str:
        if self.healthy:
            return "keep"
        return "rollback" if self.reachable else "manual_rollback"

    def to_dict(self) -> dict:
        return {
            "host": self.host,
            "healthy": self.healthy,
            "action": self.action,
            "checks": self.checks,
            "reasons": [check["detail"] for check in self.checks if not check["ok"]],
            "rollback_modes": self.rollback_modes if not self.healthy else {},
        }


def _check(verdict: HostVerdict, name: str, ok: bool, detail: str) -> None:
    verdict.checks.append({"check": name, "ok": bool(ok), "detail": detail})


def _service(verdict: HostVerdict, service: Mapping | None) -> None:
    if not isinstance(service, Mapping):
        _check(verdict, "appidsvc", False, "AppIDSvc: the probe returned no service state")
        return
    if not service.get("exists"):
        _check(verdict, "appidsvc", False, "AppIDSvc does not exist: nothing is enforced or logged")
        return
    state, start = service.get("state"), service.get("start_mode")
    ok = state == RUNNING and start in AUTOMATIC
    _check(
        verdict, "appidsvc", ok, f"AppIDSvc is {state}, start mode {start}" + ("" if ok else " (running, auto needed)")
    )


def _policy(verdict: HostVerdict, policy_xml: str | bytes | None, intended: Mapping[str, str]) -> None:
    if not policy_xml:
        _check(verdict, "effective_policy", False, "the effective policy could not be read")
        return
    try:
        policy = parse_policy(policy_xml, f"{verdict.host} effective policy")
    except AppLockerError as exc:
        _check(verdict, "effective_policy", False, f"the effective policy cannot be read: {exc}")
        return
    wrong = []
    for collection, mode in intended.items():
        found = policy.collection(collection).mode
        if found != MODES[mode]:
            wrong.append(f"{collection} is {found}, intended {MODES[mode]}")
    detail = "; ".join(wrong) if wrong else "every collection has its intended mode"
    _check(verdict, "effective_policy", not wrong, f"effective policy: {detail}")


def blocked_counts(probe: Mapping | None, event_ids: Iterable[int] = DEFAULT_BLOCKED_IDS) -> dict[int, int]:
    """Blocks per event ID from an ``applocker_events_probe`` result (its groups' counts)."""
    ids = set(event_ids)
    counts = dict.fromkeys(sorted(ids), 0)
    for group in (probe or {}).get("groups") or []:
        if isinstance(group, Mapping) and group.get("event_id") in ids:
            counts[group["event_id"]] += int(group.get("count") or 0)
    return counts


def _burst(verdict: HostVerdict, counts: Mapping[int, int] | None, thresholds: HealthThresholds) -> None:
    if counts is None:
        _check(verdict, "blocks", False, "the AppLocker blocks since the switch could not be counted")
        return
    relevant = {i: int(counts.get(i, 0)) for i in thresholds.blocked_event_ids}
    total = sum(relevant.values())
    shown = ", ".join(f"{i}: {n}" for i, n in relevant.items())
    ok = total <= thresholds.max_blocked
    _check(
        verdict,
        "blocks",
        ok,
        f"{total} AppLocker block(s) since the switch ({shown}), at most {thresholds.max_blocked}"
        + ("" if ok else ": a burst"),
    )


def judge_host(
    host: str,
    intended_modes: Mapping[str, str],
    *,
    connection_ok: bool,
    service: Mapping | None = None,
    policy_xml: str | bytes | None = None,
    blocked: Mapping[int, int] | None = None,
    raised: Iterable[str] = (),
    thresholds: HealthThresholds | None = None,
) -> HostVerdict:
    """The verdict for one host after its batch.

    ``intended_modes``: collection -> model mode the host should now have (the plan's
    ``hosts.<name>.modes``, unknown collections left out). ``raised``: the collections this batch
    switched to enforce (the plan's ``raise``): what a rollback sets back to audit. ``blocked``:
    event ID -> count since the switch (``blocked_counts`` of the events probe).
    """
    limits = thresholds or HealthThresholds()
    intended = {c: m for c, m in intended_modes.items() if m}
    verdict = HostVerdict(host)
    if not connection_ok:
        verdict.reachable = False
        _check(
            verdict,
            "connection",
            False,
            "the Ansible admin connection failed after the switch: roll the host back from its console or by "
            "policy (an enforced rule may block the WinRM PowerShell host)",
        )
    else:
        _check(verdict, "connection", True, "the Ansible admin connection works")
        _service(verdict, service)
        _policy(verdict, policy_xml, intended)
        _burst(verdict, blocked, limits)
    verdict.rollback_modes = {c: "audit" for c in raised if intended.get(c) == "enforce"}
    return verdict


def judge_batch(verdicts: Iterable[HostVerdict], *, max_fail_percentage: int = 0, scope: str = "local") -> dict:
    """The batch verdict: which hosts go back, which need a hand, and whether the rollout goes on.

    Ansible's rule for ``max_fail_percentage``: the play stops when the failed share is *greater*
    than it. Under a domain GPO no single host can go back: ``flip_back`` says to set the GPO to
    audit again.
    """
    items = list(verdicts)
    failed = [v for v in items if not v.healthy]
    percent = 100.0 * len(failed) / len(items) if items else 0.0
    stop = percent > max_fail_percentage
    result = {
        "hosts": len(items),
        "healthy": [v.host for v in items if v.healthy],
        "failed": [v.host for v in failed],
        "failed_percent": round(percent, 2),
        "max_fail_percentage": max_fail_percentage,
        "continue": not stop,
        "rollback": [v.host for v in failed if v.action == "rollback"] if scope == "local" else [],
        "manual_rollback": [v.host for v in failed if v.action == "manual_rollback"],
        "flip_back": scope == "domain" and stop,
        "verdicts": {v.host: v.to_dict() for v in items},
        "report": [f"{v.host}: {v.action}: {'; '.join(v.to_dict()['reasons'])}" for v in failed],
    }
    return result

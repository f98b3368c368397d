# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""AppLocker planner: probe result + the policy to have -> plan. Pure; the module and the tests call ``make_plan``.

The probe (``applocker_probe`` on the host, or on the management host for a domain GPO) reports
the policy as ``Get-AppLockerPolicy -Xml`` writes it, the Application Identity service and the
AppLocker event logs. The policy to have is one file rendered on the controller
(``applocker_policy``: the audit or the enforce variant) or the empty policy that clears it.
The plan's actions, in the order the role applies them (policy first, so that the service never
starts enforcing a policy without allow rules):

- ``policy``: the host's policy differs *by meaning* from the file (``_applocker_compare``:
  order, whitespace, Id case, encoding and default attributes do not count). The role keeps the
  current policy (exported XML), pushes the file, sets it with ``Set-AppLockerPolicy`` **without
  -Merge** (a merge keeps the target's EnforcementMode, so audit -> enforce would not happen),
  and sets the kept one again if that fails. ``mode_changes`` names the collections whose
  EnforcementMode changes;
- ``eventlog``: an AppLocker channel's maximum size differs (``wevtutil set-log CHANNEL /ms:N``);
- ``service``: AppIDSvc is not running or not automatic. Refused when the policy the host will
  run has an enforced collection without an Allow rule: starting the service would block every
  file of that collection.

A policy that cannot be read (``policy.error``), a probe of another policy source than the
target's, and a missing AppIDSvc are errors naming what to fix, never a guess.
"""

from __future__ import annotations

import ntpath
from dataclasses import dataclass, field

from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_compare import canonical_xml, compare
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_core import AppLockerError, Policy
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_xml import parse_policy
from ansible_collections.m1038.appcontrol.plugins.module_utils._winedge import (
    Plan,
    PlanError,
    check_probe,
    text_diff,
)

CONCERN = "applocker"
PROBE_VERSION = 1
OPT_STR = (str, None)
PROBE_SHAPE = {
    "host": {"computer_name": str},
    "policy": {"source": str, "ldap": OPT_STR, "xml": OPT_STR, "error": OPT_STR},
    "service": {"name": str, "exists": bool, "state": OPT_STR, "start_mode": OPT_STR},
    "eventlogs": [{"channel": str, "exists": bool, "max_size": (int, None)}],
    "?writable_scan": dict,  # checked by _applocker_writable when the policy is rendered
}
TARGETS = ("local", "domain")
VARIANTS = ("audit", "enforce", "clear")
# What Get-AppLockerPolicy reads for each target: -Local, or -Domain -Ldap for a GPO.
TARGET_SOURCE = {"local": "local", "domain": "domain"}
CHANNELS = (
    "Microsoft-Windows-AppLocker/EXE and DLL",
    "Microsoft-Windows-AppLocker/MSI and Script",
    "Microsoft-Windows-AppLocker/Packaged app-Deployment",
    "Microsoft-Windows-AppLocker/Packaged app-Execution",
)
SERVICE = "AppIDSvc"
AUTOMATIC = ("auto", "delayed")  # Automatic, or Automatic (Delayed Start): both start at boot
RUNNING = "running"
DEFAULT_REMOTE_DIR = "C:\\ProgramData\\m1038-appcontrol\\applocker"
MAX_CHANGES_LISTED = 200


@dataclass
class RenderedPolicy:
    """The policy file to push: which variant, its controller path and its text."""

    variant: str
    path: str
    content: str


@dataclass
class Desired:
    target: str = "local"
    ldap: str = ""
    manage_policy: bool = True
    manage_eventlog: bool = True
    manage_service: bool = True
    policy: RenderedPolicy | None = None
    eventlog_max_sizes: dict = field(default_factory=dict)
    service_name: str = SERVICE
    remote_dir: str = DEFAULT_REMOTE_DIR


@dataclass(frozen=True)
class HostPaths:
    """Where the role keeps its files on the host (or on the management host), all under one folder."""

    root: str

    @property
    def policy(self) -> str:
        return ntpath.join(self.root, "policy.xml")

    @property
    def backup(self) -> str:
        return ntpath.join(self.root, "backup", "policy.previous.xml")


def host_paths(root: str) -> HostPaths:
    drive, rest = ntpath.splitdrive(root or "")
    if not drive or not rest.startswith(("\\", "/")) or ".." in rest.replace("/", "\\").split("\\"):
        raise PlanError(f"applocker_remote_dir {root!r} is not an absolute Windows path (C:\\...) without '..'")
    return HostPaths(ntpath.normpath(root))


def _check_desired(desired: Desired) -> None:
    if desired.target not in TARGETS:
        raise PlanError(f"target {desired.target!r} is neither local nor domain")
    if desired.target == "domain" and not desired.ldap.upper().startswith("LDAP://"):
        raise PlanError(f"the domain target needs the GPO's LDAP path (LDAP://...), not {desired.ldap!r}")
    if desired.manage_policy:
        if desired.policy is None:
            raise PlanError("the policy is managed but no policy file was given")
        if desired.policy.variant not in VARIANTS:
            raise PlanError(f"policy variant {desired.policy.variant!r} is not one of {', '.join(VARIANTS)}")
    for channel, size in desired.eventlog_max_sizes.items():
        if not isinstance(size, int) or isinstance(size, bool) or size < 1048576 or size % 65536:
            raise PlanError(
                f"event log {channel!r}: maximum size {size!r} must be at least 1048576 (1 MiB) and a multiple of "
                "65536 (64 KiB); Windows rounds other sizes, so they would never compare equal"
            )


# --- the host's policy --------------------------------------------------------------------------


def _where(probe: dict) -> str:
    policy = probe["policy"]
    if policy["source"] == "domain":
        return f"GPO {policy['ldap']}"
    return f"{policy['source']} policy"


def host_policy(probe: dict, host: str) -> Policy | None:
    """The policy the probe read, parsed; None when the probe read none (source ``none``)."""
    policy = probe["policy"]
    if policy["error"]:
        raise PlanError(f"the {_where(probe)} of {host or 'the host'} cannot be read: {policy['error']}")
    if policy["source"] == "none":
        return None
    if policy["xml"] is None:
        raise PlanError(f"the probe of {host or 'the host'} returned no XML for the {_where(probe)}")
    try:
        return parse_policy(policy["xml"], f"{host or 'host'} {_where(probe)}")
    except AppLockerError as exc:
        raise PlanError(
            f"the {_where(probe)} of {host or 'the host'} is not a policy this planner reads: {exc}"
        ) from None


def _check_source(probe: dict, desired: Desired, host: str) -> None:
    policy = probe["policy"]
    wanted = TARGET_SOURCE[desired.target]
    if policy["source"] != wanted:
        raise PlanError(
            f"the probe of {host or 'the host'} read the {policy['source']} policy; the {desired.target} target "
            f"compares the {wanted} policy (probe it with policy: {wanted})"
        )
    if desired.target == "domain" and (policy["ldap"] or "").upper() != desired.ldap.upper():
        raise PlanError(f"the probe read GPO {policy['ldap']!r}, not {desired.ldap!r}")


def mode_changes(diff) -> dict:
    """Collections whose EnforcementMode changes: ``{Exe: {before: AuditOnly, after: Enabled}}``."""
    return {name: dict(entry["mode"]) for name, entry in diff.collections.items() if entry["mode"]}


def _listed(lines: list[str]) -> list[str]:
    if len(lines) <= MAX_CHANGES_LISTED:
        return lines
    return [*lines[:MAX_CHANGES_LISTED], f"and {len(lines) - MAX_CHANGES_LISTED} more differences"]


def _plan_policy(probe: dict, desired: Desired, plan: Plan, paths: HostPaths, host: str) -> None:
    _check_source(probe, desired, host)
    current = host_policy(probe, host)
    rendered = desired.policy
    try:
        diff = compare(current if current is not None else Policy(), rendered.content)
    except AppLockerError as exc:
        raise PlanError(f"the {rendered.variant} policy {rendered.path} cannot be compared: {exc}") from None
    plan.facts["policy_compliant"] = diff.equal
    if diff.equal:
        return
    ldap = desired.ldap if desired.target == "domain" else ""
    changes = diff.summary()
    modes = mode_changes(diff)
    shown = "; ".join(changes[:3]) + (f"; and {len(changes) - 3} more" if len(changes) > 3 else "")
    plan.add(
        "policy",
        f"the {_where(probe)} is not the {rendered.variant} policy ({shown})",
        target=desired.target,
        ldap=ldap or None,
        variant=rendered.variant,
        mode_changes=modes,
        changes=_listed(changes),
        keep={"dest": paths.backup, "parameters": {"Path": paths.backup, "Ldap": ldap}},
        push={"src": rendered.path, "dest": paths.policy},
        parameters={"PolicyFile": paths.policy, "Ldap": ldap},
        restore_parameters={"PolicyFile": paths.backup, "Ldap": ldap},
    )


# --- event logs and the service -----------------------------------------------------------------


def _plan_eventlog(probe: dict, desired: Desired, plan: Plan) -> None:
    logs = {entry["channel"].lower(): entry for entry in probe["eventlogs"]}
    steps = []
    for channel, size in sorted(desired.eventlog_max_sizes.items()):
        entry = logs.get(channel.lower())
        if entry is None or not entry["exists"]:
            plan.warn(f"event log {channel} does not exist on this host; its size is not set")
            continue
        if entry["max_size"] == size:
            continue
        steps.append(
            {
                "channel": entry["channel"],
                "from": entry["max_size"],
                "to": size,
                "argv": ["wevtutil.exe", "set-log", entry["channel"], f"/ms:{size}"],
            }
        )
    if steps:
        sizes = ", ".join(f"{s['channel']} {s['from']} -> {s['to']} bytes" for s in steps)
        plan.add("eventlog", f"AppLocker event log sizes differ: {sizes}", logs=steps)


def enforced_without_allow(policy: Policy | None) -> list[str]:
    """Collections that enforce (Enabled, or NotConfigured with rules) and have no Allow rule."""
    if policy is None:
        return []
    return [
        name
        for name, coll in policy.complete().collections.items()
        if coll.enforced and not any(rule.action == "Allow" for rule in coll.rules)
    ]


def _policy_after(probe: dict, desired: Desired, plan: Plan, host: str) -> tuple[Policy | None, str]:
    """The policy the host enforces once the plan ran, and how we know it."""
    if plan.has("policy") or (desired.manage_policy and plan.facts.get("policy_compliant")):
        return parse_policy(desired.policy.content, desired.policy.path), f"the {desired.policy.variant} policy"
    if probe["policy"]["source"] == "none":
        raise PlanError(
            f"starting {desired.service_name} on {host or 'the host'} needs its policy to be known (the probe read "
            "none): probe the effective or local policy, or leave the service alone"
        )
    return host_policy(probe, host), f"the host's {_where(probe)}"


def _plan_service(probe: dict, desired: Desired, plan: Plan, host: str) -> None:
    service = probe["service"]
    if not service["exists"]:
        raise PlanError(
            f"service {service['name']} does not exist on {host or 'the host'}: this Windows edition has no "
            "AppLocker (Application Identity); nothing would be enforced or logged"
        )
    state, mode = (service["state"] or "").lower(), (service["start_mode"] or "").lower()
    if state == RUNNING and mode in AUTOMATIC:
        return
    policy, which = _policy_after(probe, desired, plan, host)
    blocked = enforced_without_allow(policy)
    if blocked:
        raise PlanError(
            f"starting {service['name']} on {host or 'the host'} would enforce {which} whose {', '.join(blocked)} "
            "collection has no Allow rule: every such file would be blocked. Give the collection allow rules or "
            "audit it first"
        )
    plan.add(
        "service",
        f"service {service['name']} is {state or 'in an unknown state'}, start mode {mode or 'unknown'}; wanted "
        "running and automatic (after the policy, which has allow rules)",
        name=service["name"],
        start_mode="auto",
        state="started",
    )


# --- the plan -----------------------------------------------------------------------------------


def _facts(probe: dict, desired: Desired) -> dict:
    service = probe["service"]
    return {
        "computer_name": probe["host"]["computer_name"],
        "target": desired.target,
        "ldap": desired.ldap or None,
        "policy_source": probe["policy"]["source"],
        "variant": desired.policy.variant if desired.policy else None,
        "service_name": service["name"],
        "service_state": service["state"],
        "service_start_mode": service["start_mode"],
    }


def make_plan(probe: object, desired: Desired, *, host: str = "", recorded: bool = False) -> Plan:
    """The plan for one host (or one GPO). Raises ProbeError for a malformed probe, PlanError when nothing sane
    can be planned."""
    check_probe(probe, concern=CONCERN, version=PROBE_VERSION, shape=PROBE_SHAPE, host=host)
    _check_desired(desired)
    paths = host_paths(desired.remote_dir)
    plan = Plan(CONCERN, host, recorded)
    plan.facts = _facts(probe, desired)
    if desired.manage_policy:
        _plan_policy(probe, desired, plan, paths, host)
    if desired.manage_eventlog:
        _plan_eventlog(probe, desired, plan)
    if desired.manage_service:
        _plan_service(probe, desired, plan, host)
    policy = next((a for a in plan.actions if a.id == "policy"), None)
    plan.facts["mode_changes"] = policy.details["mode_changes"] if policy else {}
    return plan


def policy_diff(probe: dict, desired: Desired, host: str) -> dict | None:
    """The semantic difference as an Ansible diff: both policies in their normal form (``canonical_xml``)."""
    if desired.policy is None or probe["policy"]["xml"] is None:
        return None
    label = f"{host or 'host'}: {_where(probe)} (normalised)"
    before = canonical_xml(probe["policy"]["xml"], label)
    after = canonical_xml(desired.policy.content, desired.policy.path)
    return text_diff(before, after, label, f"{desired.policy.path} ({desired.policy.variant}, normalised)")

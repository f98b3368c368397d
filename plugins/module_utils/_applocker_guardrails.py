# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Guardrails: what an enforced AppLocker policy must not do, each overridable only by name.

They judge the enforce variant (the audit variant blocks nothing). A collection counts as
enforced when its mode is Enabled, or NotConfigured with rules: Windows enforces the rules of a
NotConfigured collection unless a higher GPO sets a mode ("Understand AppLocker enforcement
settings", Microsoft).

Each check gives one result per collection it looked at: ``ok``, ``warning``, ``error`` or
``overridden`` (an error whose override name is listed in ``overrides``). Any ``error`` stops
the render; nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_core import (
    ANY,
    SID_ADMINISTRATORS,
    Condition,
    PathCondition,
    Policy,
    PublisherCondition,
    Rule,
    fold,
    path_matches,
    version_bounds,
)

# Override names -> what overriding accepts. Module option guardrail_overrides; docs/applocker.md.
OVERRIDES = {
    "no_admin_allow_all": "Exe or Script enforced without an allow-all path rule (*) for Administrators",
    "exe_without_appx": "Exe enforced while the Appx collection has no rule (packaged apps stop)",
    "dll_enforcement": "the Dll collection enforced (every DLL load checked)",
    "empty_enforced": "a collection enforced with no rule",
    "deny_blocks_ansible": "a Deny rule matching what Ansible's WinRM connection runs",
    "unscanned_paths": "allowed paths enforced without a complete user-writable folder scan",
    "writable_uncovered": "a user-writable folder left executable under an allowed path",
}

# SIDs the Ansible connection's account is always a member of, on any Windows host: an
# administrator (Ansible's Windows modules need one) logged on over the network. Add the
# account's domain groups through the connection_sids option.
CONNECTION_SIDS = (
    "S-1-1-0",  # Everyone
    "S-1-5-2",  # NETWORK (a WinRM logon is a network logon)
    "S-1-5-11",  # Authenticated Users
    "S-1-5-15",  # This Organization
    "S-1-5-32-544",  # Administrators
    "S-1-5-32-545",  # Users
    "S-1-5-113",  # Local account (a local administrator)
    "S-1-5-114",  # Local account and member of Administrators group
)

MICROSOFT = "O=MICROSOFT CORPORATION, L=REDMOND, S=WASHINGTON, C=US"
WINDOWS_PRODUCTS = ("MICROSOFT® WINDOWS® OPERATING SYSTEM", "MICROSOFT (R) WINDOWS (R) OPERATING SYSTEM")
# Windows PowerShell 5.1 files carry file versions 10.0.x (AaronLocker's "Disallow PowerShell v2"
# Dll rule denies up to 9.9.9.9 and states that it leaves 10.* and above allowed).
PS51 = ("10.0.0.0", "10.0.65535.65535")


@dataclass(frozen=True)
class Target:
    """A file Ansible's WinRM connection runs or loads, as AppLocker sees it."""

    collection: str
    what: str
    paths: tuple[str, ...]
    binary: str
    products: tuple[str, ...] = WINDOWS_PRODUCTS
    publisher: str = MICROSOFT
    versions: tuple[str, str] = PS51


ANSIBLE_TARGETS = (
    Target(
        "Exe",
        "powershell.exe (Windows PowerShell, which runs every Ansible Windows module)",
        (
            "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
            "C:\\Windows\\SysWOW64\\WindowsPowerShell\\v1.0\\powershell.exe",
        ),
        "POWERSHELL.EXE",
    ),
    Target(
        "Exe",
        "wsmprovhost.exe (the WinRM plugin host every WinRM/PSRP session runs in)",
        ("C:\\Windows\\System32\\wsmprovhost.exe",),
        "WSMPROVHOST.EXE",
    ),
    Target(
        "Dll",
        "System.Management.Automation.dll (the PowerShell engine)",
        (
            "C:\\Windows\\Microsoft.NET\\assembly\\GAC_MSIL\\System.Management.Automation\\"
            "v4.0_3.0.0.0__31bf3856ad364e35\\System.Management.Automation.dll",
        ),
        "SYSTEM.MANAGEMENT.AUTOMATION.DLL",
    ),
    Target(
        "Dll",
        "pwrshplugin.dll (WinRM's PowerShell plugin)",
        ("C:\\Windows\\System32\\pwrshplugin.dll",),
        "PWRSHPLUGIN.DLL",
    ),
)


@dataclass
class Guardrails:
    results: list[dict] = field(default_factory=list)

    def add(self, check: str, collection: str, status: str, message: str, overrides: set[str], **extra) -> None:
        if status == "error" and check in overrides:
            status = "overridden"
        self.results.append(
            {"check": check, "collection": collection, "status": status, "message": message, "override": check, **extra}
        )

    @property
    def errors(self) -> list[dict]:
        return [r for r in self.results if r["status"] == "error"]

    def messages(self, status: str = "error") -> list[str]:
        return [r["message"] for r in self.results if r["status"] == status]


def check_overrides(names: list[str] | None) -> set[str]:
    chosen = set(names or [])
    unknown = sorted(chosen - set(OVERRIDES))
    if unknown:
        raise ValueError(
            f"guardrail_overrides: {unknown[0]!r} is not a guardrail; the guardrails are {', '.join(OVERRIDES)}"
        )
    return chosen


def _publisher_matches(cond: PublisherCondition, target: Target) -> bool:
    def same(pattern: str, values: tuple[str, ...]) -> bool:
        return pattern == ANY or fold(pattern) in {fold(v) for v in values}

    if not (same(cond.publisher, (target.publisher,)) and same(cond.product, target.products)):
        return False
    if not same(cond.binary, (target.binary,)):
        return False
    low, high = version_bounds(cond.low, cond.high)
    target_low, target_high = version_bounds(*target.versions)
    return low <= target_high and target_low <= high


def matches(cond: Condition, target: Target) -> bool:
    """Does the condition match the target file? Hash conditions cannot be judged: no."""
    if isinstance(cond, PathCondition):
        return any(path_matches(cond.path, path) for path in target.paths)
    if isinstance(cond, PublisherCondition):
        return _publisher_matches(cond, target)
    return False


def blocks(rule: Rule, target: Target) -> bool:
    return matches(rule.condition, target) and not any(matches(exc, target) for exc in rule.exceptions)


def _admin_allow_all(rule: Rule) -> bool:
    return (
        rule.action == "Allow"
        and rule.sid.upper() == SID_ADMINISTRATORS
        and isinstance(rule.condition, PathCondition)
        and rule.condition.path.strip() == ANY
        and not rule.exceptions
    )


def evaluate(policy: Policy, *, overrides: set[str], connection_sids: tuple[str, ...] = CONNECTION_SIDS) -> Guardrails:
    """Judge the enforce variant (a complete Policy); writable-folder results are added by the caller."""
    result = Guardrails()
    sids = {s.upper() for s in connection_sids}
    for name, coll in policy.collections.items():
        if not coll.enforced:
            continue
        if coll.mode == "NotConfigured":
            result.add(
                "not_configured_with_rules",
                name,
                "warning",
                f"{name}: EnforcementMode NotConfigured with {len(coll.rules)} rules: Windows enforces them unless a "
                "higher GPO sets a mode; write mode enforce or audit to say which",
                overrides,
            )
        if coll.mode == "Enabled" and not coll.rules:
            result.add(
                "empty_enforced",
                name,
                "error",
                f"{name}: enforced with no rule: it protects nothing you wrote (Windows runs every file of a "
                "collection "
                "without rules, and once Exe is enforced an empty Appx collection blocks every packaged app); "
                "add rules or set mode audit or not_configured (override: empty_enforced)",
                overrides,
            )
        if name in ("Exe", "Script"):
            found = any(_admin_allow_all(rule) for rule in coll.rules)
            result.add(
                "no_admin_allow_all",
                name,
                "ok" if found else "error",
                f"{name}: allow-all rule for Administrators (S-1-5-32-544, path *, no exceptions) present"
                if found
                else f"{name}: enforced without an Allow rule for Administrators (S-1-5-32-544) with path * and no "
                "exceptions: Ansible's WinRM connection (an administrator) would be locked out"
                + (
                    ", and PowerShell outside it runs in Constrained Language Mode, where Ansible cannot"
                    if name == "Script"
                    else ""
                )
                + "; turn on default_rules or add the rule (override: no_admin_allow_all)",
                overrides,
            )
        if name == "Exe":
            appx = policy.collection("Appx")
            result.add(
                "exe_without_appx",
                name,
                "ok" if appx.rules else "error",
                "Exe: enforced with Appx rules present"
                if appx.rules
                else "Exe: enforced while the Appx collection has no rule: every packaged app (Start menu, Settings, "
                "Store apps) stops; add Appx rules, e.g. Appx default_rules (override: exe_without_appx)",
                overrides,
            )
        if name == "Dll":
            result.add(
                "dll_enforcement",
                name,
                "error",
                "Dll: enforced: every DLL every process loads is checked (a cost on each load, and a missing rule "
                "breaks programs, the WinRM PowerShell host included); acknowledge it by naming dll_enforcement in "
                "guardrail_overrides",
                overrides,
            )
        _deny_checks(result, name, coll.rules, sids, overrides)
    return result


def _deny_checks(result: Guardrails, name: str, rules: list[Rule], sids: set[str], overrides: set[str]) -> None:
    targets = [t for t in ANSIBLE_TARGETS if t.collection == name]
    if not targets:
        return
    found = False
    for rule in rules:
        if rule.action != "Deny" or rule.sid.upper() not in sids:
            continue
        for target in targets:
            if blocks(rule, target):
                found = True
                result.add(
                    "deny_blocks_ansible",
                    name,
                    "error",
                    f"{name}: Deny rule {rule.label} for {rule.sid} matches {target.what}: the Ansible connection "
                    f"could no longer manage the host; narrow the rule or add an exception "
                    f"(override: deny_blocks_ansible)",
                    overrides,
                    rule=rule.name,
                    rule_id=rule.id,
                )
    if not found:
        result.add(
            "deny_blocks_ansible",
            name,
            "ok",
            f"{name}: no Deny rule for the connection's SIDs matches " + ", ".join(t.binary.lower() for t in targets),
            overrides,
        )

# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""User-writable folders under allowed paths: the probe's shape and the planner that closes them.

The best-known AppLocker bypass: an allow path rule such as ``%WINDIR%\\*`` also allows what an
ordinary user writes into ``%WINDIR%\\Tasks`` or ``%WINDIR%\\Temp``. AaronLocker scans the ACLs
under the allowed folders and adds an exception per writable folder (``DIR\\*``, plus ``DIR:*``
when the folder's own ACL lets the user write an alternate data stream onto it). This planner
does the same from the probe's JSON (docs/applocker.md, "The writable-folder probe"):

    {"concern": "applocker", "probe_version": 1, "host": {"computer_name": "WS-01"},
     "writable_scan": {
       "variables": {"%OSDRIVE%": ["C:"], "%WINDIR%": ["C:\\\\Windows"], ...},
       "roots": [{"rule_path": "%WINDIR%\\\\*", "directories": ["C:\\\\Windows"], "complete": true, "errors": []}],
       "folders": [{"path": "C:\\\\Windows\\\\Tasks",
                    "grantees": [{"sid": "S-1-5-11", "name": "NT AUTHORITY\\\\Authenticated Users",
                                  "allow_mask": 1180095, "deny_mask": 0}]}],
       "truncated": false}}

The probe reports raw access masks; every decision (who counts as an administrator, which rights
make a folder writable, which rules cover it, which exception closes it) is taken here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_core import (
    BROAD_SIDS,
    PATH_VARIABLES,
    SID_ADMINISTRATORS,
    AppLockerError,
    PathCondition,
    Policy,
    Rule,
    applocker_form,
    expansions,
    fold,
    path_matches,
)

PROBE_CONCERN = "applocker"
PROBE_VERSION = 1

# Access mask bits (winnt.h). The probe reports ACE masks as they are; generic bits are mapped
# to the file-specific rights here.
FILE_READ_DATA, FILE_WRITE_DATA, FILE_APPEND_DATA = 0x1, 0x2, 0x4
FILE_WRITE_EA, FILE_EXECUTE, FILE_WRITE_ATTRIBUTES = 0x10, 0x20, 0x100
WRITE_DAC, WRITE_OWNER = 0x40000, 0x80000
GENERIC = {
    0x80000000: 0x120089,  # GENERIC_READ -> FILE_GENERIC_READ
    0x40000000: 0x120116,  # GENERIC_WRITE -> FILE_GENERIC_WRITE
    0x20000000: 0x1200A0,  # GENERIC_EXECUTE -> FILE_GENERIC_EXECUTE
    0x10000000: 0x1F01FF,  # GENERIC_ALL -> FILE_ALL_ACCESS
}
# Create a file, create a subfolder (which its creator then owns), or rewrite the ACL or owner.
WRITE_BITS = FILE_WRITE_DATA | FILE_APPEND_DATA | WRITE_DAC | WRITE_OWNER
# AaronLocker's test for an executable alternate data stream on the folder itself.
ADS_BITS = FILE_WRITE_DATA | FILE_APPEND_DATA | FILE_WRITE_EA | FILE_WRITE_ATTRIBUTES | FILE_READ_DATA | FILE_EXECUTE

# Grantees whose write access is not a user's: administrators and the system itself. After
# AaronLocker's Enum-WritableDirs filter (CREATOR OWNER, SERVICE, SYSTEM, LOCAL/NETWORK SERVICE,
# Administrators, Server/Print/Backup Operators, RDS Management Servers, Performance Log Users,
# IIS_IUSRS, TrustedInstaller); per-service SIDs (S-1-5-80-*) and AppContainer package SIDs
# (S-1-15-2-*, which only ever reduce access) are left out the same way.
ADMIN_EQUIVALENT_SIDS = frozenset(
    {
        "S-1-3-0",
        "S-1-5-6",
        "S-1-5-18",
        "S-1-5-19",
        "S-1-5-20",
        SID_ADMINISTRATORS,
        "S-1-5-32-549",
        "S-1-5-32-550",
        "S-1-5-32-551",
        "S-1-5-32-559",
        "S-1-5-32-568",
        "S-1-5-32-577",
    }
)
ADMIN_EQUIVALENT_PREFIXES = ("S-1-5-80-", "S-1-15-2-")
_PROBE_FILE = "m1038-probe-file"  # a file name only a '*' matches


def effective_mask(allow: int, deny: int) -> int:
    def mapped(mask: int) -> int:
        mask &= 0xFFFFFFFF  # .NET reports GENERIC_READ as a negative Int32
        for bit, rights in GENERIC.items():
            if mask & bit:
                mask = (mask & ~bit) | rights
        return mask

    return mapped(allow) & ~mapped(deny)


def admin_equivalent(sid: str, known_admins: frozenset[str]) -> bool:
    sid = sid.upper()
    return sid in ADMIN_EQUIVALENT_SIDS or sid in known_admins or sid.startswith(ADMIN_EQUIVALENT_PREFIXES)


# --- the probe --------------------------------------------------------------------------------


def _need(value: object, kind: type | tuple, where: str) -> object:
    if isinstance(value, bool) and kind is not bool:
        raise AppLockerError(f"{where} is {value!r}, expected {getattr(kind, '__name__', kind)}")
    if not isinstance(value, kind):
        raise AppLockerError(f"{where} is {type(value).__name__} {value!r}, expected {getattr(kind, '__name__', kind)}")
    return value


def check_probe(probe: object, source: str) -> dict:
    """The ``writable_scan`` of an applocker probe, checked key by key (an error names the key)."""
    _need(probe, dict, f"{source}: the probe")
    if probe.get("concern") != PROBE_CONCERN:
        raise AppLockerError(f"{source}: probe is for concern {probe.get('concern')!r}, not {PROBE_CONCERN!r}")
    if probe.get("probe_version") != PROBE_VERSION:
        raise AppLockerError(
            f"{source}: probe_version {probe.get('probe_version')!r}; this planner reads version {PROBE_VERSION} "
            "(probe and planner come from different collection versions)"
        )
    scan = _need(probe.get("writable_scan"), dict, f"{source}: writable_scan")
    variables = _need(scan.get("variables"), dict, f"{source}: writable_scan.variables")
    for name, folders in variables.items():
        for index, folder in enumerate(_need(folders, list, f"{source}: writable_scan.variables[{name!r}]")):
            _need(folder, str, f"{source}: writable_scan.variables[{name!r}][{index}]")
    _need(scan.get("truncated", False), bool, f"{source}: writable_scan.truncated")
    for index, root in enumerate(_need(scan.get("roots"), list, f"{source}: writable_scan.roots")):
        where = f"{source}: writable_scan.roots[{index}]"
        _need(root, dict, where)
        _need(root.get("rule_path"), str, f"{where}.rule_path")
        _need(root.get("complete"), bool, f"{where}.complete")
        for key in ("directories", "errors"):
            for position, item in enumerate(_need(root.get(key, []), list, f"{where}.{key}")):
                _need(item, str, f"{where}.{key}[{position}]")
    for index, folder in enumerate(_need(scan.get("folders"), list, f"{source}: writable_scan.folders")):
        where = f"{source}: writable_scan.folders[{index}]"
        _need(folder, dict, where)
        _need(folder.get("path"), str, f"{where}.path")
        for position, grantee in enumerate(_need(folder.get("grantees"), list, f"{where}.grantees")):
            spot = f"{where}.grantees[{position}]"
            _need(grantee, dict, spot)
            _need(grantee.get("sid"), str, f"{spot}.sid")
            _need(grantee.get("allow_mask"), int, f"{spot}.allow_mask")
            _need(grantee.get("deny_mask", 0), int, f"{spot}.deny_mask")
    return scan


@dataclass
class Scan:
    host: str
    variables: dict[str, tuple[str, ...]]
    roots: dict[str, dict]  # rule path (folded) -> root entry
    truncated: bool
    folders: list[dict]  # writable folders: path, writers, ads


@dataclass
class WritableResult:
    policy: Policy
    folders: list[dict] = field(default_factory=list)
    exceptions_added: list[dict] = field(default_factory=list)
    uncovered: list[dict] = field(default_factory=list)
    unscanned: list[dict] = field(default_factory=list)
    broad_principals: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "folders": self.folders,
            "exceptions_added": self.exceptions_added,
            "uncovered": self.uncovered,
            "unscanned": self.unscanned,
            "broad_principals": self.broad_principals,
        }


def read_scan(probe: object, source: str, known_admins: frozenset[str]) -> Scan:
    scan = check_probe(probe, source)
    host = str((probe.get("host") or {}).get("computer_name") or source)
    variables = {key.upper(): tuple(value) for key, value in scan["variables"].items()}
    for name in PATH_VARIABLES:
        variables.setdefault(name, ())
    folders = []
    for folder in scan["folders"]:
        writers, ads = [], False
        for grantee in folder["grantees"]:
            if admin_equivalent(grantee["sid"], known_admins):
                continue
            mask = effective_mask(grantee["allow_mask"], grantee.get("deny_mask", 0))
            if mask & WRITE_BITS:
                writers.append({"sid": grantee["sid"].upper(), "name": grantee.get("name", "")})
                ads = ads or (mask & ADS_BITS) == ADS_BITS
        if writers:
            folders.append({"path": folder["path"].rstrip("\\"), "writers": writers, "ads": ads})
    roots = {fold(root["rule_path"]): root for root in scan["roots"]}
    return Scan(host, variables, roots, scan.get("truncated", False), folders)


# --- the planner ------------------------------------------------------------------------------


def _planned_rules(policy: Policy) -> list[tuple[str, int, Rule]]:
    """Allow path rules for non-administrators: the rules a writable folder can slip under."""
    found = []
    for name, coll in policy.collections.items():
        for index, rule in enumerate(coll.rules):
            if (
                rule.action == "Allow"
                and isinstance(rule.condition, PathCondition)
                and "*" in rule.condition.path
                and rule.sid.upper() != SID_ADMINISTRATORS
            ):
                found.append((name, index, rule))
    return found


def literal_folder(pattern: str) -> str:
    """The folder a path pattern starts in: everything before the first wildcard, up to a backslash."""
    head = pattern.split("*", 1)[0]
    return head.rsplit("\\", 1)[0] if "\\" in head else ""


def scan_roots(policy: Policy) -> list[str]:
    """The rule paths a probe must scan (the PART 2 probe's input), without those another one contains."""
    paths = sorted({rule.condition.path for _name, _index, rule in _planned_rules(policy)}, key=fold)
    roots = [p for p in paths if p.endswith("\\*") and "*" not in p[:-1]]  # plain "FOLDER\*" patterns
    kept = []
    for path in paths:
        concrete = expansions(literal_folder(path)) if literal_folder(path) else ()
        inside = [r for r in roots if r != path and concrete and all(_covers(r, c, None) for c in concrete)]
        if not inside:
            kept.append(path)
    return kept


def _scan_gap(rule_path: str, scan: Scan) -> str | None:
    """Why the scan does not vouch for every folder under ``rule_path`` (None when it does).

    A rule path is scanned when the probe scanned it, or scanned completely a root that contains
    the folder the pattern starts in (``%PROGRAMFILES%\\*`` contains ``%PROGRAMFILES%\\Contoso\\*``).
    """
    if scan.truncated:
        return "scan incomplete (truncated)"
    root = scan.roots.get(fold(rule_path))
    if root is not None:
        return None if root["complete"] else _incomplete(root)
    folder = literal_folder(rule_path)
    concrete = expansions(folder, scan.variables) if folder else ()
    if folder and not concrete:
        variable = folder.split("\\")[0]
        return f"{variable} has no folder on this host (removable media are writable by their users)"
    for item in concrete or [""]:
        containing = [r for r in scan.roots.values() if item and _covers(r["rule_path"], item, scan.variables)]
        if not containing:
            return "not scanned"
        if not any(r["complete"] for r in containing):
            return _incomplete(containing[0])
    return None


def _covers(pattern: str, folder: str, variables: dict, *, ads: bool = False) -> bool:
    if ads:
        return path_matches(pattern, f"{folder}:{_PROBE_FILE}", variables)
    return path_matches(pattern, f"{folder}\\{_PROBE_FILE}", variables) and path_matches(
        pattern, f"{folder}\\{_PROBE_FILE}\\{_PROBE_FILE}", variables
    )


def _topmost(folders: list[tuple[Scan, dict]]) -> list[tuple[Scan, dict]]:
    kept: list[tuple[Scan, dict]] = []
    for scan, folder in sorted(folders, key=lambda item: (item[0].host, fold(item[1]["path"]))):
        if not any(s is scan and fold(folder["path"]).startswith(fold(f["path"]) + "\\") for s, f in kept):
            kept.append((scan, folder))
    return kept


def plan_writable(
    policy: Policy, probes: list[tuple[str, object]], *, known_admins=(), add_exceptions=True
) -> WritableResult:
    """Exceptions for every writable folder under an allow path rule; what stays open is reported.

    ``probes`` are ``(source, probe)`` pairs, one per host. Exceptions go into every collection,
    whatever its mode, so the audit and enforce variants keep the same rules.
    """
    admins = frozenset(s.upper() for s in known_admins)
    scans = [read_scan(probe, source, admins) for source, probe in probes]
    result = WritableResult(policy=policy)
    for scan in scans:
        result.folders.extend({"host": scan.host, **folder} for folder in scan.folders)
    collections = {name: list(coll.rules) for name, coll in policy.collections.items()}
    for name, index, rule in _planned_rules(policy):
        where = {"collection": name, "rule": rule.name, "rule_id": rule.id, "rule_path": rule.condition.path}
        for scan in scans or [None]:
            reason = "no writable-folder probe" if scan is None else _scan_gap(rule.condition.path, scan)
            if reason:
                result.unscanned.append({**where, "host": scan.host if scan else None, "reason": reason})
        covered = [
            (scan, folder)
            for scan in scans
            for folder in scan.folders
            if _covers(rule.condition.path, folder["path"], scan.variables)
        ]
        exceptions = list(rule.exceptions)
        for scan, folder in _topmost(covered):
            entry = {**where, "host": scan.host, "folder": folder["path"], "writers": folder["writers"]}
            if rule.sid.upper() in BROAD_SIDS:
                result.broad_principals.append({**entry, "principal": BROAD_SIDS[rule.sid.upper()]})
            closed = _closed(exceptions, folder, scan.variables)
            if closed:
                continue
            form = applocker_form(folder["path"], scan.variables)
            wanted = [PathCondition(form + "\\*")] + ([PathCondition(form + ":*")] if folder["ads"] else [])
            if _is_rule_root(rule.condition.path, folder["path"], scan.variables):
                result.uncovered.append(
                    {**entry, "reason": "the rule's own folder is user-writable: an exception would void the rule"}
                )
            elif not add_exceptions:
                result.uncovered.append(
                    {**entry, "reason": "writable folder without an exception (writable_exceptions: report)"}
                )
            else:
                known = {fold(e.path) for e in exceptions if isinstance(e, PathCondition)}
                exceptions.extend(w for w in wanted if fold(w.path) not in known)
                result.exceptions_added.append({**entry, "exceptions": [w.path for w in wanted]})
        if len(exceptions) != len(rule.exceptions):
            collections[name][index] = replace(rule, exceptions=tuple(exceptions))
    for item in result.broad_principals:
        item["covered"] = not any(
            u["folder"] == item["folder"] and u["rule_id"] == item["rule_id"] for u in result.uncovered
        )
    result.policy = Policy(
        collections={name: replace(coll, rules=collections[name]) for name, coll in policy.collections.items()},
        version=policy.version,
        extensions=policy.extensions,
    )
    return result


def _incomplete(root: dict) -> str:
    return f"scan incomplete ({len(root.get('errors', []))} errors under {root['rule_path']})"


def _is_rule_root(rule_path: str, folder: str, variables: dict) -> bool:
    """The folder is the one the rule allows (``C:\\Tools`` for ``%OSDRIVE%\\Tools\\*``)."""
    return rule_path.endswith("\\*") and path_matches(rule_path[:-2], folder, variables)


def _closed(exceptions: list, folder: dict, variables: dict) -> bool:
    paths = [e.path for e in exceptions if isinstance(e, PathCondition)]
    inside = any(_covers(p, folder["path"], variables) for p in paths)
    ads = not folder["ads"] or any(_covers(p, folder["path"], variables, ads=True) for p in paths)
    return inside and ads

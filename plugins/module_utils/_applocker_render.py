# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The applocker_policy pipeline, top to bottom, pure until ``write_files``.

model -> policy -> trust policy rules -> writable-folder exceptions -> guardrails (enforce
variant) -> coverage -> XML of both variants -> XSD validation -> files. Nothing is written
unless every step passed; then only the files whose bytes differ, each through a temporary
file and an atomic rename, coverage.json last.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass

from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_compare import compare
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_core import (
    SID_EVERYONE,
    XML_MODES,
    AppLockerError,
    Policy,
    paused_gc,
    variant,
    write_atomic,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_guardrails import (
    CONNECTION_SIDS,
    Guardrails,
    check_overrides,
    evaluate,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_model import parse_model
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_model import sid as checked_sid
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_trust import (
    TRUST_COLLECTIONS,
    coverage,
    detection_decision,
    trust_rules,
    vendor_signers,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_writable import WritableResult, plan_writable
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_xml import render_policy, xsd_errors

AUDIT_FILE = "audit.xml"
ENFORCE_FILE = "enforce.xml"
COVERAGE_FILE = "coverage.json"
FILES = (AUDIT_FILE, ENFORCE_FILE, COVERAGE_FILE)  # written in this order: coverage.json last
MAX_ERRORS_SHOWN = 20
MAX_LISTED = 10


class GuardrailError(AppLockerError):
    """The enforce variant breaks a guardrail that no override names."""

    def __init__(self, guardrails: Guardrails):
        self.guardrails = guardrails
        errors = guardrails.messages("error")
        more = f"; and {len(errors) - MAX_ERRORS_SHOWN} more errors" if len(errors) > MAX_ERRORS_SHOWN else ""
        super().__init__("the enforce variant is refused: " + "; ".join(errors[:MAX_ERRORS_SHOWN]) + more)


@dataclass
class Rendered:
    files: dict[str, bytes]
    policy: Policy  # the enforce variant
    guardrails: Guardrails
    writable: WritableResult
    coverage: dict
    collections: dict


def _writable_guardrails(result: Guardrails, policy: Policy, writable: WritableResult, overrides: set[str]) -> None:
    for name, coll in policy.collections.items():
        if not coll.enforced:
            continue
        unscanned = [u for u in writable.unscanned if u["collection"] == name]
        if unscanned:
            paths = sorted({f"{u['rule_path']} ({u['host'] or 'no host'}: {u['reason']})" for u in unscanned})
            shown = paths if len(paths) <= MAX_LISTED else [*paths[:MAX_LISTED], f"and {len(paths) - MAX_LISTED} more"]
            result.add(
                "unscanned_paths",
                name,
                "error",
                f"{name}: allowed paths whose user-writable folders are unknown: {'; '.join(shown)}; give a complete "
                "writable-folder probe for every host (writable_probes) (override: unscanned_paths)",
                overrides,
                paths=paths,
            )
        for item in [u for u in writable.uncovered if u["collection"] == name]:
            writers = ", ".join(w["name"] or w["sid"] for w in item["writers"])
            result.add(
                "writable_uncovered",
                name,
                "error",
                f"{name}: {item['folder']} on {item['host']} is writable by {writers} and rule {item['rule']!r} "
                f"({item['rule_path']}) allows running from it: {item['reason']} (override: writable_uncovered)",
                overrides,
                folder=item["folder"],
            )
        planned = any(r.kind == "path" and r.action == "Allow" for r in coll.rules)
        if planned and not unscanned and not [u for u in writable.uncovered if u["collection"] == name]:
            result.add(
                "writable_uncovered",
                name,
                "ok",
                f"{name}: every scanned user-writable folder is an exception",
                overrides,
            )
    for name in sorted({item["collection"] for item in writable.broad_principals}):
        items = [item for item in writable.broad_principals if item["collection"] == name]
        rules = sorted({f"{item['rule']!r} ({item['principal']})" for item in items})
        still_open = sorted({f"{item['folder']} on {item['host']}" for item in items if not item["covered"]})
        result.add(
            "broad_principal_writable",
            name,
            "warning" if still_open else "ok",
            f"{name}: {', '.join(rules)} cover {len(items)} user-writable folders; "
            + (f"NOT closed: {'; '.join(still_open)}" if still_open else "every one closed by an exception"),
            set(),
        )


def _variants(names: list | None) -> tuple[str, ...]:
    """The variant files to render: both by default; ``[audit]`` renders the audit variant alone."""
    chosen = set(names if names is not None else ("audit", "enforce"))
    unknown = sorted(chosen - {"audit", "enforce"})
    if unknown or "audit" not in chosen:
        raise AppLockerError(f"variants: {sorted(chosen)} must be [audit] or [audit, enforce] (unknown: {unknown})")
    return (AUDIT_FILE, ENFORCE_FILE) if "enforce" in chosen else (AUDIT_FILE,)


def _not_rendered(guardrails: Guardrails) -> None:
    """Only the audit variant is rendered, which blocks nothing: the enforce variant's errors become warnings
    (what would stop enforcing), and its file is not written."""
    for result in guardrails.results:
        if result["status"] == "error":
            result["status"] = "warning"
            result["message"] = f"enforce variant not rendered, it would be refused: {result['message']}"


def dump_json(value: dict) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def render(
    params: dict, *, summary: dict | None = None, summary_source: str = "", probes: list | None = None
) -> Rendered:
    """Build and check every output; raise AppLockerError (GuardrailError for guardrails) on any problem."""
    with paused_gc():
        return _render(params, summary, summary_source, probes)


def _render(params: dict, summary: dict | None, summary_source: str, probes: list | None) -> Rendered:
    overrides = check_overrides(params.get("guardrail_overrides"))
    policy = parse_model(params.get("model"))
    signers = vendor_signers(params.get("vendor_signers"))
    decision = detection_decision(params, summary, summary_source)
    collections = params.get("trust_collections")
    collections = list(TRUST_COLLECTIONS) if collections is None else collections
    policy, placed = trust_rules(policy, decision, signers, collections, params.get("trust_sid") or SID_EVERYONE)
    writable = plan_writable(
        policy,
        probes or [],
        known_admins=[checked_sid(s, f"known_admins[{i}]") for i, s in enumerate(params.get("known_admins") or [])],
        add_exceptions=params.get("writable_exceptions", "add") == "add",
    )
    policy = writable.policy
    groups = params.get("connection_groups") or []
    connection = CONNECTION_SIDS + tuple(checked_sid(s, f"connection_groups[{i}]") for i, s in enumerate(groups))
    guardrails = evaluate(policy, overrides=overrides, connection_sids=connection)
    _writable_guardrails(guardrails, policy, writable, overrides)
    variants = _variants(params.get("variants"))
    if guardrails.errors:
        if ENFORCE_FILE in variants:
            raise GuardrailError(guardrails)
        _not_rendered(guardrails)
    report = coverage(policy, decision, signers, placed)
    report["writable"] = writable.to_dict()
    files = {AUDIT_FILE: render_policy(variant(policy, "audit")).encode("utf-8")}
    if ENFORCE_FILE in variants:
        files[ENFORCE_FILE] = render_policy(policy).encode("utf-8")
    for name, data in files.items():
        errors = xsd_errors(data, name)
        if errors:
            more = f"; and {len(errors) - MAX_ERRORS_SHOWN} more" if len(errors) > MAX_ERRORS_SHOWN else ""
            raise AppLockerError(
                f"{name} is not valid against the AppLocker policy XSD: " + "; ".join(errors[:MAX_ERRORS_SHOWN]) + more
            )
    files[COVERAGE_FILE] = dump_json(report)
    audit = variant(policy, "audit")
    summary_modes = {
        name: {
            "model_mode": XML_MODES.get(coll.mode, coll.mode),
            "audit_mode": audit.collections[name].mode,
            "enforce_mode": coll.mode,
            "enforced": coll.enforced,
            "rules": len(coll.rules),
        }
        for name, coll in policy.collections.items()
    }
    return Rendered(files, policy, guardrails, writable, report, summary_modes)


# --- files ------------------------------------------------------------------------------------


def read_bytes(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise AppLockerError(f"{path}: cannot be read ({exc})") from None


def plan_files(dest: str, files: dict[str, bytes]) -> dict[str, bytes | None]:
    """The files whose bytes differ from ``dest``: name -> current bytes (None when missing).

    A file not rendered (enforce.xml when only the audit variant is) that ``dest`` still holds is
    listed too: it is removed, so that no enforce.xml older than its audit.xml stays beside it.
    """
    changed = {}
    for name in FILES:
        current = read_bytes(os.path.join(dest, name))
        if current != files.get(name):
            changed[name] = current
    return changed


def policy_changes(changed: dict[str, bytes | None], files: dict[str, bytes]) -> dict:
    """Per variant: the semantic difference from the file on disk (the previous render)."""
    result = {}
    for name in (AUDIT_FILE, ENFORCE_FILE):
        if name not in changed:
            result[name] = []
        elif name not in files:
            result[name] = ["removed: only the audit variant is rendered"]
        elif changed[name] is None:
            result[name] = ["new file"]
        else:
            try:
                result[name] = compare(changed[name], files[name]).summary() or ["formatting only, same policy"]
            except AppLockerError as exc:
                result[name] = [f"previous file unreadable as a policy: {exc}"]
    return result


def diff_entries(dest: str, changed: dict[str, bytes | None], files: dict[str, bytes]) -> list[dict]:
    entries = []
    for name, before in changed.items():
        path = os.path.join(dest, name)
        entries.append(
            {
                "before_header": path,
                "after_header": path,
                "before": (before or b"").decode("utf-8", "replace"),
                "after": files.get(name, b"").decode("utf-8"),
            }
        )
    return entries


def write_files(
    dest: str, changed: dict, files: dict[str, bytes], move: Callable[[str, str], None], tmpdir: str
) -> None:
    """Each changed file through a temporary file in ``tmpdir`` and ``move`` (atomic), coverage.json last."""
    os.makedirs(dest, exist_ok=True)
    for name in FILES:
        if name not in changed:
            continue
        if name not in files:
            os.remove(os.path.join(dest, name))
            continue
        write_atomic(os.path.join(dest, name), files[name], move, tmpdir, "m1038-applocker")


def sha256s(dest: str, files: dict[str, bytes]) -> dict:
    return {os.path.join(dest, name): hashlib.sha256(data).hexdigest() for name, data in files.items()}

# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One trust policy, two consumers: AppLocker publisher rules from it, and coverage.json.

Detection (``wazuh_ruleset``) trusts vendors by name: the installer Publisher or the PE Company
string. AppLocker matches the signer's certificate subject (``O=..., L=..., S=..., C=...``), so
the trust policy carries, per vendor, the subject(s) its files are signed with
(``m1038_vendor_signers``). A trusted vendor with a signer becomes an Allow publisher rule in
every configured collection of ``trust_collections``; a denied vendor a Deny rule for Everyone.

What detection trusts is read from the renderer's ``summary.json`` when given (it includes the
vendors trusted by prevalence); otherwise it is the explicit lists. Every divergence goes to
the coverage report, both ways: ``detection_only`` (a vendor detection trusts or denies that no
AppLocker rule covers) and ``prevention_only`` (an AppLocker rule detection has no counterpart
for: path and hash rules, publisher rules for signers no trusted vendor maps to).
"""

from __future__ import annotations

import re

from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_core import (
    ANY,
    COLLECTIONS,
    SID_EVERYONE,
    AppLockerError,
    Policy,
    PublisherCondition,
    Rule,
    fold,
    identity,
    with_id,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_model import sid as checked_sid
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_model import text
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_policy import (
    PolicyError,
    _vendor_list,  # the detection side's own validation of the same lists
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_rules import GENERATOR as DETECTION_GENERATOR

GENERATOR = "m1038.appcontrol.applocker_policy"
COVERAGE_SCHEMA = 1
TRUST_COLLECTIONS = ("Exe", "Msi", "Script", "Dll")  # Appx publishers are package identities, not file signers
_RDN = re.compile(r'\s*([A-Za-z][A-Za-z0-9.]*)\s*=\s*("(?:[^"]|"")*"|[^,]*)\s*(?:,|$)')


def signer_subject(value: object, where: str) -> str:
    """A certificate subject as AppLocker writes it: ``O=..., L=..., S=..., C=...`` (values may be quoted)."""
    subject = text(value, where).strip()
    position, keys = 0, []
    while position < len(subject):
        match = _RDN.match(subject, position)
        if not match or match.end() == position:
            raise AppLockerError(
                f"{where}: {subject!r} is not a certificate subject such as 'O=CONTOSO LTD, L=..., S=..., C=US'"
            )
        keys.append(match.group(1).upper())
        position = match.end()
    if not {"O", "CN"} & set(keys):
        raise AppLockerError(f"{where}: {subject!r} names no O= (organisation) or CN=, as a signer subject does")
    return subject


def vendor_signers(value: object) -> dict[str, list[str]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise AppLockerError(f"vendor_signers must map a vendor to its signer subject(s), got {type(value).__name__}")
    result: dict[str, list[str]] = {}
    for vendor, subjects in value.items():
        where = f"vendor_signers[{vendor!r}]"
        items = subjects if isinstance(subjects, list) else [subjects]
        if not items:
            raise AppLockerError(f"{where}: an empty list")
        result[str(vendor)] = sorted(
            {signer_subject(s, f"{where}[{i}]") for i, s in enumerate(items)}, key=str.casefold
        )
    return result


def detection_decision(params: dict, summary: dict | None, summary_source: str) -> dict:
    """``{vendor: {"status": trusted|denied, "reasons": [...]}}``, the source, and inconsistencies."""
    try:
        trusted = _vendor_list(params.get("trusted_vendors"), "trusted_vendors")
        denied = _vendor_list(params.get("denied_vendors"), "denied_vendors")
    except (PolicyError, ValueError) as exc:
        raise AppLockerError(str(exc)) from None
    notes: list[str] = []
    if summary is None:
        vendors = {v: {"status": "trusted", "reasons": ["explicit"]} for v in trusted if v not in denied}
        vendors.update({v: {"status": "denied", "reasons": ["explicit"]} for v in denied})
        source = {
            "kind": "trust_policy",
            "path": summary_source or None,
            "note": "explicit lists only: vendors trusted by prevalence are unknown without the detection summary",
        }
        return {"vendors": vendors, "source": source, "inconsistencies": notes}
    if not isinstance(summary, dict) or summary.get("generator") != DETECTION_GENERATOR:
        raise AppLockerError(f"{summary_source}: not a summary.json written by {DETECTION_GENERATOR}")
    listed = summary.get("vendors")
    if not isinstance(listed, dict):
        raise AppLockerError(f"{summary_source}: has no vendors map")
    vendors = {
        name: {"status": info.get("status"), "reasons": sorted(info.get("reasons") or [])}
        for name, info in listed.items()
        if isinstance(info, dict) and info.get("status") in ("trusted", "denied")
    }
    explicit = {v for v, i in vendors.items() if i["status"] == "trusted" and "explicit" in i["reasons"]}
    for vendor in sorted(set(trusted) - set(denied) - explicit):
        notes.append(f"{vendor!r} is in trusted_vendors but {summary_source} does not list it as explicitly trusted")
    for vendor in sorted(explicit - set(trusted)):
        notes.append(f"{summary_source} trusts {vendor!r} explicitly but trusted_vendors does not list it")
    for vendor in sorted(set(denied) - {v for v, i in vendors.items() if i["status"] == "denied"}):
        notes.append(f"{vendor!r} is in denied_vendors but {summary_source} does not deny it")
    source = {"kind": "detection_summary", "path": summary_source, "note": "what the Wazuh render decided"}
    return {"vendors": vendors, "source": source, "inconsistencies": notes}


def trust_rules(
    policy: Policy, decision: dict, signers: dict, collections: list[str], trust_sid: str
) -> tuple[Policy, dict]:
    """Add the trust policy's publisher rules to the configured collections; return coverage facts."""
    unknown = sorted(set(collections) - set(TRUST_COLLECTIONS))
    if unknown:
        raise AppLockerError(f"trust_collections: {unknown[0]!r} is not one of {', '.join(TRUST_COLLECTIONS)}")
    allow_sid = checked_sid(trust_sid, "trust_sid")
    by_signer: dict[tuple[str, str], dict] = {}  # (action, folded signer) -> signer, vendors
    for vendor, info in decision["vendors"].items():
        action = "Allow" if info["status"] == "trusted" else "Deny"
        for subject in signers.get(vendor, []):
            entry = by_signer.setdefault((action, fold(subject)), {"signer": subject, "vendors": []})
            entry["vendors"].append(vendor)
    conflicts = []
    for (action, key), entry in list(by_signer.items()):
        if action == "Allow" and ("Deny", key) in by_signer:
            conflicts.append(
                {"signer": entry["signer"], "trusted": entry["vendors"], "denied": by_signer[("Deny", key)]["vendors"]}
            )
            del by_signer[(action, key)]
    placed: dict[str, list[dict]] = {}
    targets = [name for name in COLLECTIONS if name in collections and policy.collection(name).mode != "NotConfigured"]
    for name in targets:
        coll = policy.collections[name]
        existing = {identity(name, rule): rule for rule in coll.rules}
        for (action, _key), entry in sorted(by_signer.items()):
            vendors = sorted(entry["vendors"])
            status = "trusted" if action == "Allow" else "denied"
            rule = with_id(
                name,
                Rule(
                    name=f"{status.capitalize()} vendor: {', '.join(vendors)}",
                    condition=PublisherCondition(entry["signer"], ANY, ANY, ANY, ANY),
                    action=action,
                    sid=allow_sid if action == "Allow" else SID_EVERYONE,
                    description=f"From the trust policy ({status} for detection): files signed by {entry['signer']}",
                    origin="trust policy",
                ),
            )
            kept = existing.get(identity(name, rule))
            if kept is None:
                coll.rules.append(rule)
                kept = rule
            for vendor in vendors:
                placed.setdefault(vendor, []).append(
                    {"collection": name, "action": action, "rule": kept.name, "rule_id": kept.id}
                )
    return policy, {"placed": placed, "conflicts": conflicts, "collections": targets}


def _counterpart(rule: Rule, signer_status: dict[str, str]) -> str | None:
    """Why detection has no counterpart for this rule, or None when it has one."""
    if rule.origin == "trust policy":
        return None
    cond = rule.condition
    if cond.kind == "publisher":
        if cond.publisher == ANY:
            return (
                "allows every signed file; detection trusts vendors one by one"
                if rule.action == "Allow"
                else "denies every signed file"
            )
        wanted = "trusted" if rule.action == "Allow" else "denied"
        if signer_status.get(fold(cond.publisher)) == wanted:
            return None
        return f"publisher rule for a signer no {wanted} vendor of the trust policy maps to"
    if cond.kind == "path":
        return "path rule: detection trusts vendors, not folders"
    return "hash rule: detection trusts vendors, not file hashes"


def coverage(policy: Policy, decision: dict, signers: dict, placed: dict) -> dict:
    """The coverage report (coverage.json): both directions of divergence, machine-readable."""
    signer_status = {}
    for vendor, info in decision["vendors"].items():
        for subject in signers.get(vendor, []):
            if signer_status.get(fold(subject)) != "denied":
                signer_status[fold(subject)] = info["status"]
    vendors, detection_only = {}, []
    for vendor, info in sorted(decision["vendors"].items()):
        rules = placed["placed"].get(vendor, [])
        vendors[vendor] = {
            "detection": info["status"],
            "reasons": info["reasons"],
            "signers": signers.get(vendor, []),
            "applocker": rules,
        }
        if rules:
            continue
        if not signers.get(vendor):
            reason = "no signer subject in vendor_signers: AppLocker cannot match this vendor"
        elif not placed["collections"]:
            reason = "no configured collection in trust_collections to hold its rule"
        else:
            reason = "its signer is both trusted and denied: denied wins, no allow rule"
        detection_only.append(
            {"vendor": vendor, "detection": info["status"], "reasons": info["reasons"], "reason": reason}
        )
    prevention_only = []
    for name, coll in policy.collections.items():
        for rule in sorted(coll.rules, key=lambda r: (r.name.casefold(), r.id)):
            reason = _counterpart(rule, signer_status)
            if reason:
                prevention_only.append(
                    {
                        "collection": name,
                        "rule": rule.name,
                        "rule_id": rule.id,
                        "kind": rule.kind,
                        "action": rule.action,
                        "sid": rule.sid,
                        "reason": reason,
                    }
                )
    unused = [
        {"vendor": vendor, "signers": subjects, "reason": "the trust policy neither trusts nor denies this vendor"}
        for vendor, subjects in sorted(signers.items())
        if vendor not in decision["vendors"]
    ]
    return {
        "generator": GENERATOR,
        "schema": COVERAGE_SCHEMA,
        "detection_source": decision["source"],
        "counts": {
            "vendors": len(vendors),
            "covered": sum(1 for v in vendors.values() if v["applocker"]),
            "detection_only": len(detection_only),
            "prevention_only": len(prevention_only),
            "unused_signers": len(unused),
            "conflicts": len(placed["conflicts"]),
        },
        "trust_collections": placed["collections"],
        "vendors": vendors,
        "detection_only": detection_only,
        "prevention_only": prevention_only,
        "unused_signers": unused,
        "conflicts": placed["conflicts"],
        "inconsistencies": decision["inconsistencies"],
    }

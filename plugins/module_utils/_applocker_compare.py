# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compare two AppLocker policies by meaning: the basis of idempotency and of the diff.

Both sides are normalised first, so these never count as a difference: rule and collection
order, whitespace and comments, the case of rule Ids, the encoding (UTF-16 LE/BE, UTF-8, with or
without a byte order mark), attributes left at their default (a collection without
EnforcementMode is NotConfigured; a collection that is absent is NotConfigured and empty), an
empty ``<Exceptions/>``, the order of exceptions and hashes, and the case of what AppLocker
compares case-insensitively (publisher, product and binary names, paths, hash digits).

The result names, per collection, the mode change and the rules added, removed or changed
(matched by Id; a changed rule lists the fields that differ).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_core import (
    COLLECTIONS,
    AppLockerError,
    Collection,
    Policy,
    Rule,
    paused_gc,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_xml import parse_policy, render_policy

RULE_FIELDS = ("kind", "name", "description", "sid", "action", "condition", "hash_files", "exceptions")


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def normal_rule(rule: Rule) -> dict:
    hash_files = []
    if rule.kind == "hash":
        hash_files = sorted(
            ([*h.canonical(), h.source_name, h.source_length] for h in rule.condition.hashes), key=_json
        )
    return {
        "kind": rule.kind,
        "name": rule.name,
        "description": rule.description,
        "sid": rule.sid.upper(),
        "action": rule.action,
        "condition": rule.condition.canonical(),
        "hash_files": hash_files,
        "exceptions": sorted((e.canonical() for e in rule.exceptions), key=_json),
    }


def normalise(policy: Policy | bytes | str, source: str = "policy") -> dict:
    """The policy's meaning as plain data: ``{version, extensions, collections: {type: {...}}}``."""
    if not isinstance(policy, Policy):
        policy = parse_policy(policy, source)
    collections = {}
    seen: dict[str, str] = {}
    for name in sorted(set(COLLECTIONS) | set(policy.collections)):
        coll = policy.collection(name)
        for rule in coll.rules:
            key = rule.id.lower()
            if key in seen:
                raise AppLockerError(
                    f"{source}: rule Id {rule.id} is used twice ({seen[key]} and {name} {rule.name!r})"
                )
            seen[key] = f"{name} {rule.name!r}"
        collections[name] = {
            "mode": coll.mode,
            "extensions": coll.extensions,
            "rules": {rule.id.lower(): normal_rule(rule) for rule in coll.rules},
        }
    return {
        "version": str(policy.version).strip(),
        "extensions": policy.extensions,
        "collections": collections,
    }


def canonical_policy(policy: Policy | bytes | str, source: str = "policy") -> Policy:
    """The policy rebuilt from its normal form: lower-case Ids, upper-case values AppLocker compares
    case-insensitively, version sections without leading zeros, every collection present."""
    if not isinstance(policy, Policy):
        policy = parse_policy(policy, source)
    collections = {}
    for name, coll in policy.complete().collections.items():
        rules = [
            Rule(
                name=r.name,
                condition=r.condition.folded(),
                action=r.action,
                sid=r.sid.upper(),
                description=r.description,
                exceptions=tuple(dict.fromkeys(e.folded() for e in r.exceptions)),
                id=r.id.lower(),
                origin=r.origin,
            )
            for r in coll.rules
        ]
        collections[name] = Collection(name, coll.mode, rules, coll.extensions)
    return Policy(collections=collections, version=str(policy.version).strip(), extensions=policy.extensions)


def canonical_xml(policy: Policy | bytes | str, source: str = "policy") -> str:
    """The normal form as XML text: two policies that compare equal give the same text."""
    return render_policy(canonical_policy(policy, source))


@dataclass
class PolicyDiff:
    collections: dict[str, dict] = field(default_factory=dict)  # only collections that differ
    version: dict | None = None
    extensions: dict | None = None

    @property
    def equal(self) -> bool:
        return not (self.collections or self.version or self.extensions)

    def to_dict(self) -> dict:
        return {
            "equal": self.equal,
            "version": self.version,
            "extensions": self.extensions,
            "collections": self.collections,
        }

    def summary(self) -> list[str]:
        """One line per difference, for a playbook's output."""
        lines = []
        if self.version:
            lines.append(f"policy Version {self.version['before']} -> {self.version['after']}")
        if self.extensions:
            lines.append("PolicyExtensions differ")
        for name, diff in self.collections.items():
            if diff["mode"]:
                lines.append(f"{name}: EnforcementMode {diff['mode']['before']} -> {diff['mode']['after']}")
            if diff["extensions"]:
                lines.append(f"{name}: RuleCollectionExtensions differ")
            lines.extend(f"{name}: + {r['name']} ({r['id']})" for r in diff["added"])
            lines.extend(f"{name}: - {r['name']} ({r['id']})" for r in diff["removed"])
            lines.extend(f"{name}: ~ {r['name']} ({r['id']}): {', '.join(r['fields'])}" for r in diff["changed"])
        return lines


def compare(before: Policy | bytes | str, after: Policy | bytes | str) -> PolicyDiff:
    """The semantic difference from ``before`` to ``after``."""
    with paused_gc():
        old = normalise(before, "before")
        new = normalise(after, "after")
    diff = PolicyDiff()
    if old["version"] != new["version"]:
        diff.version = {"before": old["version"], "after": new["version"]}
    if old["extensions"] != new["extensions"]:
        diff.extensions = {"before": old["extensions"], "after": new["extensions"]}
    for name in sorted(set(old["collections"]) | set(new["collections"])):
        empty = {"mode": "NotConfigured", "extensions": None, "rules": {}}
        a = old["collections"].get(name, empty)
        b = new["collections"].get(name, empty)
        entry = {
            "mode": None if a["mode"] == b["mode"] else {"before": a["mode"], "after": b["mode"]},
            "extensions": None
            if a["extensions"] == b["extensions"]
            else {"before": a["extensions"], "after": b["extensions"]},
            "added": [
                {"id": rid, "name": b["rules"][rid]["name"]} for rid in sorted(set(b["rules"]) - set(a["rules"]))
            ],
            "removed": [
                {"id": rid, "name": a["rules"][rid]["name"]} for rid in sorted(set(a["rules"]) - set(b["rules"]))
            ],
            "changed": [],
        }
        for rid in sorted(set(a["rules"]) & set(b["rules"])):
            fields = [key for key in RULE_FIELDS if a["rules"][rid][key] != b["rules"][rid][key]]
            if fields:
                entry["changed"].append({"id": rid, "name": b["rules"][rid]["name"], "fields": fields})
        if entry["mode"] or entry["extensions"] or entry["added"] or entry["removed"] or entry["changed"]:
            diff.collections[name] = entry
    return diff

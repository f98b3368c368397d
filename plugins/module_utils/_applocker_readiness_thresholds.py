# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the user cares about: readiness thresholds per collection, per binary and per user group.

Every would-be-blocked event of a host counts against exactly one **budget**, the first that
matches in this order: a ``binaries`` entry (list order), a ``user_groups`` entry (list order),
else the event's collection. A budget's ``max_events`` is the number of such events a host may
have in the window and still be ready; ``null`` means "not cared about" (never holds a host
back). A host is not ready for a collection when a budget it exceeds counted an event of that
collection. Without thresholds every would-be-blocked event holds its host back::

    collections: {Exe: 0, Dll: 50}      # per collection; others take `default` (0)
    default: 0
    binaries:
      - name: Build tools on the share     # a label for the report
        path: '%OSDRIVE%\\Tools\\*'         # and/or publisher (+ product, binary) and/or hash
        max_events: null
    user_groups:
      - name: Service accounts
        sids: [S-1-5-18, 'S-1-5-21-*-1150']
        max_events: null
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_core import COLLECTIONS, fold, path_matches

BINARY_KEYS = {"name", "path", "publisher", "product", "binary", "hash", "collections", "max_events"}
GROUP_KEYS = {"name", "sids", "max_events"}
TOP_KEYS = {"collections", "default", "binaries", "user_groups"}
_HEX64 = re.compile(r"^(?:0x)?([0-9A-Fa-f]{64})$")
_SID_PATTERN = re.compile(r"^S-1-[0-9*]+(?:-[0-9*]+)+$", re.IGNORECASE)


class ThresholdError(ValueError):
    """A threshold setting that cannot be used; the message names it and where it is."""


@functools.lru_cache(maxsize=4096)
def _compiled(pattern: str) -> re.Pattern:
    return re.compile(".*".join(re.escape(part) for part in fold(pattern).split("*")), re.DOTALL)


def wildcard(pattern: str, text: str) -> bool:
    """AppLocker's matching: ``*`` is any run of characters, case does not matter."""
    return _compiled(pattern).fullmatch(fold(text)) is not None


@dataclass(frozen=True)
class Budget:
    index: int
    kind: str  # binary | user_group | collection
    name: str
    limit: int | None  # None: never holds a host back

    @property
    def label(self) -> str:
        return {"binary": "binary", "user_group": "user group", "collection": "collection"}[self.kind] + f" {self.name}"

    def to_dict(self) -> dict:
        return {"kind": self.kind, "name": self.name, "max_events": self.limit}


@dataclass(frozen=True)
class BinaryMatch:
    budget: int
    path: str | None = None
    publisher: str | None = None
    product: str | None = None
    binary: str | None = None
    sha256: str | None = None
    collections: frozenset = frozenset()

    def matches(self, collection: str, path: str, full_path: str, signature, sha256: str | None) -> bool:
        if self.collections and collection not in self.collections:
            return False
        if self.path is not None and not (wildcard(self.path, path) or path_matches(self.path, full_path)):
            return False
        if self.sha256 is not None and self.sha256 != sha256:
            return False
        return self.publisher is None or self._signed_by(signature)

    def _signed_by(self, signature) -> bool:
        if signature is None or not wildcard(self.publisher, signature.publisher):
            return False
        return all(
            pattern is None or wildcard(pattern, value)
            for pattern, value in ((self.product, signature.product), (self.binary, signature.binary))
        )


@dataclass
class Thresholds:
    budgets: list[Budget] = field(default_factory=list)
    binaries: list[BinaryMatch] = field(default_factory=list)
    groups: list[tuple[int, tuple[str, ...]]] = field(default_factory=list)
    collection_budget: dict[str, int] = field(default_factory=dict)

    def key(self, event) -> tuple:
        """What ``budget_for`` depends on: with no binary entries, only the collection and the user."""
        if not self.binaries:
            return (event.collection, event.user)
        return (event.collection, event.path, event.full_path, event.signature, event.sha256, event.user)

    def budget_for(self, event) -> int:
        """The index of the budget an event (``_applocker_readiness_events.Event``) counts against:
        the first matching binary entry, else user group, else the event's collection."""
        for match in self.binaries:
            if match.matches(event.collection, event.path, event.full_path, event.signature, event.sha256):
                return match.budget
        if event.user:
            for index, sids in self.groups:
                if any(wildcard(sid, event.user) for sid in sids):
                    return index
        return self.collection_budget[event.collection]

    def to_dict(self) -> dict:
        return {"budgets": [budget.to_dict() for budget in self.budgets]}


def _limit(value: object, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        if isinstance(value, str) and value.strip().isdigit():
            return int(value.strip())
        raise ThresholdError(f"{where}: {value!r} is not a number of events (0 or more) or null (not cared about)")
    return value


def _text(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ThresholdError(f"{where}: {value!r} must be a non-empty string")
    return value.strip()


def _collection(value: object, where: str) -> str:
    for name in COLLECTIONS:
        if isinstance(value, str) and value.strip().lower() == name.lower():
            return name
    raise ThresholdError(f"{where}: {value!r} is not a rule collection ({', '.join(COLLECTIONS)})")


def _binary(item: object, index: int, budget: int) -> tuple[Budget, BinaryMatch]:
    where = f"thresholds.binaries[{index}]"
    if not isinstance(item, dict):
        raise ThresholdError(f"{where}: expected a mapping with name, max_events and path, publisher or hash")
    name = item.get("name")
    label = f"{where} ({name!r})" if isinstance(name, str) else where
    unknown = sorted(set(item) - BINARY_KEYS)
    if unknown:
        raise ThresholdError(f"{label}: unknown key {unknown[0]!r}; known keys: {', '.join(sorted(BINARY_KEYS))}")
    name = _text(name, f"{where}.name")
    if "max_events" not in item:
        raise ThresholdError(f"{label}: max_events is required (a number of events, or null: not cared about)")
    if not {"path", "publisher", "hash"} & set(item):
        raise ThresholdError(f"{label}: give at least one of path, publisher, hash")
    if ({"product", "binary"} & set(item)) and "publisher" not in item:
        raise ThresholdError(f"{label}: product and binary narrow a publisher; give publisher too")
    sha256 = None
    if "hash" in item:
        match = _HEX64.match(str(item["hash"]).strip())
        if not match:
            raise ThresholdError(f"{label}.hash: {item['hash']!r} is not a SHA256 hash (64 hex digits)")
        sha256 = match.group(1).upper()
    raw_collections = item.get("collections") or []
    if not isinstance(raw_collections, list):
        raise ThresholdError(f"{label}.collections: expected a list of collections")
    collections = frozenset(_collection(c, f"{label}.collections[{i}]") for i, c in enumerate(raw_collections))
    matcher = BinaryMatch(
        budget,
        path=_text(item["path"], f"{label}.path") if "path" in item else None,
        publisher=_text(item["publisher"], f"{label}.publisher") if "publisher" in item else None,
        product=_text(item["product"], f"{label}.product") if "product" in item else None,
        binary=_text(item["binary"], f"{label}.binary") if "binary" in item else None,
        sha256=sha256,
        collections=collections,
    )
    return Budget(budget, "binary", name, _limit(item["max_events"], f"{label}.max_events")), matcher


def _group(item: object, index: int, budget: int) -> tuple[Budget, tuple[str, ...]]:
    where = f"thresholds.user_groups[{index}]"
    if not isinstance(item, dict):
        raise ThresholdError(f"{where}: expected a mapping with name, sids and max_events")
    name = item.get("name")
    label = f"{where} ({name!r})" if isinstance(name, str) else where
    unknown = sorted(set(item) - GROUP_KEYS)
    if unknown:
        raise ThresholdError(f"{label}: unknown key {unknown[0]!r}; known keys: {', '.join(sorted(GROUP_KEYS))}")
    name = _text(name, f"{where}.name")
    if "max_events" not in item:
        raise ThresholdError(f"{label}: max_events is required (a number of events, or null: not cared about)")
    sids = item.get("sids")
    if not isinstance(sids, list) or not sids:
        raise ThresholdError(f"{label}.sids: expected a non-empty list of SIDs (S-1-5-21-...; '*' is a wildcard)")
    checked = []
    for position, sid in enumerate(sids):
        text = _text(sid, f"{label}.sids[{position}]").upper()
        if not _SID_PATTERN.match(text):
            raise ThresholdError(f"{label}.sids[{position}]: {sid!r} is not a SID such as S-1-5-21-...-1104")
        checked.append(text)
    return Budget(budget, "user_group", name, _limit(item["max_events"], f"{label}.max_events")), tuple(checked)


def parse_thresholds(value: object) -> Thresholds:
    """Validate the thresholds into budgets; every error names the setting and where it is."""
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise ThresholdError(f"thresholds: expected a mapping ({', '.join(sorted(TOP_KEYS))}), got {value!r}")
    unknown = sorted(set(value) - TOP_KEYS)
    if unknown:
        raise ThresholdError(f"thresholds: unknown key {unknown[0]!r}; known keys: {', '.join(sorted(TOP_KEYS))}")
    result = Thresholds()
    binaries = [] if value.get("binaries") is None else value["binaries"]
    groups = [] if value.get("user_groups") is None else value["user_groups"]
    for key, items in (("binaries", binaries), ("user_groups", groups)):
        if not isinstance(items, list):
            raise ThresholdError(f"thresholds.{key}: expected a list, got {type(items).__name__}")
    for index, item in enumerate(binaries):
        budget, matcher = _binary(item, index, len(result.budgets))
        result.budgets.append(budget)
        result.binaries.append(matcher)
    for index, item in enumerate(groups):
        budget, sids = _group(item, index, len(result.budgets))
        result.budgets.append(budget)
        result.groups.append((budget.index, sids))
    default = _limit(value.get("default", 0), "thresholds.default")
    per_collection = {} if value.get("collections") is None else value["collections"]
    if not isinstance(per_collection, dict):
        raise ThresholdError(
            f"thresholds.collections: expected a mapping collection -> max_events, got {per_collection!r}"
        )
    limits = {}
    for key, limit in per_collection.items():
        name = _collection(key, f"thresholds.collections key {key!r}")
        if name in limits:
            raise ThresholdError(f"thresholds.collections: {name} is given twice")
        limits[name] = _limit(limit, f"thresholds.collections.{key}")
    for name in COLLECTIONS:
        budget = Budget(len(result.budgets), "collection", name, limits.get(name, default))
        result.budgets.append(budget)
        result.collection_budget[name] = budget.index
    return result

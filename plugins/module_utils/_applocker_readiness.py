# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Readiness: which hosts can switch a collection from audit to enforce without breaking anyone's day.

The pipeline, top to bottom (the module ``applocker_readiness`` drives it; pure until files are
written): sources stream events (``_applocker_readiness_sources``, ``_applocker_readiness_indexer``)
-> ``Evidence`` keeps per host and per binary counters only (never the events) -> ``report()``
judges each host against the thresholds (``_applocker_readiness_thresholds``), suggests a rule
per binary (``_applocker_readiness_suggest``) and returns the report as data; the HTML page is
``_applocker_readiness_html``.

A host is

- **no_evidence** when nothing says it reported in the window: silence is not readiness;
- **not_ready** when a budget it has is exceeded (the reasons name budget, count and limit);
- **ready** otherwise.

It is judged per collection too (``collections.<name>.status``): a collection is not ready on a
host when an exceeded budget counted an event of that collection. The rollout planner
(``_applocker_rollout_plan``) reads ``hosts.<name>.status`` and ``collections``.
"""

from __future__ import annotations

import hashlib
import json
import time as _time
from dataclasses import dataclass

from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_core import (
    COLLECTIONS,
    SID_EVERYONE,
    fold,
    parse_version,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_readiness_events import (
    Event,
    EvidenceError,
    file_name,
    format_time,
    parse_time,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_readiness_suggest import suggest
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_readiness_thresholds import Thresholds

GENERATOR = "m1038.appcontrol.applocker_readiness"
SCHEMA = 1
STATUSES = ("ready", "not_ready", "no_evidence")
MAX_PATHS = 5
MAX_HOST_NAMES = 50
MAX_HOST_BINARIES = 10
MAX_WARNINGS = 20
_BUDGET_CACHE_LIMIT = 200_000


@dataclass(frozen=True)
class Window:
    start: float
    end: float

    def to_dict(self) -> dict:
        return {
            "start": format_time(self.start),
            "end": format_time(self.end),
            "days": round((self.end - self.start) / 86400, 3),
        }


def make_window(days: object = 30, start: object = None, end: object = None, now: float | None = None) -> Window:
    """The evidence window: ``[start, end)``; ``end`` defaults to now, ``start`` to ``end`` - ``days``."""
    stop = parse_time(end, "window_end") if end else (_time.time() if now is None else now)
    if start:
        begin = parse_time(start, "window_start")
    else:
        if isinstance(days, bool) or not isinstance(days, (int, float)) or days <= 0:
            raise EvidenceError(f"window_days: {days!r} must be a positive number of days")
        begin = stop - float(days) * 86400
    if begin >= stop:
        raise EvidenceError(f"window: start {format_time(begin)} is not before end {format_time(stop)}")
    return Window(begin, stop)


def host_key(name: str) -> str:
    """How hosts are matched across sources: case-insensitive, by the first DNS label of a name
    (``WS-01.corp.example`` is ``ws-01``); an IP address is kept whole."""
    lowered = name.strip().lower()
    if any(char.isalpha() for char in lowered):
        return lowered.split(".", 1)[0]
    return lowered


class _Host:
    __slots__ = (
        "allowed",
        "audit",
        "binaries",
        "blocked",
        "budget_collections",
        "budgets",
        "by_collection",
        "first",
        "last",
        "name",
        "reports",
        "warnings",
    )

    def __init__(self, name: str):
        self.name = name
        self.reports = 0
        self.first = self.last = None
        self.audit = self.blocked = self.allowed = 0
        self.by_collection: dict[str, int] = {}
        self.budgets: dict[int, int] = {}
        self.budget_collections: dict[int, set] = {}
        self.binaries: dict[str, int] = {}
        self.warnings: list[str] = []

    def seen(self, first: float, last: float, count: int) -> None:
        self.reports += count
        if self.first is None or first < self.first:
            self.first = first
        if self.last is None or last > self.last:
            self.last = last


class _Binary:
    __slots__ = (
        "binary",
        "collection",
        "events",
        "first",
        "high",
        "hosts",
        "id",
        "kind",
        "label",
        "last",
        "low",
        "paths",
        "product",
        "publisher",
        "sha256",
        "users",
    )

    def __init__(self, key: tuple, event: Event):
        self.id = hashlib.sha256(json.dumps(key, ensure_ascii=False).encode("utf-8")).hexdigest()[:12]
        self.kind = key[0]
        self.collection = event.collection
        signature = event.signature
        self.publisher = signature.publisher if signature else None
        self.product = signature.product if signature else None
        self.binary = signature.binary if signature else None
        self.sha256 = event.sha256
        if signature and event.collection == "Appx":
            self.label = signature.product
        elif signature and signature.binary != "*":
            self.label = signature.binary
        else:
            self.label = file_name(event.full_path or event.path) or event.path or "(no file name)"
        self.paths: set[str] = set()
        self.events = 0
        self.hosts: set[str] = set()
        self.users: set[str] = set()
        self.first = self.last = None
        self.low = self.high = None


def binary_key(event: Event) -> tuple:
    """What makes two events the same binary: the signature (publisher, product, binary; the package
    for Appx), else the file hash, else the path."""
    signature = event.signature
    if signature:
        binary = "*" if event.collection == "Appx" else fold(signature.binary)
        return ("publisher", event.collection, fold(signature.publisher), fold(signature.product), binary)
    if event.sha256:
        return ("hash", event.collection, event.sha256)
    return ("path", event.collection, fold(event.full_path or event.path))


class Evidence:
    """Counters of what the sources said, per host and per binary; never the events themselves."""

    def __init__(self, window: Window, thresholds: Thresholds, hosts: list[str] | None = None):
        self.window = window
        self.thresholds = thresholds
        self.listed = hosts is not None
        self.hosts: dict[str, _Host] = {}
        for name in hosts or []:
            key = host_key(str(name))
            if key in self.hosts:
                raise EvidenceError(
                    f"hosts: {name!r} and {self.hosts[key].name!r} are the same host to readiness ({key!r}): "
                    "names are matched case-insensitively by their first DNS label"
                )
            self.hosts[key] = _Host(str(name))
        self.binaries: dict[tuple, _Binary] = {}
        self.other_hosts: set[str] = set()
        self.outside_window = 0
        self._budget_cache: dict[tuple, int] = {}
        self._names: dict[str, _Host | None] = {}

    def _host(self, name: str) -> _Host | None:
        if name in self._names:  # the same few names, millions of times: one host_key() each
            return self._names[name]
        key = host_key(name)
        found = self.hosts.get(key)
        if found is None and self.listed:
            self.other_hosts.add(key)
        elif found is None:
            found = self.hosts[key] = _Host(name)
        self._names[name] = found
        return found

    def in_window(self, first: float, last: float) -> bool:
        if last < self.window.start or first >= self.window.end:
            self.outside_window += 1
            return False
        return True

    def reported(self, host: str, first: float, last: float | None = None, count: int = 1) -> None:
        """The host reported in the window (an alert of any kind, an AppLocker event of any kind)."""
        last = first if last is None else last
        if not self.in_window(first, last):
            return
        found = self._host(host)
        if found is not None:
            found.seen(max(first, self.window.start), min(last, self.window.end), count)

    def warn(self, host: str, text: str) -> None:
        found = self._host(host)
        if found is not None and len(found.warnings) < MAX_WARNINGS and text not in found.warnings:
            found.warnings.append(text)

    def add(self, event: Event, reported: bool = True) -> None:
        """One AppLocker event (or a group of identical ones). It is evidence that the host reported too,
        unless ``reported`` is false (a source that counts every alert separately: the indexer)."""
        if not self.in_window(event.first, event.last):
            return
        found = self._host(event.host)
        if found is None:
            return
        if reported:
            found.seen(max(event.first, self.window.start), min(event.last, self.window.end), event.count)
        if event.outcome == "blocked":
            found.blocked += event.count
            return
        if event.outcome != "audit":
            found.allowed += event.count
            return
        found.audit += event.count
        found.by_collection[event.collection] = found.by_collection.get(event.collection, 0) + event.count
        key = binary_key(event)
        binary = self.binaries.get(key)
        if binary is None:
            binary = self.binaries[key] = _Binary(key, event)
        self._count_binary(binary, event, found)
        cache_key = self.thresholds.key(event)
        budget = self._budget_cache.get(cache_key)
        if budget is None:
            if len(self._budget_cache) > _BUDGET_CACHE_LIMIT:
                self._budget_cache.clear()
            budget = self._budget_cache[cache_key] = self.thresholds.budget_for(event)
        found.budgets[budget] = found.budgets.get(budget, 0) + event.count
        found.budget_collections.setdefault(budget, set()).add(event.collection)

    @staticmethod
    def _count_binary(binary: _Binary, event: Event, host: _Host) -> None:
        binary.events += event.count
        binary.hosts.add(host.name)
        if event.user:
            binary.users.add(event.user)
        path = event.full_path
        if path and path not in binary.paths:  # the MAX_PATHS smallest: the same whatever the order read
            if len(binary.paths) < MAX_PATHS:
                binary.paths.add(path)
            elif path < max(binary.paths):
                binary.paths.remove(max(binary.paths))
                binary.paths.add(path)
        if binary.first is None or event.first < binary.first:
            binary.first = event.first
        if binary.last is None or event.last > binary.last:
            binary.last = event.last
        if event.signature and event.signature.version:
            version = parse_version(event.signature.version)
            if binary.low is None or version < binary.low:
                binary.low = version
            if binary.high is None or version > binary.high:
                binary.high = version
        host.binaries[binary.id] = host.binaries.get(binary.id, 0) + event.count

    # --- the report ---------------------------------------------------------------------------

    def _judge(self, host: _Host) -> dict:
        budgets = self.thresholds.budgets
        reasons, blocked_collections = [], set()
        for index in sorted(host.budgets):
            count, budget = host.budgets[index], budgets[index]
            if budget.limit is not None and count > budget.limit:
                collections = sorted(host.budget_collections[index], key=COLLECTIONS.index)
                blocked_collections.update(collections)
                reasons.append(
                    f"{budget.label}: {count} would-be-blocked event(s) in the window, at most {budget.limit} "
                    f"({', '.join(collections)})"
                )
        if host.reports == 0:
            status = "no_evidence"
            reasons = ["no evidence: the host reported nothing in the window (silence is not readiness)"]
        else:
            status = "not_ready" if reasons else "ready"
        collections = {}
        for name in COLLECTIONS:
            if status == "no_evidence":
                state = "no_evidence"
            else:
                state = "not_ready" if name in blocked_collections else "ready"
            collections[name] = {"events": host.by_collection.get(name, 0), "status": state}
        return {"status": status, "reasons": reasons, "collections": collections}

    def report(self, sources: list[dict] | None = None, suggestion_sid: str = SID_EVERYONE) -> dict:
        """The readiness report as data (the module returns it and writes it as JSON and HTML)."""
        binaries = sorted(self.binaries.values(), key=lambda b: (-len(b.hosts), -b.events, b.label.casefold(), b.id))
        labels = {b.id: b.label for b in binaries}
        hosts, counts = {}, dict.fromkeys(STATUSES, 0)
        for host in sorted(self.hosts.values(), key=lambda h: h.name.casefold()):
            judged = self._judge(host)
            counts[judged["status"]] += 1
            top = sorted(host.binaries.items(), key=lambda item: (-item[1], labels[item[0]].casefold()))
            hosts[host.name] = {
                **judged,
                "reported": {
                    "events": host.reports,
                    "first": format_time(host.first) if host.first is not None else None,
                    "last": format_time(host.last) if host.last is not None else None,
                },
                "would_be_blocked": host.audit,
                "blocked": host.blocked,
                "binaries": [{"id": bid, "binary": labels[bid], "events": n} for bid, n in top[:MAX_HOST_BINARIES]],
                "warnings": list(host.warnings),
            }
        listed_binaries, suggestions = [], {}
        for binary in binaries:
            entry = {
                "id": binary.id,
                "collection": binary.collection,
                "kind": binary.kind,
                "label": binary.label,
                "publisher": binary.publisher,
                "product": binary.product,
                "binary": binary.binary,
                "sha256": binary.sha256,
                "versions": {
                    "low": ".".join(map(str, binary.low)) if binary.low else None,
                    "high": ".".join(map(str, binary.high)) if binary.high else None,
                },
                "paths": sorted(binary.paths),
                "events": binary.events,
                "hosts": len(binary.hosts),
                "users": len(binary.users),
                "host_names": sorted(binary.hosts, key=str.casefold)[:MAX_HOST_NAMES],
                "first_seen": format_time(binary.first),
                "last_seen": format_time(binary.last),
            }
            entry["suggestion"], entry["suggestion_note"] = suggest(entry, suggestion_sid)
            if entry["suggestion"]:
                suggestions.setdefault(binary.collection, []).append(entry["suggestion"]["rule"])
            listed_binaries.append(entry)
        summary = {
            "hosts": len(hosts),
            **counts,
            "would_be_blocked_events": sum(h["would_be_blocked"] for h in hosts.values()),
            "blocked_events": sum(h["blocked"] for h in hosts.values()),
            "binaries": len(listed_binaries),
            "suggestions": sum(len(rules) for rules in suggestions.values()),
            "users": len(set().union(*(b.users for b in binaries))) if binaries else 0,
            "other_hosts": len(self.other_hosts),
            "outside_window": self.outside_window,
        }
        return {
            "generator": GENERATOR,
            "schema": SCHEMA,
            "window": self.window.to_dict(),
            "sources": sources or [],
            "thresholds": self.thresholds.to_dict(),
            "summary": summary,
            "hosts": hosts,
            "binaries": listed_binaries,
            "suggestions": {name: suggestions[name] for name in COLLECTIONS if name in suggestions},
        }

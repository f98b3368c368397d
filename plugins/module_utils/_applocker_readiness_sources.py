# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Readiness sources that are files or probe results: the manager's alerts.json and the endpoints' probes.

Both are read as a stream: an alerts file one line at a time (plain or gzip, as the manager
rotates them under ``logs/alerts/YYYY/Mon/``), so a month of alerts for 10,000 hosts is never in
memory; a probe result is one host's already-grouped events. Each source returns its statistics
(lines, alerts, AppLocker events, unreadable lines with where they are) for the report.

The Wazuh indexer is ``_applocker_readiness_indexer``.
"""

from __future__ import annotations

import gzip
import json
import os

from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_readiness import Evidence, Window
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_readiness_events import (
    CHANNELS,
    EVENTS,
    EvidenceError,
    alert_facts,
    format_time,
    make_event,
    parse_time,
)

MAX_EXAMPLES = 5
ALERT_SUFFIXES = (".json", ".json.gz")
PROBE_CONCERN = "applocker_events"
PROBE_VERSION = 1
_GZIP_MAGIC = b"\x1f\x8b"


# --- alerts.json ------------------------------------------------------------------------------


def alert_files(paths: list[str]) -> list[str]:
    """The files to read: each path as given, a directory as every ``*.json``/``*.json.gz`` under it."""
    found = []
    for path in paths:
        if os.path.isdir(path):
            for root, dirs, names in os.walk(path):
                dirs.sort()
                found.extend(os.path.join(root, name) for name in sorted(names) if name.endswith(ALERT_SUFFIXES))
        elif os.path.isfile(path):
            found.append(path)
        else:
            raise EvidenceError(f"alerts_files: {path} does not exist (a file, or a directory of alerts files)")
    return found


def _open(path: str):
    with open(path, "rb") as probe:
        gzipped = probe.read(2) == _GZIP_MAGIC
    if gzipped:
        return gzip.open(path, "rt", encoding="utf-8", errors="strict", newline="\n")
    return open(path, encoding="utf-8", errors="strict", newline="\n")


def read_alerts_file(path: str, evidence: Evidence) -> dict:
    """Stream one alerts file into ``evidence``; returns the source's statistics.

    A line that is not a JSON alert is counted under ``unreadable`` with its line number. The last
    line of a file that does not end with a newline is the manager writing it right now: it is
    skipped and counted under ``incomplete``, not as unreadable.
    """
    stats = {"kind": "alerts_json", "path": path, "lines": 0, "alerts": 0, "applocker_events": 0}
    stats.update(unreadable=0, incomplete=0, examples=[])
    try:
        handle = _open(path)
    except OSError as exc:
        raise EvidenceError(f"alerts file {path}: cannot be read ({exc})") from None
    number = 0
    try:
        with handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                stats["lines"] += 1
                try:
                    facts = alert_facts(json.loads(line), f"{path}:{number}")
                except (ValueError, EvidenceError) as exc:
                    if not line.endswith("\n"):
                        stats["incomplete"] += 1
                        continue
                    stats["unreadable"] += 1
                    if len(stats["examples"]) < MAX_EXAMPLES:
                        stats["examples"].append(f"{path}:{number}: {str(exc)[:300]}")
                    continue
                if facts is None:
                    continue
                stats["alerts"] += 1
                if facts.event is None:
                    evidence.reported(facts.host, facts.seen)
                else:
                    stats["applocker_events"] += 1
                    evidence.add(facts.event)
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise EvidenceError(f"alerts file {path}: unreadable after line {number} ({exc})") from None
    return stats


def read_alerts(paths: list[str], evidence: Evidence, max_unreadable: int = 0) -> list[dict]:
    """Every alerts file, in order; fails when more lines than ``max_unreadable`` could not be read
    (a skipped line may be the event that holds a host back)."""
    results = [read_alerts_file(path, evidence) for path in alert_files(paths)]
    unreadable = sum(item["unreadable"] for item in results)
    if unreadable > max_unreadable:
        examples = [example for item in results for example in item["examples"]][:MAX_EXAMPLES]
        raise EvidenceError(
            f"{unreadable} alert line(s) could not be read (at most {max_unreadable} allowed, max_unreadable): "
            + "; ".join(examples)
        )
    return results


# --- the endpoints' own event logs (applocker_events_probe) --------------------------------------

_GROUP_FIELDS = {
    "event_id": int,
    "policy": str,
    "file_path": str,
    "full_file_path": str,
    "package": str,
    "file_hash": str,
    "fqbn": str,
    "user": str,
    "count": int,
    "first": str,
    "last": str,
}
_CHANNEL_FIELDS = {"channel": str, "exists": bool, "enabled": bool, "latest": str, "oldest": str, "error": str}
_REQUIRED_GROUP = ("event_id", "count", "first", "last")
_REQUIRED_CHANNEL = ("channel", "exists")


def _typed(value, kind) -> bool:
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def _check_items(items: object, fields: dict, required: tuple, where: str) -> list[dict]:
    if not isinstance(items, list):
        raise EvidenceError(f"{where}: expected a list, got {type(items).__name__}")
    for index, item in enumerate(items):
        spot = f"{where}[{index}]"
        if not isinstance(item, dict):
            raise EvidenceError(f"{spot}: expected an object, got {type(item).__name__}")
        for key in required:
            if key not in item:
                raise EvidenceError(f"{spot}: lacks {key}")
        for key, kind in fields.items():
            value = item.get(key)
            if value is not None and not _typed(value, kind):
                raise EvidenceError(f"{spot}.{key}: {value!r} is not {kind.__name__}")
    return items


def check_probe(probe: object, host: str) -> dict:
    """The probe result of ``applocker_events_probe`` for ``host``, checked; EvidenceError names the key."""
    where = f"probe_results[{host!r}]"
    if not isinstance(probe, dict):
        raise EvidenceError(f"{where}: expected the probe's JSON object, got {type(probe).__name__}")
    if probe.get("concern") != PROBE_CONCERN:
        raise EvidenceError(f"{where}: concern {probe.get('concern')!r} is not {PROBE_CONCERN!r}")
    if probe.get("probe_version") != PROBE_VERSION:
        raise EvidenceError(
            f"{where}: probe_version {probe.get('probe_version')!r}; this reader reads {PROBE_VERSION} "
            "(probe and module come from different collection versions)"
        )
    for key, kind in (("window", dict), ("truncated", bool), ("events_read", int)):
        if not _typed(probe.get(key), kind):
            raise EvidenceError(f"{where}.{key}: {probe.get(key)!r} is not {kind.__name__}")
    _check_items(probe.get("channels"), _CHANNEL_FIELDS, _REQUIRED_CHANNEL, f"{where}.channels")
    _check_items(probe.get("groups"), _GROUP_FIELDS, _REQUIRED_GROUP, f"{where}.groups")
    return probe


def _read_channels(host: str, channels: list[dict], evidence: Evidence, window: Window, where: str) -> None:
    usable = 0
    for index, channel in enumerate(channels):
        name = channel["channel"]
        if channel.get("error"):
            evidence.warn(host, f"{name}: {channel['error']}")
        elif not channel["exists"]:
            evidence.warn(host, f"{name}: the log does not exist on the host")
        elif channel.get("enabled") is False:
            evidence.warn(host, f"{name}: the log is disabled, AppLocker writes nothing to it")
        else:
            usable += 1
        if channel.get("oldest"):
            oldest = parse_time(channel["oldest"], f"{where}.channels[{index}].oldest")
            if oldest > window.start + 3600:
                evidence.warn(
                    host,
                    f"{name}: the log only reaches back to {format_time(oldest)} (too small for the window: "
                    "older events were overwritten)",
                )
        if channel.get("latest"):
            evidence.reported(host, parse_time(channel["latest"], f"{where}.channels[{index}].latest"))
    if not usable and channels:
        evidence.warn(host, "no AppLocker log could be read")


def read_probe(host: str, probe: object, evidence: Evidence, window: Window) -> dict:
    """One host's probe result into ``evidence``: its groups as events, its channels as evidence that
    it reported (the newest AppLocker event of any kind in the window)."""
    checked = check_probe(probe, host)
    where = f"probe_results[{host!r}]"
    stats = {"kind": "winrm_probe", "host": host, "groups": 0, "applocker_events": 0, "truncated": checked["truncated"]}
    start = parse_time(checked["window"].get("start"), f"{where}.window.start")
    end = parse_time(checked["window"].get("end"), f"{where}.window.end")
    if start > window.start + 60 or end < window.end - 60:
        evidence.warn(
            host,
            f"the probe read {format_time(start)} .. {format_time(end)}, not the whole window "
            f"{format_time(window.start)} .. {format_time(window.end)}",
        )
    if checked["truncated"]:
        evidence.warn(host, f"the probe stopped after {checked['events_read']} events: counts are lower bounds")
    _read_channels(host, checked["channels"], evidence, window, where)
    for index, group in enumerate(checked["groups"]):
        spot = f"{where}.groups[{index}]"
        if group["event_id"] not in EVENTS:
            raise EvidenceError(f"{spot}.event_id: {group['event_id']} is not an AppLocker event ID")
        if group["count"] < 1:
            raise EvidenceError(f"{spot}.count: {group['count']} must be 1 or more")
        first, last = parse_time(group["first"], f"{spot}.first"), parse_time(group["last"], f"{spot}.last")
        if first > last:
            raise EvidenceError(f"{spot}: first {group['first']} is after last {group['last']}")
        data = {
            "policyName": group.get("policy"),
            "filePath": group.get("file_path"),
            "fullFilePath": group.get("full_file_path"),
            "package": group.get("package"),
            "fileHash": group.get("file_hash"),
            "fqbn": group.get("fqbn"),
            "targetUser": group.get("user"),
        }
        evidence.add(make_event(host, group["event_id"], (first, last), data, count=group["count"]))
        stats["groups"] += 1
        stats["applocker_events"] += group["count"]
    return stats


def read_probes(results: dict, evidence: Evidence, window: Window, read_json) -> list[dict]:
    """Probe results per host: the JSON object, or the controller path of a file holding it."""
    if not isinstance(results, dict):
        raise EvidenceError("probe_results: expected a mapping host -> probe result (or its file)")
    stats = []
    for host, value in results.items():
        probe = read_json(value, f"probe_results[{host!r}]") if isinstance(value, str) else value
        stats.append(read_probe(str(host), probe, evidence, window))
    return stats


# The channels the probe reads, and which of their IDs are would-be blocks: documentation for the
# probe and its tests (the probe carries the same table).
PROBE_CHANNELS = {channel: [i for i in ids if EVENTS[i][1] == "audit"] for channel, ids in CHANNELS.items()}

# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the rollout checks before it trusts a readiness verdict, and the modes each host is given.

Pure. The readiness report (``applocker_readiness``) can be fooled: a Wazuh agent that forwards
other channels but not the AppLocker ones sends alerts (so the host "reported"), raises no
would-be block, and looks **ready**; so does a host whose collection was never in audit (nothing
could be logged). ``vet_readiness`` reads what the rollout's own read-only probes saw on each host
and turns such a ``ready`` into ``not_ready`` for the collection, with the reason, before
``_applocker_rollout_plan.plan_rollout`` decides:

1. the collection is in **audit** on the host now (``probe_modes`` of the applocker probe): only
   then does AppLocker log would-be-blocked events (8003, 8006, 8021, 8024);
2. with channel evidence on, the host's own AppLocker **log** of the collection exists, is enabled
   and was readable (``applocker_events_probe`` over the readiness window), and holds **no more
   would-be-blocked events** of the collection than the report counted for the host: more means
   the report's source missed them (the agent does not forward the channel) or they are newer;
3. the host was not **rolled back** by an earlier rollout after the report's evidence ends
   (``previous_rollbacks`` of the rollout reports): the evidence predates the failure.

``apply_modes`` gives each host every collection's mode (the probe's, the plan's where it
changes one), which the playbook turns into the policy model through the ``applocker_rollout_model``
filter (``model_with_modes``): a collection the rollout does not name keeps the mode it has.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_core import (
    COLLECTIONS,
    MODES,
    XML_MODES,
    AppLockerError,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_readiness import host_key
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_readiness_events import (
    AUDIT_IDS,
    EVENTS,
    FAMILIES,
    collection_of,
    parse_time,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_readiness_events import (
    CHANNELS as EVENT_CHANNELS,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_readiness_sources import check_probe
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_xml import parse_policy

# The log each collection's events are written to, from the event tables readiness reads them by.
CHANNELS = {
    collection: tuple(channel for channel, ids in EVENT_CHANNELS.items() if collection in FAMILIES[EVENTS[ids[0]][0]])
    for collection in COLLECTIONS
}


def probe_modes(probe: object, where: str) -> dict[str, str | None]:
    """Collection -> model mode from an ``applocker_probe`` result (``probe``); an absent collection is
    ``not_configured``. A probe that could not read the policy gives ``None`` for every collection."""
    if not isinstance(probe, Mapping) or probe.get("concern") != "applocker":
        raise AppLockerError(f"{where}: expected an applocker_probe result, got {str(probe)[:80]!r}")
    policy = probe.get("policy") or {}
    if policy.get("error") or not policy.get("xml"):
        return dict.fromkeys(COLLECTIONS, None)
    parsed = parse_policy(policy["xml"], f"{where}.policy.xml")
    return {name: XML_MODES[parsed.collection(name).mode] for name in COLLECTIONS}


def channel_evidence(probe: object, host: str) -> dict:
    """An ``applocker_events_probe`` result reduced to what the vetting needs: per channel whether it
    can be trusted, and the would-be-blocked events per collection."""
    checked = check_probe(probe, host)
    channels = {}
    for channel in checked["channels"]:
        if channel.get("error"):
            problem = f"{channel['channel']}: {channel['error']}"
        elif not channel["exists"]:
            problem = f"{channel['channel']}: the log does not exist on the host"
        elif channel.get("enabled") is False:
            problem = f"{channel['channel']}: the log is disabled, AppLocker writes nothing to it"
        else:
            problem = None
        channels[channel["channel"]] = problem
    counts = dict.fromkeys(COLLECTIONS, 0)
    for group in checked["groups"]:
        if group["event_id"] in AUDIT_IDS:
            path = group.get("full_file_path") or group.get("file_path") or ""
            counts[collection_of(group["event_id"], group.get("policy"), path)] += int(group["count"])
    return {
        "window": checked["window"],
        "channels": channels,
        "would_be_blocked": counts,
        "truncated": checked["truncated"],
    }


def _channel_reasons(collection: str, seen: Mapping | None, counted: int) -> list[str]:
    if seen is None:
        return [
            f"{collection}: no reading of the host's own AppLocker log (applocker_events_probe): a Wazuh agent that "
            "does not forward the AppLocker channels looks ready"
        ]
    reasons = []
    for channel in CHANNELS[collection]:
        if channel not in seen["channels"]:
            reasons.append(f"{collection}: the probe did not read {channel}")
        elif seen["channels"][channel]:
            reasons.append(f"{collection}: {seen['channels'][channel]}")
    local = seen["would_be_blocked"][collection]
    if local > counted:
        reasons.append(
            f"{collection}: the host's own log holds {local} would-be-blocked event(s) "
            f"({seen['window'].get('start')} .. {seen['window'].get('end')}), the readiness report counted {counted}: "
            "its source missed them (is the AppLocker channel forwarded?) or they are newer than the report"
        )
    if seen["truncated"]:
        reasons.append(f"{collection}: the probe of the host's log stopped early (max_events): its counts are partial")
    return reasons


def _rollback_reason(collection: str, record: Mapping | None, evidence_end: float | None) -> list[str]:
    if not record or collection not in record.get("collections", []):
        return []
    when = parse_time(record["time"], "rollout report rollbacks[].time")
    if evidence_end is not None and evidence_end > when:
        return []
    return [
        f"{collection}: rolled back to audit at {record['time']} by the rollout {record.get('rollout', '?')} "
        f"({'; '.join(record.get('reasons') or []) or 'unhealthy'}); the readiness evidence is older: a new "
        "readiness report or forcing the host releases it"
    ]


def vet_readiness(
    readiness_hosts: Mapping[str, Mapping],
    goal: Mapping[str, str],
    current_modes: Mapping[str, Mapping[str, str | None]],
    *,
    evidence: Mapping[str, Mapping] | None = None,
    rollbacks: Mapping[str, Mapping] | None = None,
    evidence_end: str | None = None,
) -> tuple[dict[str, dict], dict[str, list[str]]]:
    """The readiness report's hosts with each ``ready`` the rollout cannot trust turned ``not_ready``.

    ``goal``: the target modes; only collections raised to enforce are vetted. ``current_modes``:
    host -> ``probe_modes``. ``evidence``: host -> ``channel_evidence`` (``None``: channel evidence
    is not required). ``rollbacks``: host key -> ``previous_rollbacks`` record. Returns the vetted
    hosts (keyed as given) and, per host, the reasons added.
    """
    end = parse_time(evidence_end, "readiness window.end") if evidence_end else None
    raised = [c for c, mode in goal.items() if mode == "enforce"]
    current = {host_key(str(name)): modes for name, modes in current_modes.items()}
    seen = None if evidence is None else {host_key(str(name)): value for name, value in evidence.items()}
    previous = {host_key(str(name)): value for name, value in (rollbacks or {}).items()}
    vetted, added = {}, {}
    for name, entry in readiness_hosts.items():
        key = host_key(str(name))
        if entry.get("status") == "no_evidence" or key not in current:
            vetted[name] = entry
            continue
        reasons: dict[str, list[str]] = {}
        for collection in raised:
            now = current[key].get(collection)
            if now == "enforce":
                continue
            per = ((entry.get("collections") or {}).get(collection) or {}).get("events", 0)
            found = []
            if now != "audit":
                found.append(
                    f"{collection}: {now or 'unknown'} on the host, not audit: it logged no would-be-blocked event, "
                    "so the readiness report cannot speak for it (set audit and gather evidence first)"
                )
            if seen is not None:
                found.extend(_channel_reasons(collection, seen.get(key), int(per or 0)))
            found.extend(_rollback_reason(collection, previous.get(key), end))
            if found:
                reasons[collection] = found
        if not reasons:
            vetted[name] = entry
            continue
        flat = [reason for found in reasons.values() for reason in found]
        collections = {c: dict(v) for c, v in (entry.get("collections") or {}).items()}
        for collection in reasons:
            collections[collection] = {**collections.get(collection, {}), "status": "not_ready"}
        vetted[name] = {
            **entry,
            "status": "not_ready",
            "reasons": [*(entry.get("reasons") or []), *flat],
            "collections": collections,
        }
        added[str(name)] = flat
    return vetted, added


def apply_modes(current: Mapping[str, str | None], planned: Mapping[str, str | None]) -> dict[str, str]:
    """Every collection's mode for the host: the plan's, else the one it has (unknown: not_configured)."""
    return {name: planned.get(name) or current.get(name) or "not_configured" for name in COLLECTIONS}


def rollback_modes(modes: Mapping[str, str], back: Mapping[str, str]) -> dict[str, str]:
    """A failing host's modes: its ``apply_modes`` with the batch's raised collections back in audit."""
    return {**modes, **{c: m for c, m in back.items() if c in modes}}


def model_with_modes(model: object, modes: object) -> dict:
    """The policy model with each collection's ``mode`` set from ``modes`` (collection -> mode): the
    enforce variant of the result is the host's policy with exactly those modes. A collection the
    model lacks is added (empty) unless it stays not_configured."""
    if not isinstance(model, Mapping):
        raise AppLockerError(f"applocker_rollout_model: the model must be a mapping, got {type(model).__name__}")
    if not isinstance(modes, Mapping):
        raise AppLockerError(f"applocker_rollout_model: modes must be collection -> mode, got {modes!r}")
    names = {str(k).lower(): k for k in model}
    result = copy.deepcopy(dict(model))
    for collection, mode in modes.items():
        if collection not in COLLECTIONS:
            raise AppLockerError(f"applocker_rollout_model: {collection!r} is not a rule collection")
        if mode not in MODES:
            raise AppLockerError(f"applocker_rollout_model: {collection}: {mode!r} is not one of {', '.join(MODES)}")
        key = names.get(collection.lower())
        if key is None:
            if mode != "not_configured":
                result[collection] = {"mode": mode}
            continue
        settings = result[key] if isinstance(result[key], Mapping) else {}
        result[key] = {**settings, "mode": mode}
    return result

# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rollout's evidence file: the plan, each batch's health verdicts, the rollbacks, with times.

One JSON file per rollout (``rollout-<start>.json`` in the rollout folder, beside the readiness
report), created by ``applocker_rollout_plan`` and extended after every batch by
``applocker_rollout_health``; each write is a whole new file moved over the old one. Pure except
``read_json``/``write_json``. ``previous_rollbacks`` reads the earlier files: a host rolled back by
one rollout is held back by the next until newer evidence exists (``_applocker_rollout_evidence``).
"""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Callable, Iterable, Mapping

from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_core import write_atomic
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_readiness import host_key
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_readiness_events import parse_time
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_rollout_health import (
    HealthThresholds,
    blocked_counts,
    judge_batch,
    judge_host,
)

GENERATOR = "m1038.appcontrol.applocker_rollout"
SCHEMA = 1
PREFIX = "rollout-"
STATUSES = ("planned", "running", "stopped", "complete")


class ReportError(ValueError):
    """A rollout report that cannot be read or extended; the message names the file and the key."""


def report_name(started: str) -> str:
    """``rollout-20261201T080000Z.json`` for a start time ``2026-12-01T08:00:00Z``."""
    return PREFIX + started.replace("-", "").replace(":", "") + ".json"


def new_report(
    plan: Mapping, started: str, *, readiness_file: str | None, not_probed: Mapping, vetted: Mapping
) -> dict:
    return {
        "generator": GENERATOR,
        "schema": SCHEMA,
        "rollout": started,
        "started": started,
        "updated": started,
        "status": "planned",
        "readiness_file": readiness_file,
        "plan": dict(plan),
        "not_probed": dict(not_probed),
        "evidence_holds": dict(vetted),
        "batches": [],
        "rollbacks": [],
        "manual_rollback": [],
    }


def judge(facts: Mapping[str, Mapping], plan: Mapping, thresholds: HealthThresholds) -> dict:
    """The batch's verdict from what the health probes read on each host.

    ``facts``: host -> ``connection_ok``, ``apply_error`` (the role's message when it failed),
    ``probe`` (the applocker probe result), ``events`` (the events probe result since the switch).
    The intended modes and raised collections are the plan's for the host.
    """
    verdicts = []
    for host, seen in facts.items():
        entry = (plan.get("hosts") or {}).get(host)
        if entry is None:
            raise ReportError(f"hosts: {host!r} is not a host of the rollout's plan")
        probe = seen.get("probe") or {}
        events = seen.get("events")
        verdict = judge_host(
            host,
            entry.get("modes") or {},
            connection_ok=bool(seen.get("connection_ok")),
            service=probe.get("service"),
            policy_xml=(probe.get("policy") or {}).get("xml"),
            blocked=blocked_counts(events, thresholds.blocked_event_ids) if isinstance(events, Mapping) else None,
            raised=entry.get("raise") or [],
            thresholds=thresholds,
        )
        failed = seen.get("apply_error")
        if failed:
            verdict.checks.insert(0, {"check": "apply", "ok": False, "detail": f"the applocker role failed: {failed}"})
        verdicts.append(verdict)
    return judge_batch(verdicts, max_fail_percentage=int(plan.get("max_fail_percentage") or 0), scope=plan["scope"])


def _batch_index(plan: Mapping, hosts: list[str]) -> tuple[int | None, str]:
    if plan["scope"] == "domain":
        return None, "gpo"
    for index, batch in enumerate(plan.get("batches") or []):
        if hosts and hosts[0] in batch["hosts"]:
            return index, batch["name"]
    raise ReportError(f"hosts: {hosts[:3]!r} are in none of the plan's batches")


def record_batch(report: dict, verdict: Mapping, now: str) -> dict:
    """The report with this batch's verdict, its rollbacks and its new status."""
    plan = report["plan"]
    order = plan.get("order") or []
    hosts = sorted(verdict["verdicts"], key=lambda h: order.index(h) if h in order else len(order))
    index, name = _batch_index(plan, hosts)
    result = dict(report)
    result["batches"] = [*report["batches"], {"batch": index, "name": name, "hosts": hosts, "judged": now, **verdict}]
    rollbacks = list(report["rollbacks"])
    for host in verdict["failed"]:
        detail = verdict["verdicts"][host]
        if detail["action"] == "manual_rollback":
            continue
        rollbacks.append(
            {
                "host": host,
                "time": now,
                "rollout": report["rollout"],
                "batch": name,
                "collections": sorted(detail["rollback_modes"]) or list(plan.get("gpo", {}).get("raise", []) or []),
                "reasons": detail["reasons"],
                "gpo": plan["scope"] == "domain",
                "applied": None,
            }
        )
    result["rollbacks"] = rollbacks
    result["manual_rollback"] = [
        *report["manual_rollback"],
        *({"host": h, "time": now, "reasons": verdict["verdicts"][h]["reasons"]} for h in verdict["manual_rollback"]),
    ]
    planned = 1 if plan["scope"] == "domain" else len(plan.get("batches") or [])
    if not verdict["continue"]:
        result["status"] = "stopped"
    elif len(result["batches"]) >= planned:
        result["status"] = "complete"
    else:
        result["status"] = "running"
    result["updated"] = now
    return result


def record_rollbacks(report: dict, outcomes: Mapping[str, object], now: str) -> dict:
    """Whether each rollback of the last batch was applied: host -> None (done) or the error."""
    result = dict(report)
    rollbacks = []
    for item in report["rollbacks"]:
        if item["applied"] is None and item["host"] in outcomes:
            error = outcomes[item["host"]]
            rollbacks.append(
                {**item, "applied": not error, "applied_at": now, **({"error": str(error)} if error else {})}
            )
        else:
            rollbacks.append(item)
    result["rollbacks"], result["updated"] = rollbacks, now
    return result


def previous_rollbacks(reports: Iterable[Mapping]) -> dict[str, dict]:
    """host key -> the latest rollback any earlier rollout recorded for it."""
    latest: dict[str, dict] = {}
    for report in reports:
        for item in report.get("rollbacks") or []:
            key = host_key(str(item.get("host", "")))
            when = parse_time(item.get("time"), f"rollout {report.get('rollout')} rollbacks[].time")
            if key not in latest or when > latest[key]["_at"]:
                latest[key] = {**item, "_at": when}
    return {key: {k: v for k, v in item.items() if k != "_at"} for key, item in latest.items()}


def read_json(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        raise ReportError(f"{path}: no such file") from None
    except (OSError, ValueError) as exc:
        raise ReportError(f"{path}: cannot be read as JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ReportError(f"{path}: expected a JSON object")
    return data


def read_reports(folder: str) -> list[dict]:
    """The rollout reports in ``folder`` (none when it does not exist), oldest first."""
    reports = []
    for path in sorted(glob.glob(os.path.join(glob.escape(folder), PREFIX + "*.json"))):
        report = read_json(path)
        if report.get("generator") != GENERATOR:
            raise ReportError(f"{path}: generator {report.get('generator')!r} is not {GENERATOR!r}")
        reports.append(report)
    return reports


def render(report: Mapping) -> bytes:
    return (json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def write_json(path: str, data: bytes, move: Callable[[str, str], None], tmpdir: str) -> None:
    """The whole file through a temporary file in ``tmpdir`` and ``move`` (an atomic rename)."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    write_atomic(path, data, move, tmpdir, "m1038-rollout")

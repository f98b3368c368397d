# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Readiness evidence, one event at a time: AppLocker's would-have-been-blocked events as data.

Three sources carry the same events (docs/applocker-readiness.md):

- a Wazuh alert (``alerts.json`` on the manager, or a document of the indexer's
  ``wazuh-alerts-4.x-*`` indices): ``data.win.system`` and ``data.win.ruleAndFileData`` as the
  ``windows_eventchannel`` decoder wrote them, so every value keeps the event XML's entities
  (``&amp;``), doubles its backslashes and escapes its double quotes (``\\"``);
  ``decoded_value`` undoes that;
- a group of the ``applocker_events_probe`` (the endpoint's own event log read over WinRM):
  plain values, already grouped by file and user with a count and first/last times.

``Event`` is what the readiness aggregator reads, whatever the source. Only the AppLocker
provider's events count; which ones are would-be blocks (8003, 8006, 8021, 8024), blocks (8004,
8007, 8022, 8025) or allowed runs is the table ``EVENTS``.
"""

from __future__ import annotations

import calendar
import re
import time
from dataclasses import dataclass

PROVIDER = "Microsoft-Windows-AppLocker"
# event ID -> (collection family, outcome). The family is refined per event by its policyName.
EVENTS = {
    8002: ("Exe", "allowed"),
    8003: ("Exe", "audit"),
    8004: ("Exe", "blocked"),
    8005: ("Script", "allowed"),
    8006: ("Script", "audit"),
    8007: ("Script", "blocked"),
    8020: ("Appx", "allowed"),
    8021: ("Appx", "audit"),
    8022: ("Appx", "blocked"),
    8023: ("Appx", "allowed"),
    8024: ("Appx", "audit"),
    8025: ("Appx", "blocked"),
}
AUDIT_IDS = tuple(sorted(i for i, (_f, outcome) in EVENTS.items() if outcome == "audit"))  # 8003 8006 8021 8024
BLOCKED_IDS = tuple(sorted(i for i, (_f, outcome) in EVENTS.items() if outcome == "blocked"))
CHANNELS = {
    "Microsoft-Windows-AppLocker/EXE and DLL": (8002, 8003, 8004),
    "Microsoft-Windows-AppLocker/MSI and Script": (8005, 8006, 8007),
    "Microsoft-Windows-AppLocker/Packaged app-Execution": (8020, 8021, 8022),
    "Microsoft-Windows-AppLocker/Packaged app-Deployment": (8023, 8024, 8025),
}
# PolicyName as AppLocker writes it (EXE, DLL, MSI, SCRIPT, APPX; Wazuh's own tests show Exe and
# Appx): folded to the model's collection names.
POLICY_NAMES = {"exe": "Exe", "dll": "Dll", "msi": "Msi", "script": "Script", "appx": "Appx"}
FAMILIES = {"Exe": ("Exe", "Dll"), "Script": ("Script", "Msi"), "Appx": ("Appx",)}
_MSI_EXTENSIONS = (".msi", ".msp", ".mst")
_DLL_EXTENSIONS = (".dll", ".ocx")
_HEX64 = re.compile(r"^(?:0x)?([0-9A-Fa-f]{64})$")
_SID = re.compile(r"^S-1-[0-9]+(?:-[0-9]+)+$", re.IGNORECASE)
_VERSION = re.compile(r"^[0-9]{1,5}(?:\.[0-9]{1,5}){3}$")
# 2026-11-20T10:15:02.123+0000 (alerts.json), 2026-11-20T10:15:02.1234567Z (systemTime),
# 2026-11-20T10:15:02Z, 2026-11-20 10:15:02+00:00; a time without a zone is UTC.
_TIME = re.compile(
    r"^\s*(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?\s*(Z|[+-]\d{2}:?\d{2})?\s*$",
    re.IGNORECASE,
)


class EvidenceError(ValueError):
    """Evidence that cannot be read; the message names the source and the value."""


# --- values -----------------------------------------------------------------------------------


_DAYS: dict[str, int] = {}  # "YYYY-MM-DD" -> seconds at midnight UTC: a month of alerts has ~31 distinct days
_HOURS: dict[str, int] = {}  # "YYYY-MM-DDTHH" -> seconds at the start of that hour (before any UTC offset)


def _midnight(year: int, month: int, day: int, text: str, where: str) -> int:
    key = f"{year:04d}-{month:02d}-{day:02d}"
    found = _DAYS.get(key)
    if found is None:
        if year < 1 or not 1 <= month <= 12 or not 1 <= day <= calendar.monthrange(year, month)[1]:
            raise EvidenceError(f"{where}: {text!r} is not a valid date")
        found = _DAYS[key] = calendar.timegm((year, month, day, 0, 0, 0))
    return found


def parse_time(text: object, where: str = "time") -> float:
    """An ISO 8601 time as Wazuh, the indexer or the probe write it -> seconds since the epoch (UTC)."""
    # Fast path for alerts.json's own layout, 2026-11-20T10:15:02.123+0000, once its date and hour
    # have been read the long way: a million alerts share a few hundred hours.
    if isinstance(text, str) and len(text) == 28 and text[23:] == "+0000":
        base = _HOURS.get(text[:13])
        tail = text[14:16] + text[17:19] + text[20:23]
        if base is not None and text[13] + text[16] + text[19] == "::." and tail.isascii() and tail.isdigit():
            minute, second = int(tail[:2]), int(tail[2:4])
            if minute < 60 and second <= 60:
                return base + minute * 60 + second + int(tail[4:]) / 1000
    match = _TIME.match(text) if isinstance(text, str) else None
    if not match:
        raise EvidenceError(f"{where}: {text!r} is not an ISO 8601 time such as 2026-11-20T10:15:02.123+0000")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    hour, minute, second = int(hour), int(minute), int(second)
    if hour > 23 or minute > 59 or second > 60:
        raise EvidenceError(f"{where}: {text!r} is not a valid time of day")
    hour_base = _midnight(int(year), int(month), int(day), text, where) + hour * 3600
    if len(text) == 28 and text[10] == "T":
        _HOURS[text[:13]] = hour_base
    seconds = hour_base + minute * 60 + second
    if fraction:
        seconds += int(fraction) / 10 ** len(fraction)
    if zone and zone.upper() != "Z":
        digits = zone[1:].replace(":", "")
        if int(digits[:2]) > 23 or int(digits[2:]) > 59:
            raise EvidenceError(f"{where}: {text!r} has an impossible UTC offset {zone}")
        offset = int(digits[:2]) * 3600 + int(digits[2:]) * 60
        seconds -= offset if zone[0] == "+" else -offset
    return float(seconds)


def format_time(seconds: float) -> str:
    """Seconds since the epoch -> ``2026-11-20T10:15:02Z`` (UTC, whole seconds)."""
    year, month, day, hour, minute, second = time.gmtime(int(seconds))[:6]
    return f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}Z"


def decoded_value(value: object) -> str | None:
    """A field value as the ``windows_eventchannel`` decoder left it -> the event's own text.

    The decoder keeps the event XML's entities and writes each backslash twice and each double
    quote as ``\\"`` (``_wazuh_escape.eventchannel_value`` is the forward direction). A value that
    is not in that form (a lone backslash: a value written by something else) is kept as it is,
    apart from the entities.
    """
    if value is None:
        return None
    text = str(value)
    # In the decoder's form every backslash pairs, left to right, with a backslash or a quote:
    # removing the pairs leaves none.
    if "\\" in text:
        pieces = text.split("\\\\")  # the pairs, left to right
        if not any("\\" in piece.replace('\\"', "") for piece in pieces):
            text = "\\".join(piece.replace('\\"', '"') for piece in pieces)
    if "&" in text:  # the five XML entities the event's XML text can hold; &amp; last
        text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&apos;", "'")
        text = text.replace("&amp;", "&")
    return text


def file_name(path: str) -> str:
    """The last component of a Windows path (AppLocker writes both separators' worth of paths)."""
    return re.split(r"[\\/]", path.rstrip("\\/"))[-1] if path else ""


@dataclass(frozen=True)
class Signature:
    """An AppLocker FQBN: ``PUBLISHER\\PRODUCT\\BINARY\\VERSION`` (the signer subject first)."""

    publisher: str
    product: str
    binary: str
    version: str | None  # a.b.c.d, or None when the event gives none or no valid one


def parse_fqbn(value: str | None) -> Signature | None:
    """The FQBN of a signed file; None for an unsigned one (``-``, empty) or one without a publisher."""
    if not value or value.strip() in ("-", "*"):
        return None
    parts = value.strip().rsplit("\\", 3)
    if len(parts) != 4:
        return None
    publisher, product, binary, version = (part.strip() for part in parts)
    if not publisher or publisher == "*" or "=" not in publisher:
        return None
    return Signature(publisher, product or "*", binary or "*", version if _VERSION.match(version) else None)


def collection_of(event_id: int, policy_name: str | None, path: str) -> str:
    """The rule collection an event is about: its PolicyName when the event's channel holds that
    collection (8003 is Exe or Dll, 8006 Msi or Script, 802x Appx), else the file's extension."""
    family = EVENTS[event_id][0]
    if policy_name:
        found = POLICY_NAMES.get(policy_name.strip().lower())
        if found in FAMILIES[family]:
            return found
    lowered = path.lower()
    if family == "Exe":
        return "Dll" if lowered.endswith(_DLL_EXTENSIONS) else "Exe"
    if family == "Script":
        return "Msi" if lowered.endswith(_MSI_EXTENSIONS) else "Script"
    return family


def file_hash(value: str | None) -> str | None:
    """A SHA256 file hash from an event (64 hex digits, ``0x`` optional) in upper case, else None."""
    match = _HEX64.match(value.strip()) if value else None
    return match.group(1).upper() if match else None


def user_sid(value: str | None) -> str | None:
    return value.strip().upper() if value and _SID.match(value.strip()) else None


# --- events -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """One AppLocker event, or a group of identical ones (the probe's groups): what readiness reads."""

    host: str
    event_id: int
    collection: str
    outcome: str  # audit | blocked | allowed
    path: str  # as AppLocker writes it, with its variable (%OSDRIVE%\TOOLS\X.EXE); the package for Appx
    full_path: str  # the concrete path (C:\tools\x.exe); the package for Appx
    signature: Signature | None
    sha256: str | None
    user: str | None  # the SID the file would have run as
    first: float
    last: float
    count: int = 1


def make_event(
    host: str,
    event_id: int,
    when: tuple[float, float],
    data: dict,
    *,
    count: int = 1,
    decode: bool = False,
) -> Event:
    """An ``Event`` from the RuleAndFileData fields (``policyName``, ``filePath``, ``fullFilePath``,
    ``fileHash``, ``fqbn``, ``targetUser``, ``package``); ``decode`` undoes the Wazuh decoder's escaping."""

    def field(*names: str) -> str:
        for name in names:
            value = data.get(name)
            if value not in (None, ""):
                return (decoded_value(value) if decode else str(value)) or ""
        return ""

    outcome = EVENTS[event_id][1]
    package = field("package", "Package")
    full_path = field("fullFilePath", "FullFilePath") or package
    path = field("filePath", "FilePath") or package or full_path
    collection = collection_of(event_id, field("policyName", "PolicyName"), full_path or path)
    return Event(
        host=host,
        event_id=event_id,
        collection=collection,
        outcome=outcome,
        path=path,
        full_path=full_path or path,
        signature=parse_fqbn(field("fqbn", "Fqbn")),
        sha256=file_hash(field("fileHash", "FileHash")),
        user=user_sid(field("targetUser", "TargetUser")),
        first=when[0],
        last=when[1],
        count=count,
    )


def _event_id(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


@dataclass(frozen=True)
class AlertFacts:
    """What every alert says about its host (evidence that it reports), and its AppLocker event if any."""

    host: str
    seen: float
    event: Event | None


def alert_facts(alert: object, where: str) -> AlertFacts | None:
    """One Wazuh alert (a line of alerts.json or an indexer document's ``_source``).

    None for an alert of the manager itself (agent 000) or without an agent name. Raises
    EvidenceError for an alert whose time cannot be read (the caller counts and reports it).
    """
    if not isinstance(alert, dict):
        raise EvidenceError(f"{where}: an alert is a JSON object, got {type(alert).__name__}")
    agent = alert.get("agent")
    if not isinstance(agent, dict) or agent.get("id") == "000":
        return None
    host = agent.get("name")
    if not isinstance(host, str) or not host.strip():
        return None
    host = host.strip()
    seen = parse_time(alert.get("timestamp"), f"{where}: timestamp")
    data = alert.get("data")
    win = data.get("win") if isinstance(data, dict) else None
    system = win.get("system") if isinstance(win, dict) else None
    if not isinstance(system, dict) or system.get("providerName") != PROVIDER:
        return AlertFacts(host, seen, None)
    event_id = _event_id(system.get("eventID"))
    if event_id not in EVENTS:
        return AlertFacts(host, seen, None)
    fields = win.get("ruleAndFileData")
    event = make_event(host, event_id, (seen, seen), fields if isinstance(fields, dict) else {}, decode=True)
    return AlertFacts(host, seen, event)

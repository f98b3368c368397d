# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Windows route: the registry probe's Uninstall entries -> the ``m1038_software`` fact. Pure.

The probe (``software_inventory_probe.ps1``) reads, in one round trip and changing nothing, every
subkey of ``SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall`` under HKLM in the 64-bit view
(scope ``machine``), HKLM in the 32-bit view (``WOW6432Node``, scope ``machine_wow64``, on a 64-bit
OS only) and ``HKU\\<SID>`` of every loaded user profile (scope ``user``). It sends the raw values;
every decision is taken here:

* no usable ``DisplayName`` (absent, empty, not text): skipped, counted ``no_name``; Windows lists
  no such entry in Programs and Features, nor does Wazuh's syscollector;
* ``ParentKeyName`` set: an update of another entry (Programs and Features shows it under
  "Installed updates"); skipped, counted ``update``; its parent carries the same publisher
  (syscollector lists updates as packages, so the manager route has them: the same vendors);
* ``SystemComponent`` = 1: hidden from Programs and Features, yet installed and on disk
  (runtimes, drivers, parts of suites); kept by default, as syscollector keeps it
  (``include_system_components: false`` skips and counts them);
* the same name, version and publisher in several scopes: one record, the first of machine,
  machine_wow64, user; counted ``duplicate``;
* a key the probe could not read: counted ``unreadable`` with the probe's message.

What syscollector does was read in wazuh/wazuh ``src/data_provider/src/sysInfoWin.cpp``
(``getPackagesFromReg``: every subkey with a non-empty ``DisplayName``, no other filter).

Values arrive JSON-safe: text as a string, DWORD/QWORD as an integer, REG_MULTI_SZ as
``{"multi": [text, ...]}``, REG_BINARY as ``{"binary": BASE64}``, and text holding a lone UTF-16
surrogate (which no JSON encoder carries safely) as ``{"utf16": [code unit, ...]}``.
"""

from __future__ import annotations

import base64
import binascii
import struct

from ansible_collections.m1038.appcontrol.plugins.module_utils._software_inventory_text import (
    MAX_NAME_CHARS,
    MAX_VERSION_CHARS,
    Tally,
    clean_install_date,
    clean_label,
    clean_publisher,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._winedge import ProbeError, check_probe

CONCERN = "software_inventory"
PROBE_VERSION = 1
SCOPES = ("machine", "machine_wow64", "user")
PROBE_SHAPE = {
    "host": {"computer_name": str, "os_64bit": bool},
    "sources": list,
    "entries": list,
}
ENTRY_SHAPE = {"scope": str, "key": str, "values": dict}
RECORD_KEYS = ("name", "publisher", "version", "install_date", "scope")


def decode_value(raw: object) -> object:
    """A probe value -> str, int, list of str, or bytes (REG_BINARY); unknown shapes come back as they are."""
    if isinstance(raw, dict) and len(raw) == 1:
        ((kind, data),) = raw.items()
        if kind == "multi" and isinstance(data, list):
            return [decode_value(item) for item in data]
        if kind == "utf16" and isinstance(data, list) and all(_is_unit(unit) for unit in data):
            # surrogatepass joins valid pairs into one code point and keeps lone ones
            return struct.pack(f"<{len(data)}H", *data).decode("utf-16-le", "surrogatepass")
        if kind == "binary" and isinstance(data, str):
            try:
                return base64.b64decode(data, validate=True)
            except (binascii.Error, ValueError):
                return raw
    return raw


def _is_unit(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 0xFFFF


def _flag(value: object) -> bool:
    """A DWORD flag such as SystemComponent: 1 (or the text "1") is set."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value == 1
    return isinstance(value, str) and value.strip() == "1"


def _check_entry(entry: object, index: int, host: str) -> dict:
    where = f" from {host}" if host else ""
    if not isinstance(entry, dict):
        raise ProbeError(f"software_inventory probe{where}: entries[{index}] is {type(entry).__name__}, not an object")
    for key, kind in ENTRY_SHAPE.items():
        if not isinstance(entry.get(key), kind):
            raise ProbeError(
                f"software_inventory probe{where}: entries[{index}].{key} is {entry.get(key)!r}, "
                f"expected {kind.__name__}"
            )
    if entry["scope"] not in SCOPES:
        raise ProbeError(
            f"software_inventory probe{where}: entries[{index}].scope {entry['scope']!r} is not one of "
            + ", ".join(SCOPES)
        )
    return entry


def _where(entry: dict) -> str:
    sid = entry.get("sid")
    return f"{entry['scope']}{':' + sid if isinstance(sid, str) and sid else ''}\\{entry['key']}"


def normalise_probe(probe: object, *, host: str = "", include_system_components: bool = True) -> tuple[list, dict]:
    """The probe -> (sorted ``m1038_software`` records, summary of what was kept, skipped and changed)."""
    check_probe(probe, concern=CONCERN, version=PROBE_VERSION, shape=PROBE_SHAPE, host=host)
    tally = Tally()
    skipped = dict.fromkeys(("no_name", "update", "system_component", "duplicate", "unreadable"), 0)
    scopes = dict.fromkeys(SCOPES, 0)
    records: dict[tuple, dict] = {}
    entries = [_check_entry(entry, index, host) for index, entry in enumerate(probe["entries"])]
    # Scope order decides which copy of a duplicate is kept, whatever order the probe used.
    for entry in sorted(entries, key=lambda e: SCOPES.index(e["scope"])):
        where = _where(entry)
        if entry.get("error"):
            skipped["unreadable"] += 1
            tally.note("key_unreadable", where, str(entry["error"])[:200])
            continue
        values = {name: decode_value(value) for name, value in entry["values"].items()}
        name = clean_label(values.get("DisplayName"), "name", MAX_NAME_CHARS, where, tally)
        if not name:
            skipped["no_name"] += 1
            continue
        parent = clean_label(values.get("ParentKeyName"), "parent_key_name", MAX_NAME_CHARS, where, tally)
        if parent:
            skipped["update"] += 1
            continue
        if not include_system_components and _flag(values.get("SystemComponent")):
            skipped["system_component"] += 1
            continue
        record = {
            "name": name,
            "publisher": clean_publisher(values.get("Publisher"), where, tally),
            "version": clean_label(values.get("DisplayVersion"), "version", MAX_VERSION_CHARS, where, tally),
            "install_date": clean_install_date(values.get("InstallDate"), where, tally),
            "scope": entry["scope"],
        }
        identity = (name.casefold(), record["version"], record["publisher"])
        if identity in records:
            skipped["duplicate"] += 1
            continue
        records[identity] = record
        scopes[entry["scope"]] += 1
    software = sorted(
        records.values(), key=lambda r: (r["name"].casefold(), r["name"], r["version"], r["publisher"], r["scope"])
    )
    sources = probe["sources"]
    unreadable_sources = [s for s in sources if isinstance(s, dict) and s.get("error")]
    for source in unreadable_sources:
        tally.note("source_unreadable", str(source.get("path", "?")), str(source["error"])[:200])
    summary = {
        "host": host,
        "computer_name": probe["host"]["computer_name"],
        "entries": len(entries),
        "records": len(software),
        "records_without_publisher": sum(1 for r in software if not r["publisher"]),
        "scopes": scopes,
        "skipped": skipped,
        "user_hives": sum(1 for s in sources if isinstance(s, dict) and s.get("scope") == "user"),
        "sources_unreadable": len(unreadable_sources),
        "include_system_components": include_system_components,
        "normalised": tally.to_dict(),
    }
    return software, summary


def describe(summary: dict) -> str:
    """One line for the log: what was kept, skipped and cleaned."""
    scopes = summary["scopes"]
    skipped = ", ".join(f"{count} {reason.replace('_', ' ')}" for reason, count in summary["skipped"].items() if count)
    cleaned = ", ".join(f"{count} {what.replace('_', ' ')}" for what, count in summary["normalised"]["counts"].items())
    return (
        f"{summary['records']} programs (machine {scopes['machine']}, 32-bit {scopes['machine_wow64']}, user "
        f"{scopes['user']} from {summary['user_hives']} loaded profiles), {summary['records_without_publisher']} "
        f"without a publisher; skipped: {skipped or 'none'}; cleaned: {cleaned or 'nothing'}"
    )


__all__ = [
    "CONCERN",
    "PROBE_SHAPE",
    "PROBE_VERSION",
    "RECORD_KEYS",
    "SCOPES",
    "decode_value",
    "describe",
    "normalise_probe",
]

# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Load fleet software inventories and count, per vendor, the hosts that have it installed.

Three shapes are read (``inventory_format``):

* ``host_map``: one JSON file ``{"host": [{"name", "publisher", "version"}, ...], ...}``;
* ``fact_cache``: a directory written by Ansible's ``jsonfile`` fact cache, one file per host,
  the list under ``software_fact`` either at the top level or inside ``ansible_facts``;
* ``syscollector``: saved ``GET /syscollector/{agent_id}/packages`` responses (one object, a
  list of them, or a directory with one file per agent); vendor is the ``vendor`` field.

Only vendor counts are kept, never the records: a host map is decoded one host at a time
(``raw_decode`` on each top-level value), so memory stays near the size of the file text.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import repeat

from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_escape import (
    normalise_vendor,
    unrepresentable_reason,
)

FORMATS = ("auto", "host_map", "fact_cache", "syscollector")
_WHITESPACE = " \t\n\r"
_RESPONSE_KEYS = ("data", "error", "message", "agent_name", "name")
# How many skipped records the summary lists by name (the count is always complete).
MAX_LISTED_SKIPS = 50


class InventoryError(ValueError):
    """The inventory cannot be read; the message names the file, host and record."""


@dataclass
class FleetCounts:
    """What the renderer keeps from an inventory."""

    hosts: int = 0
    records: int = 0
    records_without_vendor: int = 0
    vendor_hosts: Counter[str] = field(default_factory=Counter)
    skipped: list[dict[str, object]] = field(default_factory=list)
    skipped_count: int = 0
    host_names: set[str] = field(default_factory=set)


class _VendorCache:
    """Classify each distinct raw vendor value once, into sets the per-host step intersects.

    ``same`` holds strings that are already normalised (almost all of them), ``renamed`` maps
    the others to their normalised form, ``empty`` holds the values meaning "no vendor" and
    ``invalid`` the values that cannot be represented, with the reason.
    """

    def __init__(self) -> None:
        self.same: set[str] = set()
        self.renamed: dict[str, str] = {}
        self.renamed_keys: set[str] = set()
        self.empty: set[object] = {None}
        self.invalid: dict[object, str] = {}
        self.invalid_keys: set[object] = set()
        self.known: set[object] = {None}

    def learn(self, raw: object) -> None:
        """Classify a hashable value seen for the first time."""
        self.known.add(raw)
        if not isinstance(raw, str):
            self._refuse(raw, f"a {type(raw).__name__} is not a string")
            return
        normalised = normalise_vendor(raw)
        if not normalised.strip():
            self.empty.add(raw)
            return
        reason = unrepresentable_reason(normalised)
        if reason:
            self._refuse(raw, reason)
        elif normalised == raw:
            self.same.add(raw)
        else:
            self.renamed[raw] = normalised
            self.renamed_keys.add(raw)

    def _refuse(self, raw: object, reason: str) -> None:
        self.invalid[raw] = reason
        self.invalid_keys.add(raw)

    def resolve(self, raw: object) -> str | None:
        """The normalised vendor, None for "no vendor"; KeyError when invalid or unhashable."""
        try:
            if raw not in self.known:
                self.learn(raw)
        except TypeError:
            raise KeyError("unhashable") from None
        if raw in self.invalid_keys:
            raise KeyError(raw)
        if raw in self.empty:
            return None
        return self.renamed.get(raw, raw)

    def reason(self, raw: object) -> str:
        if not isinstance(raw, str):
            return f"a {type(raw).__name__} is not a string"
        return self.invalid.get(raw, "it is not a valid vendor string")


class _Counter:
    def __init__(self, on_invalid: str) -> None:
        self.counts = FleetCounts()
        self.cache = _VendorCache()
        self.on_invalid = on_invalid

    def add_host(self, host: object, records: object, source: str, vendor_key: str) -> None:
        if not isinstance(host, str) or not host:
            raise InventoryError(f"{source}: host name {host!r} is not a non-empty string")
        if not isinstance(records, list):
            raise InventoryError(
                f"{source}: host {host!r}: software list must be a JSON list, got {type(records).__name__}"
            )
        counts = self.counts
        if host in counts.host_names:
            raise InventoryError(f"{source}: host {host!r} appears twice in the inventory")
        counts.host_names.add(host)
        counts.hosts += 1
        counts.records += len(records)
        try:
            # map(dict.get) runs at C speed; it raises TypeError on the first non-object record.
            raw_vendors = list(map(dict.get, records, repeat(vendor_key)))
        except TypeError:
            index = next(i for i, record in enumerate(records) if not isinstance(record, dict))
            raise InventoryError(
                f"{source}: host {host!r}, record {index}: expected an object with name/{vendor_key}/version, "
                f"got {type(records[index]).__name__} {records[index]!r}"
            ) from None
        try:
            vendors, without, bad = self._resolve_distinct(raw_vendors)
        except TypeError:  # an unhashable vendor value (a list, an object): go record by record
            vendors, without, bad = self._resolve_each(raw_vendors)
        for index in bad:
            self._invalid(source, host, index, records[index], vendor_key)
        counts.records_without_vendor += without
        counts.vendor_hosts.update(vendors)

    def _resolve_distinct(self, raw_vendors: list) -> tuple[set[str], int, list[int]]:
        """Resolve a host's records with set operations; a host lists far fewer vendors than packages."""
        cache = self.cache
        distinct = set(raw_vendors)  # TypeError when a value is unhashable
        for raw in distinct.difference(cache.known):
            cache.learn(raw)
        vendors = distinct & cache.same
        renamed = distinct & cache.renamed_keys
        if renamed:
            vendors.update(cache.renamed[raw] for raw in renamed)
        empty = distinct & cache.empty
        without = sum(map(raw_vendors.count, empty)) if empty else 0
        invalid = distinct & cache.invalid_keys
        bad = [index for index, raw in enumerate(raw_vendors) if raw in invalid] if invalid else []
        return vendors, without, bad

    def _resolve_each(self, raw_vendors: list) -> tuple[set[str], int, list[int]]:
        resolve = self.cache.resolve
        vendors: set[str] = set()
        bad = []
        without = 0
        for index, raw in enumerate(raw_vendors):
            try:
                vendor = resolve(raw)
            except KeyError:
                bad.append(index)
                continue
            if vendor is None:
                without += 1
            else:
                vendors.add(vendor)
        return vendors, without, bad

    def _invalid(self, source: str, host: str, index: int, record: dict, vendor_key: str) -> None:
        raw = record.get(vendor_key)
        reason = self.cache.reason(raw)
        message = f"{source}: host {host!r}, record {index} ({record.get('name')!r}): {vendor_key} {raw!r}: {reason}"
        if self.on_invalid == "fail":
            raise InventoryError(message + " (set on_invalid_vendor=skip to leave such records out)")
        self.counts.skipped_count += 1
        if len(self.counts.skipped) < MAX_LISTED_SKIPS:
            self.counts.skipped.append({"source": source, "host": host, "record": index, "reason": reason})


def _skip_ws(text: str, position: int) -> int:
    while position < len(text) and text[position] in _WHITESPACE:
        position += 1
    return position


def iter_host_map(text: str, source: str) -> Iterator[tuple[str, object]]:
    """Yield (host, records) from a host map, decoding one host's value at a time."""
    decoder = json.JSONDecoder()
    position = _skip_ws(text, 0)
    if not text.startswith("{", position):
        raise InventoryError(f"{source}: a host map must be a JSON object of host name -> software list")
    position = _skip_ws(text, position + 1)
    if text.startswith("}", position):
        return
    while True:
        try:
            host, position = decoder.raw_decode(text, position)
            position = _skip_ws(text, position)
            if not isinstance(host, str) or not text.startswith(":", position):
                raise ValueError("expected a host name and ':'")
            records, position = decoder.raw_decode(text, _skip_ws(text, position + 1))
        except ValueError as exc:
            raise InventoryError(f"{source}: invalid JSON near character {position}: {exc}") from None
        yield host, records
        position = _skip_ws(text, position)
        if text.startswith(",", position):
            position = _skip_ws(text, position + 1)
            continue
        if text.startswith("}", position) and not text[_skip_ws(text, position + 1) :]:
            return
        raise InventoryError(f"{source}: invalid JSON near character {position}: expected ',' or a final '}}'")


def _read_text(path: str) -> str:
    try:
        # utf-8-sig: files written by Windows PowerShell 5 (Out-File, Set-Content) start with a BOM
        with open(path, encoding="utf-8-sig") as handle:
            return handle.read()
    except UnicodeDecodeError as exc:
        raise InventoryError(f"{path}: not UTF-8 text ({exc})") from None
    except OSError as exc:
        raise InventoryError(f"{path}: cannot be read ({exc.strerror})") from None


def _parse(text: str, source: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InventoryError(f"{source}: invalid JSON: {exc}") from None


def _load_json(path: str) -> object:
    return _parse(_read_text(path), path)


def _is_syscollector(document: object) -> bool:
    data = document.get("data") if isinstance(document, dict) else None
    return isinstance(data, dict) and "affected_items" in data


def _fact_software(document: object, fact: str) -> object:
    if not isinstance(document, dict):
        return None
    facts = document.get("ansible_facts")
    if isinstance(facts, dict) and fact in facts:
        return facts[fact]
    return document.get(fact)


def _detect_text(text: str, source: str) -> str:
    position = _skip_ws(text, 0)
    if text.startswith("[", position):
        return "syscollector"
    if text.startswith("{", position):
        position = _skip_ws(text, position + 1)
        if text.startswith("}", position):
            return "host_map"
        decoder = json.JSONDecoder()
        try:
            key, position = decoder.raw_decode(text, position)
            position = _skip_ws(text, position)
            first_value, _end = decoder.raw_decode(text, _skip_ws(text, position + 1))
        except ValueError as exc:
            raise InventoryError(f"{source}: invalid JSON near character {position}: {exc}") from None
        # A host map's values are software lists; a syscollector response has the API's
        # top-level keys (data, error, message), or agent_name/name added by whoever saved it.
        if isinstance(first_value, list):
            return "host_map"
        if key in _RESPONSE_KEYS:
            return "syscollector"
        raise InventoryError(
            f"{source}: cannot tell the inventory format: the first entry {key!r} holds a "
            f"{type(first_value).__name__}, neither a software list (host map) nor a syscollector response field"
        )
    raise InventoryError(
        f"{source}: cannot tell the inventory format: expected a JSON object (host map or syscollector "
        "response) or a JSON list of syscollector responses"
    )


def detect_format(path: str, software_fact: str, text: str | None = None) -> str:
    """Guess the inventory shape; raise InventoryError explaining what was expected."""
    if not os.path.isdir(path):
        return _detect_text(_read_text(path) if text is None else text, path)
    files = _directory_files(path)
    if not files:
        raise InventoryError(f"{path}: the inventory directory holds no files")
    document = _load_json(files[0])
    if _is_syscollector(document) or (isinstance(document, list) and document and _is_syscollector(document[0])):
        return "syscollector"
    if _fact_software(document, software_fact) is not None:
        return "fact_cache"
    raise InventoryError(
        f"{files[0]}: cannot tell the inventory format: not a syscollector packages response "
        f"(data.affected_items) and no fact {software_fact!r} (at the top level or under ansible_facts)"
    )


def _directory_files(path: str) -> list[str]:
    names = sorted(name for name in os.listdir(path) if not name.startswith("."))
    return [os.path.join(path, name) for name in names if os.path.isfile(os.path.join(path, name))]


def _syscollector_responses(document: object, source: str) -> Iterable[tuple[int | None, dict]]:
    responses = document if isinstance(document, list) else [document]
    for index, response in enumerate(responses):
        where = index if isinstance(document, list) else None
        if not _is_syscollector(response):
            at = f" item {index}" if where is not None else ""
            raise InventoryError(f"{source}{at}: not a syscollector packages response (no data.affected_items)")
        yield where, response


def _syscollector_host(response: dict, items: list, source: str) -> str:
    for key in ("agent_name", "name"):
        if isinstance(response.get(key), str) and response[key]:
            return response[key]
    for key in ("agent_name", "agent_id"):
        values = {item.get(key) for item in items if isinstance(item, dict) and item.get(key)}
        if len(values) == 1:
            return str(values.pop())
        if len(values) > 1:
            raise InventoryError(f"{source}: one response holds packages of several agents ({sorted(values)!r})")
    raise InventoryError(f"{source}: cannot name the host: no agent_name/name in the response and no agent_id")


def _load_host_map(counter: _Counter, path: str, text: str | None) -> None:
    if text is None:
        raise InventoryError(f"{path}: inventory_format=host_map needs a JSON file, not a directory")
    for host, records in iter_host_map(text, path):
        counter.add_host(host, records, path, "publisher")


def _load_fact_cache(counter: _Counter, path: str, software_fact: str) -> None:
    if not os.path.isdir(path):
        raise InventoryError(f"{path}: inventory_format=fact_cache needs the fact cache directory")
    for file_path in _directory_files(path):
        software = _fact_software(_load_json(file_path), software_fact)
        if software is None:
            raise InventoryError(f"{file_path}: no fact {software_fact!r} (top level or under ansible_facts)")
        counter.add_host(os.path.basename(file_path), software, file_path, "publisher")


def _load_syscollector(counter: _Counter, path: str, text: str | None) -> None:
    if text is None:
        documents: Iterable[tuple[str, object]] = ((f, _load_json(f)) for f in _directory_files(path))
    else:
        documents = [(path, _parse(text, path))]
    for file_path, document in documents:
        for index, response in _syscollector_responses(document, file_path):
            source = file_path if index is None else f"{file_path} item {index}"
            items = response["data"]["affected_items"]
            if not isinstance(items, list):
                raise InventoryError(f"{source}: data.affected_items must be a list")
            counter.add_host(_syscollector_host(response, items, source), items, source, "vendor")


def load_fleet(path: str, inventory_format: str, software_fact: str, on_invalid: str) -> tuple[FleetCounts, str]:
    """Read the inventory at ``path`` and return the vendor counts and the format used."""
    if not os.path.exists(path):
        raise InventoryError(f"inventory_file {path!r} does not exist")
    if inventory_format not in FORMATS:
        raise InventoryError(f"inventory_format {inventory_format!r} is not one of {', '.join(FORMATS)}")
    text = None if os.path.isdir(path) else _read_text(path)
    if inventory_format == "auto":
        inventory_format = detect_format(path, software_fact, text)
    counter = _Counter(on_invalid)
    if inventory_format == "host_map":
        _load_host_map(counter, path, text)
    elif inventory_format == "fact_cache":
        _load_fact_cache(counter, path, software_fact)
    else:
        _load_syscollector(counter, path, text)
    if counter.counts.hosts == 0:
        raise InventoryError(f"{path}: the inventory holds no host")
    return counter.counts, inventory_format


__all__ = ["FORMATS", "FleetCounts", "InventoryError", "detect_format", "iter_host_map", "load_fleet"]

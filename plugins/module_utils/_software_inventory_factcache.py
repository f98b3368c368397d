# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Windows route's output: one host's file in an Ansible ``jsonfile`` fact cache directory.

Ansible's jsonfile cache plugin keeps one file per host, named after the host, holding the host's
facts as one JSON object (``json.dumps(facts, sort_keys=True, indent=4)``). The renderer reads the
fact ``m1038_software`` from such a directory (``inventory_format: fact_cache``). This module
writes the same format and merges: a file that already holds other facts (because Ansible's own
fact cache points at the same directory) keeps them, and only ``m1038_software`` is replaced. A
file that is not a JSON object is reported, never overwritten.
"""

from __future__ import annotations

import json
import os

from ansible_collections.m1038.appcontrol.plugins.module_utils._software_inventory_store import atomic_write

FACT = "m1038_software"


class FactCacheError(ValueError):
    """The host's fact cache file cannot be read or written; the message names the file."""


def cache_path(directory: str, host: str) -> str:
    """The host's file; refuse host names the renderer would skip or that leave the directory."""
    if not host or host.startswith(".") or "/" in host or "\\" in host or "\x00" in host:
        raise FactCacheError(
            f"host name {host!r} cannot name a fact cache file (empty, starting with '.', or holding a path separator)"
        )
    return os.path.join(directory, host)


def read_cache(path: str) -> dict | None:
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise FactCacheError(f"{path} cannot be read ({exc}); not overwritten") from None
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise FactCacheError(
            f"{path} is not JSON ({exc}): not an Ansible jsonfile fact cache file; not overwritten"
        ) from None
    if not isinstance(document, dict):
        raise FactCacheError(f"{path} holds a JSON {type(document).__name__}, not an object of facts; not overwritten")
    return document


def dump_cache(facts: dict) -> str:
    """The jsonfile cache plugin's format."""
    return json.dumps(facts, sort_keys=True, indent=4)


def software_lines(software: list | None) -> str:
    """One line per record, for a readable --diff."""
    if not software:
        return ""
    lines = []
    for record in software:
        if isinstance(record, dict):
            fields = (record.get("name"), record.get("version"), record.get("publisher"), record.get("scope"))
            lines.append(" | ".join("" if value is None else str(value) for value in fields))
        else:
            lines.append(repr(record))
    return "\n".join(lines) + "\n"


def update_cache(directory: str, host: str, software: list, *, check_mode: bool) -> tuple[bool, str, list | None]:
    """Put ``software`` into the host's cache file; (changed, path, the previous list or None)."""
    path = cache_path(directory, host)
    current = read_cache(path)
    previous = None if current is None else current.get(FACT)
    if current is not None and previous == software:
        return False, path, previous
    facts = dict(current or {})
    facts[FACT] = software
    if not check_mode:
        try:
            os.makedirs(directory, exist_ok=True)
            atomic_write(path, dump_cache(facts).encode("utf-8"))
        except OSError as exc:
            raise FactCacheError(f"{path} cannot be written ({exc})") from None
    return True, path, previous


__all__ = ["FACT", "FactCacheError", "cache_path", "dump_cache", "read_cache", "software_lines", "update_cache"]

# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What each Sysmon schema version accepts, and which schema each Sysmon release accepts.

Two tables:

- the per-schema table (events, fields, filter conditions, options) lives in the generated
  ``_sysmon_schema_data.py`` (``scripts/gen_sysmon_schema.py`` builds it from the manifests);
- the release table below (Sysmon binary release -> highest schema it loads) is written by hand
  from SYSMON-VERSIONS.md in the project's reference data, each row with its evidence. Rows whose
  evidence is weak are marked, and the validator turns them into warnings.

The grammar around the manifest's events (``<Sysmon>``, ``<EventFiltering>``, ``<RuleGroup>``,
``<Rule>``, ``onmatch``, ``groupRelation``, ``condition``, ``name``) is not in the manifests; it is
taken from Microsoft's Sysmon documentation and blog posts ("Sysmon - The rules about rules",
"Sysmon 10.4 rule enhancements": ``<Rule>`` needs schema 4.22) and the public configurations.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache

from ansible_collections.m1038.appcontrol.plugins.module_utils import _sysmon_schema_data as data

# Binary name by the host's native processor architecture (Sysinternals' Sysmon.zip holds all three).
BINARIES = {"AMD64": "Sysmon64.exe", "ARM64": "Sysmon64a.exe", "x86": "Sysmon.exe"}
# HashAlgorithms values (sysmon -? : "-h <[sha1|md5|sha256|imphash|*],...>").
HASH_ALGORITHMS = ("MD5", "SHA1", "SHA256", "IMPHASH", "*")
CHANNEL = "Microsoft-Windows-Sysmon/Operational"
RULE_ELEMENT_MIN_SCHEMA = "4.22"  # <Rule> inside an event element: Sysmon 10.4, schema 4.22
ONMATCH = ("include", "exclude")
GROUP_RELATIONS = ("and", "or")

_SCHEMA_RE = re.compile(r"^\s*(\d{1,2})\.(\d{1,2})\s*$")
_RELEASE_RE = re.compile(r"^\s*v?(\d{1,3})\.(\d{1,3})(?:\.\d+){0,2}\s*$")


@dataclass(frozen=True)
class Release:
    """A row of the release table: from ``first`` on, Sysmon loads configurations up to ``max_schema``."""

    first: str
    max_schema: str
    evidence: str
    certain: bool = True


# Highest schema per Sysmon release, from SYSMON-VERSIONS.md (banners "Sysmon schema version: X" where seen).
RELEASES = (
    Release("7.0", "4.0", "banner 'System Monitor v7.00 ... schema version: 4.00' (MotiBa/Sysmon#1)"),
    Release("8.0", "4.1", "Neo23x0/sysmon-version-history"),
    Release("9.0", "4.2", "Neo23x0/sysmon-version-history"),
    Release("10.0", "4.21", "Neo23x0/sysmon-version-history"),
    Release("10.4", "4.22", "Neo23x0/sysmon-version-history; Sysinternals blog 'Sysmon 10.4 rule enhancements'"),
    Release("10.42", "4.23", "TrustedSec SysmonCommunityGuide changelog"),
    Release("11.0", "4.30", "TrustedSec SysmonCommunityGuide changelog; sysmon-modular d462111"),
    Release("11.10", "4.31", "conflict: 4.32 (Neo23x0) or 4.31 (TrustedSec); the lower is kept", certain=False),
    Release("12.0", "4.40", "TrustedSec SysmonCommunityGuide changelog; sysmon-modular 70c34f5"),
    Release("13.0", "4.50", "TrustedSec SysmonCommunityGuide changelog"),
    Release("13.10", "4.60", "inferred from release dates (sysmon-modular b70acce); no banner seen", certain=False),
    Release("13.20", "4.60", "not confirmed: SysmonCommon has a 4.70 manifest with no release mapping", certain=False),
    Release("13.30", "4.81", "banner 'System Monitor v13.30 ... Sysmon schema version: 4.81'"),
    Release("14.0", "4.82", "banner 'System Monitor v14.0 ... Sysmon schema version: 4.82'"),
    Release("14.1", "4.83", "banners v14.13 and v14.16: 'Sysmon schema version: 4.83'"),
    Release("15.0", "4.90", "banners v15.14 and v15.15; darkoperator/vscode-sysmon changelog"),
    Release("15.20", "4.91", "banner 'System Monitor v15.20 ... Sysmon schema version: 4.91'"),
)
# The newest release whose schema was seen; later ones are assumed to keep the last row's schema.
LAST_SOURCED_RELEASE = "15.20"


class SchemaError(ValueError):
    """A version string that is not a Sysmon schema or release version."""


def schema_key(version: str) -> tuple[int, int]:
    """``"4.2"`` -> (4, 20), ``"4.21"`` -> (4, 21): schema versions compare as two-place decimals."""
    match = _SCHEMA_RE.match(str(version))
    if not match:
        raise SchemaError(f"'{version}' is not a schema version (expected MAJOR.MINOR such as 4.90)")
    major, minor = match.groups()
    return int(major), int((minor + "0")[:2])


def parse_release(version: str) -> Decimal:
    """A Sysmon release (``15.15``, ``v14.16``, ``15.15.0.0``) as a decimal: 14.1 < 14.13 < 14.16 < 15.0."""
    match = _RELEASE_RE.match(str(version))
    if not match:
        raise SchemaError(f"'{version}' is not a Sysmon version (expected MAJOR.MINOR such as 15.15)")
    try:
        return Decimal(f"{int(match.group(1))}.{match.group(2)}")
    except InvalidOperation:  # pragma: no cover - the regex admits digits only
        raise SchemaError(f"'{version}' is not a Sysmon version") from None


def release_text(version: str) -> str:
    """The MAJOR.MINOR form of a release string (``15.15.0.0`` -> ``15.15``)."""
    match = _RELEASE_RE.match(str(version))
    if not match:
        raise SchemaError(f"'{version}' is not a Sysmon version (expected MAJOR.MINOR such as 15.15)")
    return f"{int(match.group(1))}.{match.group(2)}"


@dataclass(frozen=True)
class MaxSchema:
    release: str
    max_schema: str
    certain: bool
    note: str


def max_schema_for_release(release: str) -> MaxSchema:
    """Highest schema the given Sysmon release loads; ``certain`` is False where the evidence is weak."""
    value = parse_release(release)
    if value < parse_release(RELEASES[0].first):
        raise SchemaError(f"Sysmon {release} is older than {RELEASES[0].first}, the oldest release this table knows")
    row = next(r for r in reversed(RELEASES) if parse_release(r.first) <= value)
    if value > parse_release(LAST_SOURCED_RELEASE):
        note = f"Sysmon {release} is newer than any release with a known schema; assuming {row.max_schema}"
        return MaxSchema(release, row.max_schema, False, note)
    return MaxSchema(release, row.max_schema, row.certain, row.evidence)


@dataclass(frozen=True)
class EventType:
    """One configuration element (``rulename``); RegistryEvent, PipeEvent and WmiEvent cover several IDs."""

    rulename: str
    event_ids: tuple[str, ...]
    fields: tuple[str, ...]


@dataclass(frozen=True)
class Schema:
    version: str
    origin: str
    conditions: tuple[str, ...]
    options: tuple[str, ...]
    rule_options: tuple[str, ...]
    events: dict  # rulename -> EventType, in manifest order

    @property
    def derived(self) -> bool:
        return self.origin.startswith("derived")

    def supports_rule_element(self) -> bool:
        return schema_key(self.version) >= schema_key(RULE_ELEMENT_MIN_SCHEMA)


def known_schemas() -> tuple[str, ...]:
    return tuple(data.SCHEMAS)


@cache
def get_schema(version: str) -> Schema:
    """The table for a schema version that the table holds exactly."""
    if version not in data.EVENTS:
        raise SchemaError(f"schema {version} is not in the table (known: {', '.join(data.SCHEMAS)})")
    events: dict[str, EventType] = {}
    for event_id, rulename, fieldset in data.EVENTS[version]:
        fields = tuple(data.FIELDSETS[fieldset])
        if rulename in events:
            previous = events[rulename]
            merged = previous.fields + tuple(f for f in fields if f not in previous.fields)
            events[rulename] = EventType(rulename, (*previous.event_ids, event_id), merged)
        else:
            events[rulename] = EventType(rulename, (event_id,), fields)
    return Schema(
        version=version,
        origin=data.ORIGIN[version],
        conditions=tuple(data.CONDITIONS[version]),
        options=tuple(data.OPTIONS[version]),
        rule_options=tuple(data.RULE_OPTIONS[version]),
        events=events,
    )


def resolve_schema(version: str) -> tuple[Schema, str | None]:
    """The table entry to validate a config declaring ``version`` against, and a note when it is not exact.

    A version between two known ones (4.85) is checked against the lower one; a version above the
    newest known one against the newest. Below 4.0 there is nothing to resolve to.
    """
    key = schema_key(version)
    known = [(schema_key(v), v) for v in data.SCHEMAS]
    for k, v in known:
        if k == key:
            return get_schema(v), None
    if key < known[0][0]:
        raise SchemaError(
            f"schemaversion {version} is older than {known[0][1]}: Sysmon 7.0 and later reject 3.x configurations"
        )
    lower = [v for k, v in known if k < key][-1]
    return get_schema(lower), f"schemaversion {version} is not in the table; checked against schema {lower}"


def compare_schema(left: str, right: str) -> int:
    a, b = schema_key(left), schema_key(right)
    return (a > b) - (a < b)

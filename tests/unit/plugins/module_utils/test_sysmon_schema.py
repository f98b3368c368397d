"""The Sysmon schema tables: the generated per-schema table is consistent, the release table is sane."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.m1038.appcontrol.plugins.module_utils import _sysmon_schema_data as data
from ansible_collections.m1038.appcontrol.plugins.module_utils._sysmon_schema import (
    RELEASES,
    SchemaError,
    get_schema,
    known_schemas,
    max_schema_for_release,
    parse_release,
    resolve_schema,
    schema_key,
)

# FACTS.md: Sysmon event 1 fields (schema 4.90 Windows manifests).
EVENT1_FIELDS = [
    *("RuleName", "UtcTime", "ProcessGuid", "ProcessId", "Image", "FileVersion", "Description", "Product"),
    *("Company", "OriginalFileName", "CommandLine", "CurrentDirectory", "User", "LogonGuid", "LogonId"),
    *("TerminalSessionId", "IntegrityLevel", "Hashes", "ParentProcessGuid", "ParentProcessId", "ParentImage"),
    *("ParentCommandLine", "ParentUser"),
]


def test_digest_matches_the_committed_table():
    """A hand edit of the generated table (instead of a regeneration) changes the digest."""
    table = {
        "schemas": data.SCHEMAS,
        "origin": data.ORIGIN,
        "conditions": data.CONDITIONS,
        "options": data.OPTIONS,
        "rule_options": data.RULE_OPTIONS,
        "fieldsets": data.FIELDSETS,
        "events": data.EVENTS,
    }
    digest = hashlib.sha256(json.dumps(table, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    assert digest == data.DIGEST


def test_schemas_are_sorted_unique_and_complete():
    keys = [schema_key(v) for v in data.SCHEMAS]
    assert keys == sorted(set(keys))
    for table in (data.ORIGIN, data.CONDITIONS, data.OPTIONS, data.RULE_OPTIONS, data.EVENTS):
        assert list(table) == data.SCHEMAS
    assert all(0 <= fieldset < len(data.FIELDSETS) for rows in data.EVENTS.values() for _id, _name, fieldset in rows)


def test_conditions_only_grow_and_is_is_always_there():
    previous: set[str] = set()
    for version in data.SCHEMAS:
        conditions = set(data.CONDITIONS[version])
        assert "is" in conditions
        assert previous <= conditions, version
        previous = conditions
    assert set(data.CONDITIONS["4.90"]) >= {"not begin with", "not end with", "is any", "excludes all", "image"}
    assert len(data.CONDITIONS["4.90"]) == 16  # FACTS.md: the 16 filter conditions


def test_event1_fields_and_parent_user_from_4_80():
    assert get_schema("4.90").events["ProcessCreate"].fields == tuple(EVENT1_FIELDS)
    assert "ParentUser" not in get_schema("4.70").events["ProcessCreate"].fields
    assert "ParentUser" in get_schema("4.80").events["ProcessCreate"].fields
    # event 1 has no signature fields
    assert not {"Signed", "Signature", "SignatureStatus"} & set(get_schema("4.91").events["ProcessCreate"].fields)


def test_windows_only_events_27_to_29():
    def ids(version):
        return {i for e in get_schema(version).events.values() for i in e.event_ids}

    assert "27" not in ids("4.81")
    assert "27" in ids("4.82") and "28" not in ids("4.82")
    assert "28" in ids("4.83") and "29" not in ids("4.83")
    assert {"27", "28", "29"} <= ids("4.90") and {"27", "28", "29"} <= ids("4.91")
    assert all("100" not in ids(v) for v in known_schemas())  # Linux eBPF event left out
    assert get_schema("4.82").derived and not get_schema("4.90").derived


def test_multi_id_event_types_merge_their_fields():
    registry = get_schema("4.90").events["RegistryEvent"]
    assert registry.event_ids == ("12", "13", "14")
    assert {"TargetObject", "Details", "NewName", "EventType"} <= set(registry.fields)


def test_4_91_adds_only_queue_size_options():
    assert set(data.OPTIONS["4.91"]) - set(data.OPTIONS["4.90"]) == {"DriverQueueSize", "SigningQueueSize"}
    assert data.EVENTS["4.91"] == data.EVENTS["4.90"]


def test_release_rows_are_ordered_and_name_known_schemas():
    firsts = [parse_release(r.first) for r in RELEASES]
    assert firsts == sorted(firsts)
    schemas = [schema_key(r.max_schema) for r in RELEASES]
    assert schemas == sorted(schemas)
    assert all(r.max_schema in data.SCHEMAS for r in RELEASES)


@pytest.mark.parametrize(
    ("release", "schema", "certain"),
    [
        ("7.01", "4.0", True),
        ("10.42", "4.23", True),
        ("11.11", "4.31", False),  # conflicting sources, the lower kept
        ("13.10", "4.60", False),
        ("13.24", "4.60", False),
        ("13.33", "4.81", True),  # FACTS.md: a 4.90 config fails on 13.33
        ("14.0", "4.82", True),
        ("14.16", "4.83", True),
        ("15.0", "4.90", True),
        ("15.15", "4.90", True),
        ("15.15.0.0", "4.90", True),
        ("15.20", "4.91", True),
        ("15.21", "4.91", False),  # newer than any release with a known schema
    ],
)
def test_max_schema_for_release(release, schema, certain):
    limit = max_schema_for_release(release)
    assert (limit.max_schema, limit.certain) == (schema, certain)


@pytest.mark.parametrize("release", ["6.0", "x", "15", "15.15-beta", ""])
def test_unknown_or_too_old_releases_are_refused(release):
    with pytest.raises(SchemaError):
        max_schema_for_release(release)


def test_resolve_schema_between_above_and_below():
    schema, note = resolve_schema("4.90")
    assert (schema.version, note) == ("4.90", None)
    schema, note = resolve_schema("4.85")
    assert schema.version == "4.83" and "4.85" in note
    schema, note = resolve_schema("5.00")
    assert schema.version == "4.91" and note
    with pytest.raises(SchemaError, match=r"3\.x"):
        resolve_schema("3.40")
    with pytest.raises(SchemaError, match="not a schema version"):
        resolve_schema("four")


def test_schema_key_reads_two_place_fractions():
    assert schema_key("4.2") == (4, 20) < schema_key("4.21") == (4, 21) < schema_key("4.3") == (4, 30)


@given(st.integers(0, 999), st.integers(0, 99), st.integers(0, 999), st.integers(0, 99))
def test_release_order_is_numeric_order_of_the_decimal(a, b, c, d):
    left, right = f"{a}.{b:02d}", f"{c}.{d:02d}"
    assert (parse_release(left) < parse_release(right)) == (Decimal(left) < Decimal(right))

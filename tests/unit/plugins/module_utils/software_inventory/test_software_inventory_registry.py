"""Windows route: recorded registry probes -> the m1038_software fact; every decision and every odd value."""

from __future__ import annotations

import base64
import json
import re
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.m1038.appcontrol.plugins.module_utils._software_inventory_factcache import update_cache
from ansible_collections.m1038.appcontrol.plugins.module_utils._software_inventory_registry import (
    RECORD_KEYS,
    decode_value,
    normalise_probe,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._winedge import ProbeError

from .helpers import PROBES, probe, renderer_accepts
from .test_software_inventory_text import registry_text


def names(software):
    return [r["name"] for r in software]


def test_workstation_keeps_programs_and_skips_what_windows_hides():
    software, summary = normalise_probe(probe("workstation"), host="ws-fin-01")
    assert all(tuple(r) == RECORD_KEYS for r in software)
    assert summary["skipped"] == {"no_name": 12, "update": 1, "system_component": 0, "duplicate": 1, "unreadable": 0}
    # updates (ParentKeyName) are not programs; system components are installed programs
    assert not any("KB5002623" in n for n in names(software))
    assert "Microsoft Visual C++ 2022 X64 Minimum Runtime - 14.42.34433" in names(software)
    # Chrome is registered in both views: one record, the 64-bit one
    chrome = [r for r in software if r["name"] == "Google Chrome"]
    assert len(chrome) == 1 and chrome[0]["scope"] == "machine"
    assert summary["scopes"] == {"machine": 6, "machine_wow64": 3, "user": 3}
    assert {r["scope"] for r in software if r["name"].startswith("Zoom")} == {"user"}
    assert names(software) == sorted(names(software), key=str.casefold)
    assert summary["normalised"]["counts"] == {}


def test_system_components_can_be_left_out():
    software, summary = normalise_probe(probe("workstation"), include_system_components=False)
    assert summary["skipped"]["system_component"] == 2
    assert "Office 16 Click-to-Run Extensibility Component" not in names(software)
    assert "Microsoft Edge" in names(software)  # SystemComponent=0 is not a system component


def test_odd_values_are_cleaned_skipped_and_counted_never_fatal():
    software, summary = normalise_probe(probe("odd-values"), host="ws-odd-01")
    by_name = {r["name"]: r for r in software}
    assert summary["skipped"] == {"no_name": 3, "update": 0, "system_component": 0, "duplicate": 1, "unreadable": 1}
    assert summary["sources_unreadable"] == 1
    counts = summary["normalised"]["counts"]
    assert counts["publisher_cleared"] == 4  # control character, lone surrogate, too long, double quote
    assert by_name["Contoso Multi Tool"]["publisher"] == "Contoso Ltd"  # REG_MULTI_SZ: its first string
    assert by_name["Fabrikam Agent"]["publisher"] == ""  # REG_DWORD
    assert by_name["Fabrikam Driver"] == {**by_name["Fabrikam Driver"], "publisher": "", "version": ""}  # REG_BINARY
    assert by_name["Tail spin Toys"]["version"] == "4.0"
    assert by_name["Litware Reader"]["publisher"] == "Litware, Inc."
    assert by_name["Northwind Sync"]["publisher"] == "Northwind Traders"
    assert by_name["Widget \ufffd Pro"]["publisher"] == ""
    assert "Emoji \U0001f600" in by_name  # a valid surrogate pair is one character
    assert by_name["Space Tool"]["publisher"] == " Leading Space Corp"
    assert by_name["AT&T Connect"]["publisher"] == "AT&T"
    assert by_name["Hidden Helper"]["scope"] == "machine"  # SystemComponent "1" as text still kept by default
    assert by_name["Not An Update"]["scope"] == "user"  # an empty ParentKeyName is no parent
    assert by_name["Date Tool A"]["install_date"] is None
    long_name = next(n for n in by_name if n.startswith("Long Name"))
    assert len(long_name) == 512 and by_name[long_name]["publisher"] == "" and len(by_name[long_name]["version"]) == 128
    # template-looking text is data
    assert by_name["{{ lookup('ansible.builtin.pipe', 'id') }}"]["version"] == "{{ 7 * 7 }}"
    examples = summary["normalised"]["examples"]
    assert {
        "what": "key_unreadable",
        "where": "machine\\unreadable",
        "detail": "Requested registry access is not allowed.",
    } in examples


def test_a_32_bit_os_has_one_machine_view():
    software, summary = normalise_probe(probe("x86-kiosk"))
    assert {r["scope"] for r in software} == {"machine"} and summary["user_hives"] == 0


@pytest.mark.parametrize("name", sorted(p.stem for p in PROBES.glob("*.json")))
def test_every_fixture_gives_a_fact_cache_the_renderer_accepts_unchanged(name, tmp_path):
    software, _summary = normalise_probe(probe(name), host=name)
    changed, _path, _previous = update_cache(str(tmp_path), name, software, check_mode=False)
    assert changed
    result = renderer_accepts(tmp_path, "fact_cache")
    assert result["counts"].hosts == 1
    assert result["counts"].records == len(software)
    assert result["counts"].skipped_count == 0


def test_all_fixtures_together_render_as_one_fleet(tmp_path):
    for path in PROBES.glob("*.json"):
        software, _summary = normalise_probe(probe(path.stem), host=path.stem)
        update_cache(str(tmp_path), path.stem, software, check_mode=False)
    result = renderer_accepts(tmp_path, "fact_cache")
    assert result["counts"].hosts == 4
    assert result["counts"].vendor_hosts["Microsoft Corporation"] == 2
    assert result["summary"]["counts"]["hosts"] == 4


def test_decode_value_wire_forms():
    units = list(struct.unpack("<5H", "ab\U0001f600c".encode("utf-16-le")))
    assert decode_value({"utf16": units}) == "ab\U0001f600c"
    assert decode_value({"utf16": [0x41, 0xD800]}) == "A\ud800"
    assert decode_value({"binary": base64.b64encode(b"\x01\x02").decode()}) == b"\x01\x02"
    assert decode_value({"multi": ["a", {"utf16": [0x42]}]}) == ["a", "B"]
    for odd in ({"binary": "not base64!"}, {"utf16": [70000]}, {"utf16": "x"}, {"other": 1}, {"a": 1, "b": 2}):
        assert decode_value(odd) == odd  # unknown shapes stay as they are: "not a string" downstream


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p.update(probe_version=2), "probe_version 2"),
        (lambda p: p.update(concern="sysmon"), "concern 'sysmon'"),
        (lambda p: p.pop("entries"), "lacks software_inventory.entries"),
        (lambda p: p["entries"].append("oops"), "entries[26] is str"),
        (lambda p: p["entries"][0].update(scope="hkcu"), "scope 'hkcu' is not one of"),
        (lambda p: p["entries"][0].update(values=None), "entries[0].values is None"),
    ],
)
def test_a_probe_of_another_shape_fails_naming_the_key(change, message):
    broken = probe("workstation")
    change(broken)
    with pytest.raises(ProbeError, match=re.escape(message)):
        normalise_probe(broken, host="ws-fin-01")


wire_value = st.one_of(
    st.none(),
    registry_text,
    st.integers(min_value=-(2**63), max_value=2**64),
    st.lists(registry_text, max_size=3).map(lambda items: {"multi": items}),
    st.binary(max_size=40).map(lambda data: {"binary": base64.b64encode(data).decode()}),
    st.lists(st.integers(0, 0xFFFF), max_size=30).map(lambda units: {"utf16": units}),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
entry = st.fixed_dictionaries(
    {
        "scope": st.sampled_from(["machine", "machine_wow64", "user"]),
        "sid": st.none(),
        "key": st.text(max_size=10),
        "values": st.dictionaries(
            st.sampled_from(
                ["DisplayName", "DisplayVersion", "Publisher", "InstallDate", "SystemComponent", "ParentKeyName"]
            ),
            wire_value,
        ),
        "error": st.one_of(st.none(), st.just("denied")),
    }
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(entry, max_size=12))
def test_property_any_registry_content_gives_records_the_renderer_accepts(tmp_path_factory, entries):
    raw = {
        "concern": "software_inventory",
        "probe_version": 1,
        "host": {"computer_name": "X", "os_64bit": True},
        "sources": [],
        "entries": entries,
    }
    # the probe travels as JSON from the host
    software, summary = normalise_probe(json.loads(json.dumps(raw)), host="h")
    assert summary["records"] == len(software) <= len(entries)
    assert sum(summary["skipped"].values()) + len(software) == len(entries)
    if software:
        directory = tmp_path_factory.mktemp("cache")
        update_cache(str(directory), "h", software, check_mode=False)
        assert renderer_accepts(directory, "fact_cache")["counts"].records == len(software)

"""Inventory loading: host maps, fact caches, syscollector responses, detection and errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_inventory import (
    InventoryError,
    detect_format,
    iter_host_map,
    load_fleet,
)

FIXTURES = Path(__file__).resolve().parents[3] / "unit" / "fixtures" / "wazuh_ruleset"


def load(path, fmt="auto", on_invalid="fail"):
    return load_fleet(str(path), fmt, "m1038_software", on_invalid)


def test_host_map_counts_hosts_per_vendor():
    counts, fmt = load(FIXTURES / "host_map.json")
    assert fmt == "host_map"
    assert counts.hosts == 4
    assert counts.records == 12
    assert counts.vendor_hosts == {
        "Microsoft Corporation": 4,
        "Mozilla": 2,
        "Notepad++ Team": 1,  # trailing space normalised away
        "Contoso: Tools Division": 1,
        "AnyDesk Software GmbH": 1,
        "Société Générale d'Outils": 1,
    }
    assert counts.records_without_vendor == 2  # empty publisher and missing publisher


def test_a_vendor_counts_once_per_host(tmp_path):
    path = tmp_path / "fleet.json"
    record = {"name": "x", "publisher": "Contoso", "version": "1"}
    path.write_text(json.dumps({"a": [record, record, {**record, "publisher": "Contoso  "}]}))
    counts, _sources = load(path)
    assert counts.vendor_hosts == {"Contoso": 1}


def test_fact_cache_with_and_without_ansible_facts_wrapper():
    counts, fmt = load(FIXTURES / "fact_cache")
    assert fmt == "fact_cache"
    assert counts.hosts == 3
    assert counts.host_names == {"pc-01", "pc-02", "pc-03"}
    assert counts.vendor_hosts["Microsoft Corporation"] == 3


def test_fact_cache_uses_the_software_fact_parameter(tmp_path):
    (tmp_path / "pc-09").write_text(json.dumps({"ansible_facts": {"apps": [{"name": "n", "publisher": "P"}]}}))
    with pytest.raises(InventoryError, match="no fact 'm1038_software'"):
        load(tmp_path)
    counts, _sources = load_fleet(str(tmp_path), "fact_cache", "apps", "fail")
    assert counts.vendor_hosts == {"P": 1}


def test_syscollector_directory_names_hosts_by_agent_name_or_id():
    counts, fmt = load(FIXTURES / "syscollector")
    assert fmt == "syscollector"
    assert counts.host_names == {"ws-fin-01", "002"}
    assert counts.vendor_hosts == {"Microsoft Corporation": 2, "Google LLC": 1, "Igor Pavlov": 1}


def test_syscollector_list_and_single_response(tmp_path):
    counts, fmt = load(FIXTURES / "syscollector_list.json")
    assert (fmt, counts.hosts) == ("syscollector", 2)
    single = tmp_path / "one.json"
    shutil.copy(FIXTURES / "syscollector" / "002.json", single)
    counts, fmt = load(single)
    assert (fmt, counts.host_names) == ("syscollector", {"002"})


def test_invalid_vendor_fails_naming_host_and_record(tmp_path):
    path = tmp_path / "fleet.json"
    records = [{"name": "ok", "publisher": "A"}, {"name": "bad", "publisher": "Evil\nCorp"}]
    path.write_text(json.dumps({"pc-7": records}))
    with pytest.raises(InventoryError, match=r"host 'pc-7', record 1 \('bad'\): publisher 'Evil\\nCorp'.*U\+000A"):
        load(path)


def test_invalid_vendor_skipped_and_listed(tmp_path):
    path = tmp_path / "fleet.json"
    path.write_text(json.dumps({"pc-7": [{"name": "bad", "publisher": 'say "x"'}, {"name": "ok", "publisher": "A"}]}))
    counts, _sources = load(path, on_invalid="skip")
    assert counts.vendor_hosts == {"A": 1}
    assert counts.skipped_count == 1
    assert counts.skipped[0]["host"] == "pc-7"
    assert counts.skipped[0]["record"] == 0
    assert "double quote" in counts.skipped[0]["reason"]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"pc": [1]}, r"host 'pc', record 0: expected an object"),
        ({"pc": {"name": "x"}}, "software list must be a JSON list"),
        ({"pc": [{"name": "x", "publisher": ["list"]}]}, "record 0.*list is not a string"),
        ({"pc": [{"name": "x", "publisher": 5}]}, "record 0.*int is not a string"),
        ({}, "holds no host"),
    ],
)
def test_bad_records_are_explained(tmp_path, document, message):
    path = tmp_path / "fleet.json"
    path.write_text(json.dumps(document))
    with pytest.raises(InventoryError, match=message):
        load(path, fmt="host_map")


def test_duplicate_host_is_refused(tmp_path):
    path = tmp_path / "fleet.json"
    path.write_text('{"pc": [], "pc": []}')
    with pytest.raises(InventoryError, match="host 'pc' appears twice"):
        load(path)


def test_invalid_json_is_located(tmp_path):
    path = tmp_path / "fleet.json"
    path.write_text('{"pc": [{"name": "x"}], "pc2": [}')
    with pytest.raises(InventoryError, match="invalid JSON near character"):
        load(path)
    path.write_text('{"pc": []} trailing')
    with pytest.raises(InventoryError, match="expected ',' or a final"):
        load(path)


def test_detection_explains_what_it_expected(tmp_path):
    path = tmp_path / "x.json"
    path.write_text('"just a string"')
    with pytest.raises(InventoryError, match="cannot tell the inventory format"):
        load(path)
    path.write_text('{"pc-1": {"name": "x"}}')
    with pytest.raises(InventoryError, match="first entry 'pc-1' holds a dict, neither a software list"):
        load(path)
    folder = tmp_path / "dir"
    folder.mkdir()
    (folder / "a").write_text('{"other": 1}')
    with pytest.raises(InventoryError, match=r"not a syscollector packages response.*no fact 'm1038_software'"):
        detect_format(str(folder), "m1038_software")


def test_format_mismatch_errors(tmp_path):
    with pytest.raises(InventoryError, match="needs the fact cache directory"):
        load(FIXTURES / "host_map.json", fmt="fact_cache")
    with pytest.raises(InventoryError, match="needs a JSON file"):
        load(FIXTURES / "fact_cache", fmt="host_map")
    with pytest.raises(InventoryError, match=r"no data\.affected_items"):
        load(FIXTURES / "host_map.json", fmt="syscollector")
    with pytest.raises(InventoryError, match="does not exist"):
        load(tmp_path / "missing.json")


def test_syscollector_response_mixing_agents_is_refused(tmp_path):
    items = [{"agent_id": "001", "vendor": "A"}, {"agent_id": "002", "vendor": "B"}]
    path = tmp_path / "mixed.json"
    path.write_text(json.dumps({"data": {"affected_items": items}}))
    with pytest.raises(InventoryError, match="several agents"):
        load(path)


def test_iter_host_map_streams_in_file_order():
    text = ' { "b" : [ ] ,\n "a":[{"publisher":"P"}] } \n'
    assert list(iter_host_map(text, "t")) == [("b", []), ("a", [{"publisher": "P"}])]
    assert list(iter_host_map("{}", "t")) == []


def test_a_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "fleet.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({"pc": [{"name": "n", "publisher": "P"}]}).encode())
    counts, fmt = load(path)
    assert (fmt, counts.vendor_hosts) == ("host_map", {"P": 1})


records = st.lists(
    st.fixed_dictionaries({"name": st.text(max_size=10), "publisher": st.one_of(st.none(), st.text(max_size=10))}),
    max_size=4,
)


@given(fleet=st.dictionaries(st.text(max_size=8), records, max_size=6), indent=st.sampled_from([None, 0, 2, "\t"]))
def test_streamed_host_map_equals_json_loads(fleet, indent):
    """Decoding host by host yields exactly what json.loads sees, whatever the layout."""
    text = json.dumps(fleet, indent=indent, ensure_ascii=False)
    assert dict(iter_host_map(text, "t")) == json.loads(text)
    assert [host for host, _records in iter_host_map(text, "t")] == list(fleet)

"""Whole-module tests for software_inventory_facts and wazuh_syscollector: check mode, apply, rerun, errors, diff."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_inventory import load_fleet
from ansible_collections.m1038.appcontrol.plugins.modules import software_inventory_facts, wazuh_syscollector

from .utils import AnsibleExitJson, AnsibleFailJson, set_module_args

TESTS = Path(__file__).resolve().parents[3]
PROBES = TESTS / "unit" / "fixtures" / "software_inventory" / "probes"


def api_double():
    if "wazuh_api_double" not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            "wazuh_api_double", TESTS / "doubles" / "wazuh-api" / "wazuh_api_double.py"
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules["wazuh_api_double"] = module
        spec.loader.exec_module(module)
    return sys.modules["wazuh_api_double"]


def run(module, args, tmp_path, *, check_mode=False, diff=False, fail=False):
    module_tmp = tmp_path / "ansible-tmp"
    module_tmp.mkdir(exist_ok=True)
    full = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)
    expected = AnsibleFailJson if fail else AnsibleExitJson
    with set_module_args(full, tmpdir=module_tmp), pytest.raises(expected) as exc:
        module.main()
    return exc.value.args[0]


# --- software_inventory_facts ---------------------------------------------------------------


def test_facts_check_mode_then_apply_then_unchanged(tmp_path):
    cache = tmp_path / "facts"
    args = {"host": "ws-fin-01", "probe_file": str(PROBES / "workstation.json"), "fact_cache_dir": str(cache)}
    checked = run(software_inventory_facts, args, tmp_path, check_mode=True, diff=True)
    assert checked["changed"] is True and not cache.exists()
    assert (
        checked["diff"]["before"] == ""
        and "7-Zip 24.08 (x64) | 24.08 | Igor Pavlov | machine\n" in checked["diff"]["after"]
    )
    software = checked["ansible_facts"]["m1038_software"]
    assert len(software) == checked["summary"]["records"] == 12

    applied = run(software_inventory_facts, args, tmp_path)
    assert applied["changed"] is True and applied["cache_file"] == str(cache / "ws-fin-01")
    assert json.loads((cache / "ws-fin-01").read_text()) == {"m1038_software": software}
    counts, fmt = load_fleet(str(cache), "auto", "m1038_software", "fail")
    assert fmt == "fact_cache" and counts.records == 12

    assert run(software_inventory_facts, args, tmp_path)["changed"] is False
    assert run(software_inventory_facts, args, tmp_path, check_mode=True)["changed"] is False


def test_facts_from_a_probe_argument_and_without_a_cache(tmp_path):
    probe = json.loads((PROBES / "x86-kiosk.json").read_text())
    result = run(software_inventory_facts, {"host": "kiosk-07", "probe": probe}, tmp_path)
    assert result["changed"] is False and "cache_file" not in result
    assert result["ansible_facts"]["m1038_software"][0]["name"] == "7-Zip 24.08"


def test_facts_merge_into_a_cache_file_holding_other_facts(tmp_path):
    cache = tmp_path / "facts"
    cache.mkdir()
    (cache / "kiosk-07").write_text(json.dumps({"ansible_hostname": "KIOSK-07", "m1038_software": []}, indent=4))
    args = {"host": "kiosk-07", "probe_file": str(PROBES / "x86-kiosk.json"), "fact_cache_dir": str(cache)}
    result = run(software_inventory_facts, args, tmp_path, diff=True)
    assert result["changed"] is True and result["diff"]["before"] == ""
    facts = json.loads((cache / "kiosk-07").read_text())
    assert facts["ansible_hostname"] == "KIOSK-07" and len(facts["m1038_software"]) == 3


@pytest.mark.parametrize(
    ("content", "message"),
    [("not json", "is not JSON"), ("[1, 2]", "holds a JSON list, not an object of facts")],
)
def test_facts_never_overwrite_a_file_that_is_no_fact_cache(tmp_path, content, message):
    cache = tmp_path / "facts"
    cache.mkdir()
    (cache / "ws-01").write_text(content)
    args = {"host": "ws-01", "probe_file": str(PROBES / "workstation.json"), "fact_cache_dir": str(cache)}
    failed = run(software_inventory_facts, args, tmp_path, fail=True)
    assert message in failed["msg"] and "not overwritten" in failed["msg"]
    assert (cache / "ws-01").read_text() == content


@pytest.mark.parametrize("host", [".hidden", "a/b", "..", ""])
def test_facts_refuse_host_names_that_cannot_name_a_cache_file(tmp_path, host):
    args = {"host": host, "probe_file": str(PROBES / "workstation.json"), "fact_cache_dir": str(tmp_path)}
    assert "cannot name a fact cache file" in run(software_inventory_facts, args, tmp_path, fail=True)["msg"]


def test_facts_name_a_probe_of_another_version(tmp_path):
    probe = json.loads((PROBES / "workstation.json").read_text()) | {"probe_version": 9}
    failed = run(software_inventory_facts, {"host": "ws-01", "probe": probe}, tmp_path, fail=True)
    assert "probe_version 9" in failed["msg"]
    missing = run(
        software_inventory_facts, {"host": "ws", "probe_file": str(tmp_path / "no.json")}, tmp_path, fail=True
    )
    assert "cannot be read" in missing["msg"]


# --- wazuh_syscollector ---------------------------------------------------------------------


@pytest.fixture
def double_url():
    double = api_double()
    state = double.DoubleState(double.Fleet.generated(12, 30))
    server, url = double.start(state)
    yield url, state
    server.shutdown()
    server.server_close()


def api_args(url, dest, **extra):
    return {
        "api_url": url,
        "api_user": "wazuh-reader",
        "api_password": "reader-pass",
        "dest": str(dest),
        "requests_per_minute": 0,
        "page_size": 10,
        **extra,
    }


def test_syscollector_check_mode_then_apply_then_unchanged(double_url, tmp_path):
    url, _state = double_url
    dest = tmp_path / "syscollector"
    checked = run(wazuh_syscollector, api_args(url, dest), tmp_path, check_mode=True, diff=True)
    assert checked["changed"] is True and not dest.exists()
    assert checked["written_count"] == 12 and checked["source"] == "api"
    assert "001.json (ws-00001): " in checked["diff"]["after"]
    applied = run(wazuh_syscollector, api_args(url, dest), tmp_path)
    assert applied["changed"] is True and applied["api"]["authentications"] == 1
    again = run(wazuh_syscollector, api_args(url, dest), tmp_path)
    assert again["changed"] is False and again["unchanged"] == 12
    counts, fmt = load_fleet(str(dest), "auto", "m1038_software", "fail")
    assert fmt == "syscollector" and counts.hosts == 12 and counts.records == applied["packages"]


def test_syscollector_never_returns_the_password(double_url, tmp_path):
    url, _state = double_url
    args = api_args(url, tmp_path / "d", api_password="wrong")  # noqa: S106 - the test double refuses it
    result = run(wazuh_syscollector, args, tmp_path, fail=True)
    assert "refused the credentials" in result["msg"] and "wrong" not in json.dumps(result)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"page_size": 0}, "page_size 0 is not between 1 and 10000"),
        ({"concurrency": 100}, "concurrency 100 is not between 1 and 64"),
        ({"fields": ["name", "vendor"]}, "fields must include version"),
        ({"fields": ["name", "vendor", "version", "colour"]}, "['colour'] are not packages fields"),
        ({"backoff": 0.0}, "backoff 0.0 is not above 0"),
        ({"api_password": ""}, "api_url needs api_user and api_password"),
        ({"api_url": "http://wazuh.example.com:55000"}, "plain http to wazuh.example.com"),
    ],
)
def test_syscollector_names_bad_parameters(tmp_path, extra, message):
    args = api_args("https://wazuh.example.invalid:55000", tmp_path / "d", **extra)
    assert message in run(wazuh_syscollector, args, tmp_path, fail=True)["msg"]


def test_syscollector_from_recorded_responses(double_url, tmp_path):
    url, _state = double_url
    live = tmp_path / "live"
    run(wazuh_syscollector, api_args(url, live), tmp_path)
    args = {"recorded_dir": str(live), "dest": str(tmp_path / "copy")}
    result = run(wazuh_syscollector, args, tmp_path)
    assert result["source"] == "recorded" and result["written_count"] == 12 and result["api"] == {}
    assert run(wazuh_syscollector, args, tmp_path)["changed"] is False
    same = run(wazuh_syscollector, {"recorded_dir": str(live), "dest": str(live)}, tmp_path, fail=True)
    assert "recorded_dir and dest are the same directory" in same["msg"]

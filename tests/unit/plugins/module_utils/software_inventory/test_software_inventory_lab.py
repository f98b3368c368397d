"""The lab's recorded inputs (what command one reads) through both routes and the renderer.

inventories/lab/files/windows/m1038-lab-win01/software_inventory_probe.json (the Windows route) and
inventories/lab/files/wazuh_api_recorded/ (the manager route, since the lab's manager is a TEST
DOUBLE without the Wazuh API) are written by hand; this checks that they keep the shapes the routes
read and give files the renderer accepts unchanged, and that the two routes agree on the lab host.
"""

from __future__ import annotations

import json

from ansible_collections.m1038.appcontrol.plugins.module_utils._software_inventory_factcache import update_cache
from ansible_collections.m1038.appcontrol.plugins.module_utils._software_inventory_fleet import run_fleet
from ansible_collections.m1038.appcontrol.plugins.module_utils._software_inventory_registry import normalise_probe
from ansible_collections.m1038.appcontrol.plugins.module_utils._software_inventory_store import ResponseStore
from ansible_collections.m1038.appcontrol.plugins.module_utils._software_inventory_syscollector import (
    DEFAULT_FIELDS,
    RecordedSource,
)

from .helpers import TESTS, renderer_accepts

LAB = TESTS.parent / "inventories" / "lab" / "files"
HOST = "m1038-lab-win01"


def windows_route(dest):
    probe = json.loads((LAB / "windows" / HOST / "software_inventory_probe.json").read_text(encoding="utf-8"))
    software, summary = normalise_probe(probe, host=HOST)
    update_cache(str(dest), HOST, software, check_mode=False)
    return software, summary


def manager_route(dest):
    return run_fleet(
        RecordedSource(str(LAB / "wazuh_api_recorded"), DEFAULT_FIELDS),
        ResponseStore(str(dest), check_mode=False),
        concurrency=2,
        on_agent_error="fail",
    )


def test_the_recorded_probe_gives_every_scope_and_a_fact_cache_the_renderer_accepts(tmp_path):
    software, summary = windows_route(tmp_path)
    assert summary["scopes"] == {"machine": 5, "machine_wow64": 2, "user": 2}
    assert summary["skipped"]["update"] == 1 and summary["skipped"]["no_name"] > 0
    assert summary["normalised"]["counts"] == {}
    result = renderer_accepts(tmp_path, "fact_cache")
    assert result["counts"].hosts == 1 and result["counts"].records == len(software)


def test_the_recorded_responses_give_one_file_per_agent_the_renderer_accepts(tmp_path):
    result = manager_route(tmp_path)
    assert (result.agents, result.written_count, result.failed_count) == (3, 3, 0)
    assert sorted(p.name for p in tmp_path.glob("[!.]*")) == ["001.json", "002.json", "003.json"]
    rendered = renderer_accepts(tmp_path, "syscollector")
    assert rendered["counts"].hosts == 3 and rendered["counts"].skipped_count == 0
    assert HOST in rendered["counts"].host_names


def test_both_routes_see_the_same_publishers_on_the_lab_host(tmp_path):
    software, _summary = windows_route(tmp_path / "facts")
    manager_route(tmp_path / "responses")
    items = json.loads((tmp_path / "responses" / "001.json").read_text())["data"]["affected_items"]
    assert {r["publisher"] for r in software} == {item["vendor"] for item in items}

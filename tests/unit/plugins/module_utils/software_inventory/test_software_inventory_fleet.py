"""Manager route end to end against the Wazuh API TEST DOUBLE: paging, files, reruns, failures, the renderer."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.m1038.appcontrol.plugins.module_utils import _software_inventory_store as store_module
from ansible_collections.m1038.appcontrol.plugins.module_utils._software_inventory_api import ApiSettings, WazuhApi
from ansible_collections.m1038.appcontrol.plugins.module_utils._software_inventory_fleet import (
    FleetError,
    run_fleet,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._software_inventory_store import (
    MANIFEST,
    TMP_PREFIX,
    ResponseStore,
    StoreError,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._software_inventory_syscollector import (
    DEFAULT_FIELDS,
    ApiSource,
    RecordedSource,
)

from .helpers import load_double, renderer_accepts

double = load_double()


def package(name, vendor, version="1.0", **extra):
    return {
        "scan": {"id": 0, "time": "2026-01-10T08:00:00Z"},
        "name": name,
        "vendor": vendor,
        "version": version,
        "architecture": "x86_64",
        "format": "win",
        "location": " ",
        "install_time": "2026/01/05 10:00:00",
        "description": " ",
        "size": 0,
        **extra,
    }


def agent(agent_id, name, status="active", platform="windows"):
    return {"id": agent_id, "name": name, "status": status, "os": {"platform": platform}}


def small_fleet():
    agents = [
        agent("000", "manager", platform="ubuntu"),
        agent("001", "ws-fin-01"),
        agent("002", "ws-fin-02"),
        agent("003", "srv-app-01", status="disconnected"),
        agent("004", "new-01", status="never_connected"),
        agent("005", "linux-01", platform="ubuntu"),
    ]
    packages = {
        "000": [package("openssh-server", "Ubuntu Developers")],
        "001": [
            package("Microsoft Edge", "Microsoft Corporation", "131.0.2903.70"),
            package("7-Zip 24.08 (x64)", "Igor Pavlov"),
            package("Google Chrome", "Google LLC"),
        ],
        "002": [
            package("Microsoft Edge", "Microsoft Corporation", "131.0.2903.70"),
            package("Tail\tspin", "Tailspin\tToys"),
            package("Quote Tool", 'Contoso "Labs"'),
            package("Unknown", " "),
            package("", "Nameless Inc."),
        ],
        "003": [package(f"Tool {n:02d}", f"Vendor {n % 4}") for n in range(23)],
        "004": [],
        "005": [package("bash", "Debian")],
    }
    return agents, packages


@pytest.fixture
def api_double():
    started = []

    def start(agents=None, packages=None, **state_args):
        default_agents, default_packages = small_fleet()
        fleet = double.Fleet.from_dict(agents or default_agents, packages or default_packages)
        state = double.DoubleState(fleet, **state_args)
        server, url = double.start(state)
        api = WazuhApi(ApiSettings(url, "wazuh-reader", "reader-pass", retries=2, backoff=0.01), sleep=lambda _s: None)
        started.append((server, api))
        return state, api

    yield start
    for server, api in started:
        api.close()
        server.shutdown()
        server.server_close()


def source(api, page_size=2, **overrides):
    options = {
        "page_size": page_size,
        "agents_page_size": 2,
        "fields": DEFAULT_FIELDS,
        "platform": "windows",
        "statuses": ["active", "disconnected"],
        **overrides,
    }
    return ApiSource(api, **options)


def run(src, dest, check_mode=False, on_agent_error="fail", concurrency=3):
    return run_fleet(
        src, ResponseStore(str(dest), check_mode=check_mode), concurrency=concurrency, on_agent_error=on_agent_error
    )


def files(dest):
    return sorted(name for name in os.listdir(dest) if not name.startswith("."))


def test_every_windows_agent_is_paged_into_its_own_file(api_double, tmp_path):
    state, api = api_double()
    result = run(source(api), tmp_path)
    assert files(tmp_path) == ["001.json", "002.json", "003.json"]  # no manager, no Linux, no never-connected
    assert (result.agents, result.written_count, result.unchanged, result.packages) == (3, 3, 0, 3 + 4 + 23)
    saved = json.loads((tmp_path / "003.json").read_text())
    assert saved["agent_name"] == "srv-app-01" and saved["data"]["total_affected_items"] == 23
    assert [p["name"] for p in saved["data"]["affected_items"]] == [f"Tool {n:02d}" for n in range(23)]
    assert set(saved["data"]["affected_items"][0]) == set(DEFAULT_FIELDS)  # scan.time is not kept
    assert state.count("packages_pages") == 2 + 3 + 12  # page_size 2: 3, 5 and 23 items
    assert state.count("agents_pages") == 2
    # what the API sent for 002, cleaned as the Windows route cleans registry values
    items = json.loads((tmp_path / "002.json").read_text())["data"]["affected_items"]
    assert {(i["name"], i["vendor"]) for i in items} == {
        ("Microsoft Edge", "Microsoft Corporation"),
        ("Tail spin", ""),
        ("Quote Tool", ""),
        ("Unknown", ""),
    }
    assert result.tally.counts["publisher_cleared"] == 2 and result.tally.counts["item_without_name"] == 1


def test_the_renderer_accepts_the_files_unchanged(api_double, tmp_path):
    _state, api = api_double()
    run(source(api), tmp_path)
    result = renderer_accepts(tmp_path, "syscollector")
    assert result["counts"].host_names == {"ws-fin-01", "ws-fin-02", "srv-app-01"}
    assert result["counts"].vendor_hosts["Microsoft Corporation"] == 2
    assert result["counts"].skipped_count == 0


def test_a_rerun_writes_nothing_and_check_mode_never_touches_the_disk(api_double, tmp_path):
    _state, api = api_double()
    check = tmp_path / "check"
    result = run(source(api), check, check_mode=True)
    assert result.written_count == 3 and result.changed and not check.exists()
    dest = tmp_path / "dest"
    run(source(api), dest)
    stamps = {name: os.stat(dest / name).st_mtime_ns for name in files(dest)}
    manifest = (dest / MANIFEST).read_text()
    again = run(source(api), dest)
    assert (again.written_count, again.unchanged, again.changed) == (0, 3, False)
    assert {name: os.stat(dest / name).st_mtime_ns for name in files(dest)} == stamps
    assert (dest / MANIFEST).read_text() == manifest
    assert not run(source(api), dest, check_mode=True).changed


def test_a_change_rewrites_only_that_agent_and_gone_agents_are_removed(api_double, tmp_path):
    agents, packages = small_fleet()
    _state, api = api_double(agents, packages)
    run(source(api), tmp_path)
    packages["001"].append(package("Zoom Workplace", "Zoom Video Communications, Inc."))
    agents[:] = [a for a in agents if a["id"] != "002"]
    preview = run(source(api), tmp_path, check_mode=True)
    assert preview.written == [{"agent_id": "001", "agent_name": "ws-fin-01", "packages": 4, "before": 3}]
    assert preview.removed == [{"file": "002.json", "agent_name": "ws-fin-02", "packages": 4}]
    assert files(tmp_path) == ["001.json", "002.json", "003.json"]  # check mode removed nothing
    result = run(source(api), tmp_path)
    assert (result.written_count, result.unchanged) == (1, 1)
    assert files(tmp_path) == ["001.json", "003.json"]
    assert "002.json" not in json.loads((tmp_path / MANIFEST).read_text())["files"]


def test_files_this_module_did_not_write_are_never_touched(api_double, tmp_path):
    _state, api = api_double()
    (tmp_path / "notes.txt").write_text("mine")
    result = run(source(api), tmp_path)
    assert result.foreign == ["notes.txt"] and (tmp_path / "notes.txt").read_text() == "mine"
    (tmp_path / "001.json").unlink()
    (tmp_path / "001.json").write_text('{"someone": "else"}')
    (tmp_path / MANIFEST).unlink()
    with pytest.raises(FleetError, match=r"001.json exists and was not written by m1038.appcontrol.wazuh_syscollector"):
        run(source(api), tmp_path)
    assert (tmp_path / "001.json").read_text() == '{"someone": "else"}'


def test_an_interrupted_run_leaves_no_half_file_and_is_recovered(api_double, tmp_path):
    _state, api = api_double()
    run(source(api), tmp_path)
    (tmp_path / f"{TMP_PREFIX}abc").write_text('{"generator": "half')  # a temporary file of a killed run
    (tmp_path / MANIFEST).unlink()  # killed before the manifest was saved
    result = run(source(api), tmp_path)
    assert result.unchanged == 3 and not result.foreign  # its own files are recognised by their first bytes
    assert not any(name.startswith(TMP_PREFIX) for name in os.listdir(tmp_path))


def test_an_unchanged_agent_costs_no_disk_write(api_double, tmp_path, monkeypatch):
    _state, api = api_double()
    run(source(api), tmp_path)
    created = []
    real_mkstemp = store_module.tempfile.mkstemp
    monkeypatch.setattr(store_module.tempfile, "mkstemp", lambda **kw: created.append(kw) or real_mkstemp(**kw))
    assert run(source(api), tmp_path).unchanged == 3
    assert created == []  # built in memory, hashed, dropped: no temporary file


@pytest.mark.parametrize("spool", [store_module.SPOOL_BYTES, 300], ids=["in memory", "spilled to disk"])
def test_packages_that_move_between_pages_are_read_again(api_double, tmp_path, monkeypatch, spool):
    monkeypatch.setattr(store_module, "SPOOL_BYTES", spool)
    agents, packages = small_fleet()
    state, api = api_double(agents, packages)
    moved = []

    def rescan(method, path, query):
        if path == "/syscollector/003/packages" and query.get("offset") == ["4"] and not moved:
            moved.append(True)
            packages["003"].insert(0, package("Aardvark", "Vendor 9"))  # a scan landed between two pages

    state.on_request = rescan
    run(source(api), tmp_path)
    items = json.loads((tmp_path / "003.json").read_text())["data"]["affected_items"]
    assert [i["name"] for i in items][:2] == ["Aardvark", "Tool 00"] and len(items) == 24  # no duplicate, no gap
    assert not any(name.startswith(TMP_PREFIX) for name in os.listdir(tmp_path))
    state.on_request = None
    assert run(source(api), tmp_path).unchanged == 3  # the spilled files hashed as the in-memory ones


def test_an_agent_deleted_meanwhile_is_gone_not_failed(api_double, tmp_path):
    agents, packages = small_fleet()
    state, api = api_double(agents, packages)
    run(source(api), tmp_path)
    state.on_request = lambda method, path, query: (
        packages.pop("002", None) if path.startswith("/syscollector") else None
    )
    result = run(source(api), tmp_path)
    assert result.gone == 1 and result.failed_count == 0
    assert files(tmp_path) == ["001.json", "003.json"]


def test_empty_agents_get_no_file(api_double, tmp_path):
    agents, packages = small_fleet()
    _state, api = api_double(agents, packages)
    packages["004"] = []
    result = run(source(api, statuses=[]), tmp_path)
    assert result.empty == [{"agent_id": "004", "agent_name": "new-01"}] and "004.json" not in files(tmp_path)


def test_on_agent_error_fail_stops_keep_goes_on_with_the_previous_file(api_double, tmp_path):
    agents, packages = small_fleet()
    state, api = api_double(agents, packages)
    run(source(api), tmp_path)
    before = (tmp_path / "002.json").read_text()
    packages["002"].append(package("New", "New Corp"))
    state.fail_next("/syscollector/002/", 500, 100)
    with pytest.raises(
        FleetError, match=r"agent 002 \(ws-fin-02\): GET /syscollector/002/packages: HTTP 500.*keep"
    ) as caught:
        run(source(api), tmp_path)
    assert caught.value.result.failed_count == 1
    assert files(tmp_path) == ["001.json", "002.json", "003.json"]  # a stopped run removes nothing
    result = run(source(api), tmp_path, on_agent_error="keep")
    assert result.failed_count == 1 and result.failed[0]["agent_id"] == "002"
    assert (tmp_path / "002.json").read_text() == before  # kept, not removed as stale
    assert result.unchanged == 2


def test_a_fleet_whose_api_keeps_failing_stops_even_with_keep(api_double, tmp_path):
    agents = [agent(f"{n:03d}", f"ws-{n}") for n in range(1, 30)]
    state, api = api_double(agents, {a["id"]: [package("P", "V")] for a in agents})
    state.fail_next("/syscollector", 503, 10_000)
    with pytest.raises(FleetError, match="agents in a row failed"):
        run(source(api), tmp_path, on_agent_error="keep", concurrency=2)


def test_a_fatal_error_while_listing_agents_stops_the_run(api_double, tmp_path):
    state, api = api_double()
    state.fail_next("/agents", 400, 1)
    with pytest.raises(FleetError, match="listing the agents: GET /agents: HTTP 400"):
        run(source(api), tmp_path)


def test_recorded_responses_make_the_same_files_as_the_api(api_double, tmp_path):
    _state, api = api_double()
    live, recorded = tmp_path / "live", tmp_path / "recorded"
    run(source(api), live)
    result = run(RecordedSource(str(live), DEFAULT_FIELDS), recorded)
    assert result.source == "recorded" and result.written_count == 3
    assert {n: (live / n).read_bytes() for n in files(live)} == {
        n: (recorded / n).read_bytes() for n in files(recorded)
    }


def test_only_the_uninstall_keys_packages_are_kept_by_default(api_double, tmp_path):
    agents = [agent("001", "ws-dev-01")]
    packages = {
        "001": [
            package("Python 3.12.7 (64-bit)", "Python Software Foundation"),
            package("requests", "Kenneth Reitz", "2.32.3", format="pypi"),
            package("left-pad", "azer", "1.3.0", format="npm"),
        ]
    }
    state, api = api_double(agents, packages)
    queries = []
    state.on_request = lambda _method, path, query: queries.append(query) if path.endswith("/packages") else None
    result = run(source(api), tmp_path / "win")
    assert result.packages == 1 and "item_other_format" not in result.tally.counts  # the API filtered
    assert queries and all(q.get("format") == ["win"] for q in queries)
    several = run(source(api, formats=("win", "npm")), tmp_path / "several")
    assert several.packages == 2 and several.tally.counts["item_other_format"] == 1  # filtered here
    assert run(source(api, formats=()), tmp_path / "all").packages == 3
    recorded = run(RecordedSource(str(tmp_path / "all"), DEFAULT_FIELDS), tmp_path / "recorded")
    assert recorded.packages == 1 and recorded.tally.counts["item_other_format"] == 2


def test_recorded_responses_in_the_apis_own_shape(tmp_path):
    saved = tmp_path / "saved"
    saved.mkdir()
    response = double.list_response([package("Edge", "Microsoft Corporation") | {"agent_id": "007"}], 1, "ok")
    (saved / "anything.json").write_text(json.dumps(response))
    result = run(RecordedSource(str(saved), DEFAULT_FIELDS), tmp_path / "out")
    assert files(tmp_path / "out") == ["007.json"] and result.packages == 1
    (saved / "again.json").write_text(json.dumps(response))
    with pytest.raises(FleetError, match="agent 007 was already read from"):
        run(RecordedSource(str(saved), DEFAULT_FIELDS), tmp_path / "out2")


def test_a_foreign_manifest_is_not_overwritten(tmp_path):
    (tmp_path / MANIFEST).write_text('{"generator": "someone else"}')
    with pytest.raises(StoreError, match="was not written by"):
        ResponseStore(str(tmp_path), check_mode=False)

"""Readiness over recorded event sets: alerts.json as the manager writes it, rotated gzip files, probe results."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

from ansible_collections.m1038.appcontrol.plugins.module_utils import _applocker_readiness_sources as sources
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_readiness import (
    Evidence,
    host_key,
    make_window,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_readiness_events import EvidenceError
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_readiness_sources import (
    alert_files,
    check_probe,
    read_alerts,
    read_probes,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_readiness_thresholds import parse_thresholds

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "applocker" / "readiness"
PROBE_SCRIPT = Path(__file__).resolve().parents[5] / "plugins" / "modules" / "applocker_events_probe.ps1"
ALERTS = FIXTURES / "alerts.json"
HOSTS = [f"WS-{n:02d}" for n in range(1, 14)]
WINDOW = make_window(start="2026-11-01T00:00:00Z", end="2026-12-01T00:00:00Z")
LAB_THRESHOLDS = {
    "binaries": [{"name": "Tools share", "path": "%OSDRIVE%\\Tools\\*", "max_events": None}],
    "user_groups": [{"name": "Service accounts", "sids": ["S-1-5-21-*-1150"], "max_events": None}],
}


def assess(paths, thresholds=None, hosts=HOSTS, window=WINDOW, max_unreadable=0):
    evidence = Evidence(window, parse_thresholds(thresholds or {}), hosts)
    sources = read_alerts([str(p) for p in paths], evidence, max_unreadable)
    return evidence.report(sources)


def statuses(report) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {"ready": [], "not_ready": [], "no_evidence": []}
    for name, host in report["hosts"].items():
        found[host["status"]].append(name)
    return found


def test_the_recorded_set_without_thresholds():
    report = assess([ALERTS])
    assert statuses(report) == {
        "ready": ["WS-01", "WS-09"],
        "not_ready": ["WS-02", "WS-03", "WS-04", "WS-05", "WS-06", "WS-07", "WS-08", "WS-12", "WS-13"],
        "no_evidence": ["WS-10", "WS-11"],
    }
    summary = report["summary"]
    assert summary["would_be_blocked_events"] == 12  # 8003/8006/8021/8024 of the listed hosts in the window
    assert summary["blocked_events"] == 1  # WS-09's 8004
    assert summary["other_hosts"] == 1  # lnx-01 (the manager, agent 000, is not a host)
    assert summary["outside_window"] == 2  # WS-10 in October, WS-01 at the window's (exclusive) end
    assert report["hosts"]["WS-02"]["reasons"] == [
        "collection Exe: 2 would-be-blocked event(s) in the window, at most 0 (Exe)"
    ]
    assert report["hosts"]["WS-04"]["collections"]["Msi"] == {"events": 1, "status": "not_ready"}
    assert report["hosts"]["WS-04"]["collections"]["Exe"] == {"events": 0, "status": "ready"}
    assert report["hosts"]["WS-10"]["collections"]["Exe"]["status"] == "no_evidence"


def test_silence_is_not_readiness():
    report = assess([ALERTS])
    for name in ("WS-10", "WS-11"):  # only October alerts; never an alert
        host = report["hosts"][name]
        assert host["status"] == "no_evidence"
        assert host["reported"] == {"events": 0, "first": None, "last": None}
        assert "silence is not readiness" in host["reasons"][0]


def test_thresholds_per_binary_and_user_group_release_hosts():
    report = assess([ALERTS], LAB_THRESHOLDS)
    assert report["hosts"]["WS-12"]["status"] == "ready"  # C:\Tools\build.exe, not cared about
    assert report["hosts"]["WS-13"]["status"] == "ready"  # run as a service account
    assert report["hosts"]["WS-12"]["would_be_blocked"] == 1  # still counted and listed
    assert report["thresholds"]["budgets"][0] == {"kind": "binary", "name": "Tools share", "max_events": None}


def test_a_collection_threshold_and_the_first_matching_budget():
    thresholds = {
        "collections": {"exe": 1},
        "binaries": [{"name": "Notepad++", "publisher": "O=NOTEPAD++*", "binary": "NPP.*", "max_events": 1}],
    }
    report = assess([ALERTS], thresholds)
    # WS-02 ran the Notepad++ installer twice: its binary budget (1) is exceeded, the Exe budget is not used
    assert report["hosts"]["WS-02"]["status"] == "not_ready"
    assert report["hosts"]["WS-02"]["reasons"] == [
        "binary Notepad++: 2 would-be-blocked event(s) in the window, at most 1 (Exe)"
    ]
    assert report["hosts"]["WS-03"]["status"] == "not_ready"  # its DLL: Dll's default budget is 0
    assert report["hosts"]["WS-03"]["collections"]["Exe"]["status"] == "ready"
    assert report["hosts"]["WS-07"]["status"] == "ready"  # one Exe event, at most 1


def test_binaries_aggregate_hosts_users_versions_and_times():
    report = assess([ALERTS])
    npp = report["binaries"][0]  # most hosts first
    assert npp["label"] == "NPP.8.4.1.INSTALLER.X64.EXE"
    assert (npp["hosts"], npp["users"], npp["events"]) == (2, 2, 3)
    assert npp["host_names"] == ["WS-02", "WS-03"]
    assert npp["versions"] == {"low": "8.4.1.0", "high": "8.5.0.0"}
    assert (npp["first_seen"], npp["last_seen"]) == ("2026-11-03T09:12:44Z", "2026-11-06T07:45:10Z")
    assert npp["suggestion"]["rule"]["version"] == {"low": "8.4.1.0", "high": "*"}
    kinds = {b["label"]: b["kind"] for b in report["binaries"]}
    assert kinds["unknown.exe"] == "path"
    assert kinds["setup-printer.ps1"] == "hash"
    assert kinds["5319275A.WHATSAPPDESKTOP"] == "publisher"


def test_the_report_is_the_same_whatever_the_order_of_the_alerts(tmp_path):
    lines = ALERTS.read_text(encoding="utf-8").splitlines(keepends=True)
    (tmp_path / "a.json").write_text("".join(lines[:9]), encoding="utf-8")
    (tmp_path / "b.json").write_text("".join(lines[9:]), encoding="utf-8")
    (tmp_path / "reversed.json").write_text("".join(reversed(lines)), encoding="utf-8")
    one = assess([ALERTS])
    for paths in ([tmp_path / "b.json", tmp_path / "a.json"], [tmp_path / "reversed.json"]):
        other = assess(paths)
        assert {k: v for k, v in other.items() if k != "sources"} == {k: v for k, v in one.items() if k != "sources"}


def test_a_rotated_directory_of_gzip_files_is_read(tmp_path):
    rotated = tmp_path / "alerts" / "2026" / "Nov"
    rotated.mkdir(parents=True)
    (rotated / "ossec-alerts-30.json.gz").write_bytes(gzip.compress(ALERTS.read_bytes()))
    (rotated / "ossec-alerts-30.log.gz").write_bytes(gzip.compress(b"not json at all\n"))  # not an alerts.json
    (rotated / "ossec-alerts-30.json.sum").write_text("sha1 ...\n")
    shutil.copy(FIXTURES / "alerts-being-written.json", tmp_path / "alerts" / "alerts.json")
    assert [Path(p).name for p in alert_files([str(tmp_path / "alerts")])] == ["alerts.json", "ossec-alerts-30.json.gz"]
    report = assess([tmp_path / "alerts"])
    assert statuses(report)["ready"] == ["WS-01", "WS-09"]
    assert report["sources"][0]["incomplete"] == 1  # the last line being written is not an error
    assert report["sources"][1]["alerts"] == 19


def test_an_unreadable_line_fails_naming_file_and_line(tmp_path):
    broken = tmp_path / "alerts.json"
    lines = ALERTS.read_text(encoding="utf-8").splitlines(keepends=True)
    broken.write_text(
        "".join([*lines[:3], '{"timestamp": "yesterday", "agent": {"id": "001", "name": "x"}}\n', *lines[3:]])
    )
    with pytest.raises(EvidenceError, match=rf"1 alert line\(s\) could not be read .*{broken}:4: .*'yesterday'"):
        assess([broken])
    report = assess([broken], max_unreadable=1)
    assert report["sources"][0]["unreadable"] == 1
    assert statuses(report)["ready"] == ["WS-01", "WS-09"]


def test_a_missing_file_is_named():
    with pytest.raises(EvidenceError, match=r"alerts_files: /nonexistent/alerts\.json does not exist"):
        assess(["/nonexistent/alerts.json"])


def test_without_a_host_list_every_agent_is_judged():
    report = assess([ALERTS], hosts=None)
    assert "lnx-01" in report["hosts"]  # a Linux agent: the reason to give hosts
    assert "WS-11" not in report["hosts"]
    assert report["summary"]["other_hosts"] == 0


def test_host_names_match_by_their_first_label_and_case():
    assert host_key("WS-01.corp.example") == host_key("ws-01") == "ws-01"
    assert host_key("10.0.0.5") == "10.0.0.5"
    report = assess([ALERTS], hosts=["ws-02.corp.example", "Ws-03"])
    assert list(report["hosts"]) == ["ws-02.corp.example", "Ws-03"]
    assert report["hosts"]["ws-02.corp.example"]["would_be_blocked"] == 2
    with pytest.raises(EvidenceError, match="are the same host to readiness"):
        Evidence(WINDOW, parse_thresholds({}), ["WS-01", "ws-01.corp.example"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"days": 0}, "window_days: 0 must be a positive number"),
        ({"start": "2026-12-01T00:00:00Z", "end": "2026-11-01T00:00:00Z"}, "is not before end"),
        ({"end": "soon"}, "window_end: 'soon' is not an ISO 8601 time"),
    ],
)
def test_window_errors(kwargs, message):
    with pytest.raises(EvidenceError, match=message):
        make_window(**kwargs)


def test_the_window_defaults_to_days_before_now():
    window = make_window(30, now=1_800_000_000.0)
    assert (window.start, window.end) == (1_800_000_000.0 - 30 * 86400, 1_800_000_000.0)


# --- probe results (the endpoints' own event logs) ---------------------------------------------


def probes() -> dict[str, dict]:
    return {path.stem: json.loads(path.read_text()) for path in sorted((FIXTURES / "probes").glob("*.json"))}


def read_json(path, what):
    return json.loads(Path(path).read_text())


def test_probe_results_judge_hosts_like_alerts_do():
    evidence = Evidence(WINDOW, parse_thresholds({}), ["ws-21", "ws-22", "ws-23", "ws-24", "ws-25"])
    stats = read_probes(probes(), evidence, WINDOW, read_json)
    report = evidence.report(stats)
    assert statuses(report) == {
        "ready": ["ws-22"],  # AppLocker logged (allowed runs) and nothing would have been blocked
        "not_ready": ["ws-21", "ws-23"],
        "no_evidence": ["ws-24", "ws-25"],  # logs exist but hold nothing in the window; no probe at all
    }
    ws21 = report["hosts"]["ws-21"]
    assert ws21["would_be_blocked"] == 26
    assert ws21["collections"]["Script"]["events"] == 22
    assert ws21["reported"]["last"] == "2026-11-29T17:02:11Z"
    warnings = report["hosts"]["ws-23"]["warnings"]
    assert any("only reaches back to 2026-11-20T00:00:00Z" in w for w in warnings)
    assert any("disabled" in w for w in warnings)
    assert any("does not exist" in w for w in warnings)
    assert any("Access is denied" in w for w in warnings)
    assert any("counts are lower bounds" in w for w in warnings)
    assert [s["truncated"] for s in stats] == [False, False, True, False]


def test_a_probe_file_path_is_read_too():
    evidence = Evidence(WINDOW, parse_thresholds({}), ["ws-21"])
    read_probes({"ws-21": str(FIXTURES / "probes" / "ws-21.json")}, evidence, WINDOW, read_json)
    assert evidence.report()["hosts"]["ws-21"]["status"] == "not_ready"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p.update(concern="applocker"), "concern 'applocker' is not 'applocker_events'"),
        (lambda p: p.update(probe_version=2), "probe_version 2"),
        (lambda p: p.pop("channels"), r"channels: expected a list"),
        (lambda p: p["groups"][0].pop("count"), r"groups\[0\]: lacks count"),
        (lambda p: p["groups"][0].update(count="4"), r"groups\[0\].count: '4' is not int"),
        (lambda p: p.update(truncated="no"), "truncated: 'no' is not bool"),
    ],
)
def test_a_probe_of_another_shape_is_refused_naming_the_key(change, message):
    probe = probes()["ws-21"]
    change(probe)
    with pytest.raises(EvidenceError, match=message):
        check_probe(probe, "ws-21")


def test_a_probe_group_with_an_impossible_value_is_refused():
    probe = probes()["ws-21"]
    probe["groups"][0]["event_id"] = 4688
    evidence = Evidence(WINDOW, parse_thresholds({}), ["ws-21"])
    with pytest.raises(EvidenceError, match=r"groups\[0\].event_id: 4688 is not an AppLocker event ID"):
        read_probes({"ws-21": probe}, evidence, WINDOW, read_json)


def test_a_probe_of_a_shorter_window_is_a_warning():
    probe = probes()["ws-22"]
    probe["window"] = {"start": "2026-11-20T00:00:00Z", "end": "2026-12-01T00:00:00Z"}
    evidence = Evidence(WINDOW, parse_thresholds({}), ["ws-22"])
    read_probes({"ws-22": probe}, evidence, WINDOW, read_json)
    assert "not the whole window" in evidence.report()["hosts"]["ws-22"]["warnings"][0]


def test_the_probe_script_returns_the_keys_the_reader_reads():
    """The probe runs on Windows only; its result keys are read from the script and compared."""
    script = PROBE_SCRIPT.read_text()
    group = script[script.index("$groups[$key] = [ordered]@{") : script.index("first_time = $when\n")]
    keys = {line.split("=")[0].strip() for line in group.splitlines()[1:] if "=" in line}
    assert keys | {"first", "last"} == set(sources._GROUP_FIELDS)
    channel = script[script.index("$result = [ordered]@{") : script.index("error = $null")]
    keys = {line.split("=")[0].strip() for line in channel.splitlines()[1:] if "=" in line} | {"error"}
    assert keys == set(sources._CHANNEL_FIELDS)
    assert "concern = 'applocker_events'" in script and "probe_version = 1" in script
    for channel_name, ids in sources.CHANNELS.items():
        assert f"'{channel_name}' = @({', '.join(map(str, ids))})" in script

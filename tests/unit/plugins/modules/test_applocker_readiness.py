"""Whole-module tests for m1038.appcontrol.applocker_readiness: check mode, apply, idempotence, diff, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from ansible.module_utils import basic

from ansible_collections.m1038.appcontrol.plugins.modules import applocker_readiness

from .utils import AnsibleExitJson, AnsibleFailJson, set_module_args

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "applocker" / "readiness"
HOSTS = [f"WS-{n:02d}" for n in range(1, 14)]


@pytest.fixture
def args(tmp_path):
    module_tmp = tmp_path / "ansible-tmp"
    module_tmp.mkdir()
    return {
        "dest": str(tmp_path / "readiness"),
        "hosts": HOSTS,
        "alerts_files": [str(FIXTURES / "alerts.json")],
        "window_start": "2026-11-01T00:00:00Z",
        "window_end": "2026-12-01T00:00:00Z",
        "thresholds": {"binaries": [{"name": "Tools share", "path": "%OSDRIVE%\\Tools\\*", "max_events": None}]},
        "_ansible_tmpdir": str(module_tmp),
        "_ansible_remote_tmp": str(module_tmp),
        "_ansible_keep_remote_files": True,
    }


def run_module(args, check_mode=False, diff=False):
    with (
        set_module_args(dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)),
        pytest.raises(AnsibleExitJson) as exc,
    ):
        applocker_readiness.main()
    return exc.value.args[0]


def fail_module(args):
    with set_module_args(args), pytest.raises(AnsibleFailJson) as exc:
        applocker_readiness.main()
    return exc.value.args[0]


def files(dest) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in Path(dest).iterdir()} if Path(dest).exists() else {}


def test_check_mode_judges_everything_and_writes_nothing(args):
    result = run_module(args, check_mode=True, diff=True)
    assert result["changed"] is True
    assert not Path(args["dest"]).exists()
    assert result["summary"]["ready"] == 3 and result["summary"]["not_ready"] == 8
    assert {entry["after_header"] for entry in result["diff"]} == {
        f"{args['dest']}/readiness.json",
        f"{args['dest']}/readiness.html",
        f"{args['dest']}/suggestions.yml",
    }


def test_apply_then_the_second_run_changes_nothing(args, tmp_path):
    first = run_module(args)
    assert first["changed"] is True
    written = files(args["dest"])
    assert set(written) == {"readiness.json", "readiness.html", "suggestions.yml"}
    report = json.loads(written["readiness.json"])
    for key in ("window", "summary", "hosts", "binaries", "suggestions"):
        assert report[key] == first[key], key
    pasted = yaml.safe_load(written["suggestions.yml"])["m1038_applocker_model"]
    assert pasted == {collection: {"rules": rules} for collection, rules in first["suggestions"].items()}
    assert b'id="count-ready">3<' in written["readiness.html"]
    assert list((tmp_path / "ansible-tmp").iterdir()) == []  # no temporary file left behind
    second = run_module(args, diff=True)
    assert second["changed"] is False and second["diff"] == []
    assert files(args["dest"]) == written
    assert run_module(args, check_mode=True)["changed"] is False


def test_new_evidence_changes_the_report(args, tmp_path):
    run_module(args)
    extra = tmp_path / "more.json"
    line = (FIXTURES / "alerts.json").read_text(encoding="utf-8").splitlines()[1].replace("WS-01", "WS-11")
    extra.write_text(line + "\n", encoding="utf-8")
    args["alerts_files"].append(str(extra))
    result = run_module(args, diff=True)
    assert result["changed"] is True
    assert result["hosts"]["WS-11"]["status"] == "ready"  # it reported now, and nothing would have been blocked
    assert {entry["after_header"].rsplit("/", 1)[1] for entry in result["diff"]} == {"readiness.json", "readiness.html"}


def test_without_dest_the_report_is_only_returned(args):
    del args["dest"]
    result = run_module(args)
    assert result["changed"] is False and "files" not in result
    assert result["hosts"]["WS-12"]["status"] == "ready"


def test_probe_results_and_alerts_together(args):
    args["hosts"] = [*HOSTS, "ws-21", "ws-22"]
    args["probe_results"] = {
        "ws-21": str(FIXTURES / "probes" / "ws-21.json"),
        "ws-22": json.loads((FIXTURES / "probes" / "ws-22.json").read_text()),
    }
    result = run_module(args)
    assert result["hosts"]["ws-21"]["status"] == "not_ready"
    assert result["hosts"]["ws-22"]["status"] == "ready"
    assert [s["kind"] for s in result["sources"]] == ["alerts_json", "winrm_probe", "winrm_probe"]


def test_host_warnings_are_passed_on(args, monkeypatch):
    warnings: list[str] = []
    monkeypatch.setattr(basic.AnsibleModule, "warn", lambda self, msg: warnings.append(msg))
    args["hosts"] = ["ws-23"]
    args["alerts_files"] = []
    args["probe_results"] = {"ws-23": str(FIXTURES / "probes" / "ws-23.json")}
    result = run_module(args)
    assert len(warnings) == len(result["hosts"]["ws-23"]["warnings"]) == 5
    assert any(w.startswith("ws-23: ") and "counts are lower bounds" in w for w in warnings)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"alerts_files": []}, "no evidence source: give alerts_files, indexer or probe_results"),
        ({"thresholds": {"collections": {"Exec": 1}}}, "thresholds.collections key 'Exec'"),
        ({"window_end": "tomorrow"}, "window_end: 'tomorrow' is not an ISO 8601 time"),
        ({"suggestion_sid": "Everyone"}, "suggestion_sid: 'Everyone' is not a SID"),
        ({"max_unreadable": -1}, "max_unreadable: -1 must be 0 or more"),
        ({"html_top": 0}, "html_top: 0 must be 1 or more"),
        ({"indexer": {"url": "http://indexer:9200", "password": "pw"}}, "must be an https:// URL"),
        ({"alerts_files": ["/nonexistent/alerts"]}, "alerts_files: /nonexistent/alerts does not exist"),
    ],
)
def test_refusals_name_the_value_and_write_nothing(args, change, message):
    result = fail_module({**args, **change})
    assert message in result["msg"]
    assert not Path(args["dest"]).exists()


def test_an_unwritable_destination_fails_cleanly(args, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    args["dest"] = str(blocker / "readiness")
    result = fail_module(args)
    assert result["msg"].startswith(f"writing the report into {args['dest']} failed")

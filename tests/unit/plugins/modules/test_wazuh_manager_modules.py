"""Tests for wazuh_manager_info (read the manager), wazuh_preflight (controller checks) and wazuh_logtest."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_ruletests import parse_tests
from ansible_collections.m1038.appcontrol.plugins.modules import wazuh_logtest, wazuh_manager_info, wazuh_preflight

PROJECT = Path(__file__).resolve().parents[4]
DOUBLE_HOME = PROJECT / "tests" / "doubles" / "wazuh-manager" / "root" / "var" / "ossec"
FIXTURES = PROJECT / "tests" / "fixtures" / "wazuh_manager"


@pytest.fixture
def home(tmp_path):
    target = tmp_path / "ossec"
    shutil.copytree(DOUBLE_HOME, target)
    return target


def manager(home):
    return wazuh_manager_info.read_manager(str(home), str(home / "var" / "m1038-appcontrol"))


def test_info_reads_ruleset_lists_cluster_and_honours_rule_exclude(home):
    info = manager(home)
    assert info["installed"] is True
    assert info["cluster"]["is_writer"] is True
    assert "ruleset/rules/0215-double-policy_rules.xml" not in info["rule_files"]
    sysmon = info["rule_files"]["ruleset/rules/0595-double-win-sysmon_rules.xml"]
    assert sysmon["ids"] == [61600, 61603]
    assert "sysmon_event1" in sysmon["groups"]
    assert info["rule_files"]["etc/rules/local_rules.xml"]["ids"] == [100001]
    assert info["lists_present"] == ["etc/lists/audit-keys", "etc/lists/security-eventchannel"]
    assert info["managed"] == []
    assert info["rule_file_errors"] == []


def test_info_without_a_manager(tmp_path):
    assert manager(tmp_path)["installed"] is False


def test_preflight_accepts_the_good_fixture_and_returns_files_and_tests(home):
    result, findings = wazuh_preflight.collect(str(FIXTURES / "good"), manager(home), 100000, 120000)
    assert findings == []
    assert [f["path"] for f in result["files"]] == [
        "etc/rules/m1038-appcontrol_rules.xml",
        "etc/lists/m1038-trusted-companies",
    ]
    assert result["summary"] == {"rule_files": 1, "rules": 4, "decoder_files": 0, "lists": 1, "tests": 2}


def test_preflight_reports_every_problem_of_the_broken_fixture(home):
    findings = wazuh_preflight.collect(str(FIXTURES / "broken"), manager(home), 100000, 120000)[1]
    assert [str(f) for f in findings] == [
        "rules/m1038-appcontrol_rules.xml line 43: rule id 100110 is defined twice "
        "(first in rules/m1038-appcontrol_rules.xml line 29)",
        "rules/m1038-appcontrol_rules.xml line 38: rule 100120: parent rule 99999 (if_sid) does not exist",
    ]


def test_preflight_ignores_our_own_previous_files_but_not_the_users(home):
    """A re-deploy must not collide with the files it replaces; a user's rule with our ID must collide."""
    shutil.copy(FIXTURES / "good" / "rules" / "m1038-appcontrol_rules.xml", home / "etc" / "rules")
    findings = wazuh_preflight.collect(str(FIXTURES / "good"), manager(home), 100000, 120000)[1]
    assert findings == []
    shutil.copy(FIXTURES / "good" / "rules" / "m1038-appcontrol_rules.xml", home / "etc" / "rules" / "user-copy.xml")
    findings = wazuh_preflight.collect(str(FIXTURES / "good"), manager(home), 100000, 120000)[1]
    assert "rule id 100100 is already used by etc/rules/user-copy.xml" in [f.message for f in findings]


def test_preflight_layout_and_manager_problems(home, tmp_path):
    findings = wazuh_preflight.collect(str(tmp_path / "nowhere"), manager(home), 100000, 120000)[1]
    assert "content directory does not exist (run the renderer first)" in [f.message for f in findings]
    findings = wazuh_preflight.collect(str(FIXTURES / "good"), {"installed": False}, 100000, 120000)[1]
    assert [f.message for f in findings] == ["no Wazuh manager found (ossec.conf missing); install it first"]
    info = manager(home)
    info["ruleset"]["rule_dirs"] = ["ruleset/rules"]
    findings = wazuh_preflight.collect(str(FIXTURES / "good"), info, 100000, 120000)[1]
    assert "our rules would not load" in " ".join(f.message for f in findings)


def test_preflight_refuses_bad_list_names_and_unquoted_colon_keys(home, tmp_path):
    content = tmp_path / "content"
    shutil.copytree(FIXTURES / "good", content)
    (content / "lists" / "bad name").write_text("x:\n")
    (content / "lists" / "m1038-trusted-companies").write_text("Microsoft Corporation:\nno-colon\n")
    findings = wazuh_preflight.collect(str(content), manager(home), 100000, 120000)[1]
    messages = [str(f) for f in findings]
    assert "lists/bad name: CDB list file names must be plain names (letters, digits, '.', '_', '-')" in messages
    assert (
        "lists/m1038-trusted-companies line 2: entry 'no-colon' has no ':' after the key (the engine would drop it)"
        in messages
    )


def test_logtest_run_tests_reports_each_case_with_defaults_and_overrides():
    cases = parse_tests((FIXTURES / "good" / "tests" / "m1038-appcontrol.ini").read_text(), "tests/m1038.ini")
    cases[1]["location"] = "custom-location"
    seen = []

    def evaluate(event, log_format, location):
        seen.append((log_format, location))
        if '"Evil Corp"' in event:
            return {"rule": {"id": "100102", "level": 12}, "decoder": {"name": "windows_eventchannel"}}
        return {"rule": {"id": "100100", "level": 0}, "decoder": {"name": "windows_eventchannel"}}

    results = wazuh_logtest.run_tests(cases, evaluate, "eventchannel", "EventChannel", eventchannel="run")
    assert [(r["passed"], r["status"]) for r in results] == [(True, "passed"), (True, "passed")]
    assert seen == [("eventchannel", "EventChannel"), ("eventchannel", "custom-location")]
    assert wazuh_logtest.count(results) == {"passed": 2, "failed": 0, "skipped": 0}

    def wrong(event, log_format, location):
        return {"rule": {"id": "100101", "level": 10}, "decoder": {"name": "json"}}

    results = wazuh_logtest.run_tests(cases, wrong, "eventchannel", "EventChannel", eventchannel="run")
    assert [(r["passed"], r["status"]) for r in results] == [(False, "failed"), (False, "failed")]
    assert (
        results[0]["reason"]
        == "got rule 100101 (expected 100102), level 10 (expected 12), decoder json (expected windows_eventchannel)"
    )


def test_logtest_run_tests_skips_eventchannel_cases_by_default_without_evaluating_them():
    cases = parse_tests((FIXTURES / "good" / "tests" / "m1038-appcontrol.ini").read_text(), "tests/m1038.ini")

    def evaluate(event, log_format, location):
        raise AssertionError(f"evaluated {event}")

    results = wazuh_logtest.run_tests(cases, evaluate, "eventchannel", "EventChannel")
    assert [(r["kind"], r["status"], r["passed"]) for r in results] == [("eventchannel", "skipped", False)] * 2
    assert wazuh_logtest.count(results) == {"passed": 0, "failed": 0, "skipped": 2}

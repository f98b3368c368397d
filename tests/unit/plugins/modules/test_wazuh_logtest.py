"""Whole-module tests for m1038.appcontrol.wazuh_logtest against a FAKE Wazuh API (an http.server in the test).

The fake answers like the documented API (POST /security/user/authenticate, PUT /logtest,
DELETE /logtest/sessions/{token}) from a table of canned outputs. It proves the module's
mechanics (login, one session per event and its cleanup, verdicts, which events are sent,
failures, no secrets in the result), not what a real engine would answer.
"""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from ansible.module_utils import basic

from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_ruletests import (
    EVENTCHANNEL_SKIP_REASON,
    parse_tests,
)
from ansible_collections.m1038.appcontrol.plugins.modules import wazuh_logtest

from .utils import AnsibleExitJson, AnsibleFailJson, set_module_args

FIXTURE_INI = (
    Path(__file__).resolve().parents[3] / "fixtures" / "wazuh_manager" / "good" / "tests" / "m1038-appcontrol.ini"
)
USER = "m1038-test-user"
# The real fail_json (conftest replaces it for every test); it masks no_log values in what it prints.
REAL_FAIL_JSON = basic.AnsibleModule.fail_json
PASSWORD = "not-a-real-secret"  # noqa: S105 - a test credential of the fake API

SYSMON = (
    '{"win":{"system":{"providerName":"Microsoft-Windows-Sysmon","eventID":"1",'
    '"channel":"Microsoft-Windows-Sysmon/Operational","severityValue":"INFORMATION"},'
    '"eventdata":{"image":"C:\\\\Users\\\\Public\\\\tool.exe","company":"%s"}}}'
)
WITHSECURE = (
    '{"integration":"%s","withsecure":{"engine":"applicationControl","action":"blocked",'
    '"details":{"alertType":"application_control.application_start.block"}}}'
)
WITHSECURE_LOG = (
    '{"win":{"system":{"providerName":"F-Secure Ultralight SDK","eventID":"6","channel":"Application",'
    '"severityValue":"WARNING"},"eventdata":{"data":"M1038 test"}}}'
)
# What the renderer writes: Windows sections (eventchannel JSON, decoder json as for runtests.py)
# next to WithSecure API sections (plain JSON lines that logtest decodes as json on any manager).
MIXED_INI = f"""
[M1038 rule 100102 sysmon_untrusted]
log 1 pass = {SYSMON % "Evil Corp"}
log 2 fail = {SYSMON % "Microsoft Corporation"}
rule = 100102
alert = 12
decoder = json

[M1038 rule 100232 withsecure_api]
log 1 pass = {WITHSECURE % "withsecure"}
log 2 fail = {WITHSECURE % "m1038-other"}
rule = 100232
alert = 10
decoder = json

[M1038 rule 100240 withsecure_event_log]
log 1 pass = {WITHSECURE_LOG}
rule = 100240
alert = 10
decoder = json
"""
# A stock manager: logtest decodes the Windows events as json and rule 60000 never matches them.
STOCK_ANSWERS = {needle: {"decoder": {"name": "json"}} for needle in ("Evil Corp", "Microsoft", "F-Secure")}
PREPARED_ANSWERS = {  # a test manager whose rule 60000 accepts decoder json (as runtests.py prepares it)
    "Evil Corp": {"rule": {"id": "100102", "level": 12}, "decoder": {"name": "json"}},
    "Microsoft Corporation": {"rule": {"id": "61603", "level": 0}, "decoder": {"name": "json"}},
    "F-Secure Ultralight SDK": {"rule": {"id": "100240", "level": 10}, "decoder": {"name": "json"}},
}
WITHSECURE_ANSWERS = {
    '"integration":"withsecure"': {"rule": {"id": "100232", "level": 10}, "decoder": {"name": "json"}},
    '"integration":"m1038-other"': {"rule": {"id": "86600", "level": 0}, "decoder": {"name": "json"}},
}


class FakeApi(BaseHTTPRequestHandler):
    answers: ClassVar[dict] = {}
    log: ClassVar[list] = []
    events: ClassVar[list] = []  # every event the engine was asked to evaluate

    def log_message(self, *args):  # keep pytest output clean
        pass

    def _send(self, status, payload):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        self.log.append(("POST", self.path, self.headers.get("Authorization") == expected))
        if self.path == "/security/user/authenticate" and self.headers.get("Authorization") == expected:
            self._send(200, {"data": {"token": "jwt-1"}, "error": 0})
        else:
            self._send(401, {"title": "Unauthorized", "detail": "Invalid credentials"})

    def do_PUT(self):
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length))
        authorized = self.headers.get("Authorization") == "Bearer jwt-1"
        self.log.append(("PUT", self.path, authorized, body["log_format"], body["location"]))
        self.events.append(body["event"])
        if not authorized:
            self._send(401, {"title": "Unauthorized"})
            return
        output = next((out for needle, out in self.answers.items() if needle in body["event"]), {})
        self._send(200, {"data": {"token": f"session-{len(self.log)}", "output": output, "alert": bool(output)}})

    def do_DELETE(self):
        self.log.append(("DELETE", self.path, self.headers.get("Authorization") == "Bearer jwt-1"))
        self._send(200, {"data": {}, "error": 0})


@pytest.fixture
def api():
    FakeApi.log = []
    FakeApi.events = []
    FakeApi.answers = {
        "Evil Corp": {"rule": {"id": "100102", "level": 12}, "decoder": {"name": "windows_eventchannel"}},
        "Microsoft Corporation": {"rule": {"id": "100100", "level": 0}, "decoder": {"name": "windows_eventchannel"}},
    }
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def run(url, tmp_path, ini=None, **params):
    text = FIXTURE_INI.read_text(encoding="utf-8") if ini is None else ini
    args = {
        "url": url,
        "user": USER,
        "password": PASSWORD,
        "tests": parse_tests(text, "tests/m1038-appcontrol.ini"),
        **params,
    }
    with set_module_args(args, tmp_path):
        wazuh_logtest.main()


def is_eventchannel(event):
    data = json.loads(event)
    return isinstance(data.get("win"), dict)


def test_all_tests_pass_and_every_session_is_closed(api, tmp_path):
    with pytest.raises(AnsibleExitJson) as done:
        run(api, tmp_path, eventchannel="run")
    result = done.value.args[0]
    assert (result["passed"], result["counts"], result["changed"]) == (
        2,
        {"passed": 2, "failed": 0, "skipped": 0},
        False,
    )
    assert "failed" not in result  # Ansible's own key: a count there would fail the task
    assert [(r["section"], r["status"], r["kind"]) for r in result["results"]] == [
        ("Untrusted publisher from Users\\Public", "passed", "eventchannel"),
        ("Trusted publisher stays quiet", "passed", "eventchannel"),
    ]
    puts = [e for e in FakeApi.log if e[0] == "PUT"]
    assert puts == [("PUT", "/logtest", True, "eventchannel", "EventChannel")] * 2
    assert sorted(e[1] for e in FakeApi.log if e[0] == "DELETE") == [
        "/logtest/sessions/session-2",
        "/logtest/sessions/session-4",
    ]
    assert PASSWORD not in json.dumps(result)


def test_eventchannel_tests_are_skipped_by_default_and_never_sent(api, tmp_path):
    FakeApi.answers = {**STOCK_ANSWERS, **WITHSECURE_ANSWERS}
    with pytest.raises(AnsibleExitJson) as done:
        run(api, tmp_path, ini=MIXED_INI)
    result = done.value.args[0]
    assert result["counts"] == {"passed": 2, "failed": 0, "skipped": 3}
    assert result["passed"] == 2
    assert [(r["section"], r["name"], r["kind"], r["status"], r["passed"]) for r in result["results"]] == [
        ("M1038 rule 100102 sysmon_untrusted", "log 1 pass", "eventchannel", "skipped", False),
        ("M1038 rule 100102 sysmon_untrusted", "log 2 fail", "eventchannel", "skipped", False),
        ("M1038 rule 100232 withsecure_api", "log 1 pass", "other", "passed", True),
        ("M1038 rule 100232 withsecure_api", "log 2 fail", "other", "passed", True),
        ("M1038 rule 100240 withsecure_event_log", "log 1 pass", "eventchannel", "skipped", False),
    ]
    skipped = [r for r in result["results"] if r["status"] == "skipped"]
    assert {r["reason"] for r in skipped} == {EVENTCHANNEL_SKIP_REASON}
    assert "logtest.c" in EVENTCHANNEL_SKIP_REASON and "rule 60000" in EVENTCHANNEL_SKIP_REASON
    assert all(r["actual_rule"] == r["actual_level"] == r["actual_decoder"] == "" for r in skipped)
    # The engine never saw a Windows event: only the two WithSecure API lines were sent.
    assert FakeApi.events == [WITHSECURE % "withsecure", WITHSECURE % "m1038-other"]
    assert not any(is_eventchannel(event) for event in FakeApi.events)
    assert len([e for e in FakeApi.log if e[0] == "DELETE"]) == 2


def test_all_skipped_still_logs_in_and_sends_nothing(api, tmp_path):
    with pytest.raises(AnsibleExitJson) as done:
        run(api, tmp_path)
    result = done.value.args[0]
    assert result["counts"] == {"passed": 0, "failed": 0, "skipped": 2}
    assert [e[:2] for e in FakeApi.log] == [("POST", "/security/user/authenticate")]
    assert FakeApi.events == []


def test_eventchannel_run_sends_them_to_a_prepared_manager(api, tmp_path):
    FakeApi.answers = {**PREPARED_ANSWERS, **WITHSECURE_ANSWERS}
    with pytest.raises(AnsibleExitJson) as done:
        run(api, tmp_path, ini=MIXED_INI, eventchannel="run")
    result = done.value.args[0]
    assert result["counts"] == {"passed": 5, "failed": 0, "skipped": 0}
    assert [r["status"] for r in result["results"]] == ["passed"] * 5
    assert len(FakeApi.events) == 5
    assert [is_eventchannel(event) for event in FakeApi.events] == [True, True, False, False, True]


def test_eventchannel_run_on_a_stock_manager_fails_them(api, tmp_path):
    """What O(eventchannel=run) does against a manager whose rule 60000 still wants windows_eventchannel."""
    FakeApi.answers = {**STOCK_ANSWERS, **WITHSECURE_ANSWERS}
    with pytest.raises(AnsibleFailJson) as failed:
        run(api, tmp_path, ini=MIXED_INI, eventchannel="run")
    result = failed.value.args[0]
    # The fail line of the Sysmon section passes: its rule does not fire either.
    assert result["counts"] == {"passed": 3, "failed": 2, "skipped": 0}
    assert result["msg"].startswith("2 of 5 rule test(s) failed: ")
    assert "[M1038 rule 100102 sysmon_untrusted] log 1 pass: got rule none (expected 100102)" in result["msg"]


@pytest.mark.parametrize("eventchannel", ["skip", "run"])
def test_withsecure_json_tests_are_always_sent(api, tmp_path, eventchannel):
    FakeApi.answers = {**PREPARED_ANSWERS, **WITHSECURE_ANSWERS}
    with pytest.raises(AnsibleExitJson):
        run(api, tmp_path, ini=MIXED_INI, eventchannel=eventchannel)
    sent = [event for event in FakeApi.events if not is_eventchannel(event)]
    assert sent == [WITHSECURE % "withsecure", WITHSECURE % "m1038-other"]


def test_a_failing_withsecure_test_fails_the_task_while_windows_tests_are_skipped(api, tmp_path):
    FakeApi.answers = {**STOCK_ANSWERS, '"integration":"withsecure"': {"decoder": {"name": "json"}}}
    with pytest.raises(AnsibleFailJson) as failed:
        run(api, tmp_path, ini=MIXED_INI)
    result = failed.value.args[0]
    assert result["msg"] == (
        "1 of 2 rule test(s) failed (3 skipped): tests/m1038-appcontrol.ini [M1038 rule 100232 withsecure_api] "
        "log 1 pass: got rule none (expected 100232), level none (expected 10)"
    )
    assert result["counts"] == {"passed": 1, "failed": 1, "skipped": 3}
    assert [r["status"] for r in result["results"]] == ["skipped", "skipped", "failed", "passed", "skipped"]


def test_a_failing_test_fails_the_task_naming_it(api, tmp_path):
    FakeApi.answers["Evil Corp"] = {"rule": {"id": "100101", "level": 10}, "decoder": {"name": "windows_eventchannel"}}
    with pytest.raises(AnsibleFailJson) as failed:
        run(api, tmp_path, eventchannel="run")
    result = failed.value.args[0]
    assert result["msg"] == (
        "1 of 2 rule test(s) failed: tests/m1038-appcontrol.ini [Untrusted publisher from Users\\Public] log 1 pass: "
        "got rule 100101 (expected 100102), level 10 (expected 12)"
    )
    assert (result["passed"], result["counts"]) == (1, {"passed": 1, "failed": 1, "skipped": 0})


def test_fail_on_error_false_reports_without_failing(api, tmp_path):
    FakeApi.answers = {}
    with pytest.raises(AnsibleExitJson) as done:
        run(api, tmp_path, eventchannel="run", fail_on_error=False)
    result = done.value.args[0]
    assert (result["passed"], result["counts"]) == (1, {"passed": 1, "failed": 1, "skipped": 0})
    assert [r["status"] for r in result["results"]] == ["failed", "passed"]


def test_bad_credentials_fail_with_the_api_message(api, tmp_path):
    with pytest.raises(AnsibleFailJson) as failed:
        run(api, tmp_path, password="wrong")  # noqa: S106 - a deliberately wrong test credential
    assert failed.value.args[0]["msg"].endswith(
        "POST /security/user/authenticate returned HTTP 401: Invalid credentials"
    )


def test_tests_not_from_preflight_are_refused(api, tmp_path):
    with pytest.raises(AnsibleFailJson, match=r"tests\[0\] lacks"):
        run(api, tmp_path, tests=[{"event": "x"}])


def test_only_the_password_is_masked_not_a_user_name_that_is_also_a_word(api, tmp_path, monkeypatch, capsys):
    """Issue 8 (minor): with ``user`` no_log, a common user name such as ``wazuh`` was masked everywhere it
    appears, so the error named ``http://.../********-api``. Only the password is secret."""
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", REAL_FAIL_JSON)
    with pytest.raises(SystemExit):
        run(f"{api}/wazuh-api", tmp_path, user="wazuh")
    result = json.loads(capsys.readouterr().out)
    assert result["failed"] is True
    assert result["msg"] == (
        f"Wazuh API at {api}/wazuh-api: POST /security/user/authenticate returned HTTP 401: Invalid credentials"
    )
    assert result["invocation"]["module_args"]["user"] == "wazuh"
    assert result["invocation"]["module_args"]["password"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"  # noqa: S105
    assert PASSWORD not in json.dumps(result)

"""Whole-module tests for m1038.appcontrol.wazuh_logtest against a FAKE Wazuh API (an http.server in the test).

The fake answers like the documented API (POST /security/user/authenticate, PUT /logtest,
DELETE /logtest/sessions/{token}) from a table of canned outputs. It proves the module's
mechanics (login, one session per event and its cleanup, verdicts, failures, no secrets in the
result), not what a real engine would answer.
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
from ansible.module_utils.testing import patch_module_args

from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_ruletests import parse_tests
from ansible_collections.m1038.appcontrol.plugins.modules import wazuh_logtest

FIXTURE_INI = (
    Path(__file__).resolve().parents[3] / "fixtures" / "wazuh_manager" / "good" / "tests" / "m1038-appcontrol.ini"
)
USER, PASSWORD = "m1038-test-user", "not-a-real-secret"


class AnsibleExitJson(Exception):
    pass


class AnsibleFailJson(Exception):
    pass


def exit_json(self, **kwargs):
    kwargs.setdefault("changed", False)
    raise AnsibleExitJson(kwargs)


def fail_json(self, msg, **kwargs):
    raise AnsibleFailJson({"msg": msg, **kwargs})


@pytest.fixture(autouse=True)
def patch_module(monkeypatch):
    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)


class FakeApi(BaseHTTPRequestHandler):
    answers: ClassVar[dict] = {}
    log: ClassVar[list] = []

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


def run(url, tmp_path, **params):
    args = {
        "url": url,
        "user": USER,
        "password": PASSWORD,
        "tests": parse_tests(FIXTURE_INI.read_text(encoding="utf-8"), "tests/m1038-appcontrol.ini"),
        "_ansible_tmpdir": str(tmp_path),
        "_ansible_remote_tmp": str(tmp_path),
        "_ansible_keep_remote_files": True,
        **params,
    }
    with patch_module_args(args):
        wazuh_logtest.main()


def test_all_tests_pass_and_every_session_is_closed(api, tmp_path):
    with pytest.raises(AnsibleExitJson) as done:
        run(api, tmp_path)
    result = done.value.args[0]
    assert (result["passed"], result["failed"], result["changed"]) == (2, 0, False)
    assert [r["section"] for r in result["results"]] == [
        "Untrusted publisher from Users\\Public",
        "Trusted publisher stays quiet",
    ]
    puts = [e for e in FakeApi.log if e[0] == "PUT"]
    assert puts == [("PUT", "/logtest", True, "eventchannel", "EventChannel")] * 2
    assert sorted(e[1] for e in FakeApi.log if e[0] == "DELETE") == [
        "/logtest/sessions/session-2",
        "/logtest/sessions/session-4",
    ]
    assert PASSWORD not in json.dumps(result)


def test_a_failing_test_fails_the_task_naming_it(api, tmp_path):
    FakeApi.answers["Evil Corp"] = {"rule": {"id": "100101", "level": 10}, "decoder": {"name": "windows_eventchannel"}}
    with pytest.raises(AnsibleFailJson) as failed:
        run(api, tmp_path)
    result = failed.value.args[0]
    assert result["msg"] == (
        "1 of 2 rule test(s) failed: tests/m1038-appcontrol.ini [Untrusted publisher from Users\\Public] log 1 pass: "
        "got rule 100101 (expected 100102), level 10 (expected 12)"
    )
    assert (result["passed"], result["failed"]) == (1, 1)


def test_fail_on_error_false_reports_without_failing(api, tmp_path):
    FakeApi.answers = {}
    with pytest.raises(AnsibleExitJson) as done:
        run(api, tmp_path, fail_on_error=False)
    assert (done.value.args[0]["passed"], done.value.args[0]["failed"]) == (1, 1)


def test_bad_credentials_fail_with_the_api_message(api, tmp_path):
    with pytest.raises(AnsibleFailJson) as failed:
        run(api, tmp_path, password="wrong")  # noqa: S106 - a deliberately wrong test credential
    assert failed.value.args[0]["msg"].endswith(
        "POST /security/user/authenticate returned HTTP 401: Invalid credentials"
    )


def test_tests_not_from_preflight_are_refused(api, tmp_path):
    with pytest.raises(AnsibleFailJson, match=r"tests\[0\] lacks"):
        run(api, tmp_path, tests=[{"event": "x"}])

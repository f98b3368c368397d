#!/usr/bin/python
# Copyright: m1038.appcontrol contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: wazuh_logtest
short_description: Run Wazuh ruleset tests against the live engine through the Wazuh API (wazuh-logtest)
version_added: 0.1.0
description:
  - Sends each test event to C(PUT /logtest) of the Wazuh API, one logtest session per event (closed
    afterwards), and compares the rule, level and decoder the engine reports with the test's expectation.
  - C(pass) lines must produce the expected rule and level (and decoder, when the test names one);
    C(fail) lines must not produce the expected rule.
  - Reports every test; fails when any test fails unless O(fail_on_error=false).
attributes:
  check_mode:
    support: full
    description: Only asks the engine to evaluate events; changes nothing on the manager, so it runs in check mode too.
  diff_mode:
    support: none
    description: Nothing is changed, so there is no diff.
options:
  url:
    description: Wazuh API base URL.
    type: str
    default: https://localhost:55000
  user:
    description: API user.
    type: str
    required: true
  password:
    description: API password.
    type: str
    required: true
  validate_certs:
    description: Validate the API's TLS certificate.
    type: bool
    default: true
  tests:
    description:
      - Test cases as returned by M(m1038.appcontrol.wazuh_preflight) (its C(tests) result).
    type: list
    elements: dict
    required: true
  log_format:
    description: Log format for events whose test does not set C(log_format).
    type: str
    default: eventchannel
  location:
    description: Location for events whose test does not set C(location).
    type: str
    default: EventChannel
  fail_on_error:
    description: Fail when a test fails.
    type: bool
    default: true
notes:
  - Stock wazuh-logtest does not decode raw eventchannel JSON as an agent sends it; Wazuh's own ruleset
    tests rewrite rule 60000 to work around that. This module does not touch the ruleset, so tests of
    eventchannel rules depend on how the manager decodes the event with the given log format and location.
author:
  - m1038.appcontrol contributors (@m1038-appcontrol)
"""

EXAMPLES = r"""
- name: Run the rendered rule tests
  m1038.appcontrol.wazuh_logtest:
    user: "{{ vault_wazuh_api_user }}"
    password: "{{ vault_wazuh_api_password }}"
    tests: "{{ preflight.tests }}"
  no_log: false
"""

RETURN = r"""
results:
  description: One entry per test event.
  returned: always
  type: list
  elements: dict
  sample: [{"source": "tests/m1038.ini", "section": "Untrusted publisher", "name": "log 1 pass",
            "passed": true, "expected_rule": "100101", "actual_rule": "100101", "expected_level": "10",
            "actual_level": "10", "actual_decoder": "windows_eventchannel", "reason": "ok"}]
passed:
  description: Number of tests that passed.
  returned: always
  type: int
failed:
  description: Number of tests that failed.
  returned: always
  type: int
"""

import base64
import json

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import fetch_url

from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_ruletests import judge


class ApiError(Exception):
    pass


class LogtestClient:
    """Minimal Wazuh API client for logtest: authenticate, evaluate one event, close the session."""

    def __init__(self, module, url, user, password):
        self.module = module
        self.url = url.rstrip("/")
        self.user = user
        self.password = password
        self.jwt = None

    def _call(self, method, path, body=None, headers=None):
        data = json.dumps(body) if body is not None else None
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        if self.jwt:
            all_headers["Authorization"] = f"Bearer {self.jwt}"
        resp, info = fetch_url(self.module, self.url + path, data=data, headers=all_headers, method=method, timeout=30)
        status = info.get("status", -1)
        # On an HTTP error fetch_url has already read the body into info["body"].
        raw = resp.read() if resp is not None and 0 <= status < 400 else info.get("body") or b""
        try:
            payload = json.loads(raw or b"{}")
        except ValueError:
            payload = {}
        if status >= 400 or status < 0:
            detail = payload.get("detail") or payload.get("title") or info.get("msg", "")
            raise ApiError(f"{method} {path} returned HTTP {status}: {detail}")
        return payload

    def login(self):
        basic = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        payload = self._call("POST", "/security/user/authenticate", headers={"Authorization": f"Basic {basic}"})
        self.jwt = (payload.get("data") or {}).get("token")
        if not self.jwt:
            raise ApiError("the API answered the login without a token")

    def evaluate(self, event, log_format, location):
        payload = self._call("PUT", "/logtest", {"event": event, "log_format": log_format, "location": location})
        data = payload.get("data") or {}
        session = data.get("token")
        if session:
            try:
                self._call("DELETE", f"/logtest/sessions/{session}")
            except ApiError:
                self.module.warn(f"could not close logtest session {session}")
        return data.get("output") or {}


def run_tests(cases, evaluate, log_format, location):
    """Evaluate every case with ``evaluate(event, log_format, location)`` and judge the answers."""
    results = []
    for case in cases:
        output = evaluate(case["event"], case.get("log_format") or log_format, case.get("location") or location)
        verdict = judge(case, output)
        results.append(
            {
                "source": case["source"],
                "section": case["section"],
                "name": case["name"],
                "expect_match": case["expect_match"],
                "expected_rule": case["rule"],
                "expected_level": case["level"],
                "expected_decoder": case.get("decoder", ""),
                **verdict,
            }
        )
    return results


def main():
    module = AnsibleModule(
        argument_spec={
            "url": {"type": "str", "default": "https://localhost:55000"},
            "user": {"type": "str", "required": True, "no_log": True},
            "password": {"type": "str", "required": True, "no_log": True},
            "validate_certs": {"type": "bool", "default": True},
            "tests": {"type": "list", "elements": "dict", "required": True},
            "log_format": {"type": "str", "default": "eventchannel"},
            "location": {"type": "str", "default": "EventChannel"},
            "fail_on_error": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    p = module.params
    required = ("source", "section", "name", "event", "expect_match", "rule", "level")
    for index, case in enumerate(p["tests"]):
        missing = [k for k in required if k not in case]
        if missing:
            module.fail_json(msg=f"tests[{index}] lacks {missing}; pass the 'tests' returned by wazuh_preflight")
    client = LogtestClient(module, p["url"], p["user"], p["password"])
    try:
        client.login()
        results = run_tests(p["tests"], client.evaluate, p["log_format"], p["location"])
    except ApiError as exc:
        module.fail_json(msg=f"Wazuh API at {p['url']}: {exc}")
    failed = [r for r in results if not r["passed"]]
    summary = {"results": results, "passed": len(results) - len(failed), "failed": len(failed)}
    if failed and p["fail_on_error"]:
        lines = "; ".join(f"{r['source']} [{r['section']}] {r['name']}: {r['reason']}" for r in failed)
        module.fail_json(msg=f"{len(failed)} of {len(results)} rule test(s) failed: {lines}", **summary)
    module.exit_json(changed=False, **summary)


if __name__ == "__main__":
    main()

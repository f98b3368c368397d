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
  - Tests whose event is JSON with a top-level C(win) object (Windows eventchannel events such as Sysmon,
    AppLocker or other Windows event-log events) are eventchannel tests, see O(eventchannel). Other
    events, such as the C({"integration":"withsecure",...}) lines of the WithSecure API route, are always sent.
  - Reports every test as passed, failed or skipped; fails when any test fails unless O(fail_on_error=false).
    Skipped tests never fail the task.
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
    description:
      - API user.
      - Not treated as a secret (only O(password) is), so messages and URLs that hold the same word stay readable.
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
  eventchannel:
    description:
      - What to do with eventchannel tests (event JSON with a top-level C(win) object).
      - V(skip) reports them as skipped without sending them, because wazuh-logtest (C(src/analysisd/logtest.c))
        queues every event as a localfile message, so eventchannel JSON is decoded as C(json) and never
        reaches stock rule 60000, which requires decoder C(windows_eventchannel).
      - V(run) sends them anyway. Use it only against a manager whose rule 60000 accepts decoder C(json),
        such as a throwaway test manager prepared like Wazuh's C(ruleset/testing/runtests.py) does; on a
        stock manager these tests fail.
    type: str
    choices: [skip, run]
    default: skip
  fail_on_error:
    description: Fail when a test fails. Skipped tests never fail the task.
    type: bool
    default: true
notes:
  - Stock wazuh-logtest queues every event as a localfile message (C(1:location:event)), so the
    eventchannel decoding path (C(DecodeWinevt)) never runs and stock rule 60000 never matches a raw
    eventchannel event. Wazuh's own ruleset tests rewrite rule 60000 to accept decoder C(json) on a test
    manager; this module does not touch the ruleset, hence O(eventchannel=skip) by default.
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
  description: One entry per test event, in the order of O(tests).
  returned: always
  type: list
  elements: dict
  contains:
    source:
      description: Test file the case comes from.
      type: str
    section:
      description: Section of the test file.
      type: str
    name:
      description: Log line of the section, such as C(log 1 pass).
      type: str
    kind:
      description: C(eventchannel) for an event with a top-level C(win) object, C(other) otherwise.
      type: str
    status:
      description: C(passed), C(failed), or C(skipped) (an eventchannel test with O(eventchannel=skip)).
      type: str
    passed:
      description: True when the test ran and passed; false when it failed or was skipped (see RV(results[].status)).
      type: bool
    expect_match:
      description: True for a C(pass) line, false for a C(fail) line.
      type: bool
    expected_rule:
      description: Rule ID the test names.
      type: str
    expected_level:
      description: Level the test names.
      type: str
    expected_decoder:
      description: Decoder the test names, empty when it names none.
      type: str
    actual_rule:
      description: Rule ID the engine reported, empty when no rule fired or the test was skipped.
      type: str
    actual_level:
      description: Level the engine reported, empty when no rule fired or the test was skipped.
      type: str
    actual_decoder:
      description: Decoder the engine reported, empty when none or the test was skipped.
      type: str
    reason:
      description: C(ok), what differed from the expectation, or why the test was skipped.
      type: str
  sample: [{"source": "tests/m1038_appcontrol.ini", "section": "M1038 rule 100232 withsecure_api",
            "name": "log 1 pass", "kind": "other", "status": "passed", "passed": true, "expect_match": true,
            "expected_rule": "100232", "expected_level": "10", "expected_decoder": "json",
            "actual_rule": "100232", "actual_level": "10", "actual_decoder": "json", "reason": "ok"}]
counts:
  description: Number of tests by status.
  returned: always
  type: dict
  contains:
    passed:
      description: Tests that ran and passed.
      type: int
    failed:
      description: Tests that ran and failed.
      type: int
    skipped:
      description: Eventchannel tests not sent (O(eventchannel=skip)).
      type: int
  sample: {"passed": 20, "failed": 0, "skipped": 77}
passed:
  description:
    - Number of tests that passed (same as RV(counts.passed)).
    - The number of failed tests is in RV(counts.failed) only; a top-level C(failed) key is Ansible's own
      task status, and a non-zero count there would fail the task.
  returned: always
  type: int
"""

import base64
import json

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import fetch_url

from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_ruletests import (
    EVENTCHANNEL,
    EVENTCHANNEL_SKIP_REASON,
    event_kind,
    judge,
)

STATUSES = ("passed", "failed", "skipped")


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


def run_tests(cases, evaluate, log_format, location, eventchannel="skip"):
    """Evaluate every case with ``evaluate(event, log_format, location)`` and judge the answers.

    Eventchannel cases are not evaluated unless ``eventchannel == "run"``; they are reported as skipped.
    """
    results = []
    for case in cases:
        kind = event_kind(case["event"])
        if kind == EVENTCHANNEL and eventchannel != "run":
            verdict = {"passed": False, "actual_rule": "", "actual_level": "", "actual_decoder": ""}
            verdict.update(status="skipped", reason=EVENTCHANNEL_SKIP_REASON)
        else:
            output = evaluate(case["event"], case.get("log_format") or log_format, case.get("location") or location)
            verdict = judge(case, output)
            verdict["status"] = "passed" if verdict["passed"] else "failed"
        results.append(
            {
                "source": case["source"],
                "section": case["section"],
                "name": case["name"],
                "kind": kind,
                "expect_match": case["expect_match"],
                "expected_rule": case["rule"],
                "expected_level": case["level"],
                "expected_decoder": case.get("decoder", ""),
                **verdict,
            }
        )
    return results


def count(results):
    """``{"passed": n, "failed": n, "skipped": n}`` over ``results``."""
    return {status: sum(1 for r in results if r["status"] == status) for status in STATUSES}


def main():
    module = AnsibleModule(
        argument_spec={
            "url": {"type": "str", "default": "https://localhost:55000"},
            # Only the password is secret: a no_log user name such as "wazuh" would be masked in every URL and message.
            "user": {"type": "str", "required": True},
            "password": {"type": "str", "required": True, "no_log": True},
            "validate_certs": {"type": "bool", "default": True},
            "tests": {"type": "list", "elements": "dict", "required": True},
            "log_format": {"type": "str", "default": "eventchannel"},
            "location": {"type": "str", "default": "EventChannel"},
            "eventchannel": {"type": "str", "default": "skip", "choices": ["skip", "run"]},
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
        client.login()  # even when every test is skipped: checks the API settings
        results = run_tests(p["tests"], client.evaluate, p["log_format"], p["location"], p["eventchannel"])
    except ApiError as exc:
        module.fail_json(msg=f"Wazuh API at {p['url']}: {exc}")
    counts = count(results)
    # No top-level "failed" count: Ansible reads that key as the task's status.
    summary = {"results": results, "counts": counts, "passed": counts["passed"]}
    if counts["failed"] and p["fail_on_error"]:
        ran = counts["passed"] + counts["failed"]
        skipped = f" ({counts['skipped']} skipped)" if counts["skipped"] else ""
        lines = "; ".join(
            f"{r['source']} [{r['section']}] {r['name']}: {r['reason']}" for r in results if r["status"] == "failed"
        )
        module.fail_json(msg=f"{counts['failed']} of {ran} rule test(s) failed{skipped}: {lines}", **summary)
    module.exit_json(changed=False, **summary)


if __name__ == "__main__":
    main()

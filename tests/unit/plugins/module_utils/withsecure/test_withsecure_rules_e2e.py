"""End to end: an API page from the FAKE Elements API -> the forwarder's file -> the renderer's WithSecure rules.

Every line the forwarder writes is walked through the project's engine model (``_wazuh_engine``: the
stock json decoder's event, the generated rules as the engine orders them) and must end on the rule
the generated ruleset tests name for its alertType, at that rule's level. The forwarded lines then
join the generated ``.ini`` as ``log N pass`` lines of those sections and the file must still parse
as Wazuh ruleset tests: what the forwarder writes is what the rule tests send to the engine.
"""

from __future__ import annotations

import json
from pathlib import Path

from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_engine import decoder_for, route, trace, winner
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_policy import build_policy
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_rules import (
    DENIED_LIST,
    TRUSTED_LIST,
    WITHSECURE_API_EVENTS,
    build_rules,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_ruletests import parse_tests
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_testevents import build_tests, render_tests_ini
from ansible_collections.m1038.appcontrol.plugins.module_utils._withsecure_forward import EXIT_OK, check_config, forward

BASE = 100200
LISTS = {TRUSTED_LIST: {"Microsoft Corporation": "explicit"}, DENIED_LIST: {}}


def rendered():
    policy = build_policy({"rule_id_base": BASE, "min_prevalence": 0.5, "withsecure_api": True})
    rules = build_rules(policy, has_trusted=True, has_denied=False)
    ini = render_tests_ini(build_tests(rules, LISTS, {name: sorted(keys) for name, keys in LISTS.items()}))
    return rules, ini


def test_forwarded_events_end_on_the_rules_the_generated_tests_name(fake, settings, config_file):
    events = fake.generate(12)  # every documented application-control alertType, twice
    assert forward(check_config(settings, "e2e"), log=lambda m: None, sleep=lambda s: None) == EXIT_OK
    lines = Path(settings["output"]).read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(events)

    rules, ini = rendered()
    by_id = {rule.rule_id: rule for rule in rules}
    sections = {}
    for case in parse_tests(ini, "tests/m1038_appcontrol.ini"):
        if case["expect_match"] and by_id[int(case["rule"])].kind == "withsecure_api":
            sections.setdefault(case["section"], case)
    expected_rule = {alert: BASE + offset for offset, alert, _a, _l, _t, _d in WITHSECURE_API_EVENTS if alert}
    reached = set()
    for line in lines:
        event = json.loads(line)
        assert decoder_for(event) == "json"
        alert_type = event["withsecure"]["details"]["alertType"]
        got = winner(rules, event, LISTS)
        assert got is not None and got.rule_id == expected_rule[alert_type], (
            f"{alert_type} ends on {trace(route(rules, event, LISTS))}"
        )
        section = next(s for s in sections.values() if s["rule"] == str(got.rule_id))
        assert str(got.level) == section["level"]
        # The forwarded line carries every field path the generated test event for that rule carries.
        test_event = json.loads(section["event"])
        assert set(test_event) == set(event) == {"integration", "withsecure"}
        reached.add(got.rule_id)
    assert reached == set(expected_rule.values()), "every documented alertType reached its own rule"

    extra = ["", "[Forwarded by the m1038 WithSecure forwarder]"]
    extra += [f"log {n} pass = {line}" for n, line in enumerate(lines[:1], start=1)]
    first = winner(rules, json.loads(lines[0]), LISTS)
    extra += [f"rule = {first.rule_id}", f"alert = {first.level}", "decoder = json"]
    cases = parse_tests(ini + "\n".join(extra) + "\n", "tests/m1038_appcontrol.ini")
    forwarded = [c for c in cases if c["section"] == "Forwarded by the m1038 WithSecure forwarder"]
    assert [json.loads(c["event"]) for c in forwarded] == [json.loads(lines[0])]

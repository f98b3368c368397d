"""The engine model: absent fields, negate, child order (level 0 first), first matching child wins, stock routing."""

from __future__ import annotations

from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_engine import (
    compact_json,
    field_value,
    insert_child,
    route,
    rule_matches,
    trace,
    winner,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_rules import Rule
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_stock import event_log_parents

LISTS = {"trusted": {"Contoso": ""}}


def event(**eventdata):
    return {"win": {"system": {"eventID": "1"}, "eventdata": eventdata}}


def rule(rule_id, level, **kwargs):
    kwargs.setdefault("parents", [61603])
    return Rule(rule_id, level, "test", "test", **kwargs)


def test_field_values_are_dotted_paths():
    e = event(company="Contoso")
    assert field_value(e, "win.eventdata.company") == "Contoso"
    assert field_value(e, "win.eventdata.missing") is None
    assert field_value(e, "win.eventdata") is None  # objects are not values


def test_absent_field_never_matches_even_negated():
    negated = rule(1, 5, fields=[("win.eventdata.company", "^Contoso$", True)])
    log = compact_json(event())
    assert not rule_matches(negated, event(), log, LISTS, "json")
    assert rule_matches(negated, event(company="Other"), compact_json(event(company="Other")), LISTS, "json")


def test_absent_field_never_matches_a_list_lookup():
    untrusted = rule(1, 5, lists=[("win.eventdata.company", "not_match_key", "trusted")])
    assert not rule_matches(untrusted, event(), compact_json(event()), LISTS, "json")
    assert rule_matches(untrusted, event(company="Other"), compact_json(event(company="Other")), LISTS, "json")
    assert not rule_matches(untrusted, event(company="Contoso"), compact_json(event(company="Contoso")), LISTS, "json")
    # exact and case-sensitive, like a CDB lookup
    assert rule_matches(untrusted, event(company="contoso"), compact_json(event(company="contoso")), LISTS, "json")


def test_negated_full_log_regex_detects_an_absent_key():
    no_company = rule(1, 5, regex=[('"company":"', True)])
    quoted_in_value = event(commandLine='echo "company":"x"')
    assert rule_matches(no_company, event(), compact_json(event()), LISTS, "json")
    assert not rule_matches(no_company, event(company="X"), compact_json(event(company="X")), LISTS, "json")
    # a quote inside a value is escaped in the JSON text, so it cannot fake the key
    assert rule_matches(no_company, quoted_in_value, compact_json(quoted_in_value), LISTS, "json")


def sysmon(**eventdata):
    system = {
        "providerName": "Microsoft-Windows-Sysmon",
        "eventID": "1",
        "channel": "Microsoft-Windows-Sysmon/Operational",
        "severityValue": "INFORMATION",
    }
    return {"win": {"system": system, "eventdata": eventdata}}


def application(severity):
    system = {"providerName": "Contoso", "eventID": "6", "channel": "Application", "severityValue": severity}
    return {"win": {"system": system, "eventdata": {"data": "x"}}}


def test_level_zero_children_run_first_then_highest_level_then_load_order():
    low = rule(1, 3)
    high = rule(2, 9)
    same_level_later = rule(3, 9)
    silent = rule(4, 0)
    assert winner([low, high, same_level_later], sysmon(), LISTS) is high
    assert winner([low, same_level_later, high], sysmon(), LISTS) is same_level_later
    # rules.c stores level 0 as 99 (x100) while loading: a level-0 sibling is tried first
    assert winner([low, high, silent], sysmon(), LISTS) is silent


def test_insert_child_follows_the_stored_levels():
    siblings = []
    for name, level in (("a", 5), ("b", 0), ("c", 10), ("d", 5), ("e", 0), ("f", 16)):
        insert_child(siblings, name, level)
    assert [name for name, _level in siblings] == ["b", "e", "f", "c", "a", "d"]


def test_the_measured_application_channel_traces():
    """Measured on Wazuh 4.7.5 and 4.9.2 (issue 7): a level-10 child of 60003 loaded after
    the stock rules is reached for ERROR events only; WARNING and INFORMATION events end on
    the level-0 stock children 60601 and 60600."""
    ours = rule(100240, 10, parents=[60003], fields=[("win.system.providerName", "^Contoso$", False)])
    assert trace(route([ours], application("WARNING"), LISTS)) == "60000 > 60003 > 60601"
    assert trace(route([ours], application("INFORMATION"), LISTS)) == "60000 > 60003 > 60600"
    assert trace(route([ours], application("ERROR"), LISTS)) == "60000 > 60003 > 100240"
    # a level-8 child comes after 60602 (level 9), which takes the ERROR event
    lower = rule(100240, 8, parents=[60003], fields=[("win.system.providerName", "^Contoso$", False)])
    assert trace(route([lower], application("ERROR"), LISTS)) == "60000 > 60003 > 60602"


def test_event_log_parents_reach_every_severity():
    ours = rule(100240, 10, parents=event_log_parents("Application"), fields=[("win.system.eventID", "^6$", False)])
    for severity in ("INFORMATION", "WARNING", "ERROR", "CRITICAL", "AUDIT_SUCCESS", "VERBOSE"):
        assert winner([ours], application(severity), LISTS) is ours, severity


def test_level_zero_stock_children_of_61603_end_an_event_silently():
    parent = "C:\\\\Windows\\\\System32\\\\wbem\\\\WmiPrvSE.exe"
    only_61603 = rule(1, 10)
    assert trace(route([only_61603], sysmon(parentImage=parent), LISTS)) == "60000 > 60004 > 61600 > 61603 > 92069"
    also_92069 = rule(1, 10, parents=[61603, 92069])
    assert winner([also_92069], sysmon(parentImage=parent), LISTS) is also_92069


def test_first_matching_child_wins_else_the_parent():
    parent = rule(10, 0, parents=[], decoded_as="json", fields=[("integration", "^x$", False)])
    child_a = rule(11, 5, parents=[10], fields=[("kind", "^a$", False)])
    child_b = rule(12, 5, parents=[10])
    rules = [parent, child_a, child_b]
    assert winner(rules, {"integration": "x", "kind": "a"}, LISTS) is child_a
    assert winner(rules, {"integration": "x", "kind": "b"}, LISTS) is child_b
    assert winner([parent, child_a], {"integration": "x"}, LISTS) is parent
    assert winner(rules, {"integration": "y"}, LISTS) is None
    # a json rule never sees an eventchannel event
    assert winner(rules, {"integration": "x", "win": {"system": {"providerName": "P"}}}, LISTS) is not parent


def test_rules_only_compete_when_their_stock_parent_was_reached():
    sysmon_rule = rule(1, 5)
    applocker = rule(2, 5, parents=[60010])
    warning = {"win": {"system": {"providerName": "Microsoft-Windows-AppLocker", "severityValue": "WARNING"}}}
    assert winner([sysmon_rule, applocker], warning, LISTS) is applocker
    assert winner([sysmon_rule, applocker], sysmon(), LISTS) is sysmon_rule


def test_hex_escapes_match_utf8_bytes():
    accented = rule(1, 5, fields=[("win.eventdata.company", "^Soci\\x{c3}\\x{a9}t\\x{c3}\\x{a9}$", False)])
    e = event(company="Société")
    assert rule_matches(accented, e, compact_json(e), LISTS, "json")

"""The engine model: absent fields, negate, child order by level, first matching child wins."""

from __future__ import annotations

from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_engine import (
    compact_json,
    field_value,
    rule_matches,
    winner,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_rules import Rule

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


def test_higher_level_sibling_is_tried_first_then_file_order():
    low = rule(1, 3)
    high = rule(2, 9)
    same_level_later = rule(3, 9)
    assert winner([low, high, same_level_later], event(), {61603}, LISTS) is high
    assert winner([low, same_level_later, high], event(), {61603}, LISTS) is same_level_later


def test_first_matching_child_wins_else_the_parent():
    parent = rule(10, 0, parents=[], decoded_as="json", fields=[("integration", "^x$", False)])
    child_a = rule(11, 5, parents=[10], fields=[("kind", "^a$", False)])
    child_b = rule(12, 5, parents=[10])
    rules = [parent, child_a, child_b]
    assert winner(rules, {"integration": "x", "kind": "a"}, set(), LISTS) is child_a
    assert winner(rules, {"integration": "x", "kind": "b"}, set(), LISTS) is child_b
    assert winner([parent, child_a], {"integration": "x"}, set(), LISTS) is parent
    assert winner(rules, {"integration": "y"}, set(), LISTS) is None
    assert winner(rules, {"integration": "x"}, set(), LISTS, decoder="windows_eventchannel") is None


def test_rules_only_compete_when_their_stock_parent_was_reached():
    sysmon = rule(1, 5)
    applocker = rule(2, 5, parents=[60010])
    assert winner([sysmon, applocker], event(), {60010}, LISTS) is applocker
    assert winner([sysmon, applocker], event(), set(), LISTS) is None


def test_hex_escapes_match_utf8_bytes():
    accented = rule(1, 5, fields=[("win.eventdata.company", "^Soci\\x{c3}\\x{a9}t\\x{c3}\\x{a9}$", False)])
    e = event(company="Société")
    assert rule_matches(accented, e, compact_json(e), LISTS, "json")

"""Unit and property tests for the pre-flight checks (_wazuh_preflight) and rule tests (_wazuh_ruletests)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_preflight import (
    RuleIndex,
    cdb_keys,
    check_cdb_list,
    check_rules,
    parse_rules,
    summarize,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_ruletests import (
    EVENTCHANNEL,
    OTHER,
    RuleTestError,
    event_kind,
    judge,
    parse_tests,
)

STOCK = RuleIndex(
    ids={60000: "ruleset/rules/base.xml", 60010: "ruleset/rules/base.xml", 61603: "ruleset/rules/sysmon.xml"},
    groups={"windows", "sysmon", "sysmon_event1"},
)
LIST = "etc/lists/m1038-trusted-companies"
OURS = f"""<!-- header -->
<group name="m1038, appcontrol,">
  <rule id="100100" level="0">
    <if_sid>61603</if_sid>
    <description>a</description>
  </rule>
  <rule id="100101" level="10">
    <if_sid>100100</if_sid>
    <list field="win.eventdata.company" lookup="not_match_key">{LIST}</list>
    <group>m1038_untrusted,</group>
    <description>b</description>
  </rule>
  <rule id="100102" level="12">
    <if_group>m1038_untrusted</if_group>
    <description>c</description>
  </rule>
  <rule id="100103" level="3">
    <if_group>sysmon_event1</if_group>
    <if_sid>60010, 61603</if_sid>
    <description>d</description>
  </rule>
</group>
"""


def findings(text, *, existing=STOCK, registered=frozenset({LIST}), present=frozenset({LIST})):
    rules, problems = parse_rules(text, "rules/x.xml")
    return [str(f) for f in problems + check_rules(rules, existing, set(registered), set(present))]


def test_parse_rules_reads_ids_levels_groups_parents_lists_and_lines():
    rules, problems = parse_rules(OURS, "rules/x.xml")
    assert problems == []
    by_id = {r.rule_id: r for r in rules}
    assert [r.rule_id for r in rules] == [100100, 100101, 100102, 100103]
    assert by_id[100100].line == 3
    assert by_id[100101].groups == {"m1038", "appcontrol", "m1038_untrusted"}
    assert by_id[100101].lists == [LIST]
    assert by_id[100103].parent_sids == [60010, 61603]
    assert by_id[100103].parent_groups == ["sysmon_event1"]
    assert summarize(rules)["ids"] == [100100, 100101, 100102, 100103]


def test_good_content_has_no_findings():
    assert findings(OURS) == []


def test_malformed_xml_names_file_line_and_reason():
    result = findings("<group name='x'>\n  <rule id='100100' level='1'>\n</group>\n")
    assert len(result) == 1
    assert result[0].startswith("rules/x.xml line 3: XML is not well-formed: mismatched tag")


def test_missing_parent_sid_and_group_are_reported_with_line():
    text = OURS.replace("<if_sid>61603</if_sid>", "<if_sid>99999</if_sid>", 1).replace(
        "<if_group>m1038_untrusted</if_group>", "<if_group>nope</if_group>"
    )
    assert findings(text) == [
        "rules/x.xml line 3: rule 100100: parent rule 99999 (if_sid) does not exist",
        "rules/x.xml line 13: rule 100102: parent group 'nope' (if_group) has no rule",
    ]


def test_duplicate_and_taken_and_out_of_range_ids():
    text = OURS.replace('id="100102"', 'id="100100"').replace('id="100103"', 'id="60010"')
    result = findings(text.replace('id="100101"', 'id="200000"').replace("<if_sid>100100</if_sid>", ""))
    assert "rules/x.xml line 13: rule id 100100 is defined twice (first in rules/x.xml line 3)" in result
    assert "rules/x.xml line 17: rule id 60010 is already used by ruleset/rules/base.xml" in result
    assert "rules/x.xml line 7: rule id 200000 is outside the custom range 100000..120000" in result


def test_overwrite_needs_an_existing_rule():
    assert (
        findings(
            '<group name="g,"><rule id="60010" level="3" overwrite="yes"><description>x</description></rule></group>'
        )
        == []
    )
    assert findings(
        '<group name="g,"><rule id="100500" level="3" overwrite="yes"><description>x</description></rule></group>'
    ) == ['rules/x.xml line 1: rule 100500 has overwrite="yes" but no rule 100500 exists to overwrite']


def test_list_must_be_registered_and_present():
    assert findings(OURS, registered=frozenset()) == [
        f"rules/x.xml line 7: rule 100101: CDB list {LIST} is not registered in ossec.conf"
    ]
    assert findings(OURS, present=frozenset()) == [f"rules/x.xml line 7: rule 100101: CDB list {LIST} does not exist"]


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ('<rule id="abc" level="1"/>', "rule id 'abc' is not a positive integer"),
        ('<rule id="100100" level="17"/>', "level '17' is not an integer 0..16"),
        ('<rule id="100100" level="1"><if_sid>61603x</if_sid></rule>', "<if_sid> value '61603x' is not a rule id"),
        ('<rule id="100100" level="1"><if_sid>100100</if_sid></rule>', "names itself as its parent"),
    ],
)
def test_bad_rule_attributes(rule, message):
    assert any(message in f for f in findings(f'<group name="g,">{rule}</group>'))


def test_commented_rule_does_not_shift_line_numbers():
    text = (
        '<group name="g,">\n<!-- <rule id="100100" level="1"/> -->\n'
        '<rule id="100100" level="1"><if_sid>60000</if_sid></rule>\n</group>'
    )
    rules = parse_rules(text, "x")[0]
    assert rules[0].line == 3


def test_cdb_list_checks():
    ok = '# Generated by the renderer - no colon here\n\nMicrosoft Corporation:\n"Contoso: Tools":\nk:v\n'
    assert check_cdb_list(ok, "lists/x") == []
    assert cdb_keys(ok) == ["Microsoft Corporation", "Contoso: Tools", "k"]
    problems = [str(f) for f in check_cdb_list('nocolon\n# note: colon\n"open:\n:v\n"q"x\n', "lists/x")]
    assert problems == [
        "lists/x line 1: entry 'nocolon' has no ':' after the key (the engine would drop it)",
        "lists/x line 2: comment line holds ':' and would be read as a key",
        "lists/x line 3: quoted key has no closing quote",
        "lists/x line 4: empty key",
        "lists/x line 5: entry '\"q\"x' has no ':' after the key (the engine would drop it)",
    ]


cdb_key = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters='"\u2028\u2029\x85'),
    min_size=1,
    max_size=40,
).filter(lambda k: k.strip() == k and k)


@given(st.lists(cdb_key, min_size=1, max_size=10, unique=True))
def test_property_quoting_keys_with_colons_yields_a_valid_list_with_the_same_keys(keys):
    # Quote what needs it: a key holding ':' or starting with '#' (unquoted, that line reads as a comment).
    text = "".join((f'"{k}":\n' if ":" in k or k.startswith("#") else f"{k}:\n") for k in keys)
    assert check_cdb_list(text, "lists/p") == []
    assert cdb_keys(text) == keys


key_part = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters='":\u2028\u2029\x85'),
    min_size=1,
    max_size=20,
).filter(lambda k: k.strip() == k)


@given(st.builds(lambda a, b: f"{a}:{b}", key_part, key_part))
def test_property_an_unquoted_key_with_a_colon_is_cut_at_the_colon(key):
    """Why keys holding ':' must be quoted: unquoted, the engine (and this reader) sees another key."""
    assert cdb_keys(f"{key}:\n") == [key.split(":", 1)[0]]
    assert cdb_keys(f'"{key}":\n') == [key]


INI = """; comment
[Untrusted publisher]
log 1 pass = {"win":{"eventdata":{"company":"Evil = Corp"}}}
log 2 fail = {"win":{"eventdata":{"company":"Microsoft Corporation"}}}
rule = 100101
alert = 10
decoder = windows_eventchannel
"""


def test_parse_tests_reads_pass_and_fail_lines():
    cases = parse_tests(INI, "tests/t.ini")
    assert [(c["name"], c["expect_match"]) for c in cases] == [("log 1 pass", True), ("log 2 fail", False)]
    assert cases[0]["event"] == '{"win":{"eventdata":{"company":"Evil = Corp"}}}'
    assert (cases[0]["rule"], cases[0]["level"], cases[0]["decoder"]) == ("100101", "10", "windows_eventchannel")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[s]\nlog 1 pass = x\nalert = 3\n", "'rule' must be a rule id"),
        ("[s]\nlog 1 pass = x\nrule = 1\n", "'alert' must be a level"),
        ("[s]\nrule = 1\nalert = 3\n", "no 'log N pass"),
        ("[s]\nlog 1 pass = x\nrule = 1\nalert = 3\ncolour = red\n", "unknown keys \\['colour'\\]"),
        ("[s]\nlog 1 pass = x\nrule = 1\nalert = 3\n[s]\nlog 1 pass = y\nrule = 1\nalert = 3\n", "already exists"),
    ],
)
def test_parse_tests_errors_name_file_and_section(text, message):
    with pytest.raises(RuleTestError, match=message):
        parse_tests(text, "tests/t.ini")


def test_judge_pass_and_fail_lines():
    case, negative = parse_tests(INI, "t.ini")
    hit = {"rule": {"id": "100101", "level": 10}, "decoder": {"name": "windows_eventchannel"}}
    miss = {"rule": {"id": "100100", "level": 0}, "decoder": {"name": "windows_eventchannel"}}
    assert judge(case, hit)["passed"] is True
    verdict = judge(case, miss)
    assert verdict["passed"] is False
    assert verdict["reason"] == "got rule 100100 (expected 100101), level 0 (expected 10)"
    assert judge(negative, miss)["passed"] is True
    assert judge(negative, hit)["reason"] == "rule 100101 fired but the test expects it not to"
    assert judge(case, {})["reason"].startswith("got rule none")


@pytest.mark.parametrize(
    ("event", "kind"),
    [
        ('{"win":{"system":{"eventID":"1"},"eventdata":{"company":"Evil Corp"}}}', EVENTCHANNEL),
        ('{"win":{}}', EVENTCHANNEL),
        ('{"integration":"withsecure","withsecure":{"action":"blocked"}}', OTHER),
        ('{"data":{"win":{"system":{}}}}', OTHER),  # only a top-level "win" object counts
        ('{"win":"not an object"}', OTHER),
        ('[{"win":{}}]', OTHER),
        ("Jan  1 00:00:00 host sshd[1]: Failed password for root", OTHER),
        ('{"win":{', OTHER),
    ],
)
def test_event_kind_tells_eventchannel_json_from_the_rest(event, kind):
    assert event_kind(event) == kind


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: (
        st.lists(children) | st.dictionaries(st.sampled_from(["win", "withsecure", "data"]) | st.text(), children)
    ),
)


@given(JSON_VALUES)
def test_property_event_kind_is_eventchannel_exactly_for_a_top_level_win_object(value):
    expected = EVENTCHANNEL if isinstance(value, dict) and isinstance(value.get("win"), dict) else OTHER
    assert event_kind(json.dumps(value)) == expected


def test_missing_parent_with_another_parent_left_is_a_warning_like_the_engine():
    """Engine 7617: a missing if_sid ID is skipped; the rule stays under its other parents."""
    rules, problems = parse_rules(
        '<group name="g,"><rule id="100100" level="0"><if_sid>60009, 67019</if_sid>'
        "<description>d</description></rule></group>",
        "rules/x.xml",
    )
    assert problems == []
    existing = RuleIndex()
    existing.ids[60009] = "ruleset/rules/0575.xml"
    findings = check_rules(rules, existing, set(), set())
    assert [(f.severity, "67019" in f.message, "7617" in f.message) for f in findings] == [("warning", True, True)]


def test_all_parents_missing_is_an_error_like_the_engine_dropping_the_rule():
    """Engine 7619: with no parent left the rule is ignored, so detection would be lost."""
    rules, problems = parse_rules(
        '<group name="g,"><rule id="100100" level="5"><if_sid>67019 67020</if_sid>'
        "<description>d</description></rule></group>",
        "rules/x.xml",
    )
    assert problems == []
    findings = check_rules(rules, RuleIndex(), set(), set())
    assert {f.severity for f in findings} == {"error"}
    assert [f.message for f in findings] == [
        "rule 100100: parent rule 67019 (if_sid) does not exist",
        "rule 100100: parent rule 67020 (if_sid) does not exist",
    ]


def rule_with(body, attributes='id="100100" level="5"'):
    return (
        f'<group name="g,"><rule {attributes}><if_sid>60010</if_sid>{body}<description>x</description></rule></group>'
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        # 1. a pcre2 pattern PCRE2 cannot compile (the engine refuses to start)
        ('<field name="win.eventdata.image" type="pcre2">(?i)\\\\+(Users</field>', "does not compile: missing closing"),
        ('<regex type="pcre2">a{2,1}</regex>', "does not compile"),
        ('<match type="PCRE2">\\x{110000}</match>', "does not compile"),
        # 2. an element the rules parser does not know
        ("<feild>x</feild>", "unknown element <feild>"),
        ("<if_sids>60010</if_sids>", "unknown element <if_sids>"),
        # 3. a <field type> the parser does not accept
        ('<field name="win.eventdata.image" type="regex">x</field>', "type must be osmatch, osregex or pcre2"),
        # 4. a <list lookup> the parser does not accept
        ('<list field="x" lookup="match_keys">etc/lists/l</list>', "<list lookup='match_keys'> is not one of"),
        ('<list field="x" lookup="match_key" negate="yes">etc/lists/l</list>', "unknown <list> attribute 'negate'"),
        ('<list lookup="match_key">etc/lists/l</list>', "<list> without a field attribute"),
        ('<field name="srcip">x</field>', "names a static field"),
        ("<options>no_full_logs</options>", "<options> 'no_full_logs' is not one of"),
        ("<category>windowz</category>", "<category> 'windowz' is not one of"),
        ("<same_field>x</same_field>", "without if_matched_sid/group/regex"),
    ],
)
def test_content_the_engine_parser_refuses_is_refused_with_rule_and_reason(body, message):
    result = findings(rule_with(body), registered=frozenset({"etc/lists/l"}), present=frozenset({"etc/lists/l"}))
    matching = [f for f in result if message in f]
    assert matching, result
    assert matching[0].startswith("rules/x.xml line 1: rule 100100: ")


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        ('id="100100" level="5" frequency="1"', "frequency> must be 2..9999"),
        ('id="100100" level="5" timeframe="soon"', "<rule timeframe> must be a number"),
        ('id="100100" level="5" overwrite="maybe"', "overwrite> must be yes or no"),
        ('id="100100" level="5" colour="red"', "unknown <rule> attribute 'colour'"),
    ],
)
def test_rule_attributes_the_engine_refuses(attributes, message):
    assert any(message in f for f in findings(rule_with("", attributes))), findings(rule_with("", attributes))


def test_valid_patterns_of_every_type_and_variables_pass():
    body = (
        '<field name="win.eventdata.image" type="pcre2">(?i)\\\\+(?:Users|Temp)\\\\+</field>'
        '<field name="win.eventdata.company">^Contoso$</field>'
        '<match type="osmatch">x</match><list field="win.eventdata.company" lookup="not_match_key">etc/lists/l</list>'
        "<options>no_full_log</options>"
    )
    assert findings(rule_with(body), registered=frozenset({"etc/lists/l"}), present=frozenset({"etc/lists/l"})) == []
    with_var = (
        '<var name="FREQ">6</var><group name="g,"><rule id="100100" level="5" frequency="$FREQ" timeframe="60">'
        "<if_matched_sid>60010</if_matched_sid><description>x</description></rule></group>"
    )
    assert findings(with_var) == []


def test_structure_outside_rules_is_checked():
    assert any("<rule> outside a <group>" in f for f in findings('<rule id="100100" level="1"/>'))
    assert any("exactly one attribute" in f for f in findings(rule_with("").replace('name="g,"', 'name="g," x="1"')))
    assert any("<decoder> is not allowed" in f for f in findings("<group name='g'><decoder name='x'/></group>"))


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("C:\\Tools\\x.exe:1", "is ambiguous: the engine reads key 'C' and value '\\\\Tools\\\\x.exe:1'"),
        ("Contoso: Tools:", "is ambiguous: the engine reads key 'Contoso'"),
    ],
)
def test_cdb_line_with_an_unquoted_key_and_a_colon_in_the_value_is_an_error(line, message):
    problems = [str(f) for f in check_cdb_list(f"{line}\n", "lists/x")]
    assert len(problems) == 1
    assert message in problems[0]
    assert "quote it" in problems[0]
    assert check_cdb_list('"Contoso: Tools":\nkey:"a:b"\n', "lists/x") == []

"""The Sysmon configuration renderer and validator: good and bad configs, public shapes, property tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.m1038.appcontrol.plugins.module_utils._sysmon_config import (
    HEADER,
    Builtin,
    ConfigInputError,
    escape_attr,
    escape_text,
    parse,
    render_builtin,
    validate,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._sysmon_schema import get_schema

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "sysmon" / "configs"
PROJECT = Path(__file__).resolve().parents[4]
PUBLIC = Path(os.environ.get("M1038_REFERENCE_DIR", PROJECT.parent / "shared" / "reference")) / "sysmon-configs"
WAZUH_AGENT = r"C:\Program Files (x86)\ossec-agent\wazuh-agent.exe"


def builtin(**overrides) -> Builtin:
    settings = {
        "schemaversion": "4.90",
        "hash_algorithms": ["SHA256", "IMPHASH"],
        "check_revocation": True,
        "dns_lookup": False,
        "archive_directory": "",
        "process_create_exclusions": [],
        "events": {},
    }
    settings.update(overrides)
    return Builtin(**settings)


def config(body: str, schema: str = "4.90") -> bytes:
    return f'<Sysmon schemaversion="{schema}">\n  <EventFiltering>\n{body}\n  </EventFiltering>\n</Sysmon>\n'.encode()


def event(tag: str, onmatch: str, *filters: str) -> str:
    """An event block of ``config``'s body: one filter per line."""
    if not filters:
        return f'    <{tag} onmatch="{onmatch}"/>'
    inner = "\n".join(f"      {f}" for f in filters)
    return f'    <{tag} onmatch="{onmatch}">\n{inner}\n    </{tag}>'


def sysmon(*children: str, schema: str = "4.90") -> bytes:
    """A whole document, one child of <Sysmon> per line."""
    return "\n".join([f'<Sysmon schemaversion="{schema}">', *(f"  {c}" for c in children), "</Sysmon>"]).encode()


def check(data: bytes, **kwargs):
    kwargs.setdefault("source", "test.xml")
    return validate(data, **kwargs)


# --- the role's own configuration -----------------------------------------------------------


def test_default_config_logs_every_process_and_names_every_event_type():
    text, warnings = render_builtin(builtin())
    assert warnings == []
    assert text.startswith(HEADER + "\n")
    result = check(text.encode(), max_schema="4.90", require_all_processes=True)
    assert result.ok, result.messages()
    assert result.warnings == []
    assert result.process_create == "every process, minus exclusions"
    assert result.summary()["events"]["ProcessCreate"] == ["exclude"]
    # every other event type is written out, off (an empty include)
    others = {name for name in get_schema("4.90").events if name != "ProcessCreate"}
    assert set(result.events) - {"ProcessCreate"} == others
    assert all(blocks == [("include", 0)] for name, blocks in result.events.items() if name in others)


def test_render_is_deterministic():
    assert render_builtin(builtin())[0] == render_builtin(builtin())[0]


def test_exclusions_and_groups_render_as_or_alternatives():
    exclusions = [
        {"field": "ParentImage", "value": WAZUH_AGENT, "name": "wazuh-agent children"},
        {
            "all": [
                {"field": "Image", "condition": "end with", "value": r"\netsh.exe"},
                {"field": "User", "value": "NT AUTHORITY\\SYSTEM"},
            ]
        },
        {"any": [{"field": "CommandLine", "condition": "contains", "value": "--type=renderer"}], "name": "browsers"},
    ]
    text, _warnings = render_builtin(builtin(process_create_exclusions=exclusions))
    assert '<RuleGroup groupRelation="or">\n      <ProcessCreate onmatch="exclude">' in text
    assert f'<ParentImage name="wazuh-agent children" condition="is">{WAZUH_AGENT}</ParentImage>' in text
    assert '<Rule groupRelation="and">' in text and '<Rule name="browsers" groupRelation="or">' in text
    result = check(text.encode(), require_all_processes=True)
    assert result.ok and result.rules == 4
    assert result.process_create == "every process, minus exclusions"


def test_other_events_include_exclude_and_log_all():
    events = {
        "NetworkConnect": {
            "include": [{"field": "DestinationPort", "value": "443"}],
            "exclude": [{"field": "Image", "value": "a"}],
        },
        "DriverLoad": {"exclude": []},
    }
    text, _warnings = render_builtin(builtin(events=events))
    result = check(text.encode())
    assert result.ok
    assert result.events["NetworkConnect"] == [("include", 1), ("exclude", 1)]
    assert result.events["DriverLoad"] == [("exclude", 0)]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"process_create_exclusions": [{"field": "Imagee", "value": "x"}]},
            r"process_create_exclusions\[0\]\.field.*did you mean Image",
        ),
        (
            {"process_create_exclusions": [{"field": "Image", "condition": "begins with", "value": "x"}]},
            r"\[0\]\.condition",
        ),
        (
            {"process_create_exclusions": [{"field": "Image", "value": "bad\x01"}]},
            r"\[0\]\.value holds a control character",
        ),
        ({"process_create_exclusions": [{"field": "Image", "value": "  "}]}, r"\[0\]\.value is empty"),
        ({"process_create_exclusions": [{"field": "Image", "value": 3.5}]}, r"\[0\]\.value must be a string"),
        ({"process_create_exclusions": [{"field": "Image", "valeu": "x"}]}, r"unknown key\(s\) valeu"),
        ({"process_create_exclusions": [{"all": []}]}, r"\[0\]\.all must be a non-empty list"),
        ({"process_create_exclusions": ["Image"]}, r"\[0\] must be a mapping"),
        ({"events": {"ProcessCreate": {"exclude": []}}}, "use process_create_exclusions"),
        ({"events": {"NetworkConect": {"include": []}}}, "did you mean NetworkConnect"),
        ({"events": {"NetworkConnect": {"log": []}}}, "include and/or exclude"),
        ({"hash_algorithms": ["SHA512"]}, "hash_algorithms"),
        ({"schemaversion": "4.85"}, "not in the table"),
        (
            {
                "schemaversion": "4.21",
                "dns_lookup": True,
                "process_create_exclusions": [{"all": [{"field": "Image", "value": "x"}]}],
            },
            "all/any groups need schemaversion 4.22",
        ),
        ({"schemaversion": "4.23", "dns_lookup": False}, "DnsLookup is not an option of schema 4.23"),
    ],
)
def test_bad_settings_name_the_setting(overrides, message):
    with pytest.raises(ConfigInputError, match=message):
        render_builtin(builtin(**overrides))


def test_blocking_events_warn():
    events = {
        "FileBlockExecutable": {
            "include": [{"field": "TargetFilename", "condition": "begin with", "value": "C:\\Users\\"}]
        }
    }
    _text, warnings = render_builtin(builtin(events=events))
    assert warnings and "BLOCKS" in warnings[0]


# --- validator: bad configurations ----------------------------------------------------------


def only_error(result):
    assert not result.ok
    assert len(result.errors) == 1, result.messages()
    return result.errors[0]


def test_unknown_field_names_line_element_and_event():
    data = config('    <ProcessCreate onmatch="exclude">\n      <Imag condition="is">x</Imag>\n    </ProcessCreate>')
    finding = only_error(check(data))
    assert (finding.line, finding.element) == (4, "Imag")
    assert "not a field of ProcessCreate (event 1) in schema 4.90 (did you mean Image?)" in finding.reason
    assert check(data).messages()[0].startswith("test.xml:4: <Imag>: ")


def test_field_of_another_event():
    data = config(
        '    <ProcessCreate onmatch="exclude">\n      <Signature condition="is">x</Signature>\n    </ProcessCreate>'
    )
    assert "not a field of ProcessCreate" in only_error(check(data)).reason


def test_wrong_condition():
    data = config(
        '    <ProcessCreate onmatch="exclude">\n      <Image condition="starts with">x</Image>\n    </ProcessCreate>'
    )
    finding = only_error(check(data))
    assert finding.line == 4 and "condition 'starts with' is not one of schema 4.90's" in finding.reason


def test_condition_added_later_is_refused_on_an_older_schema():
    body = event("ProcessCreate", "exclude", '<Image condition="not begin with">x</Image>')
    data = config(body, "4.60")
    assert "condition 'not begin with'" in only_error(check(data)).reason
    assert check(config(body, "4.70")).ok


def test_missing_onmatch():
    finding = only_error(check(config("    <ProcessCreate>\n      <Image>x</Image>\n    </ProcessCreate>")))
    assert (finding.line, finding.element) == (3, "ProcessCreate") and "missing onmatch" in finding.reason


def test_bad_onmatch_and_upper_case_warning():
    assert "onmatch 'both'" in only_error(check(config('    <NetworkConnect onmatch="both"/>'))).reason
    result = check(config('    <NetworkConnect onmatch="Include"/>'))
    assert result.ok and "lower case" in result.warnings[0].reason


def test_schemaversion_above_the_target():
    data = config('    <ProcessCreate onmatch="exclude"/>', "4.90")
    finding = only_error(check(data, max_schema="4.83", max_schema_reason="Sysmon 14.16 loads"))
    assert (finding.line, finding.element) == (1, "Sysmon")
    assert finding.reason == "schemaversion 4.90 is above 4.83, the highest Sysmon 14.16 loads"


def test_event_type_newer_than_the_schema():
    finding = only_error(check(config('    <FileBlockExecutable onmatch="include"/>', "4.81")))
    assert "not an event of schema 4.81" in finding.reason


def test_rule_element_needs_4_22():
    body = event("ProcessCreate", "exclude", '<Rule groupRelation="and"><Image>x</Image></Rule>')
    assert "<Rule> needs schemaversion 4.22" in only_error(check(config(body, "4.21"))).reason
    assert check(config(body, "4.22")).ok


def test_unknown_attributes_and_relations():
    body = '    <RuleGroup groupRelation="xor" nme="a">\n<ProcessCreate onmatch="exclude" extra="1"/>\n</RuleGroup>'
    reasons = [f.reason for f in check(config(body)).errors]
    assert any("groupRelation 'xor'" in r for r in reasons)
    assert any("unknown attribute nme" in r for r in reasons)
    assert any("unknown attribute extra" in r for r in reasons)


def test_unknown_top_level_element_and_bad_hash_algorithms():
    data = sysmon("<HashAlgorithm>sha256</HashAlgorithm>", "<EventFiltering/>")
    finding = only_error(check(data))
    assert finding.line == 2 and "did you mean HashAlgorithms" in finding.reason
    data = sysmon("<HashAlgorithms>sha256,crc32</HashAlgorithms>", "<EventFiltering/>")
    assert "crc32" in only_error(check(data)).reason


def test_rule_switch_as_top_level_element_is_a_warning():
    data = sysmon("<ImageLoad/>", '<EventFiltering><ProcessCreate onmatch="exclude"/></EventFiltering>')
    result = check(data)
    assert result.ok and "command-line rule switch" in result.warnings[0].reason


def test_not_well_formed_names_the_line():
    data = sysmon("<EventFiltering>", '  <ProcessCreate onmatch="exclude">', "</EventFiltering>")
    finding = only_error(check(data))
    assert finding.line == 4 and finding.element == "document" and "not well-formed" in finding.reason


def test_a_dtd_is_refused():
    """No DOCTYPE, so no entity expansion (billion laughs) and no external entities."""
    data = (
        b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>\n'
        b'<Sysmon schemaversion="4.90"><EventFiltering><ProcessCreate onmatch="exclude"><Image>&lol2;</Image>'
        b"</ProcessCreate></EventFiltering></Sysmon>"
    )
    finding = only_error(check(data))
    assert finding.element == "!DOCTYPE" and finding.line == 2


def test_root_and_schemaversion_problems():
    assert "root element must be <Sysmon>" in only_error(check(b"<sysmon/>")).reason
    assert "missing schemaversion" in only_error(check(b"<Sysmon><EventFiltering/></Sysmon>")).reason
    assert "3.x" in only_error(check(b'<Sysmon schemaversion="3.40"/>')).reason


def test_include_based_process_create_fails_the_policy_or_warns():
    body = event("ProcessCreate", "include", '<Image condition="end with">\\cmd.exe</Image>')
    finding = only_error(check(config(body), require_all_processes=True))
    assert finding.element == "ProcessCreate" and finding.line == 3 and "include-based" in finding.reason
    result = check(config(body))
    assert result.ok and "include-based" in result.warnings[0].reason
    assert (
        "not configured"
        in only_error(check(config('    <DriverLoad onmatch="include"/>'), require_all_processes=True)).reason
    )


# --- validator: public configuration shapes -------------------------------------------------


def test_swiftonsecurity_shaped_config():
    result = check(
        (FIXTURES / "swiftonsecurity-shaped.xml").read_bytes(), max_schema="4.90", require_all_processes=True
    )
    assert result.ok, result.messages()
    assert result.table_schema == "4.50" and result.rules == 19
    assert "FileCreateStreamHash" in result.events  # an event block outside any RuleGroup


def test_modular_shaped_config():
    data = (FIXTURES / "modular-shaped.xml").read_bytes()
    result = check(data, max_schema="4.90")
    assert result.ok, result.messages()
    assert result.events["ProcessCreate"] == [("include", 5), ("exclude", 3)]
    assert any("BLOCKS" in w.reason for w in result.warnings)
    assert not check(data, max_schema="4.90", require_all_processes=True).ok
    assert "above 4.83" in check(data, max_schema="4.83").errors[0].reason


@pytest.mark.skipif(not PUBLIC.is_dir(), reason=f"public configurations not present at {PUBLIC} (clean clone)")
@pytest.mark.parametrize(
    ("name", "schema", "logs_all"),
    [
        ("SwiftOnSecurity-sysmon-config_sysmonconfig-export.xml", "4.50", True),
        ("olafhartong-sysmon-modular_sysmonconfig-excludes-only.xml", "4.90", True),
        ("olafhartong-sysmon-modular_sysmonconfig.xml", "4.90", False),
    ],
)
def test_real_public_configs(name, schema, logs_all):
    data = (PUBLIC / name).read_bytes()
    result = check(data, max_schema="4.91")
    assert result.ok, result.messages()
    assert result.table_schema == schema and result.rules > 700
    assert check(data, max_schema="4.91", require_all_processes=True).ok is logs_all


# --- properties -----------------------------------------------------------------------------

XML_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\ufffe\uffff"), min_size=1
).filter(lambda t: t.strip() and not any(ord(c) < 32 and c not in "\t\n\r" for c in t))


@given(value=XML_TEXT, name=XML_TEXT)
def test_any_value_round_trips_through_render_and_parse(value, name):
    """What the user wrote is exactly what Sysmon reads back, whatever it holds (&, <, quotes, newlines)."""
    exclusions = [{"field": "CommandLine", "condition": "contains", "value": value, "name": name}]
    text, _warnings = render_builtin(builtin(process_create_exclusions=exclusions))
    root = parse(text.encode("utf-8"))
    event = root.children[-1].children[0].children[0]
    (field,) = event.children
    # XML normalises a literal CR in text to LF; everything else comes back byte for byte
    assert field.text == value.replace("\r\n", "\n").replace("\r", "\n")
    assert field.attrs == {"name": name, "condition": "contains"}
    assert check(text.encode("utf-8")).ok


@given(st.text())
def test_escapes_leave_no_markup(text):
    assert "<" not in escape_text(text) and ">" not in escape_text(text)
    escaped = escape_attr(text)
    assert '"' not in escaped and "\n" not in escaped and "<" not in escaped


@given(st.binary(max_size=400))
def test_the_validator_never_raises_on_arbitrary_bytes(data):
    result = validate(data, source="fuzz")
    assert result.ok or all(f.line >= 0 and f.reason for f in result.errors)


@given(st.integers(0, 40))
def test_findings_point_at_the_offending_line(blank_lines):
    data = config("\n" * blank_lines + '    <ProcessCreate onmatch="exclude"><Imagee>x</Imagee></ProcessCreate>')
    assert only_error(check(data)).line == 3 + blank_lines

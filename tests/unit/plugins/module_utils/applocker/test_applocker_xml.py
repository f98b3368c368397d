"""AppLocker XML: deterministic rendering, stable Ids, the two variants, reading what Windows tools write."""

from __future__ import annotations

import uuid

import pytest

from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_core import (
    AppLockerError,
    PathCondition,
    PublisherCondition,
    Rule,
    rule_id,
    variant,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_model import parse_model
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_xml import (
    decode_policy,
    parse_policy,
    render_policy,
    xsd_errors,
)

from .strategies import policy_bytes

CONTOSO = "O=CONTOSO LTD, L=SEATTLE, S=WASHINGTON, C=US"

MODEL = {
    "Exe": {
        "mode": "enforce",
        "default_rules": True,
        "rules": [
            {"name": "Contoso", "publisher": CONTOSO, "product": "CONTOSO TOOLS", "version": {"low": "2.0.0.0"}},
            {"name": "Tools", "path": "%OSDRIVE%\\Tools\\*", "exceptions": [{"path": "%OSDRIVE%\\Tools\\Drop\\*"}]},
            {"name": "Old tool", "hash": {"data": "0x" + "12" * 32, "file": "old.exe", "length": 42}, "action": "deny"},
        ],
    },
    "Script": {"mode": "enforce", "default_rules": True},
    "Msi": {"mode": "audit", "default_rules": True},
    "Appx": {"mode": "enforce", "default_rules": True},
}


def test_the_same_model_gives_byte_identical_xml_whatever_the_rule_order():
    first = render_policy(parse_model(MODEL))
    assert render_policy(parse_model(MODEL)) == first
    shuffled = {name: dict(value) for name, value in reversed(MODEL.items())}
    shuffled["Exe"]["rules"] = list(reversed(MODEL["Exe"]["rules"]))
    assert render_policy(parse_model(shuffled)) == first
    assert first.startswith('<?xml version="1.0" encoding="utf-8"?>\n<AppLockerPolicy Version="1">\n')
    assert (
        first.index('Type="Exe"') < first.index('Type="Msi"') < first.index('Type="Script"') < first.index('Type="Dll"')
    )


def test_rule_ids_are_pinned_uuid5_of_the_rule_content():
    windows = Rule(name="Windows", condition=PathCondition("%WINDIR%\\*"))
    # Pinned: changing the Id scheme changes every deployed rule's Id, on purpose only.
    assert rule_id("Exe", windows) == "f4feaef2-11fb-5616-9f3e-10d89d12264e"
    namespace = uuid.uuid5(uuid.NAMESPACE_URL, "https://m1038-appcontrol.invalid/applocker/rule-id/v1")
    canonical = '["Exe","path","Allow","S-1-1-0",["path","%WINDIR%\\\\*"]]'
    assert rule_id("Exe", windows) == str(uuid.uuid5(namespace, canonical))
    same = Rule(
        name="Other name", condition=PathCondition("%windir%\\*"), description="d", exceptions=(PathCondition("x"),)
    )
    assert rule_id("Exe", same) == rule_id("Exe", windows)
    assert rule_id("Script", windows) != rule_id("Exe", windows)
    assert rule_id("Exe", Rule(name="Windows", condition=PathCondition("%WINDIR%\\*"), action="Deny")) != rule_id(
        "Exe", windows
    )
    assert rule_id("Exe", Rule(name="Windows", condition=PathCondition("%WINDIR%\\*"), sid="S-1-5-32-545")) != rule_id(
        "Exe", windows
    )
    version = Rule(name="v", condition=PublisherCondition(CONTOSO, low="1.0.0.0"))
    padded = Rule(name="v", condition=PublisherCondition(CONTOSO.lower(), low="01.0.0.000"))
    assert rule_id("Exe", version) == rule_id("Exe", padded)


def test_audit_and_enforce_variants_differ_only_in_enforcement_mode():
    policy = parse_model({**MODEL, "Dll": {"mode": "not_configured", "rules": [{"name": "d", "path": "%WINDIR%\\*"}]}})
    enforce = render_policy(variant(policy, "enforce")).splitlines()
    audit = render_policy(variant(policy, "audit")).splitlines()
    assert len(enforce) == len(audit)
    differing = [(a, b) for a, b in zip(audit, enforce, strict=True) if a != b]
    assert differing == [
        (
            '  <RuleCollection Type="Exe" EnforcementMode="AuditOnly">',
            '  <RuleCollection Type="Exe" EnforcementMode="Enabled">',
        ),
        (
            '  <RuleCollection Type="Script" EnforcementMode="AuditOnly">',
            '  <RuleCollection Type="Script" EnforcementMode="Enabled">',
        ),
        # Windows enforces a NotConfigured collection that has rules: the audit variant must not.
        (
            '  <RuleCollection Type="Dll" EnforcementMode="AuditOnly">',
            '  <RuleCollection Type="Dll" EnforcementMode="NotConfigured">',
        ),
        (
            '  <RuleCollection Type="Appx" EnforcementMode="AuditOnly">',
            '  <RuleCollection Type="Appx" EnforcementMode="Enabled">',
        ),
    ]


def test_values_round_trip_through_escaping():
    name = "A & B <\"quoted\"> 'single'"
    description = "tab\there\r\nnew line & more"
    policy = parse_model(
        {
            "Exe": {
                "rules": [
                    {"name": name, "description": description, "publisher": 'O="AT&T, INC.", C=US', "product": "<P>"}
                ]
            }
        }
    )
    text = render_policy(policy)
    assert "&#x9;" in text and "&#xD;&#xA;" in text
    (back,) = parse_policy(text).collections["Exe"].rules
    assert (back.name, back.description, back.condition.publisher, back.condition.product) == (
        name,
        description,
        'O="AT&T, INC.", C=US',
        "<P>",
    )
    assert xsd_errors(text) == []


def test_rendered_policies_are_xsd_valid():
    policy = parse_model(MODEL)
    assert xsd_errors(render_policy(policy)) == []
    assert xsd_errors(render_policy(variant(policy, "audit"))) == []


@pytest.mark.parametrize(
    ("name", "counts"),
    [
        ("aaronlocker-shaped-base.xml", {"Exe": 3, "Msi": 2, "Script": 2, "Dll": 4, "Appx": 1}),
        ("deny-old-tool.xml", {"Exe": 1}),
        ("sync-initial-install.xml", {"Script": 1, "Dll": 3, "Exe": 1}),
    ],
)
def test_public_policy_shapes_read_and_validate(name, counts):
    data = policy_bytes(name)
    policy = parse_policy(data, name)
    assert {n: len(c.rules) for n, c in policy.collections.items()} == counts
    assert xsd_errors(data, name) == []
    # reading our own rendering of it gives the same policy back
    again = parse_policy(render_policy(policy))
    assert render_policy(again) == render_policy(policy)


def test_aaronlocker_shape_details():
    policy = parse_policy(policy_bytes("aaronlocker-shaped-base.xml"))
    windows = next(r for r in policy.collections["Exe"].rules if r.name == "Windows folder")
    assert PathCondition("%WINDIR%\\Tasks:*") in windows.exceptions
    assert any(isinstance(e, PublisherCondition) and e.binary == "MSHTA.EXE" for e in windows.exceptions)
    deny = next(r for r in policy.collections["Dll"].rules if r.name == "No PowerShell 2")
    assert (deny.action, deny.condition.high, deny.id) == ("Deny", "9.9.9.9", "3f371c47-c069-49d0-a083-dfeb4fd4cc73")
    assert policy.collections["Exe"].rules[0].id == "55BC0E78-BDFB-467F-9EAC-69AE51C74FF0"
    sync = parse_policy(policy_bytes("sync-initial-install.xml"))
    (hash_rule,) = sync.collections["Script"].rules
    assert hash_rule.condition.hashes[0].source_length == 4211
    assert "\r\n" in sync.collections["Dll"].rules[0].description


@pytest.mark.parametrize(
    "encode",
    [
        lambda t: t.encode("utf-8"),
        lambda t: b"\xef\xbb\xbf" + t.encode("utf-8"),
        lambda t: b"\xff\xfe" + t.encode("utf-16-le"),
        lambda t: b"\xfe\xff" + t.encode("utf-16-be"),
        lambda t: t.encode("utf-16-le"),
        lambda t: t.encode("utf-16-be"),
        lambda t: t,
        lambda t: "\ufeff" + t.replace("utf-8", "utf-16"),
    ],
    ids=["utf8", "utf8-bom", "utf16le-bom", "utf16be-bom", "utf16le", "utf16be", "str", "str-declared-utf16"],
)
def test_every_encoding_reads_the_same(encode):
    text = render_policy(parse_model(MODEL))
    assert render_policy(parse_policy(encode(text))) == text


@pytest.mark.parametrize(
    ("xml", "message"),
    [
        ('<!DOCTYPE x [<!ENTITY a "b">]><AppLockerPolicy Version="1"/>', "a DTD or entity declaration is not accepted"),
        ("<AppLockerPolicy Version='1'>", "not well-formed XML"),
        ("<Policy/>", "the root element is Policy, not AppLockerPolicy"),
        ("<AppLockerPolicy/>", "AppLockerPolicy: attribute Version is missing"),
        (
            '<AppLockerPolicy Version="1"><RuleCollection Type="Exe"><Rule/></RuleCollection></AppLockerPolicy>',
            "RuleCollection[@Type='Exe']: unexpected element Rule",
        ),
        (
            '<AppLockerPolicy Version="1"><RuleCollection Type="Exe"/><RuleCollection Type="Exe"/></AppLockerPolicy>',
            "RuleCollection[@Type='Exe']: the collection appears twice",
        ),
        (
            '<AppLockerPolicy Version="1"><RuleCollection Type="Exe"><FilePathRule Id="i" Name="n" Description="" '
            'UserOrGroupSid="S-1-1-0" Action="Allow"><Conditions><FileHashCondition><FileHash Type="SHA1" Data="0x00"/>'
            "</FileHashCondition></Conditions></FilePathRule></RuleCollection></AppLockerPolicy>",
            "FilePathRule[@Id='i']: a FilePathRule holds a hash condition",
        ),
        (
            '<AppLockerPolicy Version="1"><RuleCollection Type="Exe"><FilePathRule Id="i" Name="n" Description="" '
            'Action="Allow"><Conditions><FilePathCondition Path="*"/></Conditions></FilePathRule></RuleCollection>'
            "</AppLockerPolicy>",
            "FilePathRule[@Id='i']: attribute UserOrGroupSid is missing",
        ),
    ],
)
def test_unreadable_policies_name_the_element(xml, message):
    with pytest.raises(AppLockerError) as exc:
        parse_policy(xml, "host.xml")
    assert str(exc.value).startswith("host.xml")
    assert message in str(exc.value)


def test_xsd_errors_name_line_and_path():
    text = render_policy(parse_model(MODEL)).replace('Action="Deny"', 'Action="Block"')
    errors = xsd_errors(text, "enforce.xml")
    assert len(errors) == 1
    assert errors[0].startswith("enforce.xml:")
    assert "/AppLockerPolicy/RuleCollection[1]/FileHashRule" in errors[0]
    assert "'Block' is not an element of the set {'Allow', 'Deny'}" in errors[0]


def test_decode_refuses_bytes_that_are_no_text():
    with pytest.raises(AppLockerError, match="neither UTF-8 nor UTF-16"):
        decode_policy(b"<A\xff\xfe\xfd/>")

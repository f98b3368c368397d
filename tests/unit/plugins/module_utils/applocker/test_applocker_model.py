"""The AppLocker policy model: what it accepts, and errors that name the value and where it is."""

from __future__ import annotations

import pytest

from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_core import (
    COLLECTIONS,
    AppLockerError,
    HashCondition,
    PathCondition,
    PublisherCondition,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_model import parse_model

CONTOSO = "O=CONTOSO LTD, L=SEATTLE, S=WASHINGTON, C=US"
SHA256 = "0x" + "AB" * 32


def rule(**fields):
    return {"name": "r", **fields}


def only_rule(model):
    policy = parse_model(model)
    (name,) = [n for n, c in policy.collections.items() if c.rules]
    (found,) = policy.collections[name].rules
    return found


def test_every_collection_is_present_and_left_out_ones_are_not_configured_and_empty():
    policy = parse_model({"Exe": {"mode": "enforce", "rules": [rule(path="%WINDIR%\\*")]}})
    assert list(policy.collections) == list(COLLECTIONS)
    assert policy.collections["Exe"].mode == "Enabled"
    for name in ("Msi", "Script", "Dll", "Appx"):
        assert policy.collections[name].mode == "NotConfigured"
        assert policy.collections[name].rules == []


@pytest.mark.parametrize(
    ("mode", "xml"), [("audit", "AuditOnly"), ("enforce", "Enabled"), ("not_configured", "NotConfigured")]
)
def test_modes(mode, xml):
    assert parse_model({"Msi": {"mode": mode}}).collections["Msi"].mode == xml


def test_a_listed_collection_defaults_to_audit_and_collection_names_ignore_case():
    assert parse_model({"exe": {}}).collections["Exe"].mode == "AuditOnly"


def test_default_rules_per_collection():
    policy = parse_model({name: {"default_rules": True} for name in COLLECTIONS})
    counts = {name: len(c.rules) for name, c in policy.collections.items()}
    assert counts == {"Exe": 3, "Msi": 3, "Script": 3, "Dll": 3, "Appx": 1}
    exe = {r.condition.path: r.sid for r in policy.collections["Exe"].rules}
    assert exe == {"*": "S-1-5-32-544", "%PROGRAMFILES%\\*": "S-1-1-0", "%WINDIR%\\*": "S-1-1-0"}
    (appx,) = policy.collections["Appx"].rules
    assert appx.condition == PublisherCondition("*", "*", "*", "0.0.0.0", "*")  # noqa: S104 - a file version
    assert all(r.origin == "default rule" and r.id for c in policy.collections.values() for r in c.rules)


def test_publisher_rule_with_everything():
    found = only_rule(
        {
            "Exe": {
                "rules": [
                    rule(
                        publisher=CONTOSO,
                        product="CONTOSO TOOLS",
                        binary="TOOL.EXE",
                        version={"low": "2.0.0.0", "high": "*"},
                        action="Deny",
                        sid="s-1-5-32-545",
                        description="line one\nline two",
                        exceptions=[{"path": "%OSDRIVE%\\Tools\\*"}, {"hash": SHA256.lower()}],
                    )
                ]
            }
        }
    )
    assert found.condition == PublisherCondition(CONTOSO, "CONTOSO TOOLS", "TOOL.EXE", "2.0.0.0", "*")
    assert found.action == "Deny"
    assert found.sid == "S-1-5-32-545"
    assert found.description == "line one\nline two"
    assert found.exceptions[0] == PathCondition("%OSDRIVE%\\Tools\\*")
    assert isinstance(found.exceptions[1], HashCondition)
    assert found.exceptions[1].hashes[0].data == SHA256
    assert found.origin == "model Exe.rules[0]"


def test_hash_rule_forms():
    found = only_rule(
        {
            "Script": {
                "rules": [
                    rule(
                        hash=[
                            {"data": "ab" * 20, "type": "SHA1", "file": "a.ps1", "length": 10},
                            {"data": SHA256, "type": "SHA256Flat"},
                        ]
                    )
                ]
            }
        }
    )
    assert [h.type for h in found.condition.hashes] == ["SHA1", "SHA256Flat"]
    assert found.condition.hashes[0].data == "0x" + "AB" * 20
    assert found.condition.hashes[0].source_name == "a.ps1"
    assert found.condition.hashes[0].source_length == 10


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ({"Exee": {}}, "model: 'Exee' is not a rule collection; the collections are Exe, Msi, Script, Dll, Appx"),
        ({"Exe": {}, "exe": {}}, "model: collection Exe is given twice ('exe')"),
        ({"Exe": {"mode": "enforced"}}, "model Exe.mode: 'enforced' is not one of audit, enforce, not_configured"),
        ({"Exe": {"default_rules": "yes"}}, "model Exe.default_rules: 'yes' must be true or false"),
        ({"Exe": {"rule": []}}, "model Exe: unknown key 'rule'"),
        ({"Exe": {"rules": {"name": "x"}}}, "model Exe.rules: expected a list of rules, got dict"),
        ({"Exe": {"rules": [{"path": "*"}]}}, "Exe.rules[0]: name: expected a string, got NoneType None"),
        (
            {"Exe": {"rules": [rule(name="x")]}},
            "Exe.rules[0] ('x'): give exactly one of publisher, path, hash (found none)",
        ),
        (
            {"Exe": {"rules": [rule(name="x", path="*", hash=SHA256)]}},
            "Exe.rules[0] ('x'): give exactly one of publisher, path, hash (found path, hash)",
        ),
        (
            {"Exe": {"rules": [rule(name="x", path="*", product="P")]}},
            "product belongs to a publisher condition, not a path",
        ),
        ({"Exe": {"rules": [rule(name="x", path="*", colour="red")]}}, "Exe.rules[0] ('x'): unknown key 'colour'"),
        (
            {"Exe": {"rules": [rule(name="Tools", path="%USERPROFILE%\\Tools\\*")]}},
            "Exe.rules[0] ('Tools').path: '%USERPROFILE%\\\\Tools\\\\*' uses %USERPROFILE%; AppLocker expands only",
        ),
        (
            {"Exe": {"rules": [rule(name="x", path="C:\\Tools\\%WINDIR%\\*")]}},
            "an AppLocker variable must start the path",
        ),
        (
            {"Exe": {"rules": [rule(name="x", path="C:/Tools/*")]}},
            "holds '/', which an AppLocker path cannot (write Windows",
        ),
        (
            {"Exe": {"rules": [rule(name="Contoso", publisher=CONTOSO, version={"low": "1.2"})]}},
            "Exe.rules[0] ('Contoso').version.low: '1.2' is not a file version a.b.c.d or '*'",
        ),
        (
            {"Exe": {"rules": [rule(name="x", publisher=CONTOSO, version={"low": "1.0.0.70000"})]}},
            "version.low: '1.0.0.70000': each section of a file version is at most 65535",
        ),
        (
            {"Exe": {"rules": [rule(name="x", publisher=CONTOSO, version={"low": "2.0.0.0", "high": "1.0.0.0"})]}},
            "version: low 2.0.0.0 is above high 1.0.0.0",
        ),
        (
            {"Exe": {"rules": [rule(name="x", publisher=CONTOSO, version="1.0.0.0")]}},
            "version: '1.0.0.0' must be '*' or",
        ),
        ({"Exe": {"rules": [rule(name="x", publisher="")]}}, "Exe.rules[0] ('x').publisher: must not be empty"),
        (
            {"Exe": {"rules": [rule(name="x", path="*", sid="Everyone")]}},
            "Exe.rules[0] ('x'): sid: 'Everyone' is not a SID",
        ),
        (
            {"Exe": {"rules": [rule(name="x", path="*", action="block")]}},
            "Exe.rules[0] ('x'): action: 'block' is neither",
        ),
        (
            {"Exe": {"rules": [rule(name="x", hash="0x1234")]}},
            "hash[0].data: '0x1234' is not 64 hex digits, as a SHA256",
        ),
        (
            {"Exe": {"rules": [rule(name="x", hash={"data": SHA256, "type": "MD5"})]}},
            "hash[0].type: 'MD5' is not one of",
        ),
        (
            {"Exe": {"rules": [rule(name="x", hash={"data": SHA256, "length": -1})]}},
            "hash[0].length: -1 must be the file size in bytes",
        ),
        (
            {"Exe": {"rules": [rule(name="x", hash=SHA256, exceptions=[{"path": "*"}])]}},
            "Exe.rules[0] ('x'): exceptions: a hash rule cannot have exceptions",
        ),
        (
            {"Exe": {"rules": [rule(name="x", path="*", exceptions=[{"path": "*", "name": "n"}])]}},
            "Exe.rules[0] ('x'): exceptions[0]: unknown key 'name' in an exception",
        ),
        (
            {"Appx": {"rules": [rule(name="x", path="*")]}},
            "Appx.rules[0] ('x'): packaged app (Appx) rules are publisher rules",
        ),
        (
            {"Exe": {"rules": [rule(name="bad\x07name", path="*")]}},
            "holds the character U+0007, which XML cannot carry",
        ),
        ({"Exe": {"rules": [rule(name="x" * 1025, path="*")]}}, "xxx...'): name: 1025 characters, at most 1024"),
    ],
)
def test_bad_models_name_the_value_and_where(model, message):
    with pytest.raises(AppLockerError) as exc:
        parse_model(model)
    assert message in str(exc.value)


def test_duplicate_rules_name_both():
    with pytest.raises(AppLockerError) as exc:
        parse_model(
            {
                "Exe": {
                    "default_rules": True,
                    "rules": [rule(name="Windows again", path="%windir%\\*", description="other text")],
                }
            }
        )
    assert str(exc.value).startswith("model Exe: 'Windows again' (model Exe.rules[0]) is the same rule as ")
    assert "'(Default Rule) All files located in the Windows folder' (default rule)" in str(exc.value)


def test_the_same_rule_in_two_collections_gets_two_ids():
    policy = parse_model(
        {"Exe": {"rules": [rule(path="%OSDRIVE%\\Tools\\*")]}, "Script": {"rules": [rule(path="%OSDRIVE%\\Tools\\*")]}}
    )
    assert policy.collections["Exe"].rules[0].id != policy.collections["Script"].rules[0].id


def test_description_keeps_line_breaks_but_names_do_not():
    found = only_rule({"Exe": {"rules": [rule(path="*", description="a\tb\r\nc")]}})
    assert found.description == "a\tb\r\nc"
    with pytest.raises(AppLockerError):
        parse_model({"Exe": {"rules": [rule(name="a\nb", path="*")]}})

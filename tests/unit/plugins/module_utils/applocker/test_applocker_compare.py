"""Comparing policies by meaning: what normalisation ignores, what it reports, and its properties."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_compare import (
    canonical_xml,
    compare,
    normalise,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_core import AppLockerError, variant
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_model import parse_model
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_xml import (
    parse_policy,
    render_policy,
    xsd_errors,
)

from .strategies import policies, policy_bytes

BASE = policy_bytes("aaronlocker-shaped-base.xml")
SYNC = policy_bytes("sync-initial-install.xml")


def _shuffle(rng, parent):
    children = list(parent)
    rng.shuffle(children)
    for child in children:
        parent.remove(child)
        parent.append(child)
    return children


def _rewrite_rule(rng, rule):
    if rng.random() < 0.5:
        rule.set("Id", rule.get("Id").upper())
    attributes = list(rule.attrib.items())
    rng.shuffle(attributes)
    rule.attrib.clear()
    for key, value in attributes:
        rule.set(key, value)
    exceptions = rule.find("Exceptions")
    if exceptions is None and rule.tag != "FileHashRule" and rng.random() < 0.5:
        etree.SubElement(rule, "Exceptions")
    elif exceptions is not None:
        _shuffle(rng, exceptions)
    if rng.random() < 0.3:
        rule.insert(0, etree.Comment(" a comment "))


def _encode(rng, body: str) -> bytes | str:
    encoding = rng.choice(["utf-8", "utf-8-bom", "utf-16-le-bom", "utf-16-be", "str"])
    declared = f'<?xml version="1.0" encoding="{"utf-16" if "16" in encoding else "utf-8"}"?>\r\n' + body
    return {
        "utf-8": lambda: declared.encode("utf-8"),
        "utf-8-bom": lambda: b"\xef\xbb\xbf" + declared.encode("utf-8"),
        "utf-16-le-bom": lambda: b"\xff\xfe" + declared.encode("utf-16-le"),
        "utf-16-be": lambda: declared.encode("utf-16-be"),
        "str": lambda: declared,
    }[encoding]()


def permuted(document: bytes | str, seed: int) -> bytes | str:
    """The same policy written differently: order, whitespace, comments, Id and value case, defaults, encoding."""
    rng = random.Random(seed)  # noqa: S311 - reproducible shuffles, not secrets
    root = etree.fromstring(render_policy(parse_policy(document)).encode("utf-8"))
    for coll in _shuffle(rng, root):
        if coll.get("EnforcementMode") == "NotConfigured" and rng.random() < 0.7:
            del coll.attrib["EnforcementMode"]
        rules = _shuffle(rng, coll)
        if not rules and coll.get("EnforcementMode", "NotConfigured") == "NotConfigured" and rng.random() < 0.5:
            root.remove(coll)  # an absent collection is NotConfigured and empty
    for rule in root.iter("FilePathRule", "FilePublisherRule", "FileHashRule"):
        _rewrite_rule(rng, rule)
    for cond in root.iter("FilePathCondition"):
        if rng.random() < 0.5:
            cond.set("Path", cond.get("Path").swapcase())  # AppLocker compares paths case-insensitively
    for cond in root.iter("FileHash"):
        cond.set("Data", "0x" + cond.get("Data")[2:].lower())
    for element in root.iter():
        element.text = element.tail = None
    pretty = rng.random() < 0.5
    body = etree.tostring(root, encoding="unicode", pretty_print=pretty)
    if not pretty and rng.random() < 0.5:
        body = body.replace("><", ">\n\t\t<")
    return _encode(rng, body)


@pytest.mark.parametrize("seed", range(12))
def test_the_same_policy_written_differently_compares_equal(seed):
    other = permuted(BASE, seed)
    assert other != BASE
    diff = compare(BASE, other)
    assert diff.equal, diff.to_dict()
    assert canonical_xml(other) == canonical_xml(BASE)


def test_a_missing_collection_equals_an_empty_not_configured_one():
    empty = (
        '<AppLockerPolicy Version="1"><RuleCollection Type="Dll" EnforcementMode="NotConfigured"/></AppLockerPolicy>'
    )
    assert compare('<AppLockerPolicy Version="1"/>', empty).equal
    audit = empty.replace("NotConfigured", "AuditOnly")
    diff = compare('<AppLockerPolicy Version="1"/>', audit)
    assert diff.collections["Dll"]["mode"] == {"before": "NotConfigured", "after": "AuditOnly"}


def _edit(document, edit):
    root = etree.fromstring(render_policy(parse_policy(document)).encode("utf-8"))
    edit(root)
    return etree.tostring(root)


def test_differences_are_reported_per_collection():
    def change(root):
        root.find("RuleCollection[@Type='Exe']").set("EnforcementMode", "Enabled")
        rules = root.find("RuleCollection[@Type='Script']")
        rules.remove(rules.find("FilePathRule[@Name='Windows folder scripts']"))
        windows = root.find("RuleCollection[@Type='Exe']/FilePathRule[@Name='Windows folder']")
        windows.set("Description", "changed")
        windows.find("Exceptions").append(etree.fromstring('<FilePathCondition Path="%WINDIR%\\Logs\\*"/>'))
        admin = root.find("RuleCollection[@Type='Msi']/FilePathRule[@Name='Installer cache']")
        admin.set("UserOrGroupSid", "S-1-5-32-545")
        added = etree.fromstring(
            '<FilePathRule Id="0d3658c3-19b0-4cb4-be3b-4cf99fc940d5" Name="Tools" Description="" '
            'UserOrGroupSid="S-1-1-0" '
            'Action="Allow"><Conditions><FilePathCondition Path="%OSDRIVE%\\Tools\\*"/></Conditions></FilePathRule>'
        )
        root.find("RuleCollection[@Type='Appx']").append(added)

    diff = compare(BASE, _edit(BASE, change))
    assert not diff.equal
    assert set(diff.collections) == {"Exe", "Msi", "Script", "Appx"}
    assert diff.collections["Exe"]["mode"] == {"before": "AuditOnly", "after": "Enabled"}
    assert diff.collections["Exe"]["changed"] == [
        {
            "id": "dd31edb0-786f-4b45-9b20-e082abd1d902",
            "name": "Windows folder",
            "fields": ["description", "exceptions"],
        }
    ]
    assert diff.collections["Msi"]["changed"][0]["fields"] == ["sid"]
    assert diff.collections["Script"]["removed"] == [
        {"id": "eb5f63da-6108-42ea-b5af-e31b4cc3de05", "name": "Windows folder scripts"}
    ]
    assert diff.collections["Appx"]["added"] == [{"id": "0d3658c3-19b0-4cb4-be3b-4cf99fc940d5", "name": "Tools"}]
    lines = diff.summary()
    assert "Exe: EnforcementMode AuditOnly -> Enabled" in lines
    assert "Exe: ~ Windows folder (dd31edb0-786f-4b45-9b20-e082abd1d902): description, exceptions" in lines
    assert "Appx: + Tools (0d3658c3-19b0-4cb4-be3b-4cf99fc940d5)" in lines


def test_hash_file_metadata_and_name_changes_are_changes():
    def change(root):
        root.find(".//FileHash").set("SourceFileLength", "1")
        root.find("RuleCollection[@Type='Dll']/FilePublisherRule").set("Name", "renamed")

    diff = compare(SYNC, _edit(SYNC, change))
    assert diff.collections["Script"]["changed"][0]["fields"] == ["hash_files"]
    assert diff.collections["Dll"]["changed"][0]["fields"] == ["name"]


def test_extension_and_version_changes():
    plain = '<AppLockerPolicy Version="1"><RuleCollection Type="Exe" EnforcementMode="AuditOnly"/></AppLockerPolicy>'
    extended = plain.replace(
        "/></AppLockerPolicy>",
        "><RuleCollectionExtensions><ThresholdExtensions><Services EnforcementMode='Enabled'/></ThresholdExtensions>"
        "<RedstoneExtensions/></RuleCollectionExtensions></RuleCollection></AppLockerPolicy>",
    )
    assert compare(plain, extended).collections["Exe"]["extensions"]["after"][0] == "RuleCollectionExtensions"
    assert "Exe: RuleCollectionExtensions differ" in compare(plain, extended).summary()
    assert compare(plain, plain.replace('Version="1"', 'Version="2"')).version == {"before": "1", "after": "2"}


def test_an_id_used_twice_in_a_policy_is_an_error():
    text = render_policy(parse_model({"Exe": {"default_rules": True}}))
    first_id = parse_policy(text).collections["Exe"].rules[0].id
    second_id = parse_policy(text).collections["Exe"].rules[1].id
    with pytest.raises(AppLockerError, match="is used twice"):
        normalise(text.replace(second_id, first_id.upper()))


# --- properties -------------------------------------------------------------------------------


@settings(max_examples=80)
@given(policy=policies())
def test_random_models_give_xsd_valid_xml_in_both_variants(policy):
    assert xsd_errors(render_policy(policy)) == []
    assert xsd_errors(render_policy(variant(policy, "audit"))) == []


@settings(max_examples=80)
@given(policy=policies())
def test_normalisation_is_idempotent(policy):
    once = canonical_xml(policy)
    assert canonical_xml(once) == once
    assert normalise(once) == normalise(policy)
    assert normalise(render_policy(policy)) == normalise(policy)


@settings(max_examples=80)
@given(policy=policies(), seed=st.integers(0, 2**32 - 1))
def test_order_whitespace_case_and_encoding_permutations_compare_equal(policy, seed):
    document = render_policy(policy)
    assert compare(document, permuted(document, seed)).equal


@settings(max_examples=50)
@given(policy=policies())
def test_the_variants_differ_only_in_modes(policy):
    diff = compare(policy, variant(policy, "audit"))
    for entry in diff.collections.values():
        assert entry["mode"] is not None
        assert entry["added"] == entry["removed"] == entry["changed"] == []

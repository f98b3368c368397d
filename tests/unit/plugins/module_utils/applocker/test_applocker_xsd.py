"""The project's AppLocker XSD against Microsoft's: the same verdicts on a corpus, stricter where documented.

Microsoft's schema (the AppLocker CSP documentation's "Policy XSD Schema") is not part of the
project. When ``../shared/reference/applocker-policy/`` lies beside the checkout (or
``$M1038_APPLOCKER_REFERENCE_DIR`` names the folder), the comparison tests load it from there;
on a clean clone only those comparisons skip, saying so, and every test of the project's own
schema still runs.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_core import variant
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_model import parse_model
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_xml import render_policy, xsd_errors

from .strategies import POLICY_NAMES, policies, policy_bytes

PROJECT_ROOT = Path(__file__).resolve().parents[5]
REFERENCE_DIR = Path(
    os.environ.get("M1038_APPLOCKER_REFERENCE_DIR") or PROJECT_ROOT.parent / "shared" / "reference" / "applocker-policy"
)
REFERENCE_XSD = REFERENCE_DIR / "microsoft-applocker-csp-policy.xsd"
needs_reference = pytest.mark.skipif(
    not REFERENCE_XSD.is_file(),
    reason=f"Microsoft's AppLocker XSD is not at {REFERENCE_XSD} (a clean clone has no ../shared): "
    "only the comparison with it is skipped; the project's schema is tested by the other tests",
)


@pytest.fixture(scope="module")
def reference():
    return etree.XMLSchema(etree.parse(str(REFERENCE_XSD)))


def ours_ok(document: bytes) -> bool:
    return xsd_errors(document) == []


def reference_ok(schema, document: bytes) -> bool:
    return xsd_errors(document, schema=schema) == []


BASE_MODEL = {
    "Exe": {
        "mode": "enforce",
        "default_rules": True,
        "rules": [
            {"name": "Contoso", "publisher": "O=CONTOSO, C=US", "version": {"low": "1.0.0.0", "high": "2.0.0.0"}},
            {"name": "Tool", "hash": {"data": "0x" + "AB" * 32, "file": "tool.exe", "length": 10}},
            {"name": "Tools", "path": "%OSDRIVE%\\Tools\\*", "exceptions": [{"path": "%OSDRIVE%\\Tools\\Drop\\*"}]},
        ],
    },
    "Appx": {"mode": "enforce", "default_rules": True},
}


def _first(tree, xpath):
    found = tree.xpath(xpath)
    return found[0] if found else None


def _set(xpath, attribute, value):
    def mutate(tree):
        element = _first(tree, xpath)
        if element is None:
            return False
        element.set(attribute, value)
        return True

    return mutate


def _delete_attribute(xpath, attribute):
    def mutate(tree):
        element = _first(tree, xpath)
        if element is None or attribute not in element.attrib:
            return False
        del element.attrib[attribute]
        return True

    return mutate


def _remove(xpath):
    def mutate(tree):
        element = _first(tree, xpath)
        if element is None:
            return False
        element.getparent().remove(element)
        return True

    return mutate


def _append(xpath, xml):
    def mutate(tree):
        element = _first(tree, xpath)
        if element is None:
            return False
        element.append(etree.fromstring(xml))
        return True

    return mutate


def _duplicate_id(tree):
    rules = tree.xpath("/AppLockerPolicy/RuleCollection/*[@Id]")
    if len(rules) < 2:
        return False
    rules[1].set("Id", rules[0].get("Id"))
    return True


def _duplicate_collection(tree):
    first = _first(tree, "/AppLockerPolicy/RuleCollection")
    if first is None:
        return False
    tree.insert(0, copy.deepcopy(first))
    return True


def _upper_ids(tree):
    rules = tree.xpath("//*[@Id]")
    for rule in rules:
        rule.set("Id", rule.get("Id").upper())
    return bool(rules)


def _exceptions_first(tree):
    rule = _first(tree, "//FilePathRule[Exceptions]")
    if rule is None:
        return False
    exceptions = rule.find("Exceptions")
    rule.remove(exceptions)
    rule.insert(0, exceptions)
    return True


EXTENSIONS = (
    "<RuleCollectionExtensions><ThresholdExtensions><Services EnforcementMode='Enabled'/></ThresholdExtensions>"
    "<RedstoneExtensions><SystemApps Allow='Enabled'/></RedstoneExtensions></RuleCollectionExtensions>"
)
POLICY_EXTENSIONS = (
    "<PolicyExtensions><ThresholdExtensions><Plugins><Plugin Name='p' Id='11111111-2222-3333-4444-555555555555'>"
    "<ExecutionCategories><ExecutionCategory Id='11111111-2222-3333-4444-666666666666' AppidTypes='Hash Path'/>"
    "</ExecutionCategories></Plugin></Plugins></ThresholdExtensions></PolicyExtensions>"
)
ANY_RULE = "/AppLockerPolicy/RuleCollection/*[@Id]"

# Mutations both schemas must judge alike: name -> (mutation, expected verdict).
SAME_VERDICT = {
    "id_not_a_guid": (_set(ANY_RULE, "Id", "not-a-guid"), False),
    "duplicate_id": (_duplicate_id, False),
    "action_lower_case": (_set(ANY_RULE, "Action", "allow"), False),
    "sid_a_name": (_set(ANY_RULE, "UserOrGroupSid", "Everyone"), False),
    "sid_too_short": (_set(ANY_RULE, "UserOrGroupSid", "S-1-1"), False),
    "no_name": (_delete_attribute(ANY_RULE, "Name"), False),
    "empty_name": (_set(ANY_RULE, "Name", ""), False),
    "long_description": (_set(ANY_RULE, "Description", "d" * 1025), False),
    "no_description": (_delete_attribute(ANY_RULE, "Description"), False),
    "no_conditions": (_remove("//Conditions"), False),
    "exceptions_on_hash_rule": (_append("//FileHashRule", "<Exceptions/>"), False),
    "short_version": (_set("//BinaryVersionRange", "LowSection", "1.2.3"), False),
    "version_words": (_set("//BinaryVersionRange", "HighSection", "latest"), False),
    "hash_too_short": (_set("//FileHash", "Data", "0x1234"), False),
    "hash_type_md5": (_set("//FileHash", "Type", "MD5"), False),
    "no_range": (_remove("//BinaryVersionRange"), False),
    "empty_publisher": (_set("//FilePublisherCondition", "PublisherName", ""), False),
    "empty_path": (_set("//FilePathCondition", "Path", ""), False),
    "mode_audit": (_set("/AppLockerPolicy/RuleCollection", "EnforcementMode", "Audit"), False),
    "unknown_element": (_append("/AppLockerPolicy/RuleCollection", "<FileRule/>"), False),
    "duplicate_collection": (_duplicate_collection, False),
    "no_version": (_delete_attribute("/AppLockerPolicy", "Version"), False),
    "extensions_without_redstone": (
        _append(
            "/AppLockerPolicy/RuleCollection",
            "<RuleCollectionExtensions><ThresholdExtensions/></RuleCollectionExtensions>",
        ),
        False,
    ),
    "untouched": (lambda tree: True, True),
    "no_enforcement_mode": (_delete_attribute("/AppLockerPolicy/RuleCollection", "EnforcementMode"), True),
    "upper_case_ids": (_upper_ids, True),
    "empty_exceptions": (_append("//FilePathRule", "<Exceptions/>"), True),
    "exceptions_before_conditions": (_exceptions_first, True),
    "collection_extensions": (_append("/AppLockerPolicy/RuleCollection[@Type='Exe']", EXTENSIONS), True),
    "policy_extensions": (_append("/AppLockerPolicy", POLICY_EXTENSIONS), True),
}

# Where the project's schema is stricter: name -> (mutation, ours, Microsoft's).
STRICTER = {
    "collection_type_bogus": (_set("/AppLockerPolicy/RuleCollection", "Type", "Bogus"), False, True),
    "policy_version_2": (_set("/AppLockerPolicy", "Version", "2"), False, True),
    "version_unescaped_dot": (_set("//BinaryVersionRange", "LowSection", "1a2b3c4"), False, True),
    "negative_file_length": (_set("//FileHash", "SourceFileLength", "-1"), False, True),
}


def mutated(document: bytes, mutation) -> bytes | None:
    tree = etree.fromstring(document)
    if not mutation(tree):
        return None
    return etree.tostring(tree, encoding="utf-8")


def base_document() -> bytes:
    return render_policy(parse_model(BASE_MODEL)).encode("utf-8")


@pytest.mark.parametrize("name", sorted(SAME_VERDICT))
def test_project_schema_verdicts(name):
    mutation, expected = SAME_VERDICT[name]
    document = mutated(base_document(), mutation)
    assert document is not None, f"mutation {name} found nothing to change in the base policy"
    assert ours_ok(document) is expected


@pytest.mark.parametrize("name", sorted(STRICTER))
def test_project_schema_is_stricter_here(name):
    mutation, ours, _microsoft = STRICTER[name]
    document = mutated(base_document(), mutation)
    assert document is not None
    assert ours_ok(document) is ours


@needs_reference
@pytest.mark.parametrize("name", sorted(SAME_VERDICT))
def test_microsoft_schema_gives_the_same_verdicts(reference, name):
    mutation, expected = SAME_VERDICT[name]
    document = mutated(base_document(), mutation)
    assert reference_ok(reference, document) is expected


@needs_reference
@pytest.mark.parametrize("name", sorted(STRICTER))
def test_microsoft_schema_accepts_what_ours_refuses(reference, name):
    mutation, _ours, microsoft = STRICTER[name]
    assert reference_ok(reference, mutated(base_document(), mutation)) is microsoft


@needs_reference
@settings(max_examples=60)
@given(policy=policies(), name=st.sampled_from(sorted(SAME_VERDICT)), audit=st.booleans())
def test_generated_corpus_same_verdicts_from_both_schemas(reference, policy, name, audit):
    document = render_policy(variant(policy, "audit") if audit else policy).encode("utf-8")
    assert ours_ok(document) and reference_ok(reference, document)
    changed = mutated(document, SAME_VERDICT[name][0])
    if changed is not None:
        assert ours_ok(changed) == reference_ok(reference, changed), name


@pytest.mark.parametrize("name", POLICY_NAMES)
def test_public_policy_shapes_are_valid_for_ours(name):
    assert xsd_errors(policy_bytes(name), name) == []


@needs_reference
@pytest.mark.parametrize("name", POLICY_NAMES)
def test_public_policy_shapes_are_valid_for_microsofts(reference, name):
    assert reference_ok(reference, policy_bytes(name))


@needs_reference
@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("microsoft-AaronLocker_Deny-OldBginfo.xml", True),
        ("microsoft-AaronLocker_OneDrive-InitialInstall-Win10v1809.xml", True),
        ("microsoft-AaronLocker_DefaultRulesWithPlaceholders.xml", False),  # PLACEHOLDER_* elements
    ],
)
def test_real_aaronlocker_samples_same_verdicts(reference, name, valid):
    data = (REFERENCE_DIR / name).read_bytes()
    assert ours_ok(data) is valid
    assert reference_ok(reference, data) is valid

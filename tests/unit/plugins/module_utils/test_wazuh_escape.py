"""Escaping for Wazuh's XML reader and PCRE2, and the vendor representability rules."""

from __future__ import annotations

import re
import unicodedata
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_engine import compile_pcre2
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_escape import (
    _UNREPRESENTABLE,
    MAX_VENDOR_BYTES,
    RepresentationError,
    checked_vendor,
    normalise_vendor,
    pcre2_literal,
    unrepresentable_reason,
    wazuh_xml_text,
)

adversarial = st.one_of(
    st.text(max_size=200),
    st.text(alphabet=st.sampled_from("<>&'\":;\\/$()[]{}|*+?.^ \t-_aZ9éß漢😀"), max_size=40),
    st.sampled_from(["", " ", "   ", "\\", "]]>", "&amp;", "<!--", "x" * 5000]),
)


@given(adversarial)
def test_pcre2_literal_matches_exactly_its_own_bytes(value):
    pattern = pcre2_literal(value)
    assert re.fullmatch(r"(?:[A-Za-z0-9_-]|\\x\{[0-9a-f]{2}\})*", pattern)
    compiled = compile_pcre2("^" + pattern + "$")
    raw = value.encode("utf-8", "surrogatepass")
    assert compiled.match(raw)
    assert not compiled.match(raw + b"x")
    if raw:
        assert not compiled.match(raw[:-1])


@given(adversarial)
def test_escaped_pattern_is_safe_in_both_xml_readers(value):
    pattern = "(?i)^" + pcre2_literal(value) + "$"
    assert wazuh_xml_text(pattern, "test") == pattern
    element = ET.fromstring(f'<field name="x" type="pcre2">{pattern}</field>')  # noqa: S314 - test-built XML
    assert element.text == pattern


def test_pcre2_literal_examples():
    assert pcre2_literal("cmd.exe") == "cmd\\x{2e}exe"
    assert pcre2_literal("F-Secure SDK") == "F-Secure\\x{20}SDK"
    assert pcre2_literal("é") == "\\x{c3}\\x{a9}"
    assert pcre2_literal("<&>") == "\\x{3c}\\x{26}\\x{3e}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a<b", "'<'"),
        ("a&amp;b", "'&'"),
        ("x]]>", "']]>'"),
        ("tab\there", "control"),
        ("ends\\", "odd number of backslashes"),
        ("y" * 20480, "XML_MAXSIZE"),
    ],
)
def test_wazuh_xml_text_refuses_what_os_xml_reads_differently(text, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        wazuh_xml_text(text, "rule 1")


def test_even_trailing_backslashes_are_fine():
    assert wazuh_xml_text("E:\\\\", "rule 1") == "E:\\\\"


def test_normalisation_strips_only_trailing_c_whitespace():
    assert normalise_vendor("  Contoso Ltd \t\r\n") == "  Contoso Ltd"
    assert normalise_vendor("Contoso\u00a0") == "Contoso\u00a0"  # not C isspace()


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "empty"),
        ("bell\x07", "U+0007"),
        ("line\nbreak", "U+000A"),
        ('quote"d', "double quote"),
        ("\ud800", "surrogate"),
        ("\ufffe", "non-character"),
        ("x" * (MAX_VENDOR_BYTES + 1), "bytes long"),
    ],
)
def test_unrepresentable_reasons(value, reason):
    assert reason in unrepresentable_reason(value)


def test_checked_vendor_names_the_source():
    assert checked_vendor("Contoso Ltd  ", "trusted_vendors[0]") == "Contoso Ltd"
    with pytest.raises(RepresentationError, match=r"trusted_vendors\[2\]: vendor 'a\\nb'"):
        checked_vendor("a\nb", "trusted_vendors[2]")
    with pytest.raises(RepresentationError, match="expected a string, got int"):
        checked_vendor(3, "denied_vendors[0]")


def test_representable_multibyte_at_the_limit():
    value = "é" * (MAX_VENDOR_BYTES // 2)
    assert unrepresentable_reason(value) is None


def test_fast_search_flags_exactly_the_characters_with_a_reason():
    """The precompiled class must equal the category rules, over every code point."""
    for code in range(0x110000):
        char = chr(code)
        category = unicodedata.category(char)
        expected = category in ("Cc", "Cs") or char in ('"', "\ufffe", "\uffff")
        assert bool(_UNREPRESENTABLE.fullmatch(char)) == expected, hex(code)

"""The string normalisation both software_inventory routes share: unit and property tests."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.m1038.appcontrol.plugins.module_utils._software_inventory_text import (
    MAX_EXAMPLES,
    MAX_NAME_CHARS,
    Tally,
    clean_install_date,
    clean_label,
    clean_publisher,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_escape import (
    normalise_vendor,
    unrepresentable_reason,
)

# Registry text can hold any UTF-16 code unit: control characters, NUL, lone surrogates, non-characters.
registry_text = st.text(
    st.one_of(
        st.characters(codec=None),
        st.sampled_from(["\x00", "\t", "\r", "\n", "\x7f", "\x85", "\ud800", "\udfff", "\ufffe", '"', " "]),
    ),
    max_size=1200,
)
any_value = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), registry_text, st.binary()),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=5), inner, max_size=3)),
    max_leaves=8,
)


def test_a_clean_label_is_left_alone():
    tally = Tally()
    assert clean_label("7-Zip 24.08 (x64)", "name", MAX_NAME_CHARS, "k", tally) == "7-Zip 24.08 (x64)"
    assert tally.counts == {}


@pytest.mark.parametrize(
    ("raw", "expected", "noted"),
    [
        ("Tail\tspin\r\nToys", "Tail spin Toys", "name_control_characters"),
        ("Northwind\x00garbage", "Northwind", "name_cut_at_nul"),
        ("Widget \ud800 Pro", "Widget \ufffd Pro", "name_lone_surrogate"),
        (["First", "Second"], "First", "name_multi_string"),
        (42, "", "name_not_a_string"),
        (b"bytes", "", "name_not_a_string"),
        ("x" * 600, "x" * MAX_NAME_CHARS, "name_truncated"),
    ],
)
def test_odd_labels_are_cleaned_and_counted(raw, expected, noted):
    tally = Tally()
    assert clean_label(raw, "name", MAX_NAME_CHARS, "machine\\key", tally) == expected
    assert tally.counts[noted] == 1
    assert tally.examples[0]["where"] == "machine\\key"


def test_an_absent_value_is_empty_and_not_counted():
    tally = Tally()
    assert clean_label(None, "version", 10, "k", tally) == ""
    assert clean_publisher(None, "k", tally) == ""
    assert clean_install_date(None, "k", tally) is None
    assert tally.counts == {}


@pytest.mark.parametrize(
    ("raw", "expected", "cleared"),
    [
        ("Litware, Inc.\r\n", "Litware, Inc.", False),  # trailing whitespace: what the decoder drops
        (" Leading Space Corp", " Leading Space Corp", False),  # leading whitespace is kept
        ("AT&T", "AT&T", False),  # written as Windows shows it; the renderer escapes it
        ("Tailspin\tToys", "", True),
        ('Contoso "Labs"', "", True),  # a quote can never be matched by a CDB list
        ("P" * 1025, "", True),
        ("Widget\udc00 Inc", "", True),
        ("   ", "", False),  # blank: no vendor, nothing to report
    ],
)
def test_publishers_the_renderer_would_refuse_are_cleared(raw, expected, cleared):
    tally = Tally()
    assert clean_publisher(raw, "k", tally) == expected
    assert (tally.counts["publisher_cleared"] == 1) is cleared


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("20241002", "2024-10-02"),
        ("2024-10-02", "2024-10-02"),
        ("2024/10/02", "2024-10-02"),
        (" 20241002 ", "2024-10-02"),
    ],
)
def test_install_dates(raw, expected):
    assert clean_install_date(raw, "k", Tally()) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "2/14/2023",
        "20231345",
        "2024-10/02",
        "\uff12\uff10\uff12\uff14\uff11\uff10\uff10\uff12",
        "00000101",
        "yesterday",
    ],
)
def test_unreadable_install_dates_are_counted(raw):
    tally = Tally()
    assert clean_install_date(raw, "k", tally) is None
    assert tally.counts["install_date_unparsed"] == 1


def test_a_tally_keeps_every_count_and_a_bounded_list_of_examples():
    tally, other = Tally(), Tally()
    for index in range(MAX_EXAMPLES + 10):
        other.note("x", f"k{index}")
    tally.note("y", "first")
    tally.merge(other)
    assert tally.counts == {"x": MAX_EXAMPLES + 10, "y": 1}
    assert len(tally.examples) == MAX_EXAMPLES and tally.examples[0]["where"] == "first"


@given(registry_text)
def test_property_labels_are_one_printable_line_and_stable(raw):
    tally = Tally()
    text = clean_label(raw, "name", MAX_NAME_CHARS, "k", tally)
    assert len(text) <= MAX_NAME_CHARS
    assert text == text.strip()
    assert not any(unicodedata.category(c) in ("Cc", "Cs") for c in text)
    text.encode("utf-8")  # no lone surrogate survives
    assert clean_label(text, "name", MAX_NAME_CHARS, "k", Tally()) == text  # idempotent


@given(registry_text)
def test_property_a_publisher_is_empty_or_a_vendor_the_renderer_accepts(raw):
    publisher = clean_publisher(raw, "k", Tally())
    if publisher.strip():
        assert normalise_vendor(publisher) == publisher
        assert unrepresentable_reason(publisher) is None
    assert clean_publisher(publisher, "k", Tally()) == publisher


@given(any_value)
def test_property_no_value_makes_any_cleaner_raise(raw):
    tally = Tally()
    assert isinstance(clean_label(raw, "name", 64, "k", tally), str)
    assert isinstance(clean_publisher(raw, "k", tally), str)
    assert clean_install_date(raw, "k", tally) is None or len(clean_install_date(raw, "k", tally)) == 10

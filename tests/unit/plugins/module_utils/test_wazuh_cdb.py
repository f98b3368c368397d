"""CDB text lists: writing, and reading them exactly as Wazuh's Lists_OP_MakeCDB does."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_cdb import (
    HEADER_LINE,
    cdb_line,
    read_cdb_line,
    read_cdb_text,
    render_cdb,
    verify_round_trip,
)


def lists_make_line(line: str):
    """A second, independent transliteration of src/analysisd/lists_make.c (v4.7-v4.14).

    It works on a mutable buffer with C-style NUL termination, strchr() and pointer
    arithmetic, so it can disagree with the module's reader if either misreads the source.
    """
    buf = [*list(line), "\x00"]

    def strchr(start: int, char: str) -> int | None:
        i = start
        while buf[i] != "\0":
            if buf[i] == char:
                return i
            i += 1
        return None

    def cstr(start: int) -> str:
        end = start
        while buf[end] != "\0":
            end += 1
        return "".join(buf[start:end])

    for terminator in ("\r", "\n"):
        pos = strchr(0, terminator)
        if pos is not None:
            buf[pos] = "\0"
    key = None
    key_quotes = strchr(0, '"')
    if key_quotes is not None:
        is_key = strchr(0, ":")
        if is_key is not None and is_key > key_quotes:
            buf[key_quotes] = "\0"
            key_quotes += 1
            key = key_quotes
            closing = strchr(key_quotes, '"')
            if closing is None:
                return None
            buf[closing] = "\0"
            key_quotes = closing + 1
        else:
            key_quotes = None
    value_begin = key_quotes if key_quotes is not None else 0
    val = strchr(value_begin, ":")
    if val is None:
        return None
    buf[val] = "\0"
    val += 1
    value_begin = val
    value_quotes = strchr(value_begin, '"')
    if value_quotes is not None:
        buf[value_quotes] = "\0"
        value_quotes += 1
        value_begin = value_quotes
        closing = strchr(value_quotes, '"')
        if closing is None:
            return None
        buf[closing] = "\0"
        val = value_begin
    if key_quotes is None:
        key = 0
    return cstr(key), cstr(val)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Microsoft Corporation:explicit", ("Microsoft Corporation", "explicit")),
        ("Microsoft Corporation:", ("Microsoft Corporation", "")),
        ('"Contoso: Tools":alias', ("Contoso: Tools", "alias")),
        ('junk"quoted":value', ("quoted", "value")),  # text before the first quote is dropped
        ("key:a:b", ("key", "a:b")),  # the value keeps later colons
        ('key:"quoted value"tail', ("key", "quoted value")),
        ('key:"unterminated', None),
        ('"unterminated:value', None),
        ("no colon at all", None),
        (" padded :x", (" padded ", "x")),  # nothing is trimmed
        ("cr\rignored:after", None),  # cut at CR: "cr" has no colon
        ("key:value\r", ("key", "value")),
        ('a"b:', None),  # quote before the colon: read as a quoted key with no closing quote
        ("", None),
    ],
)
def test_reader_follows_lists_make(line, expected):
    assert read_cdb_line(line) == expected
    assert lists_make_line(line) == expected


@given(st.text(alphabet=st.sampled_from('ab:" \r\nxé'), max_size=12))
def test_reader_agrees_with_c_transliteration(line):
    assert read_cdb_line(line) == lists_make_line(line)


representable = st.text(min_size=1).filter(lambda s: not set(s) & {'"', "\r", "\n", "\x00"})


@given(key=representable)
def test_every_representable_key_round_trips(key):
    line = cdb_line(key, "explicit")
    assert line.endswith("\n")
    assert lists_make_line(line.rstrip("\n")) == (key, "explicit")
    assert read_cdb_text(line) == {key: "explicit"}


@given(keys=st.dictionaries(representable, st.sampled_from(["explicit", "alias", "alias,prevalence", ""])))
def test_rendered_list_round_trips(keys):
    text = render_cdb(keys)
    assert text.startswith(HEADER_LINE)
    verify_round_trip("m1038-test", keys, text)
    assert read_cdb_text(text) == keys


def test_keys_with_colons_or_a_leading_hash_are_quoted_and_others_not():
    assert cdb_line("Contoso: Tools") == '"Contoso: Tools":\n'
    assert cdb_line("#1 Software") == '"#1 Software":\n'  # unquoted it reads like a comment
    assert cdb_line("Contoso Tools") == "Contoso Tools:\n"
    assert cdb_line("Contoso #1") == "Contoso #1:\n"


@pytest.mark.parametrize("key", ['say "hi"', "two\nlines", "cr\r", "nul\x00", ""])
def test_unrepresentable_keys_are_refused(key):
    with pytest.raises(ValueError, match="CDB key"):
        cdb_line(key)


def test_values_are_restricted():
    with pytest.raises(ValueError, match="CDB value"):
        cdb_line("key", 'has "quote"')


def test_header_line_is_never_a_key():
    assert read_cdb_line(HEADER_LINE) is None
    assert read_cdb_text(render_cdb({})) == {}


def test_first_duplicate_wins_like_a_cdb_lookup():
    assert read_cdb_text("k:first\nk:second\n") == {"k": "first"}


def test_round_trip_check_reports_differences():
    with pytest.raises(ValueError, match="does not round-trip"):
        verify_round_trip("m1038-test", {"a": ""}, "b:\n")

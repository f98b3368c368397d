"""Unit and property tests for agent.conf rendering (_wazuh_agent_conf): escaping must round-trip."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_agent_conf import (
    AgentConfError,
    check_group_name,
    parse,
    render,
)

# XML 1.0 text characters without line breaks, trimmed as the renderer trims them.
xml_text = (
    st.text(
        alphabet=st.characters(
            blacklist_categories=("Cs", "Cc"),
            blacklist_characters="\ufffe\uffff\u2028\u2029\x85",
        ),
        min_size=1,
        max_size=60,
    )
    .map(str.strip)
    .filter(bool)
)


def test_default_channels_render_as_eventchannel_localfiles():
    text = render(
        [
            {"location": "Microsoft-Windows-Sysmon/Operational", "query": ""},
            {"location": "Application", "query": "Event/System[Provider[@Name='F-Secure Ultralight SDK']]"},
        ]
    )
    assert '<agent_config os="Windows">' in text
    assert text.count("<log_format>eventchannel</log_format>") == 2
    assert "<query>Event/System[Provider[@Name='F-Secure Ultralight SDK']]</query>" in text
    assert parse(text)[0] == {"location": "Microsoft-Windows-Sysmon/Operational", "query": ""}


def test_special_characters_are_escaped():
    text = render([{"location": "A&B", "query": "*[System[EventID < 5 and EventID > 1]] & x"}])
    assert "<location>A&amp;B</location>" in text
    assert "<query>*[System[EventID &lt; 5 and EventID &gt; 1]] &amp; x</query>" in text


@pytest.mark.parametrize(
    ("channels", "message"),
    [
        ([{"query": "x"}], "channel #1 location must not be empty"),
        ([{"location": "A"}, {"location": "A"}], "channel #2: channel 'A' is listed twice"),
        ([{"location": "A", "query": "x\ny"}], "line break"),
        ([{"location": "A", "path": "x"}], "unknown keys \\['path'\\]"),
        (["Application"], "must be a mapping"),
        ([{"location": 5}], "must be a string"),
    ],
)
def test_bad_channels_name_the_entry(channels, message):
    with pytest.raises(AgentConfError, match=message):
        render(channels)


def test_os_filter_is_checked_and_may_be_empty():
    assert "<agent_config>" in render([{"location": "A"}], os_filter="")
    with pytest.raises(AgentConfError, match="os filter"):
        render([{"location": "A"}], os_filter='Windows" profile="x')


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "a b", "x" * 256])
def test_bad_group_names(name):
    with pytest.raises(AgentConfError):
        check_group_name(name)


@given(st.lists(st.tuples(xml_text, st.one_of(st.just(""), xml_text)), max_size=5, unique_by=lambda t: t[0]))
def test_property_render_then_parse_returns_the_channels(pairs):
    channels = [{"location": loc, "query": q} for loc, q in pairs]
    assert parse(render(channels)) == channels

"""Unit and property tests for agent.conf rendering (_wazuh_agent_conf).

What counts is what Wazuh reads: every file is read back here with the os_xml port (_wazuh_osxml),
which decodes no entity, and each query then goes through the agent's filter_special_chars(), as
logcollector does before EvtSubscribe. Round trips must hold through that, not through a standard
XML parser.
"""

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
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_osxml import XML_MAXSIZE, read

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


def test_a_query_is_written_the_way_wazuh_reads_it():
    """Issue 8, item 5: entities are not decoded by Wazuh; only a backslash keeps a '<' in the text."""
    text = render([{"location": "Security", "query": "*[System[EventID>4000 and Level<=3]]"}])
    assert "<query>*[System[EventID>4000 and Level\\<=3]]</query>" in text
    assert "&gt;" not in text and "&lt;" not in text
    (query,) = read(text).find_all("query")
    assert query.content == "*[System[EventID>4000 and Level\\<=3]]"  # what verify-agent-conf and the agent read
    assert parse(text) == [{"location": "Security", "query": "*[System[EventID>4000 and Level<=3]]"}]


def test_what_entity_escaping_made_of_a_query_on_the_agent():
    """The renderer used to write EventID&gt;4000: Wazuh keeps the entity, so the agent's XPath was broken."""
    old = (
        "<agent_config><localfile><location>Security</location><log_format>eventchannel</log_format>"
        "<query>EventID&gt;4000 and Level&lt;=3</query></localfile></agent_config>"
    )
    assert parse(old) == [{"location": "Security", "query": "EventID&gt;4000 and Level&lt;=3"}]


def test_ampersands_quotes_and_backslashes_reach_the_agent_as_written():
    channels = [
        {"location": "A&B", "query": "*[EventData[Data[@Name='Path']='C:\\Temp\\x & y']]"},
        {"location": "Microsoft-Windows-AppLocker/EXE and DLL", "query": ""},
    ]
    text = render(channels)
    assert "<location>A&B</location>" in text
    assert "C:\\\\Temp\\\\x & y" in text  # each backslash doubled: the agent drops one of each pair
    assert parse(text) == channels


@pytest.mark.parametrize(
    ("channels", "message"),
    [
        ([{"location": "A", "query": "*<!-- x -->"}], "holds '<!'"),
        ([{"location": "A<B"}], "location 'A<B' holds '<'"),
        ([{"location": "C:\\"}], "ends with a backslash"),
        ([{"location": "A", "query": "x" * XML_MAXSIZE}], "longer than os_xml"),
    ],
)
def test_what_wazuh_cannot_read_back_is_refused_naming_the_channel(channels, message):
    with pytest.raises(AgentConfError, match=message):
        render(channels)


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


# Locations: no '<' (only a backslash could keep it, and the agent would keep that backslash) and no
# trailing backslash (it would escape the closing tag's '<'); queries: anything but '<!' (os_xml reads a
# comment there, escaped or not).
locations = xml_text.filter(lambda v: "<" not in v and not v.endswith("\\"))
queries = xml_text.filter(lambda v: "<!" not in v)


@given(st.lists(st.tuples(locations, st.one_of(st.just(""), queries)), max_size=5, unique_by=lambda t: t[0]))
def test_property_what_the_agent_reads_is_what_was_asked_for(pairs):
    channels = [{"location": loc, "query": q} for loc, q in pairs]
    assert parse(render(channels)) == channels


@given(st.text(alphabet="<>\\&!-x ", min_size=1, max_size=12).map(str.strip).filter(bool))
def test_property_queries_made_of_the_special_characters(query):
    channels = [{"location": "Security", "query": query}]
    if "<!" in query:
        with pytest.raises(AgentConfError, match="'<!'"):
            render(channels)
    else:
        assert parse(render(channels)) == channels

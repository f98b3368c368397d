"""The os_xml port (_wazuh_osxml): it must read what Wazuh's own reader reads, quirks included.

Each expectation follows src/os_xml/os_xml.c of Wazuh 4.x (``_ReadElem``, ``_getattributes``,
``_oscomment``) and src/shared/string_op.c (``filter_special_chars``); the cases are written here
from that code, not copied from Wazuh's tests.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_osxml import (
    XML_MAXSIZE,
    OsXmlError,
    agent_unescape,
    read,
)


def content(text, *path):
    node = read(text)
    for name in path:
        (node,) = [c for c in node.children if c.element == name]
    return node.content


def test_no_entity_is_decoded():
    assert content("<a>x &amp; y &lt;= z &gt; 1</a>", "a") == "x &amp; y &lt;= z &gt; 1"


def test_a_bare_greater_than_is_text():
    assert content("<q>EventID>4000</q>", "q") == "EventID>4000"


def test_a_backslash_keeps_a_less_than_in_the_text_and_stays_there():
    """os_xml's own test_special_chars: <root1>\\</root1\\></root1> is the text \\</root1\\>."""
    assert content("<root1>\\</root1\\></root1>", "root1") == "\\</root1\\>"
    assert content("<q>Level\\<=3</q>", "q") == "Level\\<=3"


def test_an_even_run_of_backslashes_does_not_escape():
    assert content("<q>a\\\\</q>", "q") == "a\\\\"
    with pytest.raises(OsXmlError, match="not closed"):
        read("<q>a\\\\<b</q>")


def test_a_bare_less_than_in_text_opens_an_element():
    with pytest.raises(OsXmlError, match="XMLERR"):
        read("<q>Level<=3</q>")


def test_an_odd_backslash_run_at_the_end_escapes_the_closing_tag():
    with pytest.raises(OsXmlError, match="End of file and some elements were not closed"):
        read("<q>C:\\</q>")


def test_comments_are_skipped_even_after_a_backslash():
    assert content("<a><!-- note --><b>1</b></a>", "a", "b") == "1"
    # The comment check comes before the escape check: an escaped <! still starts a comment.
    assert content("<q>x\\<!-- gone -->y</q>", "q") == "x\\y"
    assert content("<q>x<! also a comment !>y</q>", "q") == "xy"
    with pytest.raises(OsXmlError, match="Comment not closed"):
        read("<q>x\\<!y</q>")


def test_attributes_self_closing_and_children():
    root = read(
        "<agent_config os=\"Windows\" profile='x'>\n  <localfile><location>A</location></localfile>\n"
        "  <ignore/>\n</agent_config>\n"
    )
    (agent,) = root.children
    assert agent.attributes == [("os", "Windows"), ("profile", "x")]
    assert [c.element for c in agent.children] == ["localfile", "ignore"]
    assert next(agent.find_all("location")).content == "A"
    assert agent.content == "\n"  # only the text after the last child


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('<a x="1" x="2"></a>', "Attribute 'x' already defined"),
        ('<a x="1>2"></a>', "Attribute 'x' not closed"),  # '>' ends the attribute list, quoted or not
        ("<a x=1></a>", "not followed by a"),
        ("<a x></a>", "Attribute 'x' has no value"),
        ("<a></b>", "Element 'a' not closed"),
        ("</a>", "Element not opened"),
        ("<a>", "End of file"),
    ],
)
def test_what_os_xml_refuses(text, message):
    with pytest.raises(OsXmlError, match=message):
        read(text)


def test_text_longer_than_xml_maxsize_is_refused():
    assert content(f"<a>{'x' * (XML_MAXSIZE - 1)}</a>", "a") == "x" * (XML_MAXSIZE - 1)
    with pytest.raises(OsXmlError, match="String overflow"):
        read(f"<a>{'x' * (XML_MAXSIZE + 1)}</a>")
    with pytest.raises(OsXmlError, match="String overflow"):
        read(f"<a>{'é' * (XML_MAXSIZE // 2 + 1)}</a>")  # bytes are counted, not characters


@pytest.mark.parametrize(
    ("text", "agent"),
    [
        ("Level\\<=3", "Level<=3"),
        ("a\\\\b", "a\\b"),
        ("\\x", "x"),
        ("end\\", "end"),
        ("plain", "plain"),
    ],
)
def test_agent_unescape_is_filter_special_chars(text, agent):
    assert agent_unescape(text) == agent


@given(st.text(alphabet=st.characters(blacklist_characters="<\\", blacklist_categories=("Cs", "Cc")), max_size=40))
def test_property_text_without_less_than_or_backslash_reads_back_as_written(text):
    assert content(f"<q>{text}</q>", "q") == text


def test_offsets_locate_each_element_in_the_text():
    text = '<!-- c --><a x="1">\n <b>v\\<w</b><c/><d y="2" /><!-- x --></a>\r\n<a><e></e></a>'
    first, second = read(text).children
    b, c, d = first.children
    assert text[first.start : first.end] == text[10 : text.index("\r\n")]
    assert text[b.start : b.end] == "<b>v\\<w</b>" and text[b.content_start : b.content_end] == "v\\<w"
    assert text[c.start : c.end] == "<c/>" and c.content_start == c.content_end == c.end
    assert text[d.start : d.end] == '<d y="2" />'
    assert text[first.content_end : first.end] == "</a>"
    assert text[second.start : second.end] == "<a><e></e></a>"
    (e,) = second.children
    assert text[e.start : e.end] == "<e></e>" and e.content_start == e.content_end


_NAMES = st.sampled_from(["a", "bb", "localfile", "location", "x-y"])
_TEXTS = st.text(alphabet=st.characters(blacklist_characters="<\\&", blacklist_categories=("Cs", "Cc")), max_size=12)


@st.composite
def _trees(draw, depth=0):
    name = draw(_NAMES)
    if depth >= 2 or draw(st.booleans()):
        return f"<{name}>{draw(_TEXTS)}</{name}>", {"name": name, "children": []}
    children = draw(st.lists(_trees(depth + 1), min_size=1, max_size=3))
    gap = draw(st.sampled_from(["", "\n  ", "\r\n", " <!-- note --> "]))
    body = gap.join(text for text, _shape in children)
    return f"<{name}>{gap}{body}{gap}</{name}>", {"name": name, "children": [s for _t, s in children]}


@given(_trees())
def test_property_offsets_slice_out_each_element(tree):
    text, _shape = tree

    def check(node):
        piece = text[node.start : node.end]
        assert piece.startswith(f"<{node.element}>") and piece.endswith(f"</{node.element}>")
        assert text[node.content_end : node.end] == f"</{node.element}>"
        assert read(piece).children[0].element == node.element
        if not node.children:
            assert text[node.content_start : node.content_end] == node.content
        for child in node.children:
            assert node.content_start <= child.start < child.end <= node.content_end
            check(child)

    (root,) = read(text).children
    check(root)

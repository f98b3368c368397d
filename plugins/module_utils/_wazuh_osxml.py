# Copyright: m1038.appcontrol contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read XML the way Wazuh's own reader does (private helper, stdlib only).

Wazuh reads ossec.conf, rules and every ``agent.conf`` with ``os_xml`` (``src/os_xml/os_xml.c``
in Wazuh 4.x: ``_ReadElem``, ``_getattributes``, ``_oscomment``), not with a standard XML parser.
This is a port of its character loop, so the project can see exactly what a manager or agent
will read from a file it writes:

- **No entity is decoded.** ``&lt;``, ``&gt;`` and ``&amp;`` stay as those characters.
- A ``<`` in element text opens an element, unless the run of backslashes just before it is odd
  (``\\<``); the backslashes stay in the text (os_xml's own test ``test_special_chars`` reads
  ``<root1>\\</root1\\></root1>`` as the text ``\\</root1\\>``). ``>`` needs no escape in text.
- ``<!`` always starts a comment, escaped or not (the comment check comes before the escape
  check), ending at ``!>`` or ``-->``.
- An attribute value cannot hold ``>`` (it ends the attribute list) nor its own quote.
- Element names end at ``>`` or white space; nothing checks their characters.
- Text, names and values longer than ``XML_MAXSIZE`` (20480) bytes are refused.
- Only the text after an element's last child is its content.

Also used verbatim by the wazuh-manager test double's ``verify-agent-conf``
(tests/doubles/wazuh-manager), which is why it imports nothing outside the standard library.
"""

from __future__ import annotations

from dataclasses import dataclass, field

XML_MAXSIZE = 20480  # src/os_xml/os_xml_internal.h
XML_STASH_LEN = 2  # src/os_xml/os_xml.h: at most two characters can be pushed back
_SPACE = " \t\n\v\f\r"  # C isspace() in the C locale


class OsXmlError(ValueError):
    """What os_xml refuses, with its message (``XMLERR: ...``) and line."""

    def __init__(self, message, line):
        super().__init__(f"{message} (line {line})")
        self.message = message
        self.line = line


@dataclass
class Node:
    """One element as os_xml stores it: name, attributes in order, text content, children, line."""

    element: str
    attributes: list = field(default_factory=list)
    content: str = ""
    children: list = field(default_factory=list)
    line: int = 0
    closed: bool = True
    # Offsets into the text read (str indices): the start tag's '<', the first character of the content,
    # the '<' of the end tag, and just after the element's last '>'. An element that closes itself has
    # content_start == content_end == end. Editors use them to change a value without re-serialising.
    start: int = -1
    content_start: int = -1
    content_end: int = -1
    end: int = -1

    def find_all(self, name):
        """Every descendant element called ``name``, in document order."""
        for child in self.children:
            if child.element == name:
                yield child
            yield from child.find_all(name)


def _size(char):
    return len(char.encode("utf-8", "surrogatepass"))


class _Reader:
    def __init__(self, text):
        self.text = text
        self.pos = 0
        self.stash = []
        self.line = 1

    def getc(self):
        if self.stash:
            c = self.stash.pop()
        elif self.pos < len(self.text):
            c = self.text[self.pos]
            self.pos += 1
        else:
            return None
        if c == "\n":
            self.line += 1
        return c

    def offset(self):
        """Index of the next character to read (a pushed-back character counts as unread)."""
        return self.pos - len(self.stash)

    def ungetc(self, c):
        if len(self.stash) >= XML_STASH_LEN or c is None:
            return
        self.stash.append(c)
        if c == "\n":
            self.line -= 1

    def error(self, message):
        raise OsXmlError(message, self.line)

    # os_xml.c _oscomment(): 1 when a comment was skipped, 0 when the '<' starts something else.
    def comment(self):
        c = self.getc()
        if c != "!":
            self.ungetc(c)
            return 0
        while (c := self.getc()) is not None:
            if c == "!":
                c = self.getc()
                if c == ">":
                    return 1
                self.ungetc(c)
            elif c == "-":
                c = self.getc()
                if c == "-":
                    c = self.getc()
                    if c == ">":
                        return 1
                    self.ungetc(c)
                self.ungetc(c)  # pushed back a second time after "--x", as os_xml does
        self.error("XMLERR: Comment not closed.")
        return -1  # not reached

    # os_xml.c _getattributes(): returns "/" when the element closes itself, "" otherwise.
    def attributes(self, node):
        name, value = [], []
        count = 0
        while (c := self.getc()) is not None:
            if count >= XML_MAXSIZE:
                self.error(f"XMLERR: Overflow attempt at attribute '{''.join(name)[:20]}'.")
            if c in (">", "/"):
                if count > 0:
                    self.error(f"XMLERR: Attribute '{''.join(name)}' has no value.")
                return c.replace(">", "")
            if c == "=":
                return self._attribute_value(node, "".join(name), value)
            if c in _SPACE:
                if count:
                    self.error(f"XMLERR: Attribute '{''.join(name)}' has no value.")
                continue
            name.append(c)
            count += _size(c)
        self.error("XMLERR: End of file while reading an attribute.")
        return ""  # not reached

    def _attribute_value(self, node, attr, value):
        if attr in (existing for existing, _value in node.attributes):
            self.error(f"XMLERR: Attribute '{attr}' already defined.")
        quote = self.getc()
        if quote not in ('"', "'"):
            while quote is not None and quote in _SPACE:
                quote = self.getc()
            if quote not in ('"', "'"):
                self.error(f"XMLERR: Attribute '{attr}' not followed by a \" or '.")
        count = 0
        while (c := self.getc()) is not None:
            if count >= XML_MAXSIZE:
                self.error(f"XMLERR: Overflow attempt at attribute '{attr[:20]}'.")
            if c == ">":  # checked before the closing quote: a value cannot hold '>'
                self.error(f"XMLERR: Attribute '{attr}' not closed.")
            if c == quote:
                node.attributes.append((attr, "".join(value)))
                c = self.getc()
                if c is not None and c in _SPACE:
                    return self.attributes(node)
                if c in (">", "/"):
                    return c.replace(">", "")
                self.error(f"XMLERR: Bad attribute closing for '{attr}'='{''.join(value)}'.")
            value.append(c)
            count += _size(c)
        self.error("XMLERR: End of file while reading an attribute.")
        return ""  # not reached

    # os_xml.c _ReadElem(): reads one element (or, at depth 0, every top-level element). The state is
    # os_xml's: location -1 between elements, 0 in a start tag, 1 in the text, 2 in the end tag; prevv is
    # -1 right after an odd run of backslashes.
    def element(self, parent, depth):
        if depth > 1024:
            self.error("XMLERR: Max recursion level reached")
        st = _ElementState()
        while (c := self.getc()) is not None:
            st.track_backslashes(c)
            if st.count >= XML_MAXSIZE:
                self.error("XMLERR: String overflow.")
            if c == "<" and self.comment() == 1:
                continue
            if st.location == -1 and st.prevv == 1:
                self._between(c, st)
            elif st.location == 0 and (c == ">" or c in _SPACE):
                if self._start_tag_end(c, st, parent) and depth > 0:
                    return
            elif st.location == 2 and c == ">":
                self._end_tag_end(st)
                if depth > 0:
                    return
            elif st.location == 1 and c == "<" and st.prevv == 1:
                self._text_lt(st, depth)
            else:
                st.append(c)
        if st.location != -1 or depth > 0:
            self.error("XMLERR: End of file and some elements were not closed.")

    def _between(self, c, st):
        if c != "<":
            return
        st.start = self.offset() - 1
        nxt = self.getc()
        if nxt == "/":
            self.error("XMLERR: Element not opened.")
        self.ungetc(nxt)
        st.location = 0

    def _start_tag_end(self, c, st, parent):
        """The start tag's name ended; return True when the element closed itself."""
        name = "".join(st.buffers[0])
        closes = name.endswith("/")
        st.node = Node(name[:-1] if closes else name, line=self.line, start=st.start)
        parent.children.append(st.node)
        if c in _SPACE and self.attributes(st.node) == "/":
            closes = True
        st.count = 0
        if closes:
            end = self.offset()
            if self.text[end : end + 1] == ">":  # "<x a='1'/>": the attribute reader stops at the '/'
                end += 1
            st.node.content_start = st.node.content_end = st.node.end = end
            st.reset()
            return True
        st.node.closed = False
        st.node.content_start = self.offset()
        st.location = 1
        return False

    def _end_tag_end(self, st):
        if "".join(st.buffers[2]) != st.node.element:
            self.error(f"XMLERR: Element '{st.node.element}' not closed.")
        st.node.content = "".join(st.buffers[1])
        st.node.closed = True
        st.node.end = self.offset()
        st.reset()

    def _text_lt(self, st, depth):
        nxt = self.getc()
        if nxt == "/":
            st.location, st.count = 2, 0
            st.node.content_end = self.offset() - 2
            return
        self.ungetc(nxt)
        self.ungetc("<")
        self.element(st.node, depth + 1)
        st.count, st.buffers[1] = 0, []  # only the text after the last child is kept


class _ElementState:
    def __init__(self):
        self.count, self.location, self.prevv = 0, -1, 1
        self.buffers = {0: [], 1: [], 2: []}  # start tag name, text, end tag name
        self.node = None
        self.start = -1

    def track_backslashes(self, c):
        if c == "\\":
            self.prevv = -self.prevv
        elif c != "<" and self.prevv == -1:
            self.prevv = 1

    def reset(self):
        self.location, self.count = -1, 0
        self.buffers = {0: [], 1: [], 2: []}

    def append(self, c):
        if self.location in self.buffers:
            self.buffers[self.location].append(c)
            self.count += _size(c)
        if c == "<":
            self.prevv = 1


def _check_closed(node):
    for child in node.children:
        if not child.closed:
            raise OsXmlError(f"XMLERR: Element '{child.element}' not closed.", child.line)
        _check_closed(child)


def read(text):
    """Parse ``text`` as os_xml does; return a root Node whose children are the top-level elements."""
    root = Node("")
    reader = _Reader(text)
    reader.element(root, 0)
    _check_closed(root)
    return root


def agent_unescape(text):
    """What a Windows agent makes of a ``<query>``: logcollector's ``filter_special_chars()``.

    ``src/shared/string_op.c``: each backslash is dropped and the character after it kept as is
    (``\\<`` gives ``<``, ``\\\\`` gives ``\\``); a backslash at the very end is dropped.
    ``read_win_event_channel.c`` applies it to the query before ``EvtSubscribe``.
    """
    out = []
    chars = iter(text)
    for c in chars:
        out.append(next(chars, "") if c == "\\" else c)
    return "".join(out)

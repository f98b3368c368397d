# Copyright: m1038.appcontrol contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read a Windows Wazuh agent's ``ossec.conf`` the way the agent does (private helper, stdlib only).

The agent reads ``ossec.conf`` with ``os_xml`` (``_wazuh_osxml`` is the project's port): several
``<ossec_config>`` blocks, comments anywhere, no entity decoded, a ``\\<`` escape in text. This module
reads what the ``wazuh_agent`` role decides on - the ``<client>`` server and enrollment settings, the
eventchannel ``<localfile>`` entries, and the role's managed block - and says where each lies in the
text, so that ``_wazuh_agent_ossec_edit`` can change those values and leave every other byte alone.

The managed block is one whole ``<ossec_config>`` element between two marker comments (``BEGIN_MARK``,
``END_MARK``) at the top level of the file. A file the agent's reader refuses, a root element other
than ``<ossec_config>``, or markers that are not one BEGIN before one END around exactly one top-level
element raise ``AgentOssecError`` naming the line: such a file is reported, never rewritten.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_osxml import (
    Node,
    OsXmlError,
    agent_unescape,
    read,
)

BEGIN_MARK = (
    "<!-- m1038.appcontrol wazuh_agent BEGIN: event channels for M1038, managed by Ansible, which "
    "rewrites everything up to the END line; put your own settings outside. -->"
)
END_MARK = "<!-- m1038.appcontrol wazuh_agent END -->"
ROOT = "ossec_config"
ENROLLMENT_KEYS = ("enabled", "manager_address", "port", "agent_name", "groups", "authorization_pass_path")
LEGACY_SERVER = ("server-ip", "server-hostname")


class AgentOssecError(ValueError):
    """ossec.conf cannot be read, or not safely edited; the message names the file and the line."""


@dataclass
class Block:
    """The managed block: the text span of its marker lines and the element between them."""

    start: int
    end: int
    element: Node


@dataclass
class LocalFile:
    location: str
    log_format: str
    query: str  # as the agent passes it on (filter_special_chars applied)
    line: int


@dataclass
class Conf:
    """What the agent would read from ossec.conf, and where the role's values sit in the text."""

    text: str
    newline: str
    roots: list[Node]  # top-level <ossec_config> elements outside the managed block, in file order
    block: Block | None
    clients: list[Node] = field(default_factory=list)
    servers: list[Node] = field(default_factory=list)
    localfiles: list[LocalFile] = field(default_factory=list)  # outside the managed block
    block_channels: list[dict] = field(default_factory=list)

    @property
    def server(self) -> Node | None:
        return self.servers[0] if len(self.servers) == 1 else None

    def server_values(self) -> list[dict]:
        return [{key: leaf(server, key) for key in ("address", "port", "protocol")} for server in self.servers]

    def enrollment_node(self) -> Node | None:
        client = self.server_client()
        if client is None:
            return None
        found = [child for child in client.children if child.element == "enrollment"]
        return found[0] if found else None

    def server_client(self) -> Node | None:
        """The <client> holding the one <server> (or the first <client> when there is no server)."""
        for client in self.clients:
            if any(child.element == "server" for child in client.children):
                return client
        return self.clients[0] if self.clients else None

    def enrollment(self) -> dict:
        node = self.enrollment_node()
        if node is None:
            return {}
        return {key: leaf(node, key) for key in ENROLLMENT_KEYS if leaf(node, key) is not None}

    def summary(self) -> dict:
        """The values the planner compares, as plain data (the plan's facts)."""
        return {
            "servers": self.server_values(),
            "enrollment": self.enrollment(),
            "localfiles": [{"location": f.location, "query": f.query} for f in self.localfiles],
            "managed_block": self.block is not None,
            "managed_channels": list(self.block_channels),
        }


def newline_of(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def leaf(node: Node, name: str) -> str | None:
    """Text of the one child ``name`` as the agent reads it (surrounding blanks dropped); None when absent."""
    found = [child for child in node.children if child.element == name]
    if not found:
        return None
    return found[0].content.strip()


def line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _block(text: str, roots: list[Node], source: str) -> Block | None:
    begins = _find_all(text, BEGIN_MARK)
    ends = _find_all(text, END_MARK)
    if not begins and not ends:
        return None
    where = ", ".join(f"line {line_of(text, at)}" for at in sorted(begins + ends))
    if len(begins) != 1 or len(ends) != 1 or ends[0] < begins[0]:
        raise AgentOssecError(
            f"{source}: the role's managed block markers are broken ({len(begins)} BEGIN, {len(ends)} END, at "
            f"{where}); remove them by hand (and the block between) so the role can write the block again"
        )
    begin, end = begins[0], ends[0] + len(END_MARK)
    for node in roots:
        if node.start < begin < node.end or node.start < end <= node.end:
            raise AgentOssecError(
                f"{source}: the managed block marker at line {line_of(text, begin)} lies inside <{node.element}> "
                f"(line {node.line}); remove the markers by hand"
            )
    inside = [node for node in roots if begin < node.start < end]
    if len(inside) != 1 or inside[0].element != ROOT:
        raise AgentOssecError(
            f"{source}: the managed block (line {line_of(text, begin)}) must hold exactly one <{ROOT}> element, "
            f"it holds {len(inside)}; remove the markers and the block by hand"
        )
    line_start = text.rfind("\n", 0, begin) + 1
    start = line_start if not text[line_start:begin].strip() else begin
    stop = end
    for newline in ("\r\n", "\n"):
        if text.startswith(newline, end):
            stop = end + len(newline)
            break
    return Block(start, stop, inside[0])


def _find_all(text: str, needle: str) -> list[int]:
    found, at = [], text.find(needle)
    while at >= 0:
        found.append(at)
        at = text.find(needle, at + 1)
    return found


def _localfiles(root: Node, text: str) -> list[LocalFile]:
    result = []
    for node in root.children:
        if node.element != "localfile":
            continue
        query = [child for child in node.children if child.element == "query"]
        result.append(
            LocalFile(
                location=leaf(node, "location") or "",
                log_format=leaf(node, "log_format") or "",
                query=agent_unescape(query[0].content.strip()) if query else "",
                line=line_of(text, node.start),
            )
        )
    return result


def read_conf(text: str, source: str = "ossec.conf") -> Conf:
    """Read ``text`` as the agent would; raise AgentOssecError for a file the role must not edit."""
    try:
        top = read(text).children
    except OsXmlError as exc:
        raise AgentOssecError(f"{source}: Wazuh's XML reader refuses it: {exc}") from exc
    for node in top:
        if node.element != ROOT:
            raise AgentOssecError(
                f"{source}: line {node.line} holds a top-level <{node.element}>; the agent reads only <{ROOT}> here"
            )
    if not top:
        raise AgentOssecError(f"{source}: holds no <{ROOT}> element")
    block = _block(text, top, source)
    roots = [node for node in top if block is None or node is not block.element]
    conf = Conf(text=text, newline=newline_of(text), roots=roots, block=block)
    for root in roots:
        conf.clients.extend(child for child in root.children if child.element == "client")
        conf.localfiles.extend(_localfiles(root, text))
    for client in conf.clients:
        legacy = [child for child in client.children if child.element in LEGACY_SERVER]
        if legacy:
            raise AgentOssecError(
                f"{source}: line {legacy[0].line} sets the manager with <{legacy[0].element}>, which this role does "
                "not edit; replace it with <server><address> by hand"
            )
        conf.servers.extend(child for child in client.children if child.element == "server")
    if block is not None:
        conf.block_channels = [{"location": f.location, "query": f.query} for f in _localfiles(block.element, text)]
    return conf

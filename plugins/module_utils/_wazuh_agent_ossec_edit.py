# Copyright: m1038.appcontrol contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Edit a Windows Wazuh agent's ``ossec.conf``: our values and our block, every other byte left alone.

``edit()`` never re-serialises the file. It reads it with ``_wazuh_agent_ossec.read_conf`` (Wazuh's own
reader, ported), computes a few replacements by offset, and splices them in:

- ``<client><server>``: ``address`` and ``port`` of the one server (a file listing several managers,
  failover, is refused: the role manages one). Missing elements are added, indented like their
  neighbours, with the file's own line ending;
- ``<client><enrollment>``: ``agent_name`` and ``groups`` when asked for, ``manager_address``,
  ``port``, ``enabled`` and ``authorization_pass_path`` only where the file sets them to something that
  would send the enrollment elsewhere or switch it off;
- the managed block (one ``<ossec_config>`` of eventchannel ``<localfile>`` entries between the marker
  comments): replaced, appended at the end, or removed when no channel is wanted. A channel the file
  already collects with a ``<localfile>`` of its own is left out of the block, with a warning, so the
  agent does not subscribe to it twice.

Locations and queries are written exactly as the manager role writes them into ``agent.conf``
(``_wazuh_agent_conf.location_text``/``query_text``: os_xml's backslash escape). The result is read
back with the same reader and must give the values asked for; ``AgentOssecError`` otherwise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_agent_conf import (
    AgentConfError,
    location_text,
    normalize_channels,
    query_text,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_agent_ossec import (
    BEGIN_MARK,
    END_MARK,
    ROOT,
    AgentOssecError,
    Conf,
    leaf,
    read_conf,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_osxml import Node

PASS_FILE = "authd.pass"  # noqa: S105 - a file name: the agent's default (AUTHD_PASS), in its install folder
DEFAULT_ENROLLMENT_PORT = 1515
_ADDRESS_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.:_-]{0,252}$")
_NAME_RE = re.compile(r"^[A-Za-z0-9._-]{2,128}$")  # the agent's OS_IsValidName characters
_GROUP_RE = re.compile(r"^[A-Za-z0-9._-]{1,255}$")


@dataclass
class Desired:
    manager_address: str
    manager_port: int = 1514
    enrollment_port: int = DEFAULT_ENROLLMENT_PORT
    agent_name: str = ""  # empty: the agent enrolls under its host name
    groups: str = ""  # comma-separated; empty: left as the file has it
    password_file: bool = False  # the role writes authd.pass: the agent must read that file
    channels: list = field(default_factory=list)  # empty: no managed block


@dataclass
class EditResult:
    text: str
    changes: list[str]
    warnings: list[str]
    channels: list[dict]  # what the managed block collects

    @property
    def changed(self) -> bool:
        return bool(self.changes)


def check_desired(desired: Desired) -> None:
    """Raise AgentOssecError naming the setting whose value cannot be written into ossec.conf."""
    if not isinstance(desired.manager_address, str) or not _ADDRESS_RE.fullmatch(desired.manager_address):
        raise AgentOssecError(
            f"manager address {desired.manager_address!r} is not a host name or IP address "
            "(letters, digits, '.', ':', '_', '-')"
        )
    for what, port in (("manager port", desired.manager_port), ("enrollment port", desired.enrollment_port)):
        if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
            raise AgentOssecError(f"{what} {port!r} is not a TCP port (1-65535)")
    if desired.agent_name and not _NAME_RE.fullmatch(desired.agent_name):
        raise AgentOssecError(
            f"agent name {desired.agent_name!r} must be 2-128 of letters, digits, '.', '_', '-' (Wazuh's agent names)"
        )
    for group in desired.groups.split(",") if desired.groups else []:
        if not _GROUP_RE.fullmatch(group) or group in (".", ".."):
            raise AgentOssecError(f"agent group {group!r} may hold only letters, digits, '.', '_' and '-'")


class _Splice:
    """Replacements by offset into the original text, applied from the end so offsets stay valid."""

    def __init__(self, text: str):
        self.text = text
        self.items: list[tuple[int, int, str]] = []

    def replace(self, start: int, end: int, new: str) -> None:
        self.items.append((start, end, new))

    def apply(self) -> str:
        text, last = self.text, len(self.text) + 1
        # From the end; of two insertions at one offset the later-added goes in first, so it ends up after.
        order = sorted(range(len(self.items)), key=lambda i: (self.items[i][0], self.items[i][1], i), reverse=True)
        for start, end, new in (self.items[i] for i in order):
            if end > last:
                raise AgentOssecError("two edits of ossec.conf overlap (a bug in the role, not in the file)")
            text, last = text[:start] + new + text[end:], start
        return text


def _indent_before(text: str, offset: int) -> str:
    line_start = text.rfind("\n", 0, offset) + 1
    prefix = text[line_start:offset]
    return prefix if not prefix.strip() else ""


def _child_indent(text: str, parent: Node) -> tuple[str, str]:
    """(indentation of the parent's line, indentation of its children)."""
    outer = _indent_before(text, parent.start)
    for child in parent.children:
        inner = _indent_before(text, child.start)
        if len(inner) > len(outer):
            return outer, inner
    return outer, outer + ("\t" if "\t" in outer else "  ")


def _element_lines(name: str, value, indent: str, unit: str) -> list[str]:
    """``<name>value</name>``, or the element with its children on their own lines when value is a list."""
    if isinstance(value, str):
        return [f"{indent}<{name}>{value}</{name}>"]
    lines = [f"{indent}<{name}>"]
    for child, child_value in value:
        lines.extend(_element_lines(child, child_value, indent + unit, unit))
    return [*lines, f"{indent}</{name}>"]


def _insert_child(splice: _Splice, conf: Conf, parent: Node, name: str, value) -> None:
    """Add ``<name>`` as the parent's last child, on its own line(s) before the closing tag."""
    text, nl = conf.text, conf.newline
    outer, inner = _child_indent(text, parent)
    unit = inner[len(outer) :] or "  "
    lines = _element_lines(name, value, inner, unit)
    close = parent.content_end
    line_start = text.rfind("\n", 0, close) + 1
    if not text[line_start:close].strip():
        splice.replace(line_start, line_start, "".join(line + nl for line in lines))
    else:
        splice.replace(close, close, nl + "".join(line + nl for line in lines) + outer)


def _set_leaf(splice: _Splice, conf: Conf, parent: Node, name: str, value: str, *, changes: list, label: str) -> None:
    found = [child for child in parent.children if child.element == name]
    if len(found) > 1:
        raise AgentOssecError(f"ossec.conf sets {label} twice (lines {found[0].line} and {found[1].line})")
    if not found:
        _insert_child(splice, conf, parent, name, value)
        changes.append(f"{label} added: {value}")
        return
    node = found[0]
    if node.children:
        raise AgentOssecError(f"ossec.conf line {node.line}: {label} holds elements, not a value")
    if node.content == value and conf.text[node.content_start : node.content_end] == value:
        return
    splice.replace(node.content_start, node.content_end, value)
    changes.append(f"{label}: {node.content.strip()!r} -> {value!r}")


def _enrollment_wants(conf: Conf, desired: Desired) -> list[tuple[str, str, bool]]:
    """(element, value, add when missing) for each enrollment setting the file must carry."""
    current = conf.enrollment()
    wants = []
    if desired.agent_name:
        wants.append(("agent_name", desired.agent_name, True))
    if desired.groups:
        wants.append(("groups", desired.groups, True))
    if "manager_address" in current:
        wants.append(("manager_address", desired.manager_address, False))
    if "port" in current or desired.enrollment_port != DEFAULT_ENROLLMENT_PORT:
        wants.append(("port", str(desired.enrollment_port), True))
    if "enabled" in current:
        wants.append(("enabled", "yes", False))
    if desired.password_file and "authorization_pass_path" in current:
        wants.append(("authorization_pass_path", PASS_FILE, False))
    return wants


def _edit_client(splice: _Splice, conf: Conf, desired: Desired, changes: list) -> None:
    if len(conf.servers) > 1:
        lines = ", ".join(str(server.line) for server in conf.servers)
        raise AgentOssecError(
            f"ossec.conf lists {len(conf.servers)} managers in <client><server> (lines {lines}, failover); this "
            "role points the agent at one: remove the others by hand"
        )
    server_leaves = [("address", desired.manager_address), ("port", str(desired.manager_port))]
    enrollment = [(name, value) for name, value, _add in _enrollment_wants(conf, desired)]
    client = conf.server_client()
    if client is None:
        if not conf.roots:
            raise AgentOssecError("ossec.conf holds only the role's managed block; restore the agent's own settings")
        body = [("server", server_leaves)] + ([("enrollment", enrollment)] if enrollment else [])
        _insert_child(splice, conf, conf.roots[0], "client", body)
        changes.append(f"<client> added: server {desired.manager_address}:{desired.manager_port}")
        return
    if conf.server is None:
        _insert_child(splice, conf, client, "server", server_leaves)
        changes.append(f"<client><server> added: {desired.manager_address}:{desired.manager_port}")
    else:
        for name, value in server_leaves:
            _set_leaf(splice, conf, conf.server, name, value, changes=changes, label=f"<client><server><{name}>")
    node = conf.enrollment_node()
    if node is None:
        if enrollment:
            _insert_child(splice, conf, client, "enrollment", enrollment)
            changes.append("<client><enrollment> added: " + ", ".join(f"{n}={v}" for n, v in enrollment))
        return
    for name, value, _add in _enrollment_wants(conf, desired):
        _set_leaf(splice, conf, node, name, value, changes=changes, label=f"<client><enrollment><{name}>")


def _kept_channels(conf: Conf, wanted: list[dict], warnings: list) -> list[dict]:
    own = {f.location.casefold(): f for f in conf.localfiles}
    kept = []
    for channel in wanted:
        theirs = own.get(channel["location"].casefold())
        if theirs is None:
            kept.append(channel)
            continue
        warnings.append(
            f"{channel['location']}: ossec.conf already collects it with a <localfile> of its own (line {theirs.line}, "
            f"query {theirs.query or 'none: the whole channel'}); the managed block leaves its own (query "
            f"{channel['query'] or 'none'}) out, so the agent does not subscribe twice"
        )
    return kept


def render_block(channels: list[dict], newline: str = "\n") -> str:
    """The managed block: marker, one <ossec_config> of eventchannel localfiles, marker; each line ended."""
    lines = [BEGIN_MARK, f"<{ROOT}>"]
    for index, channel in enumerate(channels):
        where = f"channel #{index + 1}"
        lines += ["  <localfile>", f"    <location>{location_text(channel['location'], where)}</location>"]
        lines.append("    <log_format>eventchannel</log_format>")
        if channel["query"]:
            lines.append(f"    <query>{query_text(channel['query'], where + ' (' + channel['location'] + ')')}</query>")
        lines.append("  </localfile>")
    lines += [f"</{ROOT}>", END_MARK]
    return "".join(line + newline for line in lines)


def _edit_block(splice: _Splice, conf: Conf, kept: list[dict], changes: list) -> None:
    text, nl, block = conf.text, conf.newline, conf.block
    if not kept:
        if block is not None:
            start = block.start - len(nl) if text[: block.start].endswith(nl + nl) else block.start
            splice.replace(start, block.end, "")
            changes.append(f"managed block removed ({len(conf.block_channels)} channels)")
        return
    new = render_block(kept, nl)
    if block is None:
        lead = nl if text.endswith("\n") else nl + nl
        splice.replace(len(text), len(text), lead + new)
        changes.append(f"managed block added ({len(kept)} channels)")
    elif text[block.start : block.end] != new:
        splice.replace(block.start, block.end, new)
        changes.append(f"managed block rewritten ({len(conf.block_channels)} -> {len(kept)} channels)")


def _check_result(text: str, desired: Desired, kept: list[dict], source: str) -> None:
    """The edited file, read as the agent reads it, must say what was asked for."""
    after = read_conf(text, source + " (after the edit)")
    server = after.server
    got = (leaf(server, "address"), leaf(server, "port")) if server is not None else None
    if got != (desired.manager_address, str(desired.manager_port)) or after.block_channels != kept:
        raise AgentOssecError(f"{source}: the edited file would not read back as asked (server {got})")
    enrollment = after.enrollment()
    for name, value, _add in _enrollment_wants(after, desired):
        if enrollment.get(name) != value:
            raise AgentOssecError(f"{source}: the edited file would not read back <enrollment><{name}> {value!r}")


def validate_desired(desired: Desired) -> list[dict]:
    """The wanted channels, normalised; AgentOssecError naming a setting that cannot be written."""
    check_desired(desired)
    try:
        wanted = normalize_channels(list(desired.channels or []))
        render_block(wanted)  # a location or query Wazuh cannot read back fails here, before any file is read
    except AgentConfError as exc:
        raise AgentOssecError(f"wazuh_agent_channels: {exc}") from exc
    return wanted


def edit(text: str, desired: Desired, source: str = "ossec.conf") -> EditResult:
    """``text`` with our values and block; raise AgentOssecError (naming the line) for a file left as it is."""
    wanted = validate_desired(desired)
    conf = read_conf(text, source)
    changes: list[str] = []
    warnings: list[str] = []
    splice = _Splice(text)
    _edit_client(splice, conf, desired, changes)
    kept = _kept_channels(conf, wanted, warnings)
    _edit_block(splice, conf, kept, changes)
    new_text = splice.apply()
    _check_result(new_text, desired, kept, source)
    return EditResult(text=new_text, changes=changes, warnings=warnings, channels=kept)

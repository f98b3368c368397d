# Copyright: m1038.appcontrol contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render and check the shared ``agent.conf`` of a Wazuh agent group (private helper, stdlib only).

The file holds one ``<agent_config>`` block with an eventchannel ``<localfile>`` per Windows
channel. It is written for the reader that matters, Wazuh's own ``os_xml`` (manager and agent;
see ``_wazuh_osxml``), which decodes no entity:

- a query is written with os_xml's escape: each ``\\`` doubled and each ``<`` written ``\\<``.
  os_xml keeps those backslashes in the text and the Windows agent's ``filter_special_chars()``
  (``src/shared/string_op.c``, applied in ``read_win_event_channel.c``) drops one before each
  character, so ``EventID>4000 and Level<=3`` reaches ``EvtSubscribe`` exactly as written.
  A query holding ``<!`` cannot be written (os_xml starts a comment there, escaped or not);
- a channel name is written as is; one holding ``<``, or ending in a backslash (it would escape
  the closing tag), cannot be written, because nothing on the agent would remove an escape.

Every rendered file is read back with the os_xml port before it is returned, and must give the
channels and queries asked for.
"""

from __future__ import annotations

import re

from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_osxml import (
    XML_MAXSIZE,
    OsXmlError,
    agent_unescape,
    read,
)

HEADER = "<!-- Managed by Ansible (m1038.appcontrol.wazuh_manager). Edits here are overwritten. -->\n"
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_OS_RE = re.compile(r"^[A-Za-z0-9 ._-]*$")
_GROUP_RE = re.compile(r"^[A-Za-z0-9._-]{1,255}$")


class AgentConfError(ValueError):
    """Input that cannot be rendered into a valid agent.conf."""


def check_group_name(name: str) -> str:
    """Wazuh group names: letters, digits, '.', '_' and '-', not '.' or '..'."""
    if not isinstance(name, str) or not _GROUP_RE.fullmatch(name) or name in (".", ".."):
        raise AgentConfError(f"agent group name {name!r} must be 1-255 of letters, digits, '.', '_', '-'")
    return name


def _clean(value: object, what: str, *, required: bool) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise AgentConfError(f"{what} must be a string, got {type(value).__name__}: {value!r}")
    value = value.strip()
    if required and not value:
        raise AgentConfError(f"{what} must not be empty")
    if _CONTROL_RE.search(value) or "\n" in value or "\r" in value:
        raise AgentConfError(f"{what} {value!r} holds a line break or control character")
    return value


def normalize_channels(channels: list) -> list[dict]:
    """Validate ``[{location, query?}]``; reject duplicates, naming the offending entry."""
    if not isinstance(channels, list):
        raise AgentConfError(f"channels must be a list, got {type(channels).__name__}")
    seen: set[str] = set()
    result = []
    for index, item in enumerate(channels):
        where = f"channel #{index + 1}"
        if not isinstance(item, dict):
            raise AgentConfError(f"{where} must be a mapping with 'location' (and optional 'query'), got {item!r}")
        unknown = set(item) - {"location", "query", "name"}
        if unknown:
            raise AgentConfError(f"{where} has unknown keys {sorted(unknown)}")
        location = _clean(item.get("location"), f"{where} location", required=True)
        query = _clean(item.get("query"), f"{where} ({location}) query", required=False)
        if location in seen:
            raise AgentConfError(f"{where}: channel {location!r} is listed twice")
        seen.add(location)
        result.append({"location": location, "query": query})
    return result


def _fits(text: str, what: str) -> str:
    if len(text.encode("utf-8")) >= XML_MAXSIZE:
        raise AgentConfError(f"{what} is longer than os_xml's XML_MAXSIZE ({XML_MAXSIZE} bytes) once written")
    return text


def location_text(location: str, where: str) -> str:
    """A channel name as os_xml reads it back unchanged (no escape exists for it)."""
    if "<" in location:
        raise AgentConfError(f"{where} location {location!r} holds '<', which Wazuh's XML reader cannot carry")
    if (len(location) - len(location.rstrip("\\"))) % 2:
        raise AgentConfError(f"{where} location {location!r} ends with a backslash, which would escape the closing tag")
    return _fits(location, f"{where} location")


def query_text(query: str, where: str) -> str:
    """A query escaped so that os_xml, then the agent's filter_special_chars(), give ``query`` back."""
    if "<!" in query:
        raise AgentConfError(f"{where} query {query!r} holds '<!', which Wazuh's XML reader takes for a comment")
    return _fits(query.replace("\\", "\\\\").replace("<", "\\<"), f"{where} query")


def render(channels: list, os_filter: str = "Windows") -> str:
    """Return the agent.conf text for ``channels`` (eventchannel localfiles) under ``os_filter``."""
    os_filter = _clean(os_filter, "os filter", required=False)
    if not _OS_RE.fullmatch(os_filter):
        raise AgentConfError(f"os filter {os_filter!r} may hold only letters, digits, space, '.', '_', '-'")
    attr = f' os="{os_filter}"' if os_filter else ""
    wanted = normalize_channels(channels)
    lines = [HEADER, f"<agent_config{attr}>\n"]
    for index, channel in enumerate(wanted):
        where = f"channel #{index + 1}"
        lines.append("  <localfile>\n")
        lines.append(f"    <location>{location_text(channel['location'], where)}</location>\n")
        lines.append("    <log_format>eventchannel</log_format>\n")
        if channel["query"]:
            query = query_text(channel["query"], f"{where} ({channel['location']})")
            lines.append(f"    <query>{query}</query>\n")
        lines.append("  </localfile>\n")
    lines.append("</agent_config>\n")
    text = "".join(lines)
    if parse(text) != wanted:  # the file must say to Wazuh what was asked for
        raise AgentConfError(f"agent.conf would not read back as the channels given: {wanted!r}")
    return text


def parse(text: str) -> list[dict]:
    """The eventchannel localfiles as Wazuh uses them: read by os_xml, each query as the agent filters it."""
    try:
        root = read(text)
    except OsXmlError as exc:
        raise AgentConfError(f"agent.conf: Wazuh's XML reader refuses it: {exc}") from exc
    found = []
    for localfile in root.find_all("localfile"):
        location = next(localfile.find_all("location"), None)
        query = next(localfile.find_all("query"), None)
        found.append(
            {
                "location": location.content if location is not None else "",
                "query": agent_unescape(query.content) if query is not None else "",
            }
        )
    return found

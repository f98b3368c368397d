# Copyright: m1038.appcontrol contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render and check the shared ``agent.conf`` of a Wazuh agent group (private helper, stdlib only).

The file holds one ``<agent_config>`` block with an eventchannel ``<localfile>`` per Windows
channel. Channel names and XPath queries are user input; they are escaped as XML text, so a
query such as ``*[System[(EventID=8003 or EventID=8004)]]`` or one holding ``<``/``&`` reaches
the agent exactly as written.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape, quoteattr

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


def render(channels: list, os_filter: str = "Windows") -> str:
    """Return the agent.conf text for ``channels`` (eventchannel localfiles) under ``os_filter``."""
    os_filter = _clean(os_filter, "os filter", required=False)
    if not _OS_RE.fullmatch(os_filter):
        raise AgentConfError(f"os filter {os_filter!r} may hold only letters, digits, space, '.', '_', '-'")
    attr = f" os={quoteattr(os_filter)}" if os_filter else ""
    lines = [HEADER, f"<agent_config{attr}>\n"]
    for channel in normalize_channels(channels):
        lines.append("  <localfile>\n")
        lines.append(f"    <location>{escape(channel['location'])}</location>\n")
        lines.append("    <log_format>eventchannel</log_format>\n")
        if channel["query"]:
            lines.append(f"    <query>{escape(channel['query'])}</query>\n")
        lines.append("  </localfile>\n")
    lines.append("</agent_config>\n")
    return "".join(lines)


def parse(text: str) -> list[dict]:
    """Read the eventchannel localfiles back from agent.conf text (for tests and checks)."""
    try:
        root = ET.fromstring("<m1038-wrap>" + text + "</m1038-wrap>")  # noqa: S314 - text we rendered
    except ET.ParseError as exc:
        raise AgentConfError(f"agent.conf is not well-formed XML: {exc}") from exc
    found = []
    for localfile in root.iter("localfile"):
        query = localfile.find("query")
        found.append(
            {
                "location": (localfile.findtext("location") or "").strip(),
                "query": (query.text or "").strip() if query is not None else "",
            }
        )
    return found

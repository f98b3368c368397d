# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Manager route: where agents and their packages come from, page by page.

Two sources give the same thing (agents, then each agent's package items) to the fleet runner
(``_software_inventory_fleet``):

* ``ApiSource``: the Wazuh API. ``GET /agents`` (sorted by id, filtered by ``os.platform`` and
  ``status``), then ``GET /syscollector/{agent_id}/packages`` for each, both paged with
  ``offset``/``limit``. Items are sorted by name and version so that a file's bytes change only
  when the inventory does. If ``total_affected_items`` moves while an agent is paged (its
  syscollector scan landed in between), the agent is read again from the start.
* ``RecordedSource``: saved responses, one file per agent (what this route writes, or responses
  saved by other means), read one at a time: the lab uses it because its manager is a test double
  without a Wazuh API.

Every item is cut to the selected fields, and its name, vendor and version are cleaned exactly as
the Windows route cleans the registry values (``_software_inventory_text``), so one registry value
gives one vendor string whichever route read it.

``formats`` keeps the packages of those ``format`` values only (default ``win``: the Uninstall
keys, as the Windows route reads them). A Windows agent's syscollector also reports Python and
Node.js packages found on disk (``pypi``, ``npm``; wazuh/wazuh src/data_provider/src/sysInfoWin.cpp,
``SysInfo::getPackages``), whose vendor is a package author, not a software publisher. One format
is asked of the API (the ``format`` filter, so paging counts only those); with several, or from
saved responses, the others are dropped here and counted (``item_other_format``).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass

from ansible_collections.m1038.appcontrol.plugins.module_utils._software_inventory_text import (
    MAX_NAME_CHARS,
    MAX_VERSION_CHARS,
    Tally,
    clean_label,
    clean_publisher,
)

DEFAULT_FIELDS = ("name", "version", "vendor", "architecture", "format", "location", "install_time")
DEFAULT_FORMATS = ("win",)
# The packages fields the API can select (framework/wazuh/core/syscollector.py, Type.PACKAGES).
SELECTABLE = frozenset(
    {
        "scan.id",
        "scan.time",
        "format",
        "name",
        "priority",
        "section",
        "size",
        "vendor",
        "install_time",
        "version",
        "architecture",
        "multiarch",
        "source",
        "description",
        "location",
    }
)
REQUIRED_FIELDS = ("name", "vendor", "version")
AGENT_ID = re.compile(r"^\d{3,}$")
MANAGER_ID = "000"
AGENT_STATUSES = ("active", "pending", "never_connected", "disconnected")
NO_SUCH_AGENT = 1701  # WazuhResourceNotFound(1701): the agent does not exist (any more)


class PageError(ValueError):
    """A response is not shaped like a Wazuh API list response; the message says which."""


class AgentGone(Exception):
    """The agent was deleted between the agent list and its packages."""


@dataclass(frozen=True)
class Agent:
    id: str
    name: str
    path: str = ""  # the saved response, for RecordedSource


def check_fields(fields: list[str]) -> tuple[str, ...]:
    unknown = sorted(set(fields) - SELECTABLE)
    if unknown:
        raise ValueError(f"fields {unknown} are not packages fields of the Wazuh API ({', '.join(sorted(SELECTABLE))})")
    missing = [f for f in REQUIRED_FIELDS if f not in fields]
    if missing:
        raise ValueError(f"fields must include {', '.join(missing)} (the renderer reads name, vendor and version)")
    return tuple(dict.fromkeys(fields))


def parse_page(document: object, what: str) -> tuple[list, int, list]:
    """(items, total_affected_items, failed_items) of one list response."""
    data = document.get("data") if isinstance(document, dict) else None
    items = data.get("affected_items") if isinstance(data, dict) else None
    total = data.get("total_affected_items") if isinstance(data, dict) else None
    if not isinstance(items, list) or not isinstance(total, int) or isinstance(total, bool) or total < 0:
        raise PageError(f"{what}: not a Wazuh API list response (data.affected_items and data.total_affected_items)")
    failed = data.get("failed_items") or []
    if not isinstance(failed, list):
        raise PageError(f"{what}: data.failed_items is not a list")
    return items, total, failed


def failed_code(failed: list) -> tuple[int | None, str]:
    first = failed[0] if failed and isinstance(failed[0], dict) else {}
    error = first.get("error") if isinstance(first.get("error"), dict) else {}
    code = error.get("code")
    return (code if isinstance(code, int) else None), str(error.get("message", first))[:300]


def project_item(
    item: object, fields: tuple[str, ...], where: str, tally: Tally, formats: tuple[str, ...] = ()
) -> dict | None:
    """The selected fields of one package, name/vendor/version cleaned; None when it has no name or another format."""
    if not isinstance(item, dict):
        tally.note("item_not_an_object", where, type(item).__name__)
        return None
    if formats and "format" in item and item["format"] not in formats:
        tally.note("item_other_format", where, repr(item["format"])[:40])
        return None
    projected: dict = {}
    for name in fields:
        head, _dot, tail = name.partition(".")
        value = item.get(head)
        if tail:  # scan.id, scan.time: kept nested, as the API returns them
            value = value.get(tail) if isinstance(value, dict) else None
            if value is not None:
                projected.setdefault(head, {})[tail] = value
        elif value is not None:
            projected[name] = value
    projected["name"] = clean_label(item.get("name"), "name", MAX_NAME_CHARS, where, tally)
    if not projected["name"]:
        tally.note("item_without_name", where)
        return None
    projected["vendor"] = clean_publisher(item.get("vendor"), where, tally)
    projected["version"] = clean_label(item.get("version"), "version", MAX_VERSION_CHARS, where, tally)
    return projected


def check_agent(item: object, what: str) -> Agent:
    if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not AGENT_ID.match(item["id"]):
        raise PageError(f"{what}: agent {item!r} has no agent id of three or more digits")
    name = item.get("name")
    if not isinstance(name, str) or not name.strip():
        raise PageError(f"{what}: agent {item['id']} has an unusable name {name!r}")
    return Agent(item["id"], name)


class ApiSource:
    kind = "api"

    def __init__(
        self,
        api,
        *,
        page_size: int,
        agents_page_size: int,
        fields: tuple[str, ...],
        platform: str,
        statuses: list[str],
        formats: tuple[str, ...] = DEFAULT_FORMATS,
        max_restarts: int = 2,
    ) -> None:
        self.api = api
        self.formats = tuple(formats)
        self.page_size = page_size
        self.agents_page_size = agents_page_size
        self.fields = fields
        self.platform = platform
        self.statuses = statuses
        self.max_restarts = max_restarts

    def agents(self) -> Iterator[Agent]:
        params = {"select": "id,name,status", "sort": "+id", "limit": self.agents_page_size}
        if self.platform:
            params["os.platform"] = self.platform
        if self.statuses:
            params["status"] = ",".join(self.statuses)
        offset = 0
        seen_ids: set[str] = set()
        while True:
            what = f"GET /agents offset {offset}"
            items, total, _failed = parse_page(self.api.get_json("/agents", {**params, "offset": offset}), what)
            for item in items:
                agent = check_agent(item, what)
                if agent.id != MANAGER_ID and agent.id not in seen_ids:  # 000 is the manager itself
                    seen_ids.add(agent.id)
                    yield agent
            offset += len(items)
            if not items or offset >= total:
                return

    def fetch(self, agent: Agent, out, tally: Tally) -> None:
        """Stream the agent's packages into ``out``; restart when the inventory moves under the pages."""
        path = f"/syscollector/{agent.id}/packages"
        base = {"limit": self.page_size, "select": ",".join(self.fields), "sort": "+name,version"}
        if len(self.formats) == 1:
            base["format"] = self.formats[0]
        for attempt in range(self.max_restarts + 1):
            if attempt:
                out.restart()
            offset, total = 0, None
            while True:
                what = f"GET {path} offset {offset}"
                items, page_total, failed = parse_page(self.api.get_json(path, {**base, "offset": offset}), what)
                if failed:
                    code, message = failed_code(failed)
                    if code == NO_SUCH_AGENT:
                        raise AgentGone(message)
                    raise PageError(f"{what}: the API reported a failure for agent {agent.id}: {message}")
                if total is None:
                    total = page_total
                elif page_total != total:
                    break  # the inventory changed between two pages: read it again
                for index, item in enumerate(items):
                    where = f"agent {agent.id} item {offset + index}"
                    projected = project_item(item, self.fields, where, tally, self.formats)
                    if projected is not None:
                        out.add(projected)
                offset += len(items)
                if offset >= total:
                    return
                if not items:
                    break  # fewer items than announced: read it again
        raise PageError(
            f"{path}: the package count kept changing while it was read ({self.max_restarts + 1} attempts); "
            "syscollector is rescanning this agent, try again later"
        )


def _response_agent(document: dict, path: str) -> Agent:
    items = document["data"]["affected_items"]
    agent_id = document.get("agent_id")
    if agent_id is None:
        ids = {item.get("agent_id") for item in items if isinstance(item, dict) and item.get("agent_id")}
        agent_id = ids.pop() if len(ids) == 1 else None
    name = document.get("agent_name") or document.get("name") or agent_id
    return check_agent({"id": agent_id, "name": name}, path)


class RecordedSource:
    """Saved responses, one per ``*.json`` file: the response's agent_id (or its items') and agent_name."""

    kind = "recorded"

    def __init__(self, directory: str, fields: tuple[str, ...], formats: tuple[str, ...] = DEFAULT_FORMATS) -> None:
        if not os.path.isdir(directory):
            raise ValueError(f"recorded_dir {directory!r} is not a directory")
        self.directory = directory
        self.fields = fields
        self.formats = tuple(formats)

    def _load(self, path: str) -> dict:
        try:
            with open(path, encoding="utf-8-sig") as handle:
                document = json.load(handle)
        except (OSError, ValueError) as exc:
            raise PageError(f"{path}: cannot be read as JSON ({exc})") from None
        parse_page(document, path)
        return document

    def agents(self) -> Iterator[Agent]:
        seen: dict[str, str] = {}
        for name in sorted(os.listdir(self.directory)):
            path = os.path.join(self.directory, name)
            if name.startswith(".") or not name.endswith(".json") or not os.path.isfile(path):
                continue
            agent = _response_agent(self._load(path), path)
            if agent.id in seen:
                raise PageError(f"{path}: agent {agent.id} was already read from {seen[agent.id]}")
            seen[agent.id] = path
            if agent.id != MANAGER_ID:
                yield Agent(agent.id, agent.name, path)

    def fetch(self, agent: Agent, out, tally: Tally) -> None:
        items, _total, _failed = parse_page(self._load(agent.path), agent.path)
        for index, item in enumerate(items):
            projected = project_item(item, self.fields, f"{agent.path} item {index}", tally, self.formats)
            if projected is not None:
                out.add(projected)


__all__ = [
    "AGENT_STATUSES",
    "DEFAULT_FIELDS",
    "DEFAULT_FORMATS",
    "SELECTABLE",
    "Agent",
    "AgentGone",
    "ApiSource",
    "PageError",
    "RecordedSource",
    "check_fields",
    "parse_page",
    "project_item",
]

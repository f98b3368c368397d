#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: wazuh_syscollector
short_description: Save every agent's installed packages from the Wazuh API, one file per agent
version_added: 0.1.0
description:
  - The manager route of the C(m1038.appcontrol.software_inventory) role (C(docs/software-inventory.md)). Lists
    the agents (C(GET /agents), paged), reads each agent's packages (C(GET /syscollector/{agent_id}/packages),
    paged) and writes one file per agent into O(dest), in the saved-responses form
    M(m1038.appcontrol.wazuh_ruleset) reads (C(inventory_format=syscollector)).
  - Logs in with HTTP Basic credentials (C(POST /security/user/authenticate)) and renews the JWT before it
    expires and after a 401. Retries 429 and 5xx answers with exponential backoff and jitter; a 429 pauses
    every thread. A refused login is never retried (failed logins lead the API to block the address).
  - Bounded memory for any fleet size. Agents are handed to O(concurrency) threads through a short queue; each
    file is streamed to disk page by page and kept only when its SHA-256 differs from the last run's.
  - Items are cut to O(fields); their C(name), C(vendor) and C(version) are cleaned as the Windows route
    cleans registry values, so the renderer accepts every file unchanged.
  - With O(recorded_dir) the same files are made from saved responses and no API is contacted.
  - Agent C(000) (the manager itself) is never read. Agents with no packages get no file.
  - Files this module wrote for agents that are gone are removed after a run that completed. Files it did not
    write are never touched (they are listed in RV(foreign), since the renderer reads them too).
author:
  - m1038.appcontrol contributors (@m1038-appcontrol)
attributes:
  check_mode:
    support: full
    description: Reads the API (or the saved responses) and reports which files would change; writes nothing.
  diff_mode:
    support: full
    description: One line per agent file written or removed, with its package count before and after.
options:
  dest:
    description: Directory of the saved responses (created when missing). Use a directory of its own.
    type: path
    required: true
  api_url:
    description:
      - Base URL of the Wazuh API, such as C(https://wazuh-master.example.com:55000).
      - Plain C(http://) is accepted only for a loopback address (a test server or a tunnel).
    type: str
  api_user:
    description:
      - API user. It needs the RBAC actions C(agent:read) and C(syscollector:read) and nothing else.
    type: str
  api_password:
    description: API password. Set it from a vault.
    type: str
  ca_path:
    description: CA bundle that signed the API's certificate; the system store when not set.
    type: path
  validate_certs:
    description: Verify the API's TLS certificate and host name. Turn off only for a throw-away test manager.
    type: bool
    default: true
  recorded_dir:
    description:
      - Directory of saved responses (one C(GET /syscollector/{agent_id}/packages) response per C(*.json) file,
        naming C(agent_id) and C(agent_name), or items carrying C(agent_id)) to use instead of the API. Nothing is
        contacted.
    type: path
  platform:
    description: Read only agents whose C(os.platform) is this. Empty reads agents of every platform.
    type: str
    default: windows
  statuses:
    description: Read only agents in these states. Never-connected and pending agents have no inventory yet.
    type: list
    elements: str
    choices: [active, disconnected, pending, never_connected]
    default: [active, disconnected]
  formats:
    description:
      - Keep only packages of these C(format) values. V(win) is what the Windows Uninstall keys hold (the Windows
        route's source); a Windows agent also reports Python (V(pypi)) and Node.js (V(npm)) packages found on disk,
        whose vendor is a package author. One format is filtered by the API; several, or saved responses, are
        filtered here. An empty list keeps every package.
    type: list
    elements: str
    default: [win]
  fields:
    description:
      - Package fields to keep (and to request with C(select)). Must include C(name), C(vendor) and C(version).
      - C(scan.time) changes at every syscollector scan; keeping it makes every file change every run.
    type: list
    elements: str
    default: [name, version, vendor, architecture, format, location, install_time]
  page_size:
    description: Packages per request (C(limit)). Wazuh recommends at most 500.
    type: int
    default: 500
  agents_page_size:
    description: Agents per C(GET /agents) request.
    type: int
    default: 500
  concurrency:
    description: Agents read at the same time.
    type: int
    default: 4
  requests_per_minute:
    description:
      - Most requests per minute this module sends; 0 sends as fast as the API answers.
      - The API's own limit (C(max_request_per_minute) in C(api.yaml), 300 by default) counts every client
        together, the dashboard included. Raise both together for a large fleet.
    type: int
    default: 240
  timeout:
    description: Seconds to wait for a connection or an answer.
    type: int
    default: 30
  retries:
    description: Retries of one request after a 429, a 5xx or a connection failure.
    type: int
    default: 6
  backoff:
    description:
      - First retry delay in seconds, doubled at each retry up to 60 seconds, times a random factor between 0.5
        and 1. The defaults outlast the API's one-minute rate window.
    type: float
    default: 2.0
  on_agent_error:
    description:
      - V(fail) stops at the first agent that cannot be read (after its retries).
      - V(keep) leaves that agent's previous file in place, goes on and lists the agent in RV(failed); a run of
        consecutive failures still stops it.
    type: str
    choices: [fail, keep]
    default: fail
notes:
  - The files change only when an agent's packages do, so a rerun reports no change. Agents listed while
    their syscollector scan lands are read again from their first page.
  - Runs on the controller or on a manager host; it needs only the Python standard library.
seealso:
  - module: m1038.appcontrol.wazuh_ruleset
  - module: m1038.appcontrol.software_inventory_facts
"""

EXAMPLES = r"""
- name: Save every Windows agent's packages from the Wazuh API
  m1038.appcontrol.wazuh_syscollector:
    api_url: https://wazuh-master.example.com:55000
    api_user: m1038-inventory
    api_password: "{{ vault_software_inventory_api_password }}"
    ca_path: /etc/pki/m1038/wazuh-api-ca.pem
    dest: /srv/m1038/syscollector
  delegate_to: localhost

- name: Render from them
  m1038.appcontrol.wazuh_ruleset:
    inventory_file: /srv/m1038/syscollector
    inventory_format: syscollector
    dest: /srv/m1038/wazuh
  delegate_to: localhost
"""

RETURN = r"""
source:
  description: C(api) or C(recorded).
  returned: always
  type: str
agents:
  description: Agents listed (after the platform and status filters, without agent 000).
  returned: always
  type: int
packages:
  description: Packages saved, over all agents.
  returned: always
  type: int
written_count:
  description: Files written because they are new or changed (in check mode, files that would be).
  returned: always
  type: int
written:
  description: The first 50 of them, with their package count now and in the previous file.
  returned: always
  type: list
  elements: dict
unchanged:
  description: Files left as they were.
  returned: always
  type: int
empty_count:
  description: Agents without packages (no file is written for them; a previous file is removed).
  returned: always
  type: int
gone:
  description: Agents deleted between the agent list and their packages.
  returned: always
  type: int
failed_count:
  description: Agents that could not be read (only with O(on_agent_error=keep), or the task fails).
  returned: always
  type: int
failed:
  description: The first 50 of them, with the error.
  returned: always
  type: list
  elements: dict
removed:
  description: Files removed because their agent is gone, empty or filtered out.
  returned: always
  type: list
  elements: dict
foreign:
  description: Files in O(dest) that this module did not write; the renderer reads them as well.
  returned: always
  type: list
  elements: str
normalised:
  description: Counts of what cleaning changed or skipped, and the first examples with where they came from.
  returned: always
  type: dict
api:
  description: Requests sent, logins and retries (empty for O(recorded_dir)).
  returned: always
  type: dict
  sample: {requests: 10021, authentications: 1, retries: 0}
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.m1038.appcontrol.plugins.module_utils._software_inventory_api import (
    ApiFatalError,
    ApiSettings,
    WazuhApi,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._software_inventory_fleet import FleetError, run_fleet
from ansible_collections.m1038.appcontrol.plugins.module_utils._software_inventory_store import (
    ResponseStore,
    StoreError,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._software_inventory_syscollector import (
    AGENT_STATUSES,
    DEFAULT_FIELDS,
    DEFAULT_FORMATS,
    ApiSource,
    RecordedSource,
    check_fields,
)

ARGUMENT_SPEC = {
    "dest": {"type": "path", "required": True},
    "api_url": {"type": "str"},
    "api_user": {"type": "str"},
    "api_password": {"type": "str", "no_log": True},
    "ca_path": {"type": "path"},
    "validate_certs": {"type": "bool", "default": True},
    "recorded_dir": {"type": "path"},
    "platform": {"type": "str", "default": "windows"},
    "statuses": {
        "type": "list",
        "elements": "str",
        "choices": list(AGENT_STATUSES),
        "default": ["active", "disconnected"],
    },
    "formats": {"type": "list", "elements": "str", "default": list(DEFAULT_FORMATS)},
    "fields": {"type": "list", "elements": "str", "default": list(DEFAULT_FIELDS)},
    "page_size": {"type": "int", "default": 500},
    "agents_page_size": {"type": "int", "default": 500},
    "concurrency": {"type": "int", "default": 4},
    "requests_per_minute": {"type": "int", "default": 240},
    "timeout": {"type": "int", "default": 30},
    "retries": {"type": "int", "default": 6},
    "backoff": {"type": "float", "default": 2.0},
    "on_agent_error": {"type": "str", "choices": ["fail", "keep"], "default": "fail"},
}
MAX_DIFF_LINES = 200


def check_params(params: dict) -> None:
    """Raise ValueError naming the first bad parameter."""
    for name, low, high in (
        ("page_size", 1, 10000),
        ("agents_page_size", 1, 10000),
        ("concurrency", 1, 64),
        ("timeout", 1, 3600),
        ("retries", 0, 20),
    ):
        if not low <= params[name] <= high:
            raise ValueError(f"{name} {params[name]} is not between {low} and {high}")
    if params["requests_per_minute"] < 0:
        raise ValueError(f"requests_per_minute {params['requests_per_minute']} is negative")
    if not 0 < params["backoff"] <= 60:
        raise ValueError(f"backoff {params['backoff']} is not above 0 and at most 60 seconds")
    if params["api_url"] and not (params["api_user"] and params["api_password"]):
        raise ValueError("api_url needs api_user and api_password (set the password from a vault)")
    if params["recorded_dir"] and os.path.realpath(params["recorded_dir"]) == os.path.realpath(params["dest"]):
        raise ValueError("recorded_dir and dest are the same directory")


def diff_lines(result) -> dict:
    before, after = [], []
    for entry in result.written[:MAX_DIFF_LINES]:
        name = f"{entry['agent_id']}.json ({entry['agent_name']})"
        if entry["before"] is not None:
            before.append(f"{name}: {entry['before']} packages")
        after.append(f"{name}: {entry['packages']} packages")
    for entry in result.removed[:MAX_DIFF_LINES]:
        before.append(f"{entry['file']} ({entry['agent_name']}): {entry['packages']} packages")
    more = result.written_count - len(result.written)
    if more > 0:
        after.append(f"... and {more} more files")
    return {"before": "\n".join(before) + "\n" if before else "", "after": "\n".join(after) + "\n" if after else ""}


def main():
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        mutually_exclusive=[("api_url", "recorded_dir")],
        required_one_of=[("api_url", "recorded_dir")],
        supports_check_mode=True,
    )
    params = module.params
    api = None
    try:
        check_params(params)
        fields = check_fields(params["fields"])
        if params["recorded_dir"]:
            source = RecordedSource(params["recorded_dir"], fields, tuple(params["formats"]))
        else:
            settings = ApiSettings(
                url=params["api_url"],
                user=params["api_user"],
                password=params["api_password"],
                ca_path=params["ca_path"],
                validate_certs=params["validate_certs"],
                timeout=params["timeout"],
                retries=params["retries"],
                backoff=params["backoff"],
                requests_per_minute=params["requests_per_minute"],
                user_agent="m1038.appcontrol.wazuh_syscollector",
            )
            api = WazuhApi(settings)
            source = ApiSource(
                api,
                page_size=params["page_size"],
                agents_page_size=params["agents_page_size"],
                fields=fields,
                platform=params["platform"],
                statuses=params["statuses"],
                formats=tuple(params["formats"]),
            )
        store = ResponseStore(params["dest"], check_mode=module.check_mode)
        result = run_fleet(source, store, concurrency=params["concurrency"], on_agent_error=params["on_agent_error"])
    except FleetError as exc:
        module.fail_json(msg=f"wazuh_syscollector: {exc}", **exc.result.to_dict(), api=dict(api.stats) if api else {})
    except (ApiFatalError, StoreError, ValueError, OSError) as exc:
        module.fail_json(msg=f"wazuh_syscollector: {exc}")
    finally:
        if api is not None:
            api.close()
    output = {
        "changed": result.changed,
        "dest": params["dest"],
        **result.to_dict(),
        "api": dict(api.stats) if api else {},
    }
    if result.foreign:
        module.warn(
            f"{params['dest']} holds files this module did not write, which the renderer reads too: "
            + ", ".join(result.foreign[:10])
        )
    if result.failed_count:
        module.warn(f"{result.failed_count} agents could not be read; their previous files were kept (see failed)")
    if module._diff:
        output["diff"] = {"before_header": params["dest"], "after_header": params["dest"], **diff_lines(result)}
    module.exit_json(**output)


if __name__ == "__main__":
    main()

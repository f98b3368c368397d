#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: wazuh_agent_config
short_description: Edit a Windows Wazuh agent's ossec.conf on the controller, from its probe, and keep the result
version_added: 0.1.0
description:
  - The artifact step of the Windows edge pattern for the Wazuh agent (C(docs/wazuh-agent.md)). Takes the agent's
    C(ossec.conf) as M(m1038.appcontrol.wazuh_agent_probe) read it, sets the manager (C(<client><server>)), the
    enrollment values and, with O(collection=ossec_conf), the role's managed block of eventchannel C(<localfile>)
    entries, and leaves every other byte of the file as it was.
  - The edit is read back with a port of Wazuh's own XML reader (os_xml) and must give what was asked for. Each
    query is written with os_xml's backslash escape, exactly as the manager role writes C(agent.conf).
  - Writes the edited file to O(dest) on the controller (atomically, only when it differs) as the evidence the
    role pushes. A file the agent's reader refuses, one listing several managers or with broken block markers
    is not edited - RV(error) says why and the planner blocks the host; nothing is written then.
  - Before the agent is installed there is no file to edit - RV(pending) is true and nothing is written.
author:
  - m1038.appcontrol contributors (@m1038-appcontrol)
attributes:
  check_mode:
    support: full
    description: Edits in memory and reports whether O(dest) would change; writes nothing.
  diff_mode:
    support: full
    description: >-
      O(dest) before and after. The host's file against the edit is shown by M(m1038.appcontrol.wazuh_agent_plan).
options:
  probe:
    description: The RV(m1038.appcontrol.wazuh_agent_probe#module:probe) result (or a recorded one).
    type: dict
    required: true
  dest:
    description: Controller path of the edited C(ossec.conf).
    type: path
    required: true
  manager_address:
    description: Host name or IP address of the Wazuh manager (C(<client><server><address>)).
    type: str
    required: true
  manager_port:
    description: The manager's agent port (C(<client><server><port>)).
    type: int
    default: 1514
  enrollment_port:
    description: >-
      The manager's enrollment port; written into C(<enrollment><port>) when it is not 1515 or the file sets it.
    type: int
    default: 1515
  agent_name:
    description: Name the agent enrolls under (C(<enrollment><agent_name>)); empty leaves the host name.
    type: str
    default: ""
  groups:
    description: >-
      Agent groups (comma-separated) the agent enrolls into (C(<enrollment><groups>)); empty leaves the file's.
    type: str
    default: ""
  password_file:
    description: The role writes C(authd.pass); a file pointing C(<authorization_pass_path>) elsewhere is corrected.
    type: bool
    default: false
  collection:
    description:
      - V(agent_group) - the agent group's C(agent.conf) collects the channels; the managed block is removed.
      - V(ossec_conf) - the managed block in C(ossec.conf) collects O(channels).
    type: str
    choices: [agent_group, ossec_conf]
    default: agent_group
  channels:
    description: Channels of the managed block, each C(location) and C(query) (the role passes the collection's table).
    type: list
    elements: dict
    default: []
extends_documentation_fragment:
  - ansible.builtin.files
seealso:
  - module: m1038.appcontrol.wazuh_agent_probe
  - module: m1038.appcontrol.wazuh_agent_plan
"""

EXAMPLES = r"""
- name: Edit the agent's ossec.conf on the controller
  m1038.appcontrol.wazuh_agent_config:
    probe: "{{ agent.probe }}"
    dest: /srv/m1038/wazuh_agent/ws-01/ossec.conf
    manager_address: wazuh.corp.example.com
    groups: m1038-windows
  delegate_to: localhost
  register: edited
"""

RETURN = r"""
dest:
  description: The controller file.
  returned: always
  type: str
pending:
  description: The agent is not installed yet; nothing was edited.
  returned: always
  type: bool
error:
  description: Why the host's file is not edited (it is reported, not overwritten); null otherwise.
  returned: always
  type: str
changes:
  description: What the edit changes in the host's file, one line each (empty when it is as wanted).
  returned: always
  type: list
  elements: str
warnings_found:
  description: Channels left out of the managed block because the file collects them already, and why.
  returned: always
  type: list
  elements: str
channels:
  description: The channels the managed block collects.
  returned: always
  type: list
  elements: dict
sha256:
  description: SHA256 of the edited file (null when nothing was edited).
  returned: always
  type: str
host_sha256:
  description: SHA256 of the host's file the edit was made from.
  returned: always
  type: str
content:
  description: Text of the edited file (for the planner's diff).
  returned: in diff mode, when the file was edited
  type: str
"""

import hashlib
import os
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.m1038.appcontrol.plugins.module_utils._ossec_conf import encode_conf
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_agent_ossec_edit import Desired
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_agent_plan import edit_probed
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_agent_probe import json_safe
from ansible_collections.m1038.appcontrol.plugins.module_utils._winedge import PlanError, ProbeError

ARGUMENT_SPEC = {
    "probe": {"type": "dict", "required": True},
    "dest": {"type": "path", "required": True},
    "manager_address": {"type": "str", "required": True},
    "manager_port": {"type": "int", "default": 1514},
    "enrollment_port": {"type": "int", "default": 1515},
    "agent_name": {"type": "str", "default": ""},
    "groups": {"type": "str", "default": ""},
    "password_file": {"type": "bool", "default": False, "no_log": False},
    "collection": {"type": "str", "default": "agent_group", "choices": ["agent_group", "ossec_conf"]},
    "channels": {"type": "list", "elements": "dict", "default": []},
}


def read_current(dest: str) -> bytes | None:
    try:
        with open(dest, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def write(module: AnsibleModule, dest: str, data: bytes) -> None:
    os.makedirs(os.path.dirname(dest) or ".", exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=module.tmpdir, prefix=".wazuh_agent_config.")
    with os.fdopen(handle, "wb") as out:
        out.write(data)
    module.atomic_move(tmp, dest, unsafe_writes=module.params["unsafe_writes"])


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, add_file_common_args=True, supports_check_mode=True)
    params = module.params
    probe = params["probe"]
    wanted = Desired(
        manager_address=params["manager_address"],
        manager_port=params["manager_port"],
        enrollment_port=params["enrollment_port"],
        agent_name=params["agent_name"],
        groups=params["groups"],
        password_file=params["password_file"],
        channels=params["channels"] if params["collection"] == "ossec_conf" else [],
    )
    try:
        result, error = edit_probed(probe, wanted)
    except (PlanError, ProbeError, KeyError, TypeError) as exc:
        module.fail_json(msg=json_safe(f"wazuh_agent_config: {exc}"))
    report = probe.get("ossec_conf") or {}
    output = {
        "changed": False,
        "dest": params["dest"],
        "pending": result is None and error is None,
        "error": error,
        "changes": result.changes if result else [],
        "warnings_found": result.warnings if result else [],
        "channels": result.channels if result else [],
        "sha256": None,
        "host_sha256": report.get("sha256"),
    }
    if result is None:
        module.exit_json(**json_safe(output))
    data = encode_conf(result.text)
    output["sha256"] = hashlib.sha256(data).hexdigest()
    current = read_current(params["dest"])
    changed = current != data
    if changed and not module.check_mode:
        try:
            write(module, params["dest"], data)
        except OSError as exc:
            module.fail_json(msg=f"wazuh_agent_config: writing {params['dest']} failed: {exc}")
    file_args = module.load_file_common_arguments(params, path=params["dest"])
    if not module.check_mode or not changed:
        changed = module.set_fs_attributes_if_different(file_args, changed)
    output["changed"] = changed
    if module._diff:
        output["content"] = result.text
        output["diff"] = {
            "before_header": params["dest"],
            "after_header": params["dest"],
            "before": current.decode("utf-8", "replace") if current is not None else "",
            "after": data.decode("utf-8", "replace"),
        }
    module.exit_json(**json_safe(output))


if __name__ == "__main__":
    main()

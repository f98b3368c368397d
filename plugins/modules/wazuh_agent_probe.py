#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This file only documents the module; the code is wazuh_agent_probe.ps1 (runs on the Windows host).

from __future__ import annotations

DOCUMENTATION = r"""
---
module: wazuh_agent_probe
short_description: Read the Wazuh agent's state on a Windows host in one round trip (read-only)
version_added: 0.1.0
description:
  - The probe of the Windows edge pattern for the Wazuh agent (C(docs/windows-edge-pattern.md)). It changes nothing
    and returns one JSON object that the controller-side planner (M(m1038.appcontrol.wazuh_agent_plan)) reads.
  - Reports the installed product (name, version, product code and install location from the Windows uninstall
    registry, 32- and 64-bit views), the agent service's state and start mode, C(ossec.conf) (SHA256 and its bytes as
    base64, for the controller to edit), the entries of C(client.keys) (ID, name and IP only; the keys never leave the
    host), who besides SYSTEM and Administrators may open C(authd.pass) (never its content), the agent's state file
    C(wazuh-agent.state) (C(status=connected), C(last_ack), ...; and whether the running agent wrote it, since a
    file from before a restart tells about the previous process) and the agent group's C(shared\agent.conf).
  - With O(wait_connected) it re-reads C(client.keys) and the state file until the agent is enrolled and connected or
    the time is up (the role's verify step after a restart); it still changes nothing.
author:
  - m1038.appcontrol contributors (@m1038-appcontrol)
attributes:
  check_mode:
    support: full
    description: Reads only; runs the same in check mode.
  diff_mode:
    support: none
    description: Changes nothing, so there is nothing to diff.
  platform:
    support: full
    platforms: windows
    description: Runs on the Windows host (PowerShell, Ansible.Basic).
options:
  install_dir:
    description:
      - The agent's folder. Empty - the product's C(InstallLocation), else C(ossec-agent) under C(%ProgramFiles(x86)%)
        (C(%ProgramFiles%) on 32-bit Windows).
    type: str
    default: ""
  service_name:
    description:
      - Name of the agent's service. Letters, digits, C(.), C(_) and C(-) only.
    type: str
    default: WazuhSvc
  product_name:
    description:
      - C(DisplayName) of the agent in the Windows uninstall registry.
    type: str
    default: Wazuh Agent
  max_conf_bytes:
    description:
      - C(ossec.conf) and C(shared\agent.conf) larger than this are reported without their content.
    type: int
    default: 1048576
  wait_connected:
    description:
      - Seconds to wait for C(client.keys) to hold an entry and the state file to say C(status='connected'); C(0)
        reads once.
    type: int
    default: 0
  log_lines:
    description:
      - Also return up to this many of the last C(ERROR), C(WARNING) and C(CRITICAL) lines of C(ossec.log) (for the
        message about an agent that does not connect).
    type: int
    default: 0
seealso:
  - module: m1038.appcontrol.wazuh_agent_plan
  - module: m1038.appcontrol.wazuh_agent_config
"""

EXAMPLES = r"""
- name: Read the Wazuh agent's state
  m1038.appcontrol.wazuh_agent_probe:
  register: agent

- name: Wait up to two minutes for the agent to enroll and connect
  m1038.appcontrol.wazuh_agent_probe:
    wait_connected: 120
    log_lines: 20
  register: agent_after_restart
"""

RETURN = r"""
probe:
  description:
    - The agent's state. Keys C(concern) (C(wazuh_agent)), C(probe_version) (C(1)), C(host) (C(architecture),
      C(computer_name), C(os_version), C(os_name)), C(installed), C(product) (C(name), C(version), C(product_code),
      C(install_location)), C(install_dir), C(service) (C(name), C(exists), C(state), C(start_mode), C(path)),
      C(ossec_conf) and C(shared_conf) (C(path), C(exists), C(size), C(sha256), C(content_b64)), C(client_keys)
      (C(path), C(exists), C(entries) of C(id), C(name), C(ip), C(malformed)), C(password_file) (C(path), C(exists),
      C(protected), C(other_access)), C(agent_state) (C(path), C(exists), C(status), C(text), C(written_after_start) -
      whether the running agent process wrote the file, null when it does not run), C(log), C(waited_seconds).
  returned: always
  type: dict
  sample:
    concern: wazuh_agent
    probe_version: 1
    installed: true
    product: {name: Wazuh Agent, version: 4.14.7, product_code: "{2E5D0A3C-0000-4A4B-9C1D-1A2B3C4D5E6F}"}
    service: {name: WazuhSvc, exists: true, state: running, start_mode: auto}
    client_keys: {exists: true, entries: [{id: "001", name: ws-01, ip: any}], malformed: 0}
    agent_state: {exists: true, status: connected}
"""

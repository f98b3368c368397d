#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This file only documents the module; the code is sysmon_probe.ps1 (runs on the Windows host).

from __future__ import annotations

DOCUMENTATION = r"""
---
module: sysmon_probe
short_description: Read Sysmon's state on a Windows host in one round trip (read-only)
version_added: 0.1.0
description:
  - The probe of the Windows edge pattern for Sysmon (C(docs/windows-edge-pattern.md)). It changes nothing and
    returns one JSON object that the controller-side planner (M(m1038.appcontrol.sysmon_plan)) reads.
  - Reports the host's native processor architecture (from the registry, not the PowerShell process), the
    Sysmon service (first of O(service_names) that exists), its binary's file version and SHA256, the driver's
    C(Parameters) values C(ConfigFile), C(ConfigHash) and C(HashingAlgorithm), the SHA256 of the configuration
    file Sysmon names, the same for O(managed_config), and the maximum size of the Sysmon/Operational log.
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
  service_names:
    description:
      - Service names to look for, in order. Sysmon names its service after its binary (C(Sysmon64) for
        C(Sysmon64.exe)); a renamed installation needs its name here.
    type: list
    elements: str
    default: [Sysmon64, Sysmon64a, Sysmon]
  driver_name:
    description:
      - Name of Sysmon's driver service (C(-d) at install time).
    type: str
    default: SysmonDrv
  channel:
    description:
      - Event log channel whose maximum size is reported.
    type: str
    default: Microsoft-Windows-Sysmon/Operational
  managed_config:
    description:
      - Path where the role keeps the configuration it pushes; its SHA256 is reported when it exists.
    type: str
  read_config:
    description:
      - Also return the text of the configuration file Sysmon names in C(ConfigFile) (for the controller-side diff).
    type: bool
    default: false
  max_config_bytes:
    description:
      - Do not return the configuration text when the file is larger than this.
    type: int
    default: 4194304
notes:
  - Service and driver names may hold only letters, digits, C(.), C(_) and C(-).
seealso:
  - module: m1038.appcontrol.sysmon_plan
  - module: m1038.appcontrol.sysmon_config
"""

EXAMPLES = r"""
- name: Read Sysmon's state
  m1038.appcontrol.sysmon_probe:
    managed_config: C:\ProgramData\m1038-appcontrol\sysmon\sysmonconfig.xml
  register: sysmon_state

- name: Plan on the controller
  m1038.appcontrol.sysmon_plan:
    probe: "{{ sysmon_state.probe }}"
    version: "15.15"
    host: "{{ inventory_hostname }}"
  delegate_to: localhost
"""

RETURN = r"""
probe:
  description:
    - The host's Sysmon state. Keys C(concern) (C(sysmon)), C(probe_version) (C(1)), C(host)
      (C(architecture), C(process_architecture), C(computer_name), C(os_version), C(os_name)), C(installed),
      C(service) (C(name), C(state), C(start_mode), C(path)), C(binary) (C(path), C(exists), C(file_version),
      C(version) as MAJOR.MINOR, C(sha256)), C(driver) (C(name), C(installed), C(options)), C(config) (C(file),
      C(file_exists), C(file_sha256), C(file_size), C(hash), C(hashing_algorithm), and C(text) with
      O(read_config)), C(managed_config) (C(path), C(exists), C(sha256)), C(eventlog) (C(channel), C(exists),
      C(max_size), C(enabled)).
  returned: always
  type: dict
  sample:
    concern: sysmon
    probe_version: 1
    installed: true
    host: {architecture: AMD64, process_architecture: AMD64, computer_name: WS-01, os_version: 10.0.20348.0}
    service: {name: Sysmon64, state: running, start_mode: auto, path: C:\Windows\Sysmon64.exe}
    eventlog: {channel: Microsoft-Windows-Sysmon/Operational, exists: true, max_size: 67108864, enabled: true}
"""

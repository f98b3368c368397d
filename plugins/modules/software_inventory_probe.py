#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This file only documents the module; the code is software_inventory_probe.ps1 (runs on the Windows host).

from __future__ import annotations

DOCUMENTATION = r"""
---
module: software_inventory_probe
short_description: Read a Windows host's Uninstall registry keys in one round trip (read-only)
version_added: 0.1.0
description:
  - The probe of the Windows edge pattern for the software inventory (C(docs/software-inventory.md)). It opens
    every key read-only, changes nothing and decides nothing; M(m1038.appcontrol.software_inventory_facts) on the
    controller turns its result into the C(m1038_software) fact.
  - Reads the subkeys of C(SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall) under HKLM in the 64-bit view
    (scope C(machine)), under HKLM in the 32-bit view (C(WOW6432Node), scope C(machine_wow64), on a 64-bit OS only)
    and under C(HKU\\<SID>) of every loaded user profile (scope C(user)).
  - For each subkey it returns the values C(DisplayName), C(DisplayVersion), C(Publisher), C(InstallDate),
    C(SystemComponent) and C(ParentKeyName) as they are stored (environment variables not expanded), or the error
    that kept it from reading the key.
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
  include_user_hives:
    description:
      - Also read the per-user Uninstall keys of the profiles whose hive is loaded (users logged on, and the service
        accounts). Profiles that are not loaded are not read (loading a hive would change the host).
    type: bool
    default: true
  max_value_chars:
    description:
      - Longest text (in UTF-16 code units) returned for one value; longer values are cut. At least 256. The
        controller's own limits (512 for a name, 1024 UTF-8 bytes for a publisher) are lower, so a cut value is
        still recognised as too long there.
    type: int
    default: 4096
notes:
  - >-
    Values travel JSON-safe, text as a string, REG_DWORD and REG_QWORD as integers, REG_MULTI_SZ as
    C({"multi": [...]}), REG_BINARY as C({"binary": BASE64}), and text holding a lone UTF-16 surrogate as
    C({"utf16": [code units]}).
seealso:
  - module: m1038.appcontrol.software_inventory_facts
"""

EXAMPLES = r"""
- name: Read the Uninstall keys
  m1038.appcontrol.software_inventory_probe:
  register: software_probe

- name: The m1038_software fact (controller)
  m1038.appcontrol.software_inventory_facts:
    host: "{{ inventory_hostname }}"
    probe: "{{ software_probe.probe }}"
  delegate_to: localhost
"""

RETURN = r"""
probe:
  description:
    - Keys C(concern) (C(software_inventory)), C(probe_version) (C(1)), C(host) (C(computer_name), C(os_64bit),
      C(os_version)), C(sources) (one per Uninstall key looked at - C(scope), C(sid), C(path), C(found),
      C(error)) and C(entries) (one per subkey - C(scope), C(sid), C(key), C(values), C(error)).
  returned: always
  type: dict
  sample:
    concern: software_inventory
    probe_version: 1
    host: {computer_name: WS-01, os_64bit: true, os_version: 10.0.22631.0}
    sources:
      - scope: machine
        sid: null
        path: HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall (Registry64 view)
        found: true
        error: null
    entries:
      - scope: machine
        sid: null
        key: 7-Zip
        values:
          DisplayName: 7-Zip 24.08 (x64)
          DisplayVersion: "24.08"
          Publisher: Igor Pavlov
          InstallDate: "20241002"
        error: null
"""

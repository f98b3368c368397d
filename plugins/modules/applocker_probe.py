#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This file only documents the module; the code is applocker_probe.ps1 (runs on the Windows host).

from __future__ import annotations

DOCUMENTATION = r"""
---
module: applocker_probe
short_description: Read a Windows host's AppLocker state and its user-writable folders in one round trip (read-only)
version_added: 0.1.0
description:
  - The probe of the Windows edge pattern for AppLocker (C(docs/applocker.md)). It changes nothing and returns one
    JSON object that the controller reads - M(m1038.appcontrol.applocker_plan) plans from it and
    M(m1038.appcontrol.applocker_policy) closes the writable folders it lists.
  - Reports the policy as C(Get-AppLockerPolicy -Xml) writes it (C(-Local), C(-Effective), or C(-Domain -Ldap) for a
    GPO; a failure to read it is returned, not raised), the Application Identity service's start mode and state, and
    the maximum size of each AppLocker event log.
  - Scans the folders under each of O(scan_roots) (with this host's expansion of the AppLocker path variables) and
    reports every folder where a grantee other than SYSTEM, Administrators and the per-service SIDs has an Allow ACE
    applying to the folder itself with a write right (FILE_WRITE_DATA, FILE_APPEND_DATA, WRITE_DAC, WRITE_OWNER,
    GENERIC_WRITE, GENERIC_ALL), with every grantee's raw allow and deny masks. A folder below a reported one whose
    such grantees have the same masks there is not reported again (the exception for the folder above covers it).
    Reparse points are not followed.
  - The scan is bounded - it stops after O(max_folders) folders and says so (C(truncated)); a folder whose ACL or
    subfolders cannot be read is recorded in its root's C(errors) and makes that root incomplete, never fails the
    probe.
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
    description: Runs on the Windows host (PowerShell 5.1, Ansible.Basic, the AppLocker module).
options:
  policy:
    description:
      - Which policy to read - V(local) (C(Get-AppLockerPolicy -Local), what the role sets on a host), V(effective)
        (local and domain policies merged, what the host enforces), V(domain) (the GPO O(ldap) names, read on a
        management host with the Group Policy tools) or V(none).
    type: str
    choices: [local, domain, effective, none]
    default: local
  ldap:
    description:
      - LDAP path of the GPO (C(LDAP://DC/CN={GUID},CN=Policies,CN=System,DC=...)). Required with O(policy=domain).
    type: str
  scan_roots:
    description:
      - AppLocker path patterns whose folders are scanned for user-writable ones (the C(scan_roots) of
        M(m1038.appcontrol.applocker_policy), or the model through the C(m1038.appcontrol.applocker_scan_roots)
        filter). Empty - no scan.
    type: list
    elements: str
    default: []
  max_folders:
    description:
      - Stop scanning after this many folders and report C(truncated) (every root then counts as incomplete).
    type: int
    default: 500000
  max_errors:
    description:
      - Errors kept per root (then counted).
    type: int
    default: 50
  service_name:
    description:
      - Name of the Application Identity service.
    type: str
    default: AppIDSvc
  channels:
    description:
      - Event log channels whose maximum size is reported.
    type: list
    elements: str
    default:
      - Microsoft-Windows-AppLocker/EXE and DLL
      - Microsoft-Windows-AppLocker/MSI and Script
      - Microsoft-Windows-AppLocker/Packaged app-Deployment
      - Microsoft-Windows-AppLocker/Packaged app-Execution
notes:
  - A first scan of C(%WINDIR%\*) visits tens of thousands of folders and may take minutes.
  - Run in the 64-bit PowerShell; in a 32-bit one on a 64-bit Windows every root is reported incomplete (System32
    reads are redirected to SysWOW64).
seealso:
  - module: m1038.appcontrol.applocker_plan
  - module: m1038.appcontrol.applocker_policy
"""

EXAMPLES = r"""
- name: Read the local AppLocker state and scan the allowed paths
  m1038.appcontrol.applocker_probe:
    scan_roots: ['%PROGRAMFILES%\*', '%WINDIR%\*']
  register: applocker_state

- name: Read a GPO's AppLocker policy from a management host
  m1038.appcontrol.applocker_probe:
    policy: domain
    ldap: LDAP://dc01.corp.example/CN={31B2F340-016D-11D2-945F-00C04FB984F9},CN=Policies,CN=System,DC=corp,DC=example
  delegate_to: mgmt01.corp.example
  run_once: true
"""

RETURN = r"""
probe:
  description:
    - The host's AppLocker state. Keys C(concern) (C(applocker)), C(probe_version) (C(1)), C(host)
      (C(computer_name), C(os_version), C(os_name)), C(policy) (C(source), C(ldap), C(xml), C(error)), C(service)
      (C(name), C(exists), C(state), C(start_mode) - V(auto), V(delayed), V(manual), V(disabled)), C(eventlogs) (each
      C(channel), C(exists), C(max_size), C(enabled)), C(writable_scan) (C(variables), C(roots), C(folders),
      C(truncated), C(scanned_folders); the shape C(docs/applocker.md) describes).
  returned: always
  type: dict
  sample:
    concern: applocker
    probe_version: 1
    host: {computer_name: WS-01, os_version: 10.0.22631.0, os_name: Windows 10 Enterprise}
    policy: {source: local, ldap: null, xml: '<AppLockerPolicy Version="1" />', error: null}
    service: {name: AppIDSvc, exists: true, state: stopped, start_mode: manual}
    eventlogs:
      - {channel: Microsoft-Windows-AppLocker/EXE and DLL, exists: true, max_size: 1052672, enabled: true}
    writable_scan:
      variables: {'%WINDIR%': ['C:\Windows']}
      roots: [{rule_path: '%WINDIR%\*', directories: ['C:\Windows'], complete: true, errors: []}]
      folders:
        - path: C:\Windows\Tasks
          grantees: [{sid: S-1-5-11, name: NT AUTHORITY\Authenticated Users, allow_mask: 1180095, deny_mask: 0}]
      truncated: false
      scanned_folders: 48211
"""

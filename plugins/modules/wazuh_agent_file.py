#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This file only documents the module; the code is wazuh_agent_file.ps1 (runs on the Windows host).

from __future__ import annotations

DOCUMENTATION = r"""
---
module: wazuh_agent_file
short_description: Replace a file of the Wazuh agent atomically, optionally a secret behind a locked-down ACL
version_added: 0.1.0
description:
  - Writes O(path) from a file already on the host (O(src), staged by M(ansible.windows.win_copy)) or from
    O(secret). The new bytes go to a temporary file in the same folder, which takes the file's place in one
    rename, so the agent never reads half a file.
  - With O(expected_sha256) it refuses to write when the file is no longer the one the plan was made from (an
    installer or a person changed it in between), naming both hashes; nothing is written then.
  - With O(restricted) the file gets a protected DACL granting full control to SYSTEM and Administrators only, set
    on the empty temporary file before the content is written and on the existing file before it is replaced, so a
    secret is never readable by anyone else, not even for a moment. A file whose content is right but whose DACL is
    not gets only the DACL.
  - M(ansible.windows.win_copy) neither replaces in one rename nor sets a DACL before the content lands; that is why
    the C(wazuh_agent) role uses this module for C(ossec.conf), C(client.keys) and C(authd.pass).
author:
  - m1038.appcontrol contributors (@m1038-appcontrol)
attributes:
  check_mode:
    support: full
    description: Reports whether the file would change and writes nothing.
  diff_mode:
    support: partial
    description: >-
      With O(src), the SHA256 before and after (the role shows the text diff on the controller). A secret is never
      diffed.
  platform:
    support: full
    platforms: windows
    description: Runs on the Windows host (PowerShell, Ansible.Basic).
options:
  path:
    description:
      - Absolute path of the file to write; its folder must exist.
    type: str
    required: true
  src:
    description:
      - A file on the host whose bytes become O(path).
    type: str
  secret:
    description:
      - Text to write (UTF-8, no byte order mark). Never logged; use it with C(no_log) on the task as well.
    type: str
  expected_sha256:
    description:
      - SHA256 the current O(path) must have, or V(absent) when it must not exist. Omit to write whatever is there.
    type: str
  backup:
    description:
      - Where to keep a copy of the file it replaces (its folder is created).
    type: str
  restricted:
    description:
      - Give O(path) a protected DACL - full control for SYSTEM (C(S-1-5-18)) and Administrators (C(S-1-5-32-544))
        only.
    type: bool
    default: false
notes:
  - O(src) and O(secret) are mutually exclusive; one is required.
seealso:
  - module: m1038.appcontrol.wazuh_agent_probe
"""

EXAMPLES = r"""
- name: Put the edited ossec.conf in place, only if the agent's file is still the one planned from
  m1038.appcontrol.wazuh_agent_file:
    path: C:\Program Files (x86)\ossec-agent\ossec.conf
    src: C:\ProgramData\m1038-appcontrol\wazuh_agent\staging\ossec.conf
    expected_sha256: "{{ plan.expected_sha256 }}"
    backup: C:\ProgramData\m1038-appcontrol\wazuh_agent\backup\ossec.conf

- name: Write the enrollment password for SYSTEM and Administrators only
  m1038.appcontrol.wazuh_agent_file:
    path: C:\Program Files (x86)\ossec-agent\authd.pass
    secret: "{{ wazuh_agent_registration_password }}\n"
    restricted: true
  no_log: true
"""

RETURN = r"""
path:
  description: The file written.
  returned: always
  type: str
sha256:
  description: SHA256 of the new content (only with O(src)).
  returned: when src is given
  type: str
backup_file:
  description: The copy of the replaced file.
  returned: when a file was replaced and backup was given
  type: str
"""

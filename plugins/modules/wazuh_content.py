#!/usr/bin/python
# Copyright: m1038.appcontrol contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: wazuh_content
short_description: Place Wazuh rules, decoders and CDB lists as one transaction, with a restorable backup
version_added: 0.1.0
description:
  - With O(state=present), writes each file in O(files) under the Wazuh home (C(etc/rules),
    C(etc/decoders), C(etc/lists)), removes the files an earlier run placed that are no longer in
    O(files), and registers the CDB lists in the C(<ruleset>) of ossec.conf (and unregisters the ones
    it registered before that are gone). ossec.conf is edited in place; nothing else in it changes.
  - Before the first write it copies every file it will replace or remove, and ossec.conf, into a new
    backup directory under O(state_dir) and records what it is about to do. If a write fails, the
    module puts the previous files back itself before it fails.
  - With O(state=restored), puts the files recorded in O(backup) back exactly as they were (content,
    owner, group, mode), deletes the files that run created, and restores ossec.conf. The role uses it
    when the engine rejects the new content or the manager does not restart.
  - Every file is written to a temporary file and renamed into place, so the engine never reads a
    half-written file.
  - Does not restart the manager; the caller does that when the module reports a change.
attributes:
  check_mode:
    support: full
    description: Plans the whole change and reports it (with the diff); writes nothing and makes no backup.
  diff_mode:
    support: full
    description:
      - Shows each placed, replaced or removed rule, decoder or list file as before/after text.
      - The ossec.conf edit is shown as a unified diff of the C(<list>) lines added or removed, without context:
        ossec.conf holds secrets (cluster key, integration API keys, cloud credentials), so none of its other
        lines ever appear in the result.
options:
  home:
    description: Wazuh installation directory.
    type: path
    default: /var/ossec
  state_dir:
    description:
      - Where the manifest of managed files (C(managed.json)) and the backups live.
      - Defaults to C(<home>/var/m1038-appcontrol).
    type: path
  files:
    description:
      - Files to place, as M(m1038.appcontrol.wazuh_preflight) returns them.
      - C(path) is relative to O(home) and must be C(etc/rules/NAME.xml), C(etc/decoders/NAME.xml) or
        C(etc/lists/NAME).
      - Required with O(state=present).
    type: list
    elements: dict
    suboptions:
      path:
        description: Destination relative to O(home).
        type: str
        required: true
      content:
        description: File text (UTF-8).
        type: str
        required: true
  owner:
    description: Owner of the placed files.
    type: str
    default: wazuh
  group:
    description: Group of the placed files.
    type: str
    default: wazuh
  mode:
    description:
      - Mode of the placed files, read as M(ansible.builtin.file) reads a mode, octal only.
      - A quoted octal string such as C('0660'); an integer is taken as the mode itself, which is what YAML
        makes of an unquoted C(0660), so both give C(rw-rw----).
      - Refused with setuid, setgid or sticky bits, or when every user could write the files.
    type: raw
    default: "0660"
  register_lists:
    description: Register the CDB lists found in O(files) in the C(<ruleset>) of ossec.conf.
    type: bool
    default: true
  keep_backups:
    description: How many backup directories to keep (the oldest are removed when a new one is made).
    type: int
    default: 5
  state:
    description: C(present) places O(files); C(restored) rolls back to O(backup).
    type: str
    choices: [present, restored]
    default: present
  backup:
    description: Backup directory returned by an earlier C(state=present) run. Required with O(state=restored).
    type: path
  lock_timeout:
    description:
      - Seconds to wait for another run on the same O(state_dir) to finish. Every run holds a lock on
        C(<state_dir>/lock) from its first read of ossec.conf to its last write (a shared one in check mode),
        so two runs never overwrite each other's edits, manifest or backups.
    type: int
    default: 120
author:
  - m1038.appcontrol contributors (@m1038-appcontrol)
"""

EXAMPLES = r"""
- name: Place the rendered content
  m1038.appcontrol.wazuh_content:
    files: "{{ preflight.files }}"
  register: content

- name: Put the previous files back
  m1038.appcontrol.wazuh_content:
    state: restored
    backup: "{{ content.backup }}"
  when: content.backup is truthy
"""

RETURN = r"""
created:
  description: Files written that did not exist before (relative to the home).
  returned: always
  type: list
  elements: str
updated:
  description: Existing files whose content, owner, group or mode changed.
  returned: always
  type: list
  elements: str
removed:
  description: Files an earlier run placed that are no longer part of the content.
  returned: always
  type: list
  elements: str
lists_registered:
  description: ossec.conf C(<list>) entries added.
  returned: always
  type: list
  elements: str
lists_unregistered:
  description: ossec.conf C(<list>) entries removed.
  returned: always
  type: list
  elements: str
backup:
  description: Backup directory of this change (empty when nothing changed or in check mode).
  returned: always
  type: str
  sample: /var/ossec/var/m1038-appcontrol/backups/20261127T211500Z-4242
restored:
  description: With O(state=restored), the files put back or deleted.
  returned: when state is restored
  type: list
  elements: str
recovered:
  description:
    - Backups of earlier runs that were killed between two writes (their record still C(open)), rolled back
      before this run did anything else. Empty in check mode, which only warns about them.
  returned: always
  type: list
  elements: str
"""

import contextlib
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.m1038.appcontrol.plugins.module_utils._ossec_conf import OssecConfError
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_content import (
    ContentError,
    Transaction,
    parse_mode,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_content_state import StateLock, check_state_dir

EMPTY = {"created": [], "updated": [], "removed": [], "lists_registered": [], "lists_unregistered": [], "backup": ""}


def recover(module, tx):
    """Undo what a killed run left half-done, before anything else (check mode only says so)."""
    if not os.path.isdir(tx.state_dir):
        return []
    if module.check_mode:
        for backup in tx.interrupted():
            module.warn(
                f"a run was interrupted while it changed the content (backup {backup.path} is still open): the next "
                "run that is not in check mode restores it first, so it is rolled back first; this check compares "
                "against the half-written files"
            )
        return []
    recovered = tx.recover()
    for path in recovered:
        module.warn(f"a run was interrupted while it changed the content; its change was rolled back from {path}")
    return recovered


def restored(module, tx, backup):
    if module.check_mode:
        return {**EMPTY, "changed": True, "restored": []}
    try:
        touched = tx.restore(backup)
    except (ContentError, OSError, ValueError) as exc:
        module.fail_json(msg=f"restoring {backup} failed: {exc}")
    return {**EMPTY, "changed": bool(touched), "restored": touched, "backup": backup}


def present(module, tx, p, mode):
    try:
        plan = tx.plan(p["files"], p["owner"], p["group"], mode, p["register_lists"])
    except (ContentError, OssecConfError, OSError, ValueError) as exc:
        module.fail_json(msg=str(exc))
    result = {
        **EMPTY,
        "changed": plan["changed"],
        **{key: plan[key] for key in ("created", "updated", "removed", "lists_registered", "lists_unregistered")},
    }
    if module._diff and plan["changed"]:
        result["diff"] = tx.diff(plan)
    if plan["changed"] and not module.check_mode:
        try:
            result["backup"] = tx.apply(plan, p["keep_backups"])
        except (ContentError, OSError) as exc:
            module.fail_json(msg=str(exc), **{k: v for k, v in result.items() if k != "changed"})
    return result


def main():
    module = AnsibleModule(
        argument_spec={
            "home": {"type": "path", "default": "/var/ossec"},
            "state_dir": {"type": "path"},
            "files": {
                "type": "list",
                "elements": "dict",
                "options": {
                    "path": {"type": "str", "required": True},
                    "content": {"type": "str", "required": True},
                },
            },
            "owner": {"type": "str", "default": "wazuh"},
            "group": {"type": "str", "default": "wazuh"},
            "mode": {"type": "raw", "default": "0660"},
            "register_lists": {"type": "bool", "default": True},
            "keep_backups": {"type": "int", "default": 5},
            "state": {"type": "str", "choices": ["present", "restored"], "default": "present"},
            "backup": {"type": "path"},
            "lock_timeout": {"type": "int", "default": 120},
        },
        required_if=[("state", "present", ("files",)), ("state", "restored", ("backup",))],
        supports_check_mode=True,
    )
    p = module.params
    home = p["home"]
    state_dir = p["state_dir"] or os.path.join(home, "var", "m1038-appcontrol")
    try:
        check_state_dir(state_dir)
        mode = parse_mode(p["mode"]) if p["state"] == "present" else None
    except ContentError as exc:
        module.fail_json(msg=str(exc))
    if p["keep_backups"] < 1:
        module.fail_json(msg=f"keep_backups must be at least 1, got {p['keep_backups']}")
    tx = Transaction(module, home, state_dir)
    try:
        if p["state"] == "present" and not module.check_mode:
            os.makedirs(state_dir, mode=0o700, exist_ok=True)
        # One run at a time, from the first read of ossec.conf to the last write (shared in check mode).
        lock = StateLock(state_dir, p["lock_timeout"], shared=module.check_mode)
        with lock if os.path.isdir(state_dir) else contextlib.nullcontext():
            recovered = recover(module, tx)
            result = restored(module, tx, p["backup"]) if p["state"] == "restored" else present(module, tx, p, mode)
            result["recovered"] = recovered
            result["changed"] = result["changed"] or bool(recovered)
    except (ContentError, OSError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()

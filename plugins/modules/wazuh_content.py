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
  - With O(localfiles), also adds those C(<localfile>) blocks to ossec.conf (for a log file the manager's
    logcollector must read, such as the WithSecure forwarder's output) and removes the blocks an earlier run
    added that are no longer listed, in the same transaction. O(files) and O(localfiles) are independent - the
    one left out is left as the last run placed it, so the C(wazuh_manager) role's content and another role's
    log files never remove each other.
  - Before the first write it copies every file it will replace or remove, and ossec.conf, into a new
    backup directory under O(state_dir), complete and on disk, with a record marked C(open). The record
    is marked C(committed) after the last write and the manifest. If a write fails, the module puts the
    previous files back itself before it fails. If the run is killed in between (SIGKILL, OOM, a dropped
    session), the record stays C(open) and the next run of the module, whatever its O(state), rolls that
    change back before it does anything else (see RV(recovered)).
  - Every change is also recorded as B(pending) on the manager from before its first write (C(pending.json) in
    O(state_dir)) until O(state=validated) clears it, which the C(wazuh_manager) role does only after
    C(wazuh-analysisd -t) accepted the content and the manager restarted on it. A failed or interrupted play
    therefore never leaves untested content behind unnoticed; the next play finds it (RV(pending)) and
    validates it, restarts, or rolls it back. Backups of pending changes are never pruned.
  - With O(state=restored) and O(backup), returns to the state before that backup. Every later committed
    change is undone first, newest first, then the backup's files are put back exactly as they were
    (content, owner, group, mode), the files its run created are deleted, and ossec.conf and the manifest
    are restored. Without O(backup), rolls back every pending change, back to the content the engine last
    accepted. The role does this when the engine rejects the new content or the manager does not restart.
  - Every file is written to a temporary file next to it, fsynced and renamed into place, and the directory
    fsynced, so the engine never reads a half-written file and a crash never loses a write already made.
  - One run at a time per O(state_dir) (see O(lock_timeout)). Everything read back from O(state_dir) is
    checked like input, and a state directory that anyone but root can write is refused.
  - Does not restart the manager; the caller does that when the module reports a change.
attributes:
  check_mode:
    support: full
    description: Plans the whole change and reports it (with the diff); writes nothing and makes no backup.
  diff_mode:
    support: full
    description:
      - Shows each placed, replaced or removed rule, decoder or list file as before/after text.
      - The ossec.conf edit is shown as a unified diff of the C(<list>) lines added or removed, without context,
        because ossec.conf holds secrets (cluster key, integration API keys, cloud credentials); none of its other
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
      - The complete set of content files; left out, the files and list entries the last run placed stay.
      - O(state=present) needs O(files), O(localfiles) or both.
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
  localfiles:
    description:
      - The complete set of C(<localfile>) blocks this module manages in ossec.conf; left out, the blocks the last
        run added stay as they are. A block an earlier run added and this list no longer holds is removed.
      - New blocks go before the first C(</ossec_config>), indented like it. A block is found again (to keep or
        remove it) only as the exact lines this module writes. A C(<localfile>) someone else wrote for the same
        location is refused, never doubled or overwritten.
    type: list
    elements: dict
    suboptions:
      location:
        description:
          - Absolute path of the file, letters, digits and C(. _ + @ -) only (no wildcards, no characters Wazuh's
            XML reader would need escaped; it decodes no entities).
        type: str
        required: true
      log_format:
        description: How logcollector reads the file.
        type: str
        required: true
        choices: [json, syslog, snort-full, squid, audit, mysql_log, postgresql_log, nmapg, iis, djb-multilog, apache]
      only_future_events:
        description:
          - "Writes C(<only-future-events>) with C(yes) or C(no); left out, the element is not written (Wazuh's default
            is C(yes): after a restart logcollector starts at the end of the file, skipping what was appended while
            it was down). C(false) makes it resume where it stopped."
        type: bool
      max_size:
        description:
          - The C(max-size) attribute of C(<only-future-events>) (such as C(1G), at most C(2G)) - with C(no), how far
            behind logcollector may fall and still resume rather than skip to the end.
          - Needs O(localfiles[].only_future_events).
        type: str
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
    description:
      - C(present) places O(files).
      - C(restored) returns to the state before O(backup), or rolls back every pending change when O(backup)
        is not given.
      - C(validated) records that the manager restarted on the current content after the engine accepted it, so
        nothing is pending any more.
    type: str
    choices: [present, restored, validated]
    default: present
  backup:
    description:
      - Backup directory returned by an earlier C(state=present) run, under C(<state_dir>/backups). Used with
        O(state=restored); without it, O(state=restored) rolls back the pending changes.
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

- name: Have the manager read a forwarder's JSON lines, resuming after a restart (content files untouched)
  m1038.appcontrol.wazuh_content:
    localfiles:
      - location: /var/log/m1038-withsecure/events.json
        log_format: json
        only_future_events: false
        max_size: 1G

- name: After wazuh-analysisd -t passed and the manager restarted on it, nothing is pending
  m1038.appcontrol.wazuh_content:
    state: validated

- name: Or, when the engine refused it, roll back to the content it last accepted
  m1038.appcontrol.wazuh_content:
    state: restored

- name: Return to the state before one backup
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
localfiles_added:
  description: Locations of the ossec.conf C(<localfile>) blocks added.
  returned: always
  type: list
  elements: str
localfiles_removed:
  description: Locations of the ossec.conf C(<localfile>) blocks removed.
  returned: always
  type: list
  elements: str
backup:
  description: Backup directory of this change, or the one restored (empty when nothing changed or in check mode).
  returned: always
  type: str
  sample: /var/ossec/var/m1038-appcontrol/backups/20261127T211500Z-4242
restored:
  description: With O(state=restored), the files put back or deleted.
  returned: when state is restored
  type: list
  elements: str
pending:
  description:
    - Backups of the changes no validated restart has loaded yet, oldest first, after this run. Rolling them
      back (O(state=restored) without O(backup)) returns to the content the engine last accepted.
  returned: always
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

from ansible_collections.m1038.appcontrol.plugins.module_utils._ossec_conf import LOCALFILE_FORMATS, OssecConfError
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_content import (
    ContentError,
    Transaction,
    diff_change,
    parse_mode,
    plan_change,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_content_state import StateLock, check_state_dir

EMPTY = {
    "created": [],
    "updated": [],
    "removed": [],
    "lists_registered": [],
    "lists_unregistered": [],
    "localfiles_added": [],
    "localfiles_removed": [],
    "backup": "",
}
REPORTED = (
    "created",
    "updated",
    "removed",
    "lists_registered",
    "lists_unregistered",
    "localfiles_added",
    "localfiles_removed",
)


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


def restored(module, tx, p):
    """Put a backup back (O(backup)), or every pending change (no O(backup))."""
    backup = p["backup"]
    what = backup or "the pending changes"
    if module.check_mode:
        return {**EMPTY, "changed": bool(backup or tx.pending()), "restored": []}
    try:
        touched = tx.restore(backup) if backup else tx.rollback_pending()
    except (ContentError, OSError, ValueError) as exc:
        module.fail_json(msg=f"restoring {what} failed: {exc}")
    return {**EMPTY, "changed": bool(touched), "restored": touched, "backup": backup or ""}


def validated(module, tx, p):
    return {**EMPTY, "changed": tx.validated(module.check_mode)}


def present(module, tx, p):
    try:
        mode = parse_mode(p["mode"])
        plan = plan_change(
            tx.home,
            tx.state_dir,
            p["files"],
            owner=p["owner"],
            group=p["group"],
            mode=mode,
            register_lists=p["register_lists"],
            localfiles=p["localfiles"],
        )
    except (ContentError, OssecConfError, OSError, ValueError) as exc:
        module.fail_json(msg=str(exc))
    result = {
        **EMPTY,
        "changed": plan["changed"],
        **{key: plan[key] for key in REPORTED},
    }
    if module._diff and plan["changed"]:
        result["diff"] = diff_change(tx.home, plan)
    if plan["changed"] and not module.check_mode:
        try:
            result["backup"] = tx.apply(plan, p["keep_backups"])
        except (ContentError, OSError) as exc:
            module.fail_json(msg=str(exc), **{k: v for k, v in result.items() if k != "changed"})
    return result


STATES = {"present": present, "restored": restored, "validated": validated}


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
            "localfiles": {
                "type": "list",
                "elements": "dict",
                "options": {
                    "location": {"type": "str", "required": True},
                    "log_format": {"type": "str", "required": True, "choices": list(LOCALFILE_FORMATS)},
                    "only_future_events": {"type": "bool"},
                    "max_size": {"type": "str"},
                },
            },
            "owner": {"type": "str", "default": "wazuh"},
            "group": {"type": "str", "default": "wazuh"},
            "mode": {"type": "raw", "default": "0660"},
            "register_lists": {"type": "bool", "default": True},
            "keep_backups": {"type": "int", "default": 5},
            "state": {"type": "str", "choices": list(STATES), "default": "present"},
            "backup": {"type": "path"},
            "lock_timeout": {"type": "int", "default": 120},
        },
        required_if=[("state", "present", ("files", "localfiles"), True)],
        supports_check_mode=True,
    )
    p = module.params
    home = p["home"]
    state_dir = p["state_dir"] or os.path.join(home, "var", "m1038-appcontrol")
    try:
        check_state_dir(state_dir)
        if p["state"] == "present":
            parse_mode(p["mode"])  # refused before the state directory is created
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
            result = STATES[p["state"]](module, tx, p)
            result["recovered"] = recovered
            result["changed"] = result["changed"] or bool(recovered)
            result["pending"] = tx.pending() if os.path.isdir(state_dir) else []
    except (ContentError, OSError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()

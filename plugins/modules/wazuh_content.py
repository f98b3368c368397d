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
    description: Shows each placed, replaced or removed file and the ossec.conf edit as before/after text.
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
    description: Mode of the placed files, as an octal string.
    type: str
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
"""

import grp
import json
import os
import pwd
import re
import shutil
import stat
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.m1038.appcontrol.plugins.module_utils._ossec_conf import OssecConfError, edit_lists

PATH_RE = re.compile(
    r"^etc/(rules/[A-Za-z0-9][A-Za-z0-9._-]*\.xml|decoders/[A-Za-z0-9][A-Za-z0-9._-]*\.xml|lists/[A-Za-z0-9][A-Za-z0-9._-]*)$"
)
OSSEC_CONF = "etc/ossec.conf"
MANIFEST = "managed.json"


class ContentError(Exception):
    pass


def _read_bytes(path):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def _load_manifest(state_dir):
    raw = _read_bytes(os.path.join(state_dir, MANIFEST))
    if raw is None:
        return {"files": [], "lists": []}
    data = json.loads(raw.decode("utf-8"))
    return {"files": sorted(data.get("files", [])), "lists": sorted(data.get("lists", []))}


def _ids(owner, group):
    try:
        uid = pwd.getpwnam(owner).pw_uid
    except KeyError:
        raise ContentError(f"owner {owner!r} does not exist on the manager") from None
    try:
        gid = grp.getgrnam(group).gr_gid
    except KeyError:
        raise ContentError(f"group {group!r} does not exist on the manager") from None
    return uid, gid


class Transaction:
    """Plan, apply and undo one content change under a Wazuh home."""

    def __init__(self, module, home, state_dir):
        self.module = module
        self.home = home
        self.state_dir = state_dir

    def abs(self, rel):
        return os.path.join(self.home, rel)

    # -- planning ---------------------------------------------------------------------------
    def plan(self, files, owner, group, mode, register_lists):
        uid, gid = _ids(owner, group)
        seen = set()
        desired = {}
        for index, item in enumerate(files):
            rel = item["path"]
            if not PATH_RE.fullmatch(rel):
                raise ContentError(
                    f"files[{index}].path {rel!r} is not etc/rules/*.xml, etc/decoders/*.xml or etc/lists/NAME"
                )
            if rel in seen:
                raise ContentError(f"files[{index}].path {rel!r} is listed twice")
            seen.add(rel)
            desired[rel] = item["content"].encode("utf-8")
        previous = _load_manifest(self.state_dir)
        plan = {"write": [], "created": [], "updated": [], "removed": [], "uid": uid, "gid": gid, "mode": mode}
        for rel, data in sorted(desired.items()):
            dest = self.abs(rel)
            if not os.path.isdir(os.path.dirname(dest)):
                raise ContentError(f"{os.path.dirname(dest)} does not exist: is this a Wazuh manager home?")
            current = _read_bytes(dest)
            if current is None:
                plan["created"].append(rel)
                plan["write"].append(rel)
                continue
            st = os.stat(dest)
            if current != data:
                plan["write"].append(rel)
                plan["updated"].append(rel)
            elif (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) != (uid, gid, mode):
                plan["updated"].append(rel)
        plan["removed"] = sorted(r for r in previous["files"] if r not in desired and os.path.lexists(self.abs(r)))
        list_names = sorted(r.split("/", 2)[2] for r in desired if r.startswith("etc/lists/")) if register_lists else []
        conf_before = _read_bytes(self.abs(OSSEC_CONF))
        if conf_before is None:
            raise ContentError(f"{self.abs(OSSEC_CONF)} does not exist")
        text_before = conf_before.decode("utf-8")
        gone_lists = [n for n in previous["lists"] if n not in list_names]
        text_after, added, dropped = edit_lists(text_before, list_names, gone_lists, source=self.abs(OSSEC_CONF))
        plan.update(
            desired=desired,
            conf_before=text_before,
            conf_after=text_after,
            lists_registered=added,
            lists_unregistered=dropped,
            manifest_before=previous,
            manifest_after={"files": sorted(desired), "lists": list_names},
        )
        plan["changed"] = (
            bool(plan["updated"] or plan["created"] or plan["removed"] or text_after != text_before)
            or previous != plan["manifest_after"]
        )
        return plan

    def diff(self, plan):
        diffs = []
        for rel in plan["write"]:
            before = _read_bytes(self.abs(rel))
            diffs.append(
                {
                    "before_header": rel,
                    "after_header": rel,
                    "before": before.decode("utf-8", "replace") if before is not None else "",
                    "after": plan["desired"][rel].decode("utf-8"),
                }
            )
        for rel in plan["removed"]:
            before = _read_bytes(self.abs(rel)) or b""
            diffs.append(
                {
                    "before_header": rel,
                    "after_header": f"{rel} (removed)",
                    "before": before.decode("utf-8", "replace"),
                    "after": "",
                }
            )
        if plan["conf_after"] != plan["conf_before"]:
            diffs.append(
                {
                    "before_header": OSSEC_CONF,
                    "after_header": OSSEC_CONF,
                    "before": plan["conf_before"],
                    "after": plan["conf_after"],
                }
            )
        return diffs

    # -- backups ----------------------------------------------------------------------------
    def _prune_backups(self, keep):
        root = os.path.join(self.state_dir, "backups")
        if not os.path.isdir(root):
            return
        names = sorted(n for n in os.listdir(root) if os.path.isdir(os.path.join(root, n)))
        for name in names[: max(len(names) - max(keep - 1, 0), 0)]:
            shutil.rmtree(os.path.join(root, name))

    def _make_backup(self, plan, keep):
        self._prune_backups(keep)
        root = os.path.join(self.state_dir, "backups")
        os.makedirs(root, mode=0o700, exist_ok=True)
        os.chmod(self.state_dir, 0o700)
        now = time.time()
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f".{int(now % 1 * 1e6):06d}Z-"
        backup = tempfile.mkdtemp(prefix=stamp, dir=root)
        os.makedirs(os.path.join(backup, "files"), mode=0o700)
        saved = []
        for rel in sorted(set(plan["updated"]) | set(plan["removed"]) | {OSSEC_CONF}):
            src = self.abs(rel)
            st = os.lstat(src)
            target = os.path.join(backup, "files", rel)
            os.makedirs(os.path.dirname(target), mode=0o700, exist_ok=True)
            shutil.copy2(src, target)
            saved.append({"path": rel, "uid": st.st_uid, "gid": st.st_gid, "mode": stat.S_IMODE(st.st_mode)})
        record = {
            "created": plan["created"],
            "saved": saved,
            "manifest_before": plan["manifest_before"],
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        self._write_file(os.path.join(backup, "backup.json"), json.dumps(record, indent=2).encode("utf-8"), 0, 0, 0o600)
        return backup

    # -- writing ----------------------------------------------------------------------------
    def _write_file(self, dest, data, uid, gid, mode):
        """Write ``data`` to a temporary file, set its attributes, then rename it over ``dest``."""
        fd, tmp = _mkstemp(self.module.tmpdir)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chown(tmp, uid, gid)
            os.chmod(tmp, mode)
            self.module.atomic_move(tmp, dest, unsafe_writes=False)
            os.chown(dest, uid, gid)
            os.chmod(dest, mode)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def _write_conf(self, text):
        dest = self.abs(OSSEC_CONF)
        st = os.stat(dest)
        self._write_file(dest, text.encode("utf-8"), st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode))

    def _write_manifest(self, manifest):
        os.makedirs(self.state_dir, mode=0o700, exist_ok=True)
        self._write_file(
            os.path.join(self.state_dir, MANIFEST), json.dumps(manifest, indent=2).encode("utf-8"), 0, 0, 0o600
        )

    def apply(self, plan, keep):
        backup = self._make_backup(plan, keep)
        try:
            for rel in plan["updated"] + plan["created"]:
                data = plan["desired"][rel]
                self._write_file(self.abs(rel), data, plan["uid"], plan["gid"], plan["mode"])
            for rel in plan["removed"]:
                os.unlink(self.abs(rel))
            if plan["conf_after"] != plan["conf_before"]:
                self._write_conf(plan["conf_after"])
            self._write_manifest(plan["manifest_after"])
        except Exception as exc:
            try:
                self.restore(backup)
            except Exception as undo_exc:
                raise ContentError(f"writing failed ({exc}) and restoring {backup} failed too ({undo_exc})") from exc
            raise ContentError(f"writing failed ({exc}); the previous files were restored from {backup}") from exc
        return backup

    def restore(self, backup):
        record_raw = _read_bytes(os.path.join(backup, "backup.json"))
        if record_raw is None:
            raise ContentError(f"{backup} holds no backup.json: not a backup made by this module")
        record = json.loads(record_raw.decode("utf-8"))
        touched = []
        for rel in record["created"]:
            if os.path.lexists(self.abs(rel)):
                os.unlink(self.abs(rel))
                touched.append(rel)
        for entry in record["saved"]:
            rel = entry["path"]
            data = _read_bytes(os.path.join(backup, "files", rel))
            dest = self.abs(rel)
            current = _read_bytes(dest)
            st = os.stat(dest) if current is not None else None
            same = (
                current == data
                and st is not None
                and (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode))
                == (
                    entry["uid"],
                    entry["gid"],
                    entry["mode"],
                )
            )
            if not same:
                self._write_file(dest, data, entry["uid"], entry["gid"], entry["mode"])
                touched.append(rel)
        manifest = record["manifest_before"]
        if _load_manifest(self.state_dir) != manifest:
            self._write_manifest(manifest)
        return touched


def _mkstemp(directory):
    return tempfile.mkstemp(prefix=".m1038-", dir=directory)


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
            "mode": {"type": "str", "default": "0660"},
            "register_lists": {"type": "bool", "default": True},
            "keep_backups": {"type": "int", "default": 5},
            "state": {"type": "str", "choices": ["present", "restored"], "default": "present"},
            "backup": {"type": "path"},
        },
        required_if=[("state", "present", ("files",)), ("state", "restored", ("backup",))],
        supports_check_mode=True,
    )
    p = module.params
    home = p["home"]
    state_dir = p["state_dir"] or os.path.join(home, "var", "m1038-appcontrol")
    tx = Transaction(module, home, state_dir)
    result = {
        "changed": False,
        "created": [],
        "updated": [],
        "removed": [],
        "lists_registered": [],
        "lists_unregistered": [],
        "backup": "",
    }

    if p["state"] == "restored":
        if module.check_mode:
            module.exit_json(changed=True, restored=[], **{k: v for k, v in result.items() if k != "changed"})
        try:
            touched = tx.restore(p["backup"])
        except (ContentError, OSError, ValueError) as exc:
            module.fail_json(msg=f"restoring {p['backup']} failed: {exc}")
        result.update(changed=bool(touched), restored=touched, backup=p["backup"])
        module.exit_json(**result)

    try:
        mode = int(p["mode"], 8)
    except ValueError:
        module.fail_json(msg=f"mode {p['mode']!r} is not an octal string such as '0660'")
    if p["keep_backups"] < 1:
        module.fail_json(msg=f"keep_backups must be at least 1, got {p['keep_backups']}")
    try:
        plan = tx.plan(p["files"], p["owner"], p["group"], mode, p["register_lists"])
    except (ContentError, OssecConfError, OSError, ValueError) as exc:
        module.fail_json(msg=str(exc))
    result.update(
        changed=plan["changed"],
        created=plan["created"],
        updated=plan["updated"],
        removed=plan["removed"],
        lists_registered=plan["lists_registered"],
        lists_unregistered=plan["lists_unregistered"],
    )
    if module._diff and plan["changed"]:
        result["diff"] = tx.diff(plan)
    if plan["changed"] and not module.check_mode:
        try:
            result["backup"] = tx.apply(plan, p["keep_backups"])
        except (ContentError, OSError) as exc:
            module.fail_json(msg=str(exc), **{k: v for k, v in result.items() if k != "changed"})
    module.exit_json(**result)


if __name__ == "__main__":
    main()

# Copyright: m1038.appcontrol contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Transactional placement of rendered Wazuh content under a manager's home (private helper).

Used by the wazuh_content module, which runs on the manager: plan what changes, write every
file atomically after a backup, edit ossec.conf's <ruleset><list> entries surgically, and
restore a backup exactly. The module itself only parses parameters and reports.
"""

from __future__ import annotations

import difflib
import grp
import json
import os
import pwd
import re
import shutil
import stat
import tempfile
import time

from ansible_collections.m1038.appcontrol.plugins.module_utils._ossec_conf import decode_conf, edit_lists, encode_conf
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_content_state import (
    MANIFEST,
    OSSEC_CONF,
    PATH_RE,
    RECORD,
    ContentError,
    check_backup_dir,
    load_manifest,
    load_record,
    read_bytes,
)

__all__ = ["OSSEC_CONF", "PATH_RE", "ContentError", "Transaction", "parse_mode"]

_OCTAL_RE = re.compile(r"0?[0-7]{1,4}|0o[0-7]{1,4}")
_LIST_LINE_RE = re.compile(r"[ \t]*<list>etc/lists/[A-Za-z0-9][A-Za-z0-9._-]*</list>[ \t]*")


def parse_mode(value):
    """Return the permission bits ``value`` names, read the way ansible.builtin.file reads a mode.

    A string is octal (``'0660'``, ``'660'``); an integer is the mode itself, which is what YAML makes
    of an unquoted ``0660`` (the integer 432 = 0o660). Symbolic modes, setuid/setgid/sticky bits and
    modes that let every user write are refused.
    """
    if isinstance(value, str) and _OCTAL_RE.fullmatch(value.strip()):
        mode = int(value.strip().removeprefix("0o"), 8)
    elif isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 0o7777:
        mode = value
    else:
        shown = f"0o{value:o}" if isinstance(value, int) and not isinstance(value, bool) else repr(value)
        raise ContentError(f"mode {shown} is not an octal mode such as '0660' (quote it in YAML)")
    shown = repr(value) if isinstance(value, str) else f"0o{value:o}"
    if mode & 0o7000:
        raise ContentError(f"mode {shown} sets setuid, setgid or sticky bits, which rules and lists never need")
    if mode & 0o002:
        raise ContentError(f"mode {shown} lets every user write the manager's rules and lists")
    return mode


def conf_diff(before, after):
    """A unified diff of the ossec.conf edit with no context lines: only the ``<list>`` lines added or removed.

    ossec.conf holds secrets (cluster ``<key>``, integration ``<api_key>``, cloud wodle keys), and a diff
    lives on in ``-vvv`` output, registered variables and AWX/ARA. Never return its text: any changed
    line that is not one of our ``<list>`` lines (which cannot happen; edit_lists only touches those)
    is withheld rather than shown.
    """
    lines = list(
        difflib.unified_diff(
            before.splitlines(keepends=True), after.splitlines(keepends=True), OSSEC_CONF, OSSEC_CONF, n=0
        )
    )
    for line in lines[2:]:
        if line[:1] in "+-" and not _LIST_LINE_RE.fullmatch(line[1:].rstrip("\r\n")):
            return f"--- {OSSEC_CONF}\n+++ {OSSEC_CONF}\n(changed lines withheld: ossec.conf can hold secrets)\n"
    return "".join(lines)


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
        previous = load_manifest(self.state_dir)
        plan = {"write": [], "created": [], "updated": [], "removed": [], "uid": uid, "gid": gid, "mode": mode}
        for rel, data in sorted(desired.items()):
            dest = self.abs(rel)
            if not os.path.isdir(os.path.dirname(dest)):
                raise ContentError(f"{os.path.dirname(dest)} does not exist: is this a Wazuh manager home?")
            current = read_bytes(dest)
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
        conf_before = read_bytes(self.abs(OSSEC_CONF))
        if conf_before is None:
            raise ContentError(f"{self.abs(OSSEC_CONF)} does not exist")
        text_before = decode_conf(conf_before)
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
            before = read_bytes(self.abs(rel))
            diffs.append(
                {
                    "before_header": rel,
                    "after_header": rel,
                    "before": before.decode("utf-8", "replace") if before is not None else "",
                    "after": plan["desired"][rel].decode("utf-8"),
                }
            )
        for rel in plan["removed"]:
            before = read_bytes(self.abs(rel)) or b""
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
                    "prepared": conf_diff(plan["conf_before"], plan["conf_after"]),
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
        self._write_file(dest, encode_conf(text), st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode))

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
        backup = check_backup_dir(self.state_dir, backup)
        record = load_record(backup)
        for entry in record["saved"]:
            if not os.path.isfile(os.path.join(backup, "files", entry["path"])):
                raise ContentError(
                    f"{backup} lacks files/{entry['path']}, which its {RECORD} lists; nothing was restored"
                )
        touched = []
        for rel in record["created"]:
            if os.path.lexists(self.abs(rel)):
                os.unlink(self.abs(rel))
                touched.append(rel)
        for entry in record["saved"]:
            rel = entry["path"]
            data = read_bytes(os.path.join(backup, "files", rel))
            dest = self.abs(rel)
            current = read_bytes(dest)
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
        if load_manifest(self.state_dir) != manifest:
            self._write_manifest(manifest)
        return touched


def _mkstemp(directory):
    return tempfile.mkstemp(prefix=".m1038-", dir=directory)

# Copyright: m1038.appcontrol contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Transactional placement of rendered Wazuh content under a manager's home (private helper).

Used by the wazuh_content module, which runs on the manager: plan what changes, write every
file atomically after a complete backup, edit ossec.conf's <ruleset><list> entries surgically,
and restore a backup exactly. A run killed between two writes leaves its backup ``open``; the
next run undoes it before anything else. The state directory (manifest, backups, lock) is
handled by ``_wazuh_content_state``; the module itself only parses parameters and reports.
"""

from __future__ import annotations

import difflib
import grp
import os
import pwd
import re
import shutil
import stat
import tempfile
import time

from ansible_collections.m1038.appcontrol.plugins.module_utils._ossec_conf import (
    LocalFile,
    decode_conf,
    edit_lists,
    edit_localfiles,
    encode_conf,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_content_state import (
    COMMITTED,
    MANIFEST,
    OPEN,
    OSSEC_CONF,
    PATH_RE,
    RECORD,
    ROLLED_BACK,
    TEMP_PREFIX,
    ContentError,
    backups_root,
    check_backup_dir,
    copy_durable,
    fsync_dir,
    list_backups,
    load_manifest,
    load_pending,
    make_dirs_durable,
    read_bytes,
    save_pending,
    set_status,
    write_durable,
    write_state_file,
)

__all__ = ["OSSEC_CONF", "PATH_RE", "ContentError", "Transaction", "diff_change", "parse_mode", "plan_change"]

_OCTAL_RE = re.compile(r"0?[0-7]{1,4}|0o[0-7]{1,4}")
_LIST_LINE_RE = re.compile(r"[ \t]*<list>etc/lists/[A-Za-z0-9][A-Za-z0-9._-]*</list>[ \t]*")
# The lines of a <localfile> block as LocalFile writes it (nothing in them can be a secret).
_LOCALFILE_LINE_RE = re.compile(
    r"[ \t]*(?:</?localfile>|<log_format>[a-z_-]+</log_format>|<location>(?:/[A-Za-z0-9._+@-]+)+</location>"
    r'|<only-future-events(?: max-size="[0-9]+[KMG]?")?>(?:yes|no)</only-future-events>)[ \t]*'
)


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
    """A unified diff of the ossec.conf edit with no context lines: only our ``<list>`` and ``<localfile>`` lines.

    ossec.conf holds secrets (cluster ``<key>``, integration ``<api_key>``, cloud wodle keys), and a diff
    lives on in ``-vvv`` output, registered variables and AWX/ARA. Never return its text: any changed
    line that is not one of our ``<list>`` or ``<localfile>`` lines (which cannot happen; edit_lists and
    edit_localfiles only touch those) is withheld rather than shown.
    """
    lines = list(
        difflib.unified_diff(
            before.splitlines(keepends=True), after.splitlines(keepends=True), OSSEC_CONF, OSSEC_CONF, n=0
        )
    )
    for line in lines[2:]:
        text = line[1:].rstrip("\r\n")
        if line[:1] in "+-" and not (_LIST_LINE_RE.fullmatch(text) or _LOCALFILE_LINE_RE.fullmatch(text)):
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


def _plan_files(home, files, previous, plan, *, uid, gid, mode):
    """Fill ``plan`` with the content files to write, replace and remove; return the desired bytes by path."""
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
    for rel, data in sorted(desired.items()):
        dest = os.path.join(home, rel)
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
    plan["removed"] = sorted(
        r for r in previous["files"] if r not in desired and os.path.lexists(os.path.join(home, r))
    )
    return desired


def plan_change(home, state_dir, files, *, owner, group, mode, register_lists, localfiles=None):
    """What placing ``files`` and ``localfiles`` changes under ``home``: read-only, so check mode runs exactly this.

    ``files`` None leaves the content files and their CDB list entries as the last run placed them;
    ``localfiles`` None leaves the ``<localfile>`` blocks alone. Given, each is the complete set: what an
    earlier run placed and is no longer in it is removed.
    """
    uid, gid = _ids(owner, group)
    previous = load_manifest(state_dir)
    plan = {"write": [], "created": [], "updated": [], "removed": [], "uid": uid, "gid": gid, "mode": mode}
    conf_path = os.path.join(home, OSSEC_CONF)
    conf_before = read_bytes(conf_path)
    if conf_before is None:
        raise ContentError(f"{conf_path} does not exist")
    text_before = decode_conf(conf_before)
    manifest_after = {"files": previous["files"], "lists": previous["lists"]}
    text_after, added, dropped = text_before, [], []
    desired = {}
    if files is not None:
        desired = _plan_files(home, files, previous, plan, uid=uid, gid=gid, mode=mode)
        list_names = sorted(r.split("/", 2)[2] for r in desired if r.startswith("etc/lists/")) if register_lists else []
        gone_lists = [n for n in previous["lists"] if n not in list_names]
        text_after, added, dropped = edit_lists(text_before, list_names, gone_lists, source=conf_path)
        manifest_after = {"files": sorted(desired), "lists": list_names}
    before_lf = [LocalFile.from_dict(e, "managed.json") for e in previous.get("localfiles", [])]
    lf_added, lf_removed = [], []
    if localfiles is None:
        wanted_lf = before_lf
    else:
        wanted_lf = [LocalFile.from_dict(e, f"localfiles[{i}]") for i, e in enumerate(localfiles)]
        locations = [e.location for e in wanted_lf]
        twice = sorted({loc for loc in locations if locations.count(loc) > 1})
        if twice:
            raise ContentError(f"localfiles: location {twice[0]} is listed twice")
        text_after, lf_added, lf_removed = edit_localfiles(text_after, wanted_lf, before_lf, source=conf_path)
    if wanted_lf:
        manifest_after["localfiles"] = [e.as_dict() for e in sorted(wanted_lf, key=lambda e: e.location)]
    plan.update(
        desired=desired,
        conf_before=text_before,
        conf_after=text_after,
        lists_registered=added,
        lists_unregistered=dropped,
        localfiles_added=lf_added,
        localfiles_removed=lf_removed,
        manifest_before=previous,
        manifest_after=manifest_after,
    )
    plan["changed"] = (
        bool(plan["updated"] or plan["created"] or plan["removed"] or text_after != text_before)
        or previous != plan["manifest_after"]
    )
    return plan


def diff_change(home, plan):
    """The ``diff`` result of a plan: before/after text of our files, only the list lines of ossec.conf."""
    diffs = []
    for rel in plan["write"]:
        before = read_bytes(os.path.join(home, rel))
        diffs.append(
            {
                "before_header": rel,
                "after_header": rel,
                "before": before.decode("utf-8", "replace") if before is not None else "",
                "after": plan["desired"][rel].decode("utf-8"),
            }
        )
    for rel in plan["removed"]:
        before = read_bytes(os.path.join(home, rel)) or b""
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


class Transaction:
    """Plan, apply and undo one content change under a Wazuh home.

    ``apply`` order, each step durable before the next: backup complete (record ``open``) ->
    content files -> removals -> ossec.conf -> manifest -> record ``committed`` -> prune old
    backups. A failure in between undoes the change at once; a kill leaves the record ``open``
    for ``recover`` in the next run.
    """

    def __init__(self, module, home, state_dir):
        self.module = module
        self.home = home
        self.state_dir = state_dir

    def abs(self, rel):
        return os.path.join(self.home, rel)

    # -- the pending-validation marker -------------------------------------------------------
    def pending(self):
        """Backups whose changes no validated restart has loaded yet, oldest first (full paths)."""
        return [os.path.join(backups_root(self.state_dir), name) for name in load_pending(self.state_dir)]

    def _set_pending(self, names):
        if set(names) != set(load_pending(self.state_dir)):
            save_pending(self.module, self.state_dir, names)

    def validated(self, check_mode):
        """Record that a restart loaded the current content and the engine accepted it: nothing is pending."""
        was = load_pending(self.state_dir)
        if was and not check_mode:
            save_pending(self.module, self.state_dir, [])
        return bool(was)

    def rollback_pending(self):
        """Undo every pending change, newest first: back to the content the engine last accepted."""
        names = load_pending(self.state_dir)
        return self.restore(os.path.join(backups_root(self.state_dir), names[0])) if names else []

    # -- recovery ---------------------------------------------------------------------------
    def interrupted(self):
        """Backups left ``open`` by a run that was killed between two writes (newest first)."""
        return [b for b in reversed(list_backups(self.state_dir)) if b.status == OPEN]

    def recover(self):
        """Undo what a killed run left half-done, before anything else; return the backups rolled back.

        Also removes backup directories that never got their backup.json (a copy interrupted before
        any live file was touched) and temporary files of interrupted writes.
        """
        self._remove_temporary_files()
        recovered = []
        for backup in self.interrupted():
            try:
                self._undo(backup.path, backup.record)
                set_status(self.module, backup.path, backup.record, ROLLED_BACK)
                self._set_pending([n for n in load_pending(self.state_dir) if n != backup.name])
            except (ContentError, OSError) as exc:
                raise ContentError(
                    f"a run was interrupted while it changed the content; restoring its backup {backup.path} "
                    f"failed ({exc}), so nothing else was done. Put the files listed in {RECORD} back by hand "
                    "or restore the backup, then run again"
                ) from exc
            recovered.append(backup.path)
        for backup in list_backups(self.state_dir):
            if backup.record is None:
                shutil.rmtree(backup.path)
        return recovered

    def _remove_temporary_files(self):
        for directory in ("etc", "etc/rules", "etc/decoders", "etc/lists"):
            path = self.abs(directory)
            if not os.path.isdir(path):
                continue
            for name in os.listdir(path):
                if name.startswith(TEMP_PREFIX) and os.path.isfile(os.path.join(path, name)):
                    os.unlink(os.path.join(path, name))

    # -- backups ----------------------------------------------------------------------------
    def _make_backup(self, plan):
        """Copy what the change replaces into a new backup directory; it exists whole, or not at all."""
        root = backups_root(self.state_dir)
        make_dirs_durable(root, self.state_dir)
        now = time.time()
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f".{int(now % 1 * 1e6):06d}Z-"
        backup = tempfile.mkdtemp(prefix=stamp, dir=root)
        try:
            saved = []
            for rel in sorted(set(plan["updated"]) | set(plan["removed"]) | {OSSEC_CONF}):
                src = self.abs(rel)
                st = os.lstat(src)
                target = os.path.join(backup, "files", rel)
                make_dirs_durable(os.path.dirname(target), backup)
                copy_durable(src, target)
                saved.append({"path": rel, "uid": st.st_uid, "gid": st.st_gid, "mode": stat.S_IMODE(st.st_mode)})
            record = {
                "status": OPEN,
                "created": plan["created"],
                "saved": saved,
                "manifest_before": plan["manifest_before"],
                "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
            }
            write_state_file(self.module, os.path.join(backup, RECORD), record)
            fsync_dir(root)
        except (OSError, ContentError) as exc:
            shutil.rmtree(backup, ignore_errors=True)
            raise ContentError(f"could not make the backup in {root} ({exc}); nothing was changed") from exc
        return backup, record

    def _prune(self, keep, protect=()):
        """Keep the newest ``keep`` complete backups (and any in ``protect``); runs after a commit."""
        complete = [b for b in list_backups(self.state_dir) if b.record is not None]
        for backup in complete[: max(len(complete) - keep, 0)]:
            if backup.name not in protect:
                shutil.rmtree(backup.path)

    # -- writing ----------------------------------------------------------------------------
    def _write_file(self, dest, data, uid, gid, mode):
        write_durable(self.module, dest, data, owner=(uid, gid), mode=mode)

    def _write_conf(self, text):
        dest = self.abs(OSSEC_CONF)
        st = os.stat(dest)
        self._write_file(dest, encode_conf(text), st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode))

    def _write_manifest(self, manifest):
        write_state_file(self.module, os.path.join(self.state_dir, MANIFEST), manifest)

    def _unlink(self, rel):
        os.unlink(self.abs(rel))
        fsync_dir(os.path.dirname(self.abs(rel)))

    def apply(self, plan, keep):
        backup, record = self._make_backup(plan)
        name = os.path.basename(backup)
        # Pending from before the first write: whatever stops this run, the next one validates or rolls back.
        self._set_pending([*load_pending(self.state_dir), name])
        try:
            for rel in plan["updated"] + plan["created"]:
                self._write_file(self.abs(rel), plan["desired"][rel], plan["uid"], plan["gid"], plan["mode"])
            for rel in plan["removed"]:
                self._unlink(rel)
            if plan["conf_after"] != plan["conf_before"]:
                self._write_conf(plan["conf_after"])
            self._write_manifest(plan["manifest_after"])
            set_status(self.module, backup, record, COMMITTED)
        except Exception as exc:  # a kill (or Ctrl-C) skips this: the record stays open for the next run
            try:
                self._undo(backup, record)
                set_status(self.module, backup, record, ROLLED_BACK)
                self._set_pending([n for n in load_pending(self.state_dir) if n != name])
            except Exception as undo_exc:
                raise ContentError(f"writing failed ({exc}) and restoring {backup} failed too ({undo_exc})") from exc
            raise ContentError(f"writing failed ({exc}); the previous files were restored from {backup}") from exc
        try:
            self._prune(keep, protect={name, *load_pending(self.state_dir)})
        except OSError as exc:
            self.module.warn(
                f"the change is in place, but removing old backups under {backups_root(self.state_dir)} failed: {exc}"
            )
        return backup

    # -- restoring --------------------------------------------------------------------------
    def restore(self, backup):
        """Return to the state before ``backup``: undo every later committed change, newest first, then it."""
        backup = check_backup_dir(self.state_dir, backup)
        name = os.path.basename(backup)
        found = {b.name: b for b in list_backups(self.state_dir)}
        if name not in found or found[name].record is None:
            raise ContentError(f"{backup} holds no {RECORD}: not a backup made by wazuh_content")
        chain = [b for b in found.values() if b.name > name and b.status == COMMITTED]
        chain = [*sorted(chain, key=lambda b: b.name, reverse=True), found[name]]
        for item in chain:
            for entry in item.record["saved"]:
                if not os.path.isfile(os.path.join(item.path, "files", entry["path"])):
                    missing = f"files/{entry['path']}"
                    raise ContentError(f"{item.path} lacks {missing}, which its {RECORD} lists; nothing was restored")
        touched = []
        for item in chain:
            touched.extend(self._undo(item.path, item.record))
            set_status(self.module, item.path, item.record, ROLLED_BACK)
        self._set_pending([n for n in load_pending(self.state_dir) if n < name])
        return sorted(set(touched))

    def _undo(self, backup, record):
        """Put back what ``record`` saved and delete what its run created; return the paths touched."""
        touched = []
        for rel in record["created"]:
            if os.path.lexists(self.abs(rel)):
                self._unlink(rel)
                touched.append(rel)
        for entry in record["saved"]:
            rel = entry["path"]
            data = read_bytes(os.path.join(backup, "files", rel))
            if data is None:
                raise ContentError(f"{backup} lacks files/{rel}, which its {RECORD} lists")
            dest = self.abs(rel)
            current = read_bytes(dest)
            st = os.stat(dest) if current is not None else None
            same = (
                current == data
                and st is not None
                and (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (entry["uid"], entry["gid"], entry["mode"])
            )
            if not same:
                self._write_file(dest, data, entry["uid"], entry["gid"], entry["mode"])
                touched.append(rel)
        if load_manifest(self.state_dir) != record["manifest_before"]:
            self._write_manifest(record["manifest_before"])
        return touched

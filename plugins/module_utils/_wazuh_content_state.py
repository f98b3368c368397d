# Copyright: m1038.appcontrol contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The state directory of wazuh_content on a manager (private helper, stdlib only).

Layout of ``<state_dir>`` (root's alone, 0700)::

    lock                  flock held by a run from its first read to its last write
    managed.json          files, CDB lists and <localfile> blocks the last committed run placed (the manifest)
    backups/<stamp>-<id>/ one per change: files/<path> copies and backup.json, the undo record
    pending.json          backups whose content no validated restart has loaded yet (see PENDING)

A backup's record carries a status: ``open`` from the moment it is complete until the change and
the manifest are written, then ``committed``; ``rolled back`` once its change has been undone. A
run that finds an ``open`` backup was killed mid-change: it undoes it before anything else.

Everything read back from the directory is checked as strictly as the module's own input, and
every error names the file it comes from. Every write is durable: a temporary file next to its
destination, fsynced, renamed into place, then the directory fsynced.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import stat
import tempfile
import time
from dataclasses import dataclass

from ansible_collections.m1038.appcontrol.plugins.module_utils._ossec_conf import (
    LIST_NAME_RE,
    LocalFile,
    OssecConfError,
)

MANIFEST = "managed.json"
RECORD = "backup.json"
LOCK = "lock"
PENDING = "pending.json"
TEMP_PREFIX = ".m1038-content-tmp-"  # only ever our own temporary files: recovery removes these
OPEN, COMMITTED, ROLLED_BACK = "open", "committed", "rolled back"
# Backup directories: a UTC time stamp, then tempfile.mkdtemp's random suffix; names sort by time.
BACKUP_NAME_RE = re.compile(r"[0-9]{8}T[0-9]{6}\.[0-9]{6}Z-[A-Za-z0-9_]+")
OSSEC_CONF = "etc/ossec.conf"
# What wazuh_content may place: relative to the Wazuh home, nothing outside these three directories.
PATH_RE = re.compile(
    r"etc/(rules/[A-Za-z0-9][A-Za-z0-9._-]*\.xml|decoders/[A-Za-z0-9][A-Za-z0-9._-]*\.xml|lists/[A-Za-z0-9][A-Za-z0-9._-]*)"
)


class ContentError(Exception):
    """A change that cannot be made safely; the message says why and names the file or value."""


# -- reading and checking -------------------------------------------------------------------
def read_bytes(path):
    """The bytes of ``path``, or None when it does not exist."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def load_json(path):
    """Parse the JSON file ``path`` (None when it does not exist); errors name the file."""
    raw = read_bytes(path)
    if raw is None:
        return None
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ContentError(f"{path} is not valid UTF-8 JSON ({exc}); it was not written by wazuh_content") from None


def check_path(rel, where, *, conf=False):
    """Refuse a stored path that the module would not accept as input (``conf``: ossec.conf allowed too)."""
    if isinstance(rel, str) and (PATH_RE.fullmatch(rel) or (conf and rel == OSSEC_CONF)):
        return rel
    allowed = "etc/rules/*.xml, etc/decoders/*.xml, etc/lists/NAME" + (" or etc/ossec.conf" if conf else "")
    raise ContentError(f"{where}: {rel!r} is not {allowed}; refusing to touch it")


def check_manifest(data, where):
    """A manifest (managed.json, or a backup's manifest_before) whose every entry is one we may write.

    ``localfiles`` (the ossec.conf ``<localfile>`` blocks placed) is present only when there are some,
    so manifests written before it existed read back unchanged.
    """
    keys = ("files", "lists", "localfiles")
    if not isinstance(data, dict) or not all(isinstance(data.get(key, []), list) for key in keys):
        raise ContentError(f"{where}: expected {{'files': [...], 'lists': [...]}}, found {data!r}")
    files = sorted(check_path(rel, where) for rel in data.get("files", []))
    lists = data.get("lists", [])
    for name in lists:
        if not isinstance(name, str) or not LIST_NAME_RE.fullmatch(name):
            raise ContentError(f"{where}: CDB list name {name!r} is not a plain file name; refusing to use it")
    manifest = {"files": files, "lists": sorted(lists)}
    try:
        localfiles = [LocalFile.from_dict(entry, f"{where} (localfiles)") for entry in data.get("localfiles", [])]
    except OssecConfError as exc:
        raise ContentError(f"{exc}; refusing to use it") from None
    if localfiles:
        manifest["localfiles"] = [e.as_dict() for e in sorted(localfiles, key=lambda e: e.location)]
    return manifest


def load_manifest(state_dir):
    """``{"files": [...], "lists": [...]}`` (and ``localfiles`` when any) of the last run, checked like input."""
    path = os.path.join(state_dir, MANIFEST)
    data = load_json(path)
    if data is None:
        return {"files": [], "lists": []}
    return check_manifest(data, path)


def check_state_dir(state_dir):
    """Refuse a state directory someone other than root could have written: it says what to delete and restore."""
    try:
        st = os.stat(state_dir)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(st.st_mode):
        raise ContentError(f"{state_dir} is not a directory")
    if st.st_uid not in (0, os.geteuid()):
        raise ContentError(
            f"{state_dir} is owned by uid {st.st_uid}, not root: refusing to trust the manifest and backups in it"
        )
    if st.st_mode & 0o022:
        raise ContentError(
            f"{state_dir} is writable by its group or by every user (mode 0o{stat.S_IMODE(st.st_mode):03o}): "
            "refusing to trust the manifest and backups in it; make it root's alone (chmod 0700)"
        )


def backups_root(state_dir):
    return os.path.join(state_dir, "backups")


def check_backup_dir(state_dir, backup):
    """The real path of ``backup`` when it is a backup directory directly under ``<state_dir>/backups``."""
    root = os.path.realpath(backups_root(state_dir))
    real = os.path.realpath(backup)
    if os.path.dirname(real) != root or not BACKUP_NAME_RE.fullmatch(os.path.basename(real)):
        raise ContentError(f"{backup} is not a backup directory of {root}: refusing to restore from it")
    return real


def load_record(backup):
    """The checked backup.json of ``backup``: every path, owner and mode it holds is one we may write."""
    path = os.path.join(backup, RECORD)
    record = load_json(path)
    if record is None:
        raise ContentError(f"{backup} holds no {RECORD}: not a backup made by wazuh_content")
    if not isinstance(record, dict) or not all(isinstance(record.get(key), list) for key in ("created", "saved")):
        raise ContentError(f"{path}: expected 'created' and 'saved' lists")
    created = [check_path(rel, path) for rel in record["created"]]
    saved = []
    for entry in record["saved"]:
        if not isinstance(entry, dict):
            raise ContentError(f"{path}: saved entry {entry!r} is not a mapping")
        rel = check_path(entry.get("path"), path, conf=True)
        uid, gid, mode = (entry.get(key) for key in ("uid", "gid", "mode"))
        numbers = all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (uid, gid, mode))
        if not numbers or mode > 0o7777:
            raise ContentError(f"{path}: saved entry for {rel} has a bad owner, group or mode: {entry!r}")
        saved.append({"path": rel, "uid": uid, "gid": gid, "mode": mode})
    manifest = check_manifest(record.get("manifest_before", {}), f"{path} (manifest_before)")
    status = record.get("status", COMMITTED)  # records written before statuses existed were committed
    if status not in (OPEN, COMMITTED, ROLLED_BACK):
        raise ContentError(f"{path}: unknown status {status!r}")
    return {**record, "created": created, "saved": saved, "manifest_before": manifest, "status": status}


@dataclass
class Backup:
    """One directory under backups/; ``record`` is None when backup.json was never written (a partial copy)."""

    name: str
    path: str
    record: dict | None

    @property
    def status(self):
        return self.record["status"] if self.record else None


def list_backups(state_dir):
    """Every backup directory, oldest first. Directories with other names are not ours and are left alone."""
    root = backups_root(state_dir)
    if not os.path.isdir(root):
        return []
    found = []
    for name in sorted(os.listdir(root)):
        path = os.path.join(root, name)
        if BACKUP_NAME_RE.fullmatch(name) and os.path.isdir(path) and not os.path.islink(path):
            has_record = os.path.lexists(os.path.join(path, RECORD))
            found.append(Backup(name, path, load_record(path) if has_record else None))
    return found


# -- the pending-validation marker -----------------------------------------------------------
def load_pending(state_dir):
    """Names of the backups whose changes no validated restart has loaded yet, oldest first.

    The first one's ``before`` state is the last one the engine accepted: rolling back every pending
    backup, newest first, returns to it.
    """
    path = os.path.join(state_dir, PENDING)
    data = load_json(path)
    if data is None:
        return []
    names = data.get("backups") if isinstance(data, dict) else None
    if not isinstance(names, list) or not all(isinstance(n, str) and BACKUP_NAME_RE.fullmatch(n) for n in names):
        raise ContentError(f"{path}: expected {{'backups': [backup directory names]}}, found {data!r}")
    return sorted(names)


def save_pending(module, state_dir, names):
    """Write the marker durably, or delete it when nothing is pending."""
    path = os.path.join(state_dir, PENDING)
    if names:
        data = {"backups": sorted(names), "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        if load_json(path) is not None:
            data["since"] = load_json(path).get("since", data["since"])
        write_state_file(module, path, data)
    elif os.path.lexists(path):
        os.unlink(path)
        fsync_dir(state_dir)


# -- durable writes ----------------------------------------------------------------------------
def fsync_path(path, *, directory=False):
    """fsync a file or directory by path (a rename or unlink is durable once its directory is synced)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path):
    fsync_path(path, directory=True)


def write_durable(module, dest, data, *, owner, mode):
    """Replace ``dest`` with ``data`` atomically and durably; readers see the old file or the new one, whole.

    ``owner`` is a ``(uid, gid)`` pair.
    """
    uid, gid = owner
    directory = os.path.dirname(dest)
    fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=directory)  # same filesystem: the rename is atomic
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chown(tmp, uid, gid)
        os.chmod(tmp, mode)
        module.atomic_move(tmp, dest, unsafe_writes=False)  # keeps an SELinux context right
        os.chown(dest, uid, gid)  # atomic_move copies the replaced file's owner and mode
        os.chmod(dest, mode)
        fsync_path(dest)
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)
    fsync_dir(directory)


def write_state_file(module, path, data):
    data = json.dumps(data, indent=2).encode("utf-8")
    write_durable(module, path, data, owner=(os.geteuid(), os.getegid()), mode=0o600)


def copy_durable(src, dst):
    """Copy ``src`` with its times and mode to ``dst``; fsync the copy and the directory that gained it."""
    shutil.copy2(src, dst)
    fsync_path(dst)
    fsync_dir(os.path.dirname(dst))


def make_dirs_durable(path, top):
    """Create ``path`` (0700) and every missing parent below ``top``, syncing each directory that gains one."""
    missing = []
    current = path
    while not os.path.isdir(current) and current != top:
        missing.append(current)
        current = os.path.dirname(current)
    for directory in reversed(missing):
        os.mkdir(directory, 0o700)
        fsync_dir(os.path.dirname(directory))


def set_status(module, backup, record, status):
    """Rewrite a backup's record with a new status (durably); a no-op when it already has it."""
    if record["status"] != status:
        record["status"] = status
        write_state_file(module, os.path.join(backup, RECORD), record)


# -- locking -----------------------------------------------------------------------------------
class StateLock:
    """``flock`` on ``<state_dir>/lock`` for a whole run, so two runs never interleave.

    Exclusive for a run that may write; shared for check mode, which then reads a state no run is
    halfway through. Check mode never creates the lock file (nor the directory): with no lock file,
    no run has ever written here. Waits up to ``timeout`` seconds, then fails naming the holder.
    """

    def __init__(self, state_dir, timeout, *, shared=False):
        self.path = os.path.join(state_dir, LOCK)
        self.timeout = timeout
        self.shared = shared
        self.fd = None

    def __enter__(self):
        if self.shared:
            try:
                self.fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                return self
        else:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        deadline = time.monotonic() + self.timeout
        mode = (fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX) | fcntl.LOCK_NB
        while True:
            try:
                fcntl.flock(self.fd, mode)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = (read_bytes(self.path) or b"").decode("ascii", "replace").strip()
                    os.close(self.fd)
                    self.fd = None
                    raise ContentError(
                        f"another run holds {self.path}{f' (pid {holder})' if holder else ''}; waited {self.timeout}s. "
                        "Two runs at once would overwrite each other's edits: try again when it has finished"
                    ) from None
                time.sleep(0.2)
        if not self.shared:
            os.ftruncate(self.fd, 0)
            os.write(self.fd, f"{os.getpid()}\n".encode())
        return self

    def __exit__(self, *exc):
        if self.fd is not None:
            os.close(self.fd)  # closing the descriptor releases the lock
            self.fd = None

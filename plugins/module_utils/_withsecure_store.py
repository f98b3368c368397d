# Copyright: m1038.appcontrol contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the WithSecure forwarder keeps on disk: the output file, the cursor, the status (stdlib only).

The order of writes is the whole guarantee (docs/withsecure.md, "No loss, no duplicate"):

1. A page's events are appended to the output file as whole lines and fsynced.
2. Only then the cursor is replaced (temporary file, fsync, rename, directory fsync). It holds the
   last ``persistenceTimestamp`` forwarded, the ids already written at or after it (``seen``),
   and the output file's inode and size after the append.

A run killed between 1 and 2 leaves lines beyond the size the cursor records. The next run reads
them back (``EventLog.reconcile``): a partial last line is cut off, the ids of the complete ones
join ``seen``, and the page the API gives again is written without them. So a crash anywhere
loses nothing (the cursor never runs ahead of the file) and duplicates nothing (the file never
runs ahead of the cursor without the cursor being able to see it).

The output file is rotated by renaming (never copy-and-truncate, which loses what is appended
in between), only at the start of a run and only when it has been idle long enough for the
manager's logcollector to have read it to the end (docs/withsecure.md, "Rotation").
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import time

CURSOR_VERSION = 1
_ID_RE = re.compile(r"[^\x00-\x1f]{1,512}")


class StoreError(Exception):
    """A state file that cannot be read or written safely; the message names it."""


# -- durable small files ---------------------------------------------------------------------
def fsync_dir(path):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path, data: bytes, mode=0o600):
    """Replace ``path`` with ``data``: temporary file beside it, fsync, rename, directory fsync."""
    directory = os.path.dirname(path) or "."
    tmp = os.path.join(directory, f".{os.path.basename(path)}.tmp-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(directory)


def read_json(path):
    """The JSON object in ``path``, or None when the file does not exist; errors name the file."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except FileNotFoundError:
        return None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise StoreError(f"{path} is not valid JSON ({exc}); move it away to start over") from None
    if not isinstance(data, dict):
        raise StoreError(f"{path} does not hold a JSON object; move it away to start over")
    return data


# -- the cursor --------------------------------------------------------------------------------
class Cursor:
    """Where the next run resumes, and what the output file holds up to where."""

    __slots__ = ("inode", "key", "offset", "seen", "timestamp")

    def __init__(self, timestamp, key, seen, inode, offset):
        self.timestamp = timestamp  # the persistenceTimestamp string, as the API wrote it
        self.key = key  # its nanoseconds since the epoch (ordering)
        self.seen = seen  # {event id: key} written with key >= self.key
        self.inode = inode  # output file the offset is in
        self.offset = offset  # its size after the last durable append

    def as_dict(self):
        return {
            "version": CURSOR_VERSION,
            "persistenceTimestamp": self.timestamp,
            "key": self.key,
            "seen": dict(sorted(self.seen.items())),
            "output": {"inode": self.inode, "size": self.offset},
        }

    @classmethod
    def from_dict(cls, data, where):
        try:
            if data.get("version") != CURSOR_VERSION:
                raise ValueError(f"version {data.get('version')!r} is not {CURSOR_VERSION}")
            timestamp, key, seen, output = data["persistenceTimestamp"], data["key"], data["seen"], data["output"]
            inode, offset = output["inode"], output["size"]
            if not isinstance(timestamp, str) or not timestamp:
                raise ValueError("persistenceTimestamp is not a string")
            for number in (key, inode, offset):
                if not isinstance(number, int) or isinstance(number, bool) or number < 0:
                    raise ValueError(f"{number!r} is not a non-negative integer")
            if not isinstance(seen, dict) or not all(
                isinstance(k, str) and _ID_RE.fullmatch(k) and isinstance(v, int) and not isinstance(v, bool)
                for k, v in seen.items()
            ):
                raise ValueError("seen is not a map of event ids to integers")
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise StoreError(f"{where} is not a forwarder cursor ({exc}); move it away to start over") from None
        return cls(timestamp, key, dict(seen), inode, offset)

    def advance(self, timestamp, key, ids):
        """After a durable append: the newest timestamp of the page and the ids written at or after it."""
        if key > self.key:
            self.timestamp, self.key = timestamp, key
        self.seen.update(ids)
        self.seen = {event_id: k for event_id, k in self.seen.items() if k >= self.key}


def load_cursor(path):
    data = read_json(path)
    return None if data is None else Cursor.from_dict(data, path)


def save_cursor(path, cursor):
    write_atomic(path, (json.dumps(cursor.as_dict(), separators=(",", ":")) + "\n").encode("utf-8"))


# -- the output file ---------------------------------------------------------------------------
def event_identity(line: bytes):
    """(id, persistenceTimestamp) of one output line, or None when it is not one of ours."""
    try:
        doc = json.loads(line.decode("utf-8"))
        event = doc["withsecure"]
        event_id, stamp = event["id"], event["persistenceTimestamp"]
    except (UnicodeDecodeError, ValueError, TypeError, KeyError):
        return None
    if isinstance(event_id, str) and isinstance(stamp, str):
        return event_id, stamp
    return None


class Reconciled:
    """What ``EventLog.reconcile`` found beyond the cursor."""

    def __init__(self):
        self.ids = []  # (id, persistenceTimestamp) of complete lines written after the cursor
        self.truncated = 0  # bytes of a partial last line cut off
        self.unreadable = 0  # complete lines beyond the cursor that are not ours
        self.notes = []  # anything an operator should know (external truncation or rotation)


class EventLog:
    """The file the manager reads: append whole lines durably, rotate safely, read back after a crash."""

    def __init__(self, path, *, max_bytes, keep, rotate_min_idle, mode=0o640):
        self.path = path
        self.max_bytes = max_bytes
        self.keep = keep
        self.rotate_min_idle = rotate_min_idle
        self.mode = mode
        self.fd = None
        self.inode = 0
        self.size = 0

    def rotated(self, number):
        return f"{self.path}.{number}"

    def open(self):
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, self.mode)
        st = os.fstat(self.fd)
        self.inode, self.size = st.st_ino, st.st_size

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def append(self, data: bytes):
        """Append ``data`` (whole lines) and fsync; returns the size after it."""
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view) :]
        os.fsync(self.fd)
        self.size += len(data)
        return self.size

    # -- after a crash ---------------------------------------------------------------------
    def _find_inode(self, inode):
        for path in [self.path, *(self.rotated(n) for n in range(1, self.keep + 1))]:
            with contextlib.suppress(FileNotFoundError):
                if os.stat(path).st_ino == inode:
                    return path
        return None

    def _read_tail(self, path, offset, found, *, cut_partial):
        """Collect the ids of the complete lines from ``offset``; cut a partial last line off ``path``."""
        with open(path, "rb+" if cut_partial else "rb") as handle:
            handle.seek(offset)
            end = offset
            for line in handle:
                if not line.endswith(b"\n"):
                    break
                end += len(line)
                identity = event_identity(line)
                if identity is None:
                    found.unreadable += 1
                else:
                    found.ids.append(identity)
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            if cut_partial and size > end:
                handle.truncate(end)
                handle.flush()
                os.fsync(handle.fileno())
                found.truncated += size - end

    def reconcile(self, cursor):
        """Read what was appended after ``cursor`` (a page whose cursor never landed); adopt the file as it is now.

        Returns a Reconciled; afterwards ``self.size`` is the file's size, every line in it complete.
        """
        found = Reconciled()
        if cursor.inode == self.inode:
            if self.size < cursor.offset:
                found.notes.append(
                    f"{self.path} is shorter ({self.size} bytes) than the cursor recorded ({cursor.offset}): something "
                    "else truncated it (copy-and-truncate rotation?); events between may not have been read"
                )
            else:
                self._read_tail(self.path, cursor.offset, found, cut_partial=True)
        else:
            previous = self._find_inode(cursor.inode)
            if previous is None:
                found.notes.append(
                    f"the file the cursor points at (inode {cursor.inode}) is gone; {self.path} is taken as new"
                )
            else:
                self._read_tail(previous, cursor.offset, found, cut_partial=True)
            self._read_tail(self.path, 0, found, cut_partial=True)
        self.size = os.fstat(self.fd).st_size
        return found

    # -- rotation --------------------------------------------------------------------------
    def rotation_due(self, now=None):
        """The file is over ``max_bytes`` and nothing was appended for ``rotate_min_idle`` seconds."""
        if self.max_bytes <= 0 or self.size < self.max_bytes:
            return False
        idle = (now if now is not None else time.time()) - os.fstat(self.fd).st_mtime
        return idle >= self.rotate_min_idle

    def rotate(self):
        """``path`` -> ``path.1`` -> ... -> ``path.<keep>`` (the oldest dropped); a new empty ``path``."""
        self.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.rotated(self.keep))
        for number in range(self.keep - 1, 0, -1):
            with contextlib.suppress(FileNotFoundError):
                os.replace(self.rotated(number), self.rotated(number + 1))
        if self.keep > 0:
            os.replace(self.path, self.rotated(1))
        else:
            os.unlink(self.path)
        self.open()
        fsync_dir(os.path.dirname(self.path) or ".")


# -- one run at a time --------------------------------------------------------------------------
class RunLock:
    """An exclusive flock on ``<state_dir>/lock``; ``acquired`` is False when another run holds it."""

    def __init__(self, path):
        self.path = path
        self.fd = None
        self.acquired = False

    def __enter__(self):
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self.acquired = True
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
        return self

    def __exit__(self, *exc):
        os.close(self.fd)
        self.fd = None

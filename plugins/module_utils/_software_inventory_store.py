# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Files the software_inventory routes write: atomic, streamed, written only when they change.

* ``atomic_write``: temporary file beside the target (a dot name, which the renderer skips),
  flushed to disk, renamed over the target. A reader sees the old file or the new one, never half.
* ``ResponseStore``: the manager route's directory of saved syscollector responses, one file per
  agent (``<agent_id>.json``), in the shape the renderer reads (``_wazuh_inventory``). Each file is
  built page by page while its SHA-256 is computed (in memory up to ``SPOOL_BYTES``, beyond that
  streamed to its temporary file), then written or thrown away by comparing that hash with the
  manifest (``.m1038-syscollector.json``: hash, size and mtime of every file this module wrote),
  so an unchanged agent costs no write and no read of the old file. In check mode nothing
  touches the disk: the bytes only feed the hash. Files the
  manifest lists for agents that are gone are removed; files it does not list are never touched.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import tempfile
import threading
from dataclasses import dataclass

GENERATOR = "m1038.appcontrol.wazuh_syscollector"
MANIFEST = ".m1038-syscollector.json"
TMP_PREFIX = ".m1038-tmp-"
AGENT_FILE = re.compile(r"^(\d{3,})\.json$")
_MARKER = ('{"generator": "' + GENERATOR + '"').encode()
# An agent's file is built in memory up to this size, then streamed to a temporary file.
SPOOL_BYTES = 4 * 1024 * 1024


class StoreError(ValueError):
    """A file cannot be written or would overwrite something this module did not write."""


def atomic_write(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` through a flushed temporary file and a rename; keep the old mode."""
    directory = os.path.dirname(path) or "."
    handle, tmp = tempfile.mkstemp(dir=directory, prefix=TMP_PREFIX)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        _keep_mode(path, tmp)
        os.replace(tmp, path)
    except BaseException:
        _unlink(tmp)
        raise


def _keep_mode(path: str, tmp: str) -> None:
    try:
        mode = os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o644 & ~umask
    os.chmod(tmp, mode)


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def file_sha256(path: str) -> str | None:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except FileNotFoundError:
        return None
    return digest.hexdigest()


def _stat_key(path: str) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return stat.st_size, stat.st_mtime_ns


@dataclass
class Outcome:
    """What committing one agent's file did: ``written`` (new or changed) or ``unchanged``."""

    agent_id: str
    agent_name: str
    packages: int
    status: str
    before_packages: int | None = None


class AgentFile:
    """One agent's saved response, built item by item; ``ResponseStore.commit`` ends it.

    The bytes feed the SHA-256 as they come. They are kept in memory up to ``SPOOL_BYTES`` (a
    Windows agent's file is some 30 KB) and streamed to a temporary file in ``dest`` beyond that,
    so an unchanged agent costs no disk write at all and a huge one no more memory than the
    spool. In check mode only the hash is kept.
    """

    def __init__(self, store: ResponseStore, agent_id: str, agent_name: str) -> None:
        self.store = store
        self.agent_id = agent_id
        self.agent_name = agent_name
        self.name = f"{agent_id}.json"
        self._digest = hashlib.sha256()
        self._spool = None if store.check_mode else io.BytesIO()
        self._out = None
        self._tmp = None
        self._start()

    def _start(self) -> None:
        self.packages = 0
        header = {"generator": GENERATOR, "agent_id": self.agent_id, "agent_name": self.agent_name}
        self._write(json.dumps(header, ensure_ascii=True)[:-1] + ', "data": {"affected_items": [')

    def restart(self) -> None:
        """Throw away what was written (the source reads the agent again from its first page)."""
        self._digest = hashlib.sha256()
        if self._out is not None:
            self._out.seek(0)
            self._out.truncate()
        elif self._spool is not None:
            self._spool = io.BytesIO()
        self._start()

    def _spill(self) -> None:
        handle, self._tmp = tempfile.mkstemp(dir=self.store.dest, prefix=TMP_PREFIX)
        self._out = os.fdopen(handle, "wb")
        self._out.write(self._spool.getbuffer())
        self._spool = None

    def _write(self, text: str) -> None:
        data = text.encode("ascii")
        self._digest.update(data)
        if self._out is not None:
            self._out.write(data)
        elif self._spool is not None:
            self._spool.write(data)
            if self._spool.tell() > SPOOL_BYTES:
                self._spill()

    def add(self, item: dict) -> None:
        prefix = ",\n" if self.packages else "\n"
        self._write(prefix + json.dumps(item, sort_keys=True, ensure_ascii=True))
        self.packages += 1

    def finish(self) -> str:
        """Close the JSON document; the SHA-256 of the whole file."""
        self._write(
            f'\n], "total_affected_items": {self.packages}, "total_failed_items": 0, "failed_items": []}}, '
            '"error": 0, "message": "All selected syscollector information was returned"}\n'
        )
        if self._out is not None:
            self._out.flush()
            os.fsync(self._out.fileno())
            self._out.close()
            self._out = None
        return self._digest.hexdigest()

    def temporary_file(self) -> str:
        """After ``finish``: the complete file, flushed to disk, in a temporary file beside the target."""
        if self._tmp is None:
            handle, self._tmp = tempfile.mkstemp(dir=self.store.dest, prefix=TMP_PREFIX)
            with os.fdopen(handle, "wb") as out:
                out.write(self._spool.getbuffer())
                out.flush()
                os.fsync(out.fileno())
            self._spool = None
        return self._tmp

    def discard(self) -> None:
        self._spool = None
        if self._out is not None:
            self._out.close()
            self._out = None
        if self._tmp is not None:
            _unlink(self._tmp)
            self._tmp = None


class ResponseStore:
    """The directory of saved responses; thread-safe. ``open`` -> add items -> ``commit``; ``close`` once."""

    def __init__(self, dest: str, *, check_mode: bool) -> None:
        self.dest = dest
        self.check_mode = check_mode
        self._lock = threading.Lock()
        if not os.path.isdir(dest):
            if os.path.exists(dest):
                raise StoreError(f"dest {dest!r} exists and is not a directory")
            if not check_mode:
                os.makedirs(dest, exist_ok=True)
        self.manifest = self._read_manifest()
        self._manifest_changed = False
        self.kept: set[str] = set()
        if not check_mode:
            for name in self._listing():
                if name.startswith(TMP_PREFIX):  # left by an interrupted run of this module
                    _unlink(os.path.join(dest, name))

    def _listing(self) -> list[str]:
        return sorted(os.listdir(self.dest)) if os.path.isdir(self.dest) else []

    def _read_manifest(self) -> dict:
        path = os.path.join(self.dest, MANIFEST)
        try:
            with open(path, encoding="utf-8") as handle:
                document = json.load(handle)
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise StoreError(f"{path} cannot be read ({exc}); remove it to start over") from None
        if not isinstance(document, dict) or document.get("generator") != GENERATOR:
            raise StoreError(f"{path} was not written by {GENERATOR}; not overwritten")
        files = document.get("files")
        return files if isinstance(files, dict) else {}

    def open(self, agent_id: str, agent_name: str) -> AgentFile:
        return AgentFile(self, agent_id, agent_name)

    def _ours(self, name: str, path: str) -> bool:
        """A file this module wrote: listed in the manifest, or starting with its generator marker."""
        if name in self.manifest:
            return True
        try:
            with open(path, "rb") as handle:
                return handle.read(len(_MARKER)) == _MARKER
        except FileNotFoundError:
            return True
        except OSError:
            return False

    def _current_sha256(self, name: str, path: str) -> str | None:
        entry = self.manifest.get(name)
        if entry and _stat_key(path) == (entry.get("size"), entry.get("mtime_ns")):
            return entry.get("sha256")
        return file_sha256(path)

    def commit(self, agent: AgentFile) -> Outcome:
        digest = agent.finish()
        path = os.path.join(self.dest, agent.name)
        with self._lock:
            previous = self.manifest.get(agent.name) or {}
        try:
            if not self._ours(agent.name, path):
                raise StoreError(f"{path} exists and was not written by {GENERATOR}; not overwritten")
            unchanged = self._current_sha256(agent.name, path) == digest
            if not unchanged and not self.check_mode:
                tmp = agent.temporary_file()
                _keep_mode(path, tmp)
                os.replace(tmp, path)
                agent._tmp = None
        finally:
            agent.discard()
        outcome = Outcome(
            agent.agent_id,
            agent.agent_name,
            agent.packages,
            "unchanged" if unchanged else "written",
            previous.get("packages"),
        )
        with self._lock:
            self.kept.add(agent.name)
            if not self.check_mode:
                size, mtime_ns = _stat_key(path) or (None, None)
                entry = {
                    "sha256": digest,
                    "size": size,
                    "mtime_ns": mtime_ns,
                    "agent_name": agent.agent_name,
                    "packages": agent.packages,
                }
                if self.manifest.get(agent.name) != entry:
                    self.manifest[agent.name] = entry
                    self._manifest_changed = True
        return outcome

    def keep(self, agent_id: str) -> None:
        """Leave this agent's previous file as it is (its fetch failed and failures keep old data)."""
        with self._lock:
            self.kept.add(f"{agent_id}.json")

    def stale(self) -> list[str]:
        """Files this module wrote for agents that were not kept by this run."""
        return sorted(name for name in self.manifest if name not in self.kept)

    def foreign(self) -> list[str]:
        """Files in dest this module did not write (the renderer reads them too)."""
        return [
            name
            for name in self._listing()
            if not name.startswith(".") and name not in self.manifest and name not in self.kept
        ]

    def remove_stale(self) -> list[dict]:
        removed = []
        for name in self.stale():
            entry = self.manifest[name]
            path = os.path.join(self.dest, name)
            current = self._current_sha256(name, path)
            if current is not None and current != entry.get("sha256"):
                continue  # edited since this module wrote it: left alone, listed as foreign
            removed.append({"file": name, "agent_name": entry.get("agent_name"), "packages": entry.get("packages")})
            if not self.check_mode:
                _unlink(path)
                del self.manifest[name]
                self._manifest_changed = True
        return removed

    def save_manifest(self) -> bool:
        if self.check_mode or not self._manifest_changed:
            return False
        document = {"generator": GENERATOR, "files": dict(sorted(self.manifest.items()))}
        text = json.dumps(document, sort_keys=True, indent=1, ensure_ascii=True) + "\n"
        atomic_write(os.path.join(self.dest, MANIFEST), text.encode("ascii"))
        self._manifest_changed = False
        return True


__all__ = ["AGENT_FILE", "GENERATOR", "MANIFEST", "AgentFile", "Outcome", "ResponseStore", "StoreError", "atomic_write"]

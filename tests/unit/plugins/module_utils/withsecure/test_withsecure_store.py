"""The forwarder's files: the cursor, durable appends, reading back after a crash, rotation."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.m1038.appcontrol.plugins.module_utils._withsecure_store import (
    Cursor,
    EventLog,
    RunLock,
    StoreError,
    event_identity,
    load_cursor,
    save_cursor,
    write_atomic,
)


def line(event_id, stamp="2026-01-15T09:30:00.000Z"):
    return (
        json.dumps({"integration": "withsecure", "withsecure": {"id": event_id, "persistenceTimestamp": stamp}}) + "\n"
    ).encode()


def log_in(tmp_path, **kwargs):
    kwargs = {"max_bytes": 0, "keep": 3, "rotate_min_idle": 0, **kwargs}
    log = EventLog(str(tmp_path / "events.json"), **kwargs)
    log.open()
    return log


def cursor_at(log, seen=None):
    return Cursor("2026-01-15T09:00:00.000Z", 1, dict(seen or {}), log.inode, log.size)


def test_cursor_round_trips_and_is_replaced_atomically_with_mode_0600(tmp_path):
    path = str(tmp_path / "cursor.json")
    cursor = Cursor("2026-01-15T09:30:00.000Z", 42, {"a": 42}, 7, 100)
    save_cursor(path, cursor)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    back = load_cursor(path)
    assert back.as_dict() == cursor.as_dict()
    assert [n for n in os.listdir(tmp_path) if n != "cursor.json"] == [], "no temporary file left behind"
    assert load_cursor(str(tmp_path / "none.json")) is None


@pytest.mark.parametrize(
    "data",
    [
        "not json",
        "[]",
        '{"version": 2}',
        '{"version": 1, "persistenceTimestamp": "t", "key": -1, "seen": {}, "output": {"inode": 1, "size": 0}}',
        '{"version": 1, "persistenceTimestamp": "t", "key": 1, "seen": {"a": "b"}, "output": {"inode": 1, "size": 0}}',
        '{"version": 1, "persistenceTimestamp": "t", "key": 1, "seen": {}, "output": {"inode": 1}}',
    ],
)
def test_a_damaged_cursor_is_refused_naming_the_file(tmp_path, data):
    path = tmp_path / "cursor.json"
    path.write_text(data, encoding="utf-8")
    with pytest.raises(StoreError, match=str(path)):
        load_cursor(str(path))


def test_advance_keeps_only_ids_at_or_after_the_new_timestamp():
    cursor = Cursor("t0", 10, {"old": 10, "ahead": 30}, 1, 0)
    cursor.advance("t2", 20, {"x": 15, "y": 20})
    assert (cursor.timestamp, cursor.key, cursor.seen) == ("t2", 20, {"ahead": 30, "y": 20})
    cursor.advance("earlier", 5, {"z": 5})
    assert (cursor.timestamp, cursor.key) == ("t2", 20), "the cursor never moves back"


def test_write_atomic_leaves_the_old_file_when_the_write_fails(tmp_path, monkeypatch):
    path = str(tmp_path / "f.json")
    write_atomic(path, b"old")

    def fail(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="No space"):
        write_atomic(path, b"new")
    assert Path(path).read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["f.json"]


def test_append_is_whole_lines_and_counts_the_size(tmp_path):
    log = log_in(tmp_path)
    assert log.append(line("a") + line("b")) == os.path.getsize(log.path)
    assert stat.S_IMODE(os.stat(log.path).st_mode) == 0o640


def test_reconcile_reads_back_lines_written_after_the_cursor_and_cuts_a_partial_one(tmp_path):
    log = log_in(tmp_path)
    log.append(line("a"))
    cursor = cursor_at(log)
    log.append(line("b") + line("c", "2026-01-15T09:31:00.000Z"))
    with open(log.path, "ab") as handle:
        handle.write(line("d")[:20])  # a write cut short by the crash
    found = log.reconcile(cursor)
    assert found.ids == [("b", "2026-01-15T09:30:00.000Z"), ("c", "2026-01-15T09:31:00.000Z")]
    assert found.truncated == 20
    assert Path(log.path).read_bytes() == line("a") + line("b") + line("c", "2026-01-15T09:31:00.000Z")
    assert log.size == os.path.getsize(log.path)


def test_reconcile_with_nothing_beyond_the_cursor_finds_nothing(tmp_path):
    log = log_in(tmp_path)
    log.append(line("a"))
    found = log.reconcile(cursor_at(log))
    assert (found.ids, found.truncated, found.notes) == ([], 0, [])


def test_reconcile_after_a_rotation_whose_cursor_never_landed(tmp_path):
    log = log_in(tmp_path)
    log.append(line("a"))
    cursor = cursor_at(log)
    log.append(line("b"))  # appended, then a rotation, all before any cursor write
    log.rotate()
    log.append(line("c"))
    found = log.reconcile(cursor)
    assert [identity[0] for identity in found.ids] == ["b", "c"]


def test_reconcile_notices_a_file_truncated_by_someone_else(tmp_path):
    log = log_in(tmp_path)
    log.append(line("a") + line("b"))
    cursor = cursor_at(log)
    os.truncate(log.path, 0)
    log.close()
    log.open()
    found = log.reconcile(cursor)
    assert found.ids == []
    assert "truncated it" in found.notes[0]


def test_lines_that_are_not_ours_are_counted_not_trusted(tmp_path):
    log = log_in(tmp_path)
    cursor = cursor_at(log)
    log.append(b'{"something": "else"}\n' + line("a"))
    found = log.reconcile(cursor)
    assert (found.unreadable, [identity[0] for identity in found.ids]) == (1, ["a"])


def test_rotation_renames_keeps_n_files_and_starts_an_empty_one(tmp_path):
    log = log_in(tmp_path, max_bytes=10, keep=2)
    for name in ("first", "second", "third"):
        log.append(line(name))
        assert log.rotation_due()
        old_inode = log.inode
        log.rotate()
        assert (log.size, log.inode != old_inode) == (0, True)
    assert sorted(os.listdir(tmp_path)) == ["events.json", "events.json.1", "events.json.2"]
    assert Path(f"{log.path}.1").read_bytes() == line("third")
    assert Path(f"{log.path}.2").read_bytes() == line("second")


def test_rotation_waits_until_the_file_has_been_idle(tmp_path):
    log = log_in(tmp_path, max_bytes=10, rotate_min_idle=150)
    log.append(line("a"))
    assert not log.rotation_due()
    mtime = os.stat(log.path).st_mtime
    assert log.rotation_due(now=mtime + 151)
    (tmp_path / "small").mkdir()
    small = log_in(tmp_path / "small", max_bytes=10**6)
    small.append(line("a"))
    assert not small.rotation_due(now=mtime + 10**6), "under max_bytes: never"


def test_only_one_run_holds_the_lock(tmp_path):
    path = str(tmp_path / "lock")
    with RunLock(path) as first, RunLock(path) as second:
        assert (first.acquired, second.acquired) == (True, False)
    with RunLock(path) as again:
        assert again.acquired


@given(st.text(max_size=30), st.text(max_size=30))
def test_property_event_identity_reads_back_exactly_what_a_line_holds(event_id, stamp):
    assert event_identity(line(event_id, stamp)) == (event_id, stamp)
    assert event_identity(line(event_id, stamp)[:-5]) is None

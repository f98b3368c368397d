"""Whole forwarder runs against the FAKE Elements API on loopback: exactly once, across failures and kills."""

from __future__ import annotations

import ast
import json
import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.m1038.appcontrol.plugins.module_utils import _withsecure_forward as forward_module
from ansible_collections.m1038.appcontrol.plugins.module_utils._withsecure_forward import (
    EXIT_API,
    EXIT_AUTH,
    EXIT_CONFIG,
    EXIT_OK,
    MAX_LINE_BYTES,
    ConfigError,
    RunLock,
    Status,
    check_config,
    forward,
    main,
    wazuh_line,
)

from .conftest import SECRET, fake_api, output_events

COLLECTIONS_ROOT = str(Path(os.path.abspath(forward_module.__file__)).parents[5])  # the dir holding ansible_collections


class Log(list):
    def __call__(self, message):
        self.append(message)


def run(settings, **kwargs):
    log = Log()
    code = forward(check_config(settings, "test"), log=log, sleep=lambda seconds: None, **kwargs)
    return code, log


def status(settings):
    return json.loads(Path(settings["state_dir"], "status.json").read_text(encoding="utf-8"))


def ids(settings):
    return [e["id"] for e in output_events(settings["output"])]


@pytest.fixture(autouse=True)
def out_dir(settings):
    Path(settings["output"]).parent.mkdir(exist_ok=True)


# -- one run -----------------------------------------------------------------------------------------
def test_a_run_forwards_every_event_once_in_order_as_the_rules_read_them(fake, settings):
    events = fake.generate(137)
    code, log = run(settings)
    assert code == EXIT_OK, log
    raw = Path(settings["output"]).read_bytes().splitlines()
    assert [json.loads(line) for line in raw] == [{"integration": "withsecure", "withsecure": e} for e in events]
    assert all(list(json.loads(line)) == ["integration", "withsecure"] for line in raw)
    last = status(settings)["last_run"]
    assert (last["events_forwarded"], last["pages"], last["exit_code"], last["error"]) == (137, 3, 0, None)
    assert status(settings)["last_success"] == status(settings)["last_run"]["finished"]
    assert fake.state.last_query["engine"] == ["applicationControl"]
    assert fake.state.last_query["order"] == ["asc"]


def test_the_next_run_resumes_from_the_cursor_and_adds_only_new_events(fake, settings):
    first = fake.generate(60)
    run(settings)
    cursor = json.loads(Path(settings["state_dir"], "cursor.json").read_text(encoding="utf-8"))
    assert cursor["persistenceTimestamp"] == first[-1]["persistenceTimestamp"]
    code = run(settings)[0]
    assert code == EXIT_OK
    assert status(settings)["last_run"]["events_forwarded"] == 0
    assert fake.state.last_query["persistenceTimestampStart"] == [first[-1]["persistenceTimestamp"]]
    assert fake.state.last_query["exclusiveStart"] == ["false"]
    later = fake.generate(30, first=1000, start=first[-1]["persistenceTimestamp"])
    run(settings)
    assert ids(settings) == [e["id"] for e in first + later]
    assert status(settings)["totals"]["events_forwarded"] == 90


def test_an_event_sharing_the_last_timestamp_is_not_lost_at_the_run_boundary(fake, settings):
    """Why the resume is inclusive: exclusiveStart=true from the cursor would drop ``late``."""
    first = fake.generate(5)
    run(settings)
    late = dict(fake_api.make_event(999, __import__("datetime").datetime.now()), id="late-same-millisecond")
    late["persistenceTimestamp"] = first[-1]["persistenceTimestamp"]
    fake.add([late])
    run(settings)
    assert ids(settings) == [e["id"] for e in first] + ["late-same-millisecond"]


def test_engines_and_engine_groups_choose_what_is_forwarded(fake, settings):
    app = fake.generate(3)
    other = fake.add(
        [
            dict(fake_api.make_event(50 + n, __import__("datetime").datetime.now()), id=f"dg-{n}", engine="deepGuard")
            for n in range(2)
        ]
    )
    run(settings)
    assert ids(settings) == [e["id"] for e in app]
    grouped = {
        **settings,
        "engines": [],
        "engine_groups": ["epp", "edr"],
        "output": settings["output"] + ".epp",
        "state_dir": settings["state_dir"] + "-epp",
    }
    os.mkdir(grouped["state_dir"])
    run(grouped)
    assert sorted(ids(grouped)) == sorted(e["id"] for e in app + other)
    assert fake.state.last_query["engineGroup"] == ["epp,edr"]


# -- failures ------------------------------------------------------------------------------------------
def test_refused_credentials_exit_3_and_change_nothing_but_the_status(fake, settings, secret_file):
    fake.generate(5)
    secret_file.write_text("wrong-secret\n", encoding="utf-8")
    code, log = run(settings)
    assert code == EXIT_AUTH
    assert "refused the client credentials (HTTP 401: invalid_client)" in log[-1]
    assert ids(settings) == []
    last = status(settings)["last_run"]
    assert (last["exit_code"], last["failed_runs"]) == (EXIT_AUTH, 1)
    assert status(settings)["last_success"] is None


def test_an_api_that_stays_down_exits_4_and_the_next_run_catches_up(fake, settings):
    events = fake.generate(70)
    fake.faults(*[{"status": 503}] * 4)
    code, log = run(settings)
    assert code == EXIT_API
    assert "gave up after 4 attempts; last: HTTP 503" in log[-1]
    assert status(settings)["last_run"]["server_errors"] == 4
    assert run(settings)[0] == EXIT_OK
    assert ids(settings) == [e["id"] for e in events]


def test_throttling_and_an_expired_token_in_the_middle_of_a_run_lose_nothing(fake, settings):
    events = fake.generate(160)
    fake.faults({"status": 429, "retry_after": "1"}, {"expire_tokens": True}, {"drop": True}, {"status": 500})
    code = run(settings)[0]
    assert code == EXIT_OK
    assert ids(settings) == [e["id"] for e in events]
    last = status(settings)["last_run"]
    assert (last["throttled"], last["network_errors"], last["server_errors"], last["token_requests"]) == (1, 1, 1, 2)


def test_a_malformed_answer_is_asked_for_again(fake, settings):
    events = fake.generate(80)
    fake.faults({"malformed": "not-json"}, {"malformed": "bad-anchor"})
    assert run(settings)[0] == EXIT_OK
    assert ids(settings) == [e["id"] for e in events]
    assert status(settings)["last_run"]["malformed_pages"] == 2


def test_a_page_that_stays_malformed_is_skipped_and_counted_when_it_names_the_next(fake, settings):
    events = fake.generate(120)
    first_page = 50
    run_settings = {**settings, "max_attempts": 2}
    fake.faults(*[{"malformed": "items-not-list"}] * 2)
    code, log = run(run_settings)
    assert code == EXIT_OK
    assert ids(settings) == [e["id"] for e in events[first_page:]], "only the skipped page's events are missing"
    last = status(settings)["last_run"]
    assert (last["pages_skipped"], last["malformed_pages"]) == (1, 2)
    assert any(line.startswith("error: skipped a page after 2 attempts") for line in log)


def test_an_answer_that_stays_unreadable_ends_the_run_with_the_cursor_in_place(fake, settings):
    events = fake.generate(40)
    fake.faults(*[{"malformed": "not-json"}] * 4)
    code, log = run(settings)
    assert code == EXIT_API
    assert "the cursor stays where it was" in log[-1]
    assert run(settings)[0] == EXIT_OK, "no crash loop: the next run simply asks again"
    assert ids(settings) == [e["id"] for e in events]


def test_items_that_are_not_events_are_skipped_and_counted(fake, settings):
    events = fake.generate(10)
    fake.faults({"malformed": "bad-items"})
    assert run(settings)[0] == EXIT_OK
    assert ids(settings) == [e["id"] for e in events]
    assert status(settings)["last_run"]["items_rejected"] == 3


def test_a_secret_file_others_can_read_is_refused_naming_its_mode(fake, settings, secret_file):
    secret_file.chmod(0o644)
    code, log = run(settings)
    assert code == EXIT_CONFIG
    assert "has mode 0o644; it must be readable by its owner only" in log[-1]


def test_the_secret_never_reaches_a_log_line_or_a_file(fake, settings, tmp_path, secret_file):
    fake.generate(60)
    fake.faults({"status": 429, "retry_after": "1"}, {"expire_tokens": True}, {"malformed": "not-json"})
    log = run(settings)[1]
    secret_file.write_text("wrong-" + SECRET + "\n", encoding="utf-8")
    refused = run(settings)[1]
    everything = "\n".join(log + refused)
    for path in tmp_path.rglob("*"):
        if path.is_file() and path != secret_file:
            everything += path.read_text(encoding="utf-8", errors="replace")
    assert SECRET not in everything
    assert "Basic " not in everything


def test_a_second_run_while_one_holds_the_lock_does_nothing(fake, settings):
    fake.generate(5)
    with RunLock(os.path.join(settings["state_dir"], "lock")):
        code, log = run(settings)
    assert (code, log) == (EXIT_OK, ["another run holds the lock; nothing to do"])
    assert ids(settings) == []


def test_rotation_at_the_start_of_a_run_keeps_every_event_in_the_files(fake, settings):
    rotating = {**settings, "output_max_bytes": 2000, "output_keep": 3, "rotate_min_idle_seconds": 0}
    first = fake.generate(10)
    run(rotating)
    second = fake.generate(10, first=100, start=first[-1]["persistenceTimestamp"])
    run(rotating)
    rotated = output_events(settings["output"] + ".1")
    assert [e["id"] for e in rotated] == [e["id"] for e in first]
    assert ids(settings) == [e["id"] for e in second]


# -- configuration ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"api_url": "http://api.connect.withsecure.com"}, "plain http is only allowed to a loopback"),
        ({"client_id": "has space"}, "client_id must be"),
        ({"client_id": "a:b"}, "must not contain ':'"),
        ({"engines": ["application control"]}, "engines"),
        ({"engines": [], "engine_groups": []}, "exactly one of engines and engine_groups"),
        ({"engine_groups": ["xdr"]}, "engine_groups"),
        ({"page_limit": 201}, "page_limit 201 must be an integer from 1 to 200"),
        ({"page_limit": True}, "page_limit True"),
        ({"output": "relative.json"}, "output 'relative.json' is not an absolute path"),
        ({"organization_id": "x y"}, "organization_id"),
        ({"colour": "red"}, "unknown setting"),
        ({"state_dir": ""}, "state_dir is required"),
    ],
)
def test_bad_settings_are_refused_naming_the_value_and_the_file(settings, change, message):
    with pytest.raises(ConfigError, match=message):
        check_config({**settings, **change}, "/etc/m1038-withsecure/forwarder.json")


def test_check_config_command_checks_settings_only(config_file, tmp_path, capsys):
    assert main(["--check-config", str(config_file)]) == EXIT_OK
    bad = tmp_path / "bad.json"
    bad.write_text('{"page_limit": 0}', encoding="utf-8")
    assert main(["--check-config", str(bad)]) == EXIT_CONFIG
    assert "configuration error" in capsys.readouterr().err


# -- the lines ---------------------------------------------------------------------------------------
def test_an_event_too_long_for_logcollector_is_shortened_never_dropped():
    event = fake_api.make_event(1, __import__("datetime").datetime.now())
    event["details"]["targetCommandLine"] = "x" * 200_000
    line, shortened = wazuh_line(event)
    assert shortened and len(line) < MAX_LINE_BYTES
    back = json.loads(line)["withsecure"]
    assert back["m1038Truncated"] is True
    assert back["details"]["alertType"] == event["details"]["alertType"]
    assert back["id"] == event["id"]
    huge = {**event, "details": {f"k{n}": "y" * 900 for n in range(500)} | {"alertType": "a"}}
    line, shortened = wazuh_line(huge)
    assert shortened and len(line) < MAX_LINE_BYTES and json.loads(line)["withsecure"]["details"] == {"alertType": "a"}


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=12,
)


@given(st.dictionaries(st.text(max_size=10), _json, max_size=5))
def test_property_every_event_is_one_json_line(event):
    line, shortened = wazuh_line(event)
    assert line.endswith(b"\n") and line.count(b"\n") == 1 and b"\r" not in line and b"\x00" not in line
    doc = json.loads(line)
    assert list(doc) == ["integration", "withsecure"]
    if not shortened:
        assert doc["withsecure"] == event


# -- killed runs: no loss, no duplicate ------------------------------------------------------------------
DRIVER = r"""
import os, signal, sys
sys.path.insert(0, sys.argv[1])
from ansible_collections.m1038.appcontrol.plugins.module_utils import _withsecure_forward as forward
from ansible_collections.m1038.appcontrol.plugins.module_utils import _withsecure_store as store
point, nth, calls = sys.argv[3], int(sys.argv[4]), [0]
append, save = store.EventLog.append, forward.save_cursor

def reached():
    calls[0] += 1
    return calls[0] == nth

def after_append(self, data):  # the page is on disk (fsynced); its cursor is not
    size = append(self, data)
    if reached():
        os.kill(os.getpid(), signal.SIGKILL)
    return size

def mid_append(self, data):  # the crash cuts the page's write short
    if reached():
        os.write(self.fd, data[: len(data) // 2 + 3])
        os.kill(os.getpid(), signal.SIGKILL)
    return append(self, data)

def after_cursor(path, cursor):
    save(path, cursor)
    if reached():
        os.kill(os.getpid(), signal.SIGKILL)

if point == "after-append":
    store.EventLog.append = after_append
elif point == "mid-append":
    store.EventLog.append = mid_append
elif point == "after-cursor":
    forward.save_cursor = after_cursor
sys.exit(forward.main(["--config", sys.argv[2]]))
"""


def spawn(config_file, point="none", nth=0):
    return subprocess.Popen(
        [sys.executable, "-I", "-c", DRIVER, COLLECTIONS_ROOT, str(config_file), point, str(nth)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize(("point", "nth"), [("after-append", 1), ("after-append", 3), ("mid-append", 2)])
def test_a_run_killed_between_writing_a_page_and_its_cursor_loses_and_repeats_nothing(
    fake, settings, config_file, point, nth
):
    events = fake.generate(230)
    proc = spawn(config_file, point, nth)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    on_disk = Path(settings["output"]).read_bytes()
    written_before = on_disk.count(b"\n")
    committed = (nth - 1) * 50  # pages whose cursor landed
    if point == "after-append":
        assert written_before == nth * 50
    else:
        assert committed < written_before < committed + 50 and not on_disk.endswith(b"\n")
    cursor = json.loads(Path(settings["state_dir"], "cursor.json").read_text(encoding="utf-8"))
    assert cursor["output"]["size"] == len(b"".join(on_disk.splitlines(keepends=True)[:committed]))

    again = spawn(config_file)
    err = again.communicate(timeout=60)[1]
    assert again.returncode == EXIT_OK, err
    assert ids(settings) == [e["id"] for e in events], "every event once, in order"
    last = status(settings)["last_run"]
    assert last["recovered_lines"] == written_before - committed
    assert last["events_forwarded"] == 230 - written_before
    if point == "mid-append":
        assert "byte(s) of a partial line cut" in err


def test_a_run_killed_right_after_its_cursor_resumes_cleanly(fake, settings, config_file):
    events = fake.generate(120)
    proc = spawn(config_file, "after-cursor", 2)  # the first save is the initial cursor, the second page 1
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    again = spawn(config_file)
    again.communicate(timeout=60)
    assert ids(settings) == [e["id"] for e in events]
    assert status(settings)["last_run"]["recovered_lines"] == 0


def test_runs_killed_at_random_moments_still_forward_every_event_exactly_once(fake, settings, config_file):
    """SIGKILL from outside at random times (seeded), mid-request, mid-write or mid-cursor, then a clean run."""
    events = fake.generate(400, same_timestamp_every=9)
    rng = random.Random(1038)  # noqa: S311 - reproducible kill times, not cryptography
    fake.faults(*[{"delay": 0.01}] * 200)
    kills = 0
    for _attempt in range(6):
        proc = spawn(config_file)
        time.sleep(rng.uniform(0.05, 0.35))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.communicate(timeout=60)
        got = ids(settings)
        assert len(got) == len(set(got)), "a duplicate after a kill"
    final = spawn(config_file)
    err = final.communicate(timeout=60)[1]
    assert final.returncode == EXIT_OK, err
    assert ids(settings) == [e["id"] for e in events]
    assert kills >= 3, f"only {kills} run(s) were still going when killed: the test proved too little"


# -- what runs on the manager -----------------------------------------------------------------------
@pytest.mark.parametrize("name", ["_withsecure_api.py", "_withsecure_store.py", "_withsecure_forward.py"])
def test_the_manager_side_code_is_python_3_9_and_standard_library_only(name):
    """The role copies these files to the manager and runs them on its Python (3.9+); nothing is pip-installed."""
    source = (Path(os.path.abspath(forward_module.__file__)).parent / name).read_text(encoding="utf-8")
    tree = ast.parse(source, feature_version=(3, 9))
    modules = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    modules |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    ours = {m for m in modules if m.startswith("ansible_collections.")}
    assert all(m.rsplit(".", 1)[-1].startswith("_withsecure_") for m in ours), ours
    assert {m.split(".")[0] for m in modules - ours} <= set(sys.stdlib_module_names) | {"__future__"}
    from_datetime = {
        a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module == "datetime" for a in n.names
    }
    assert "UTC" not in from_datetime, "datetime.UTC is Python 3.11+"


def test_a_run_killed_after_a_page_leaves_that_page_counted_and_nothing_twice(tmp_path):
    """status.json is written after every page: a SIGKILL between pages loses no counter, and the
    next run adds its own to the totals once (the molecule scenario kills the unit mid-run)."""
    path = str(tmp_path / "status.json")
    killed = Status(path)
    killed.count("events_forwarded", 100)
    killed.count("pages")
    killed.checkpoint(
        cursor_timestamp="2026-12-01T00:00:00.000Z",
        output="/var/ossec/logs/withsecure.json",
        client_counts={"throttled": 1, "server_errors": 2},
    )
    # killed here: no save()
    recorded = json.loads((tmp_path / "status.json").read_text())
    assert recorded["last_run"]["running"] is True and recorded["last_run"]["exit_code"] is None
    assert recorded["totals"]["events_forwarded"] == 100
    assert (recorded["totals"]["throttled"], recorded["totals"]["server_errors"]) == (1, 2)

    restart = Status(path)
    restart.count("events_forwarded", 50)
    restart.count("pages")
    restart.checkpoint(cursor_timestamp="2026-12-01T00:00:01.000Z", output="/var/ossec/logs/withsecure.json")
    restart.save(
        started=datetime.now(UTC),
        exit_code=0,
        error=None,
        cursor_timestamp="2026-12-01T00:00:01.000Z",
        output="/var/ossec/logs/withsecure.json",
    )
    totals = json.loads((tmp_path / "status.json").read_text())["totals"]
    assert (totals["events_forwarded"], totals["pages"], totals["runs"]) == (150, 2, 2)
    assert (totals["throttled"], totals["server_errors"]) == (1, 2)  # the killed run's HTTP counters, once

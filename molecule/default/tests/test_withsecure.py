"""Verify the withsecure_forwarder role for real in the manager container (molecule `default`).

The forwarder runs as the role installed it (its account, its sandboxed systemd unit, its files)
against the FAKE WithSecure Elements API (tests/doubles/withsecure-api, a TEST DOUBLE) on the
container's loopback, real HTTP, which prepare.yml started with 250 events. Proven here: the events
land, one JSON line each, in the file the manager's ossec.conf reads (<localfile>, log_format json),
and across throttling, server errors, an expired token, a malformed answer and a SIGKILL of the
running service followed by a restart, every event arrives exactly once; a refused credential
exits 3. Not proven: the real API's behaviour beyond its documentation, and the real logcollector
(the manager here is the wazuh-manager test double, which has none).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[3]
CODE = PROJECT / "plugins" / "module_utils"
UNIT = "m1038-withsecure-forwarder"
USER = "m1038-withsecure"
OUTPUT = "/var/log/m1038-withsecure/events.json"
STATE = "/var/lib/m1038-withsecure"
INSTALL = "/usr/local/lib/m1038-withsecure"
COMMAND = f"{INSTALL}/m1038-withsecure-forwarder"
CONTROL = "http://127.0.0.1:18443/_fake"
SEEDED = 250
LOCALFILE = (
    "  <localfile>\n"
    "    <log_format>json</log_format>\n"
    f"    <location>{OUTPUT}</location>\n"
    '    <only-future-events max-size="1G">no</only-future-events>\n'
    "  </localfile>\n"
)
CALL_FAKE = (
    "import json, sys, urllib.request; "
    "req = urllib.request.Request(sys.argv[1], data=(sys.argv[2].encode() if len(sys.argv) > 2 else None)); "
    "print(urllib.request.urlopen(req, timeout=10).read().decode())"
)


def fake(host, path, body=None):
    args = [f"{CONTROL}/{path}"] + ([json.dumps(body)] if body is not None else [])
    result = host.run("python3 -I -c %s " + " ".join(["%s"] * len(args)), CALL_FAKE, *args)
    assert result.rc == 0, result.stderr
    return json.loads(result.stdout)


def events(host):
    raw = host.file(OUTPUT).content_string
    assert raw == "" or raw.endswith("\n"), "the output ends in a partial line"
    lines = raw.splitlines()
    docs = [json.loads(line) for line in lines]
    assert all(list(doc) == ["integration", "withsecure"] and doc["integration"] == "withsecure" for doc in docs)
    return [doc["withsecure"]["id"] for doc in docs]


def status(host):
    return json.loads(host.file(f"{STATE}/status.json").content_string)


def run_forwarder(host):
    result = host.run(f"systemctl start {UNIT}.service")
    assert result.rc == 0, host.run(f"journalctl -u {UNIT}.service -n 30 --no-pager").stdout


def test_the_fake_api_is_the_test_double_on_loopback(host):
    assert host.service("m1038-fake-withsecure-api").is_running
    assert host.socket("tcp://127.0.0.1:18443").is_listening
    assert not host.socket("tcp://0.0.0.0:18443").is_listening


def test_the_forwarder_runs_as_its_own_unprivileged_account(host):
    user = host.user(USER)
    assert user.exists and user.shell == "/usr/sbin/nologin" and user.uid < 1000
    unit = host.run(f"systemctl show -p User -p Group -p ProtectSystem -p NoNewPrivileges {UNIT}.service").stdout
    assert f"User={USER}" in unit and "ProtectSystem=strict" in unit and "NoNewPrivileges=yes" in unit
    timer = host.service(f"{UNIT}.timer")
    assert timer.is_enabled and timer.is_running


def test_secret_and_config_files_are_locked_down(host):
    secret = host.file("/etc/m1038-withsecure/client_secret")
    assert (secret.user, secret.group, secret.mode) == (USER, USER, 0o600)
    config = host.file("/etc/m1038-withsecure/forwarder.json")
    assert (config.user, config.group, config.mode) == ("root", USER, 0o640)
    settings = json.loads(config.content_string)
    assert "secret" not in json.dumps({k: v for k, v in settings.items() if k != "client_secret_file"}).lower()
    assert host.file(STATE).mode == 0o700 and host.file(STATE).user == USER


def test_the_installed_code_is_the_collections_module_utils_unchanged(host):
    for name in ("_withsecure_api.py", "_withsecure_store.py", "_withsecure_forward.py"):
        installed = host.file(f"{INSTALL}/ansible_collections/m1038/appcontrol/plugins/module_utils/{name}")
        assert installed.sha256sum == hashlib.sha256((CODE / name).read_bytes()).hexdigest(), name
        assert (installed.user, installed.mode) == ("root", 0o644)


def test_the_manager_reads_the_output_file(host):
    conf = host.file("/var/ossec/etc/ossec.conf").content_string
    assert conf.count(LOCALFILE) == 1
    assert re.findall(r"<location>(/[^<]+)</location>", conf) == [OUTPUT]
    assert host.run("/var/ossec/bin/wazuh-analysisd -t").rc == 0
    assert host.file(OUTPUT).user == USER


def test_events_arrive_once_across_faults_a_kill_and_a_restart(host):
    run_forwarder(host)
    first = events(host)
    assert len(first) == SEEDED and len(set(first)) == SEEDED
    assert status(host)["last_run"]["exit_code"] == 0

    state = fake(host, "state")
    newest = json.loads(host.file(f"{STATE}/cursor.json").content_string)["persistenceTimestamp"]
    assert state["events"] == SEEDED
    fake(host, "events", {"generate": 300, "first": 10000, "start": newest})
    fake(
        host,
        "faults",
        [
            {"status": 429, "retry_after": "1"},
            {"status": 503},
            {"expire_tokens": True},
            {"malformed": "not-json"},
            *[{"delay": 0.4}] * 3,
        ],
    )
    host.run(f"systemctl start --no-block {UNIT}.service")
    deadline = time.monotonic() + 30
    while len(events(host)) == len(first) and time.monotonic() < deadline:
        time.sleep(0.1)
    killed = host.run(f"systemctl kill -s KILL {UNIT}.service")
    assert killed.rc == 0, killed.stderr
    time.sleep(0.5)
    assert SEEDED < len(events(host)) < SEEDED + 300, "the kill came in the middle of the run"

    run_forwarder(host)  # the restart after the kill
    after = events(host)
    assert after[:SEEDED] == first
    assert len(after) == SEEDED + 300 and len(set(after)) == len(after), "every event exactly once"
    last = status(host)["last_run"]
    assert last["exit_code"] == 0 and status(host)["last_success"] == last["finished"]
    totals = status(host)["totals"]
    # Every page is counted once: by the run that wrote it (status.json after every page), or as
    # recovered_lines by the next run. A kill in the instant between a page's cursor and its status
    # write leaves that one page (100 events here) uncounted, never counted twice.
    counted = totals["events_forwarded"] + totals["recovered_lines"]
    assert SEEDED + 300 - 100 <= counted <= SEEDED + 300, totals
    assert totals["throttled"] >= 1 and totals["server_errors"] >= 1 and totals["malformed_pages"] >= 1


def test_a_refused_credential_exits_3(host):
    config = json.loads(host.file("/etc/m1038-withsecure/forwarder.json").content_string)
    config.update(client_id="someone-else", state_dir="/tmp/m1038-refused")  # noqa: S108 - inside the container
    host.run("install -d -o %s -m 0700 /tmp/m1038-refused", USER)
    host.run("printf %s %s | runuser -u %s -- tee /tmp/m1038-refused/forwarder.json", "%s", json.dumps(config), USER)
    result = host.run("runuser -u %s -- %s --config /tmp/m1038-refused/forwarder.json", USER, COMMAND)
    assert result.rc == 3, result.stderr
    assert "HTTP 401: invalid_client" in result.stderr
    assert "m1038-molecule-fake-secret" not in result.stderr + result.stdout

"""Broken content never takes the manager down (molecule `broken_rule`, wazuh-manager TEST DOUBLE).

Starting point (converge.yml): the good fixture deployed, the manager running on it.
The tests run in file order, each deploying a fixture with ansible-playbook (deploy.yml):

1. broken rule, pre-flight enforced: the controller refuses it; nothing on the manager changes.
2. broken rule, pre-flight not enforced: the manager's own `wazuh-analysisd -t` refuses it; the role
   restores the previous files; the service was never restarted (same PID); the play fails with the
   engine's message. 2b: the same with the manager stopped: it is not started on refused content.
3. a valid change, but the manager dies on start (fault injected into the double): the role restores
   the previous files and restarts the manager on them; the play fails with the manager's message.
4. the same valid change with a healthy manager: applied, one restart; a second run changes nothing.
5. a failure after the deploy (the agent group's agent.conf refused by verify-agent-conf, fault injected):
   the play fails with the new content placed but not yet tested or loaded; the manager keeps its PID and
   the change stays pending on the manager. The next run (fault gone) finds it, tests it, restarts once and
   clears it, although its content task has nothing to change; a third run changes nothing.
6. Ctrl-C after the deploy (SIGINT to the play's process group while verify-agent-conf waits, fault
   injected) with a broken rule: the next run finds the pending change, the engine refuses it, and the role
   rolls back to the content the engine last accepted, without restarting the manager; the run after that
   deploys normally.

The double's `wazuh-analysisd -t` applies the project's own checks, so step 2 proves the role's
rollback mechanics, not what a real engine would reject (tests/doubles/wazuh-manager/README.md).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

SCENARIO = Path(__file__).resolve().parents[1]
PROJECT = SCENARIO.parents[1]
FIXTURES = PROJECT / "tests" / "fixtures" / "wazuh_manager"
HOME = "/var/ossec"
RULES = "etc/rules/m1038-appcontrol_rules.xml"
COMPANIES = "etc/lists/m1038-trusted-companies"
PATHS = "etc/lists/m1038-trusted-paths"
PENDING = f"{HOME}/var/m1038-appcontrol/pending.json"
AGENT_CONF = f"{HOME}/etc/shared/m1038-windows/agent.conf"
# Faults the double's verify-agent-conf takes (tests/doubles/wazuh-manager/README.md).
VERIFY_FAIL = f"{HOME}/etc/.m1038-double-fail-verify-agent-conf"
VERIFY_HANG = f"{HOME}/etc/.m1038-double-hang-verify-agent-conf"
VERIFY_WAITING = f"{HOME}/etc/.m1038-double-verify-agent-conf-waiting"


def deploy_command(content: str, *, enforce: bool, agent_group: bool) -> tuple[list[str], dict]:
    inventory = os.environ.get("MOLECULE_INVENTORY_FILE") or str(
        Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "inventory"
    )
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    playbook_cmd = shutil.which("ansible-playbook") or "ansible-playbook"
    argv = [
        playbook_cmd,
        "-i",
        inventory,
        str(SCENARIO / "deploy.yml"),
        "-e",
        f"m1038_content={content}",
        "-e",
        f"m1038_enforce={str(enforce).lower()}",
        "-e",
        f"m1038_agent_group={str(agent_group).lower()}",
    ]
    return argv, env


def deploy(content: str, *, enforce: bool = True, agent_group: bool = False) -> tuple[int, str]:
    """Run deploy.yml; return the exit code and stdout + stderr (ansible-core 2.19 prints errors on stderr)."""
    argv, env = deploy_command(content, enforce=enforce, agent_group=agent_group)
    run = subprocess.run(  # noqa: S603 - fixed argv, no shell; values come from this file
        argv,
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT,
        check=False,
        timeout=600,
    )
    return run.returncode, run.stdout + "\n" + run.stderr


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot(host) -> dict:
    files = {}
    for rel in (RULES, COMPANIES, PATHS, "etc/ossec.conf", "var/m1038-appcontrol/managed.json"):
        f = host.file(f"{HOME}/{rel}")
        files[rel] = f.sha256sum if f.exists else None
    return {
        "files": files,
        "pid": host.check_output("systemctl show -p MainPID --value wazuh-manager"),
        "active": host.run("systemctl is-active wazuh-manager").stdout.strip(),
        "backups": host.check_output(f"ls -1 {HOME}/var/m1038-appcontrol/backups").split(),
        "starts": len(re.findall(r"started pid \d+", host.file(f"{HOME}/logs/ossec.log").content_string)),
    }


def assert_on_good_content(state: dict) -> None:
    assert state["files"][RULES] == sha(FIXTURES / "good" / "rules" / "m1038-appcontrol_rules.xml")
    assert state["files"][COMPANIES] == sha(FIXTURES / "good" / "lists" / "m1038-trusted-companies")
    assert state["files"][PATHS] is None
    assert state["active"] == "active"


@pytest.fixture(scope="module")
def start(host):
    state = snapshot(host)
    assert_on_good_content(state)
    return state


def test_1_controller_preflight_refuses_broken_rule_and_touches_nothing(host, start):
    rc, out = deploy("broken", enforce=True)
    assert rc != 0, out
    assert "pre-flight checks failed" in out
    assert "line 38: rule 100120: parent rule 99999 (if_sid) does not exist" in out
    assert "line 43: rule id 100110 is defined twice (first in rules/m1038-appcontrol_rules.xml line 29)" in out
    assert "Place rules, decoders and CDB lists" not in out
    assert snapshot(host) == start


def test_2_engine_refuses_broken_rule_files_restored_service_untouched(host, start):
    rc, out = deploy("broken", enforce=False)
    assert rc != 0, out
    assert "the new content was rejected at 'Test the configuration with the engine (wazuh-analysisd -t)'" in out
    assert "Engine said: wazuh-analysisd: CRITICAL: (test double) etc/rules/m1038-appcontrol_rules.xml" in out
    assert "parent rule 99999 (if_sid) does not exist" in out
    assert "Put the previous rules, lists and ossec.conf back" in out
    after = snapshot(host)
    assert after["files"] == start["files"]
    assert after["pid"] == start["pid"], "the manager must not have been restarted"
    assert after["starts"] == start["starts"]
    assert len(after["backups"]) == len(start["backups"]) + 1, "the broken deployment must have been backed up first"
    assert host.run(f"{HOME}/bin/wazuh-analysisd -t").rc == 0


def test_2b_a_stopped_manager_is_not_started_on_content_the_engine_refuses(host, start):
    """The role starts a stopped manager only after the engine accepted the content."""
    host.run("systemctl stop wazuh-manager")
    try:
        rc, out = deploy("broken", enforce=False)
        assert rc != 0, out
        assert "parent rule 99999 (if_sid) does not exist" in out
        after = snapshot(host)
        assert after["active"] == "inactive"
        assert after["files"] == start["files"]
        assert after["starts"] == start["starts"]
    finally:
        host.run("systemctl start wazuh-manager")
    assert host.service("wazuh-manager").is_running


def test_3_manager_dies_on_start_files_restored_and_restarted_on_old_content(host, start):
    before = snapshot(host)
    host.run(f"echo 'content made the manager exit' > {HOME}/etc/.m1038-double-fail-start")
    rc, out = deploy("changed")
    assert rc != 0, out
    assert "the new content was rejected at 'Check that wazuh-manager stayed up'" in out
    assert "start refused (fault injected by a test): content made the manager exit" in out
    after = snapshot(host)
    assert after["files"] == start["files"]
    assert_on_good_content(after)
    assert after["pid"] != before["pid"], "the manager must run again, restarted on the previous content"
    assert after["starts"] == before["starts"] + 1
    assert not host.file(f"{HOME}/etc/.m1038-double-fail-start").exists


def test_4_valid_change_applies_with_one_restart_then_nothing_changes(host, start):
    before = snapshot(host)
    rc, out = deploy("changed")
    assert rc == 0, out
    assert re.search(r"created:\s*\n\s*- etc/lists/m1038-trusted-paths", out), out
    after = snapshot(host)
    assert after["files"][PATHS] == sha(FIXTURES / "changed" / "lists" / "m1038-trusted-paths")
    assert after["files"][COMPANIES] == sha(FIXTURES / "changed" / "lists" / "m1038-trusted-companies")
    assert host.file(f"{HOME}/etc/ossec.conf").contains("<list>etc/lists/m1038-trusted-paths</list>")
    assert after["starts"] == before["starts"] + 1
    assert after["active"] == "active"

    rc, again = deploy("changed")
    assert rc == 0, again
    assert re.search(r"changed=0\s", again), again
    assert snapshot(host) == after


def test_5_a_failure_after_the_deploy_stays_pending_and_the_next_run_validates_it(host, start):
    before = snapshot(host)
    assert not host.file(PENDING).exists
    host.run(f"echo 'agent.conf refused (test 5)' > {VERIFY_FAIL}")
    try:
        rc, out = deploy("good", agent_group=True)
    finally:
        host.run(f"rm -f {VERIFY_FAIL}")
    assert rc != 0, out
    assert "fault injected by a test: agent.conf refused (test 5)" in out
    failed = snapshot(host)
    assert_on_good_content(failed)  # placed ...
    assert (failed["pid"], failed["starts"]) == (before["pid"], before["starts"])  # ... but neither tested nor loaded
    assert host.file(PENDING).exists, "the unvalidated change must be remembered on the manager"

    rc, out = deploy("good", agent_group=True)
    assert rc == 0, out
    assert "Test the configuration with the engine (wazuh-analysisd -t)" in out
    after = snapshot(host)
    assert_on_good_content(after)
    assert after["starts"] == failed["starts"] + 1, "the pending change must be loaded by exactly one restart"
    assert after["pid"] != failed["pid"]
    assert not host.file(PENDING).exists

    rc, again = deploy("good", agent_group=True)
    assert rc == 0, again
    assert re.search(r"changed=0\s", again), again
    assert snapshot(host) == after


def test_6_ctrl_c_after_the_deploy_then_the_engine_refuses_the_pending_change_rolled_back(host, start):
    validated = snapshot(host)  # the good content, tested and loaded by test 5
    assert_on_good_content(validated)
    argv, env = deploy_command("broken", enforce=False, agent_group=True)
    # Without its agent.conf the group's file is written again, so verify-agent-conf runs (and waits).
    host.run(f"rm -f {AGENT_CONF} {VERIFY_WAITING} && touch {VERIFY_HANG}")
    try:
        play = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            argv,
            env=env,
            cwd=PROJECT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        deadline = time.monotonic() + 300
        while not host.file(VERIFY_WAITING).exists:
            assert play.poll() is None, play.communicate()[0]
            assert time.monotonic() < deadline, "the play never reached verify-agent-conf"
            time.sleep(1)
        os.killpg(play.pid, signal.SIGINT)  # Ctrl-C in the terminal that runs the play
        out = play.communicate(timeout=180)[0]
    finally:
        host.run(f"rm -f {VERIFY_HANG} {VERIFY_WAITING}")
    assert play.returncode != 0, out
    interrupted = snapshot(host)
    assert interrupted["files"][RULES] == sha(FIXTURES / "broken" / "rules" / "m1038-appcontrol_rules.xml")
    assert interrupted["pid"] == validated["pid"], "the broken rule must not have been loaded"
    assert host.file(PENDING).exists

    rc, out = deploy("good", agent_group=True)
    assert rc != 0, out
    assert "parent rule 99999 (if_sid) does not exist" in out
    assert "rolled back to the content the engine last accepted" in out
    after = snapshot(host)
    assert after["files"] == validated["files"]
    assert (after["pid"], after["starts"]) == (validated["pid"], validated["starts"])
    assert not host.file(PENDING).exists
    assert host.run(f"{HOME}/bin/wazuh-analysisd -t").rc == 0

    rc, again = deploy("good", agent_group=True)
    assert rc == 0, again
    final = snapshot(host)
    assert final["files"] == validated["files"]
    assert (final["pid"], final["starts"]) == (validated["pid"], validated["starts"]), "nothing to load: no restart"
    assert host.file(AGENT_CONF).exists

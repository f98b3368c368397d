"""The README's main command on a copy of the lab inventory.

playbooks/lab.yml starts a manager container running the wazuh-manager TEST DOUBLE and
runs site.yml: preflight, render, deploy, and the Windows roles against the recorded Windows
host. Proven here: check mode on the controller part writes nothing, the first run changes
things, a second run changes nothing (the manager restarts zero times), a check-mode run
afterwards reports no change either, and the recorded host is planned, not contacted.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import uuid

import pytest

from .helpers import PROJECT_ROOT, ansible_env

pytestmark = pytest.mark.slow

RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.MULTILINE)


def run_playbook(inventory, playbook, output_dir, *extra):
    proc = subprocess.run(
        [
            "ansible-playbook",
            *("-i", str(inventory)),
            *("-e", f"m1038_output_dir={output_dir}"),
            *extra,
            str(PROJECT_ROOT / "playbooks" / playbook),
        ],
        cwd=PROJECT_ROOT,
        env=ansible_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-20000:] + proc.stderr
    recap = {m.group(1): int(m.group(3)) for m in RECAP.finditer(proc.stdout)}
    assert recap, proc.stdout
    return recap, proc.stdout


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    if shutil.which("podman") is None:
        pytest.fail("podman is required: run scripts/setup.sh")
    base = tmp_path_factory.mktemp("lab")
    inventory = base / "inventory"
    shutil.copytree(PROJECT_ROOT / "inventories" / "lab", inventory)
    manager = f"m1038-test-lab-{uuid.uuid4().hex[:8]}"
    hosts = inventory / "hosts.yml"
    hosts.write_text(hosts.read_text().replace("m1038-lab-manager:", f"{manager}:"))
    out = base / "output"
    runs = {"out": out, "manager": manager}
    try:
        runs["check_controller"] = run_playbook(hosts, "site.yml", out, "--check", "--limit", "controller")[0]
        runs["written_in_check"] = sorted(p.name for p in out.rglob("*")) if out.exists() else []
        runs["first"] = run_playbook(hosts, "lab.yml", out)[0]
        runs["second"], runs["second_log"] = run_playbook(hosts, "lab.yml", out)
        runs["check_after"], runs["check_log"] = run_playbook(hosts, "lab.yml", out, "--check", "--diff")
        yield runs
    finally:
        subprocess.run(["podman", "rm", "-f", "-t", "0", manager], capture_output=True, check=False)


def test_check_mode_writes_nothing(lab):
    assert lab["written_in_check"] == []
    assert lab["check_controller"]["localhost"] > 0  # it would write the report and the content


def test_first_run_changes_second_run_and_check_change_nothing(lab):
    assert sum(lab["first"].values()) > 0
    assert lab["second"] == dict.fromkeys(lab["second"], 0), lab["second_log"][-5000:]
    assert lab["check_after"] == dict.fromkeys(lab["check_after"], 0), lab["check_log"][-5000:]
    assert "RUNNING HANDLER" not in lab["second_log"]


def test_content_reached_the_manager(lab):
    report = json.loads((lab["out"] / "preflight.json").read_text())
    assert report["winrm_findings"] == []
    rules = subprocess.run(
        ["podman", "exec", lab["manager"], "ls", "/var/ossec/etc/rules", "/var/ossec/etc/lists"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "m1038_appcontrol_rules.xml" in rules
    assert "m1038-trusted-companies" in rules


def test_the_recorded_windows_host_is_planned_and_not_contacted(lab):
    """The lab's Windows host is a recording: its agent plan is evidence, and the run says a real host is needed."""
    plan = json.loads((lab["out"] / "wazuh_agent" / "m1038-lab-win01" / "plan.json").read_text())
    assert plan["recorded"] is True and plan["action_ids"] == ["upgrade", "restart"]
    assert "Nothing was pushed: the WinRM push needs a real host and wazuh_agent_package_sha256" in " ".join(
        lab["second_log"].split()
    )

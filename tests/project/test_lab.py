"""The README's command one, run as written on a fresh copy of the project.

``bash scripts/lab.sh`` starts a manager container running the wazuh-manager TEST DOUBLE
(playbooks/lab.yml) and runs site.yml: preflight, render, deploy, and the Windows roles against the
lab's recorded host (they render, validate and plan; nothing is pushed). The copy is the tree as a new
clone has it (helpers.fresh_copy: no ``lab-output/``, a manager container that never ran, under
a unique name); it takes this checkout's cache (venv, image, podman storage) through
``M1038_CACHE``. The runs, in order:

1. ``lab.sh --check --diff`` before the lab ever ran (the state the README's dry run once
   failed on): the lab's own infrastructure comes up for real, the main job runs in check
   mode, exits 0 and writes nothing into ``lab-output/``;
2. ``lab.sh``: changes things;
3. ``lab.sh`` again: changes nothing and restarts nothing.

These are the three proofs the project asks of every state-changing step (check changes nothing,
apply changes, apply again changes nothing); each run costs about a minute of CPU, so a further
check run on the converged lab is left out.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import uuid
from html.parser import HTMLParser

import pytest

from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_compare import compare
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_xml import xsd_errors

from .helpers import CACHE, clean_env, fresh_copy

pytestmark = pytest.mark.slow

RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.MULTILINE)


def run_lab(copy, *extra):
    proc = subprocess.run(
        ["bash", "scripts/lab.sh", *extra],
        cwd=copy,
        env=clean_env(M1038_CACHE=str(CACHE), ANSIBLE_NOCOLOR="1"),
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-20000:]
    assert "UNREACHABLE" not in proc.stdout, out[-20000:]
    recap = {m.group(1): int(m.group(3)) for m in RECAP.finditer(proc.stdout)}
    assert recap, out[-5000:]
    return recap, proc.stdout


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    if shutil.which("podman") is None:
        pytest.fail("podman is required: run scripts/setup.sh")
    copy = fresh_copy(tmp_path_factory.mktemp("lab") / "clone")
    manager = f"m1038-test-lab-{uuid.uuid4().hex[:8]}"
    hosts = copy / "inventories" / "lab" / "hosts.yml"
    hosts.write_text(hosts.read_text().replace("m1038-lab-manager:", f"{manager}:"))
    out = copy / "lab-output"
    runs = {
        "out": out / "lab",
        "manager": manager,
        "inventory": copy / "inventories" / "lab" / "files" / "wazuh_api_recorded",
    }
    try:
        runs["dry"], runs["dry_log"] = run_lab(copy, "--check", "--diff")
        runs["written_in_check"] = sorted(str(p) for p in out.rglob("*")) if out.exists() else []
        runs["first"] = run_lab(copy)[0]
        runs["second"], runs["second_log"] = run_lab(copy)
        yield runs
    finally:
        subprocess.run(["podman", "rm", "-f", "-t", "0", manager], capture_output=True, check=False)


def test_a_dry_run_before_the_lab_ever_ran_writes_nothing(lab):
    assert re.search(rf"^{lab['manager']}\s+: ok=\d+ .*failed=0", lab["dry_log"], re.MULTILINE), lab["dry_log"][-5000:]
    # The main job ran in check mode: it planned the render and wrote nothing.
    assert "TASK [Render rules, CDB lists and ruleset tests]" in lab["dry_log"], lab["dry_log"][-20000:]
    assert lab["written_in_check"] == []
    assert lab["dry"]["localhost"] > 0  # it would write the report and the content


def test_first_run_changes_second_run_changes_nothing(lab):
    assert sum(lab["first"].values()) > 0
    assert lab["second"] == dict.fromkeys(lab["second"], 0), lab["second_log"][-5000:]
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


def test_software_inventory_routes_wrote_what_the_renderer_reads_and_said_which_source(lab):
    assert (lab["out"] / "software_facts" / "m1038-lab-win01").is_file()
    saved = sorted(p.name for p in (lab["out"] / "syscollector").iterdir() if not p.name.startswith("."))
    assert saved == ["001.json", "002.json", "003.json"]
    log = " ".join(lab["second_log"].split())
    # the lab manager runs the wazuh-manager TEST DOUBLE: lab.yml finds no Wazuh API on it
    assert f"RECORDED Wazuh API responses from {lab['inventory']}" in log
    assert f"no Wazuh API answers on {lab['manager']} (127.0.0.1:55000:" in log
    assert "m1038-lab-win01 (RECORDED probe" in log


def test_the_recorded_windows_host_got_both_applocker_variants_and_a_plan(lab):
    """Command one renders and validates both AppLocker variants for the lab's recorded Windows host, with its
    recorded writable-folder scan, and plans against its recorded probe (docs/applocker.md)."""
    host = lab["out"] / "applocker" / "hosts" / "m1038-lab-win01"
    audit, enforce = (host / "audit.xml").read_bytes(), (host / "enforce.xml").read_bytes()
    assert xsd_errors(audit, "audit.xml") == [] and xsd_errors(enforce, "enforce.xml") == []
    assert {entry["mode"]["after"] for entry in compare(audit, enforce).collections.values()} == {"Enabled"}
    plan = json.loads((host / "plan.json").read_text())
    assert plan["recorded"] is True and plan["action_ids"] == ["policy", "eventlog", "service"]
    assert "the WinRM push needs a real host" in " ".join(lab["second_log"].split())


class _Counts(HTMLParser):
    """The summary numbers of the readiness page (elements id="count-...")."""

    def __init__(self):
        super().__init__()
        self.counts: dict[str, int] = {}
        self._open: str | None = None

    def handle_starttag(self, tag, attrs):
        found = dict(attrs).get("id") or ""
        self._open = found[len("count-") :] if found.startswith("count-") else None

    def handle_data(self, data):
        if self._open and data.strip():
            self.counts[self._open] = int(data)
            self._open = None


def test_command_one_wrote_the_lab_readiness_report(lab):
    """From the recorded month of alerts (inventories/lab/files/wazuh/alerts): the hosts' verdicts."""
    out = lab["out"] / "readiness"
    report = json.loads((out / "readiness.json").read_text())
    statuses = {name: host["status"] for name, host in report["hosts"].items()}
    assert [n for n, s in statuses.items() if s == "no_evidence"] == ["lab-ws-11", "lab-ws-12"]
    assert [n for n, s in statuses.items() if s == "not_ready"] == [
        "lab-ws-04",
        "lab-ws-05",
        "lab-ws-06",
        "lab-ws-07",
        "lab-ws-08",
        "lab-ws-10",
    ]
    assert statuses["lab-ws-09"] == "ready"  # its nightly build tool is not cared about (lab thresholds)
    page = _Counts()
    page.feed((out / "readiness.html").read_text())
    assert page.counts == {
        "ready": 5,
        "not_ready": 6,
        "no_evidence": 2,
        "hosts": 13,
        "events": report["summary"]["would_be_blocked_events"],
        "binaries": report["summary"]["binaries"],
    }
    assert "m1038_applocker_model:" in (out / "suggestions.yml").read_text()

"""The README's main command: the lab play converges, and a second run changes nothing."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from .helpers import PROJECT_ROOT, ansible_env

pytestmark = pytest.mark.slow

RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.MULTILINE)


def run_site(output_dir, *extra):
    proc = subprocess.run(
        [
            "ansible-playbook",
            *("-i", str(PROJECT_ROOT / "inventories" / "lab" / "hosts.yml")),
            *("-e", f"m1038_output_dir={output_dir}"),
            *extra,
            str(PROJECT_ROOT / "playbooks" / "site.yml"),
        ],
        cwd=PROJECT_ROOT,
        env=ansible_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    recap = {m.group(1): {"changed": int(m.group(3)), "failed": int(m.group(5))} for m in RECAP.finditer(proc.stdout)}
    assert recap, proc.stdout
    return recap, proc.stdout


@pytest.fixture(scope="module")
def lab_runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("lab-output")
    check, _ = run_site(out, "--check")
    written_in_check = sorted(p.name for p in out.rglob("*"))
    first, _ = run_site(out)
    second, second_log = run_site(out)
    return out, check, written_in_check, first, second, second_log


def test_check_mode_writes_nothing(lab_runs):
    _, _, written_in_check, _, _, _ = lab_runs
    assert written_in_check == []


def test_first_run_changes_and_second_run_changes_nothing(lab_runs):
    out, _, _, first, second, second_log = lab_runs
    assert sum(h["changed"] for h in first.values()) > 0
    assert {h: v["changed"] for h, v in second.items()} == dict.fromkeys(second, 0), second_log
    report = json.loads((out / "preflight.json").read_text())
    assert report["winrm_findings"] == []
    assert report["collection_findings"] == []

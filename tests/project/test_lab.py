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
    runs = {"out": out}
    runs["check"] = run_site(out, "--check")[0]
    runs["written_in_check"] = sorted(p.name for p in out.rglob("*"))
    runs["first"] = run_site(out)[0]
    runs["second"], runs["second_log"] = run_site(out)
    return runs


def test_check_mode_writes_nothing(lab_runs):
    assert lab_runs["written_in_check"] == []


def test_first_run_changes_and_second_run_changes_nothing(lab_runs):
    out, first, second, second_log = (lab_runs[k] for k in ("out", "first", "second", "second_log"))
    assert sum(h["changed"] for h in first.values()) > 0
    assert {h: v["changed"] for h, v in second.items()} == dict.fromkeys(second, 0), second_log
    report = json.loads((out / "preflight.json").read_text())
    assert report["winrm_findings"] == []
    assert report["collection_findings"] == []

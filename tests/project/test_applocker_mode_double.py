"""playbooks/applocker_mode.yml end to end: on the Windows TEST DOUBLE, and in check mode on the lab.

tests/doubles/windows/README.md says what the double models and what it cannot prove. Here each
Windows host is its own model (its own JSON file: a per-host interpreter wrapper sets
``M1038_WINDOWS_DOUBLE_STATE``), except in the domain run, where the endpoints and the management
host share one (one GPO). The decisions (plan, vetting, health verdicts) are unit tested; these runs
prove the wiring, in five playbook runs on the double and one on the lab:

1. check: the plan is printed (canary, batches, a host the readiness report calls ready held back
   because its own AppLocker log holds would-be blocks the report never saw) and nothing changes;
2. apply: the canary, then the next batch switch Exe to enforce; a host there meets a burst of 8004
   blocks, goes back to audit and is reported; max_fail_percentage 0 stops the rollout before the
   last batch;
3. apply again: the switched hosts are left alone, the rolled-back one stays held, the rest finish;
4. back to audit without a readiness file: one batch;
5. domain: the GPO flips once from the management host, the endpoints refresh and are checked.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_model import parse_model
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_readiness import Evidence, make_window
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_readiness_sources import read_alerts
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_readiness_thresholds import parse_thresholds
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_xml import parse_policy, render_policy

from .applocker_double import LDAP, SIZES, new_host
from .helpers import PROJECT_ROOT, ansible_env
from .windows_double import RECAP, collection_copy

pytestmark = pytest.mark.slow

ENDPOINTS = ("win-a", "win-b", "win-c", "win-d", "win-e")
AUDIT_MODEL = {name: {"mode": "audit", "default_rules": True} for name in ("Exe", "Msi", "Script", "Appx")}
WINDOW = {"start": "2026-10-01T00:00:00Z", "end": "2026-11-01T00:00:00Z"}
ALLOWED = {"event_id": 8002, "time": "2026-10-20T09:00:00Z", "policy": "EXE", "file_path": "%SYSTEM32%\\NOTEPAD.EXE"}
BLOCKED_APP = {"policy": "EXE", "file_path": "%OSDRIVE%\\USERS\\DAVE\\APPDATA\\LOCAL\\TOOL.EXE", "count": 5}


def audited_host(**extra) -> dict:
    """A host after its audit phase: the audit policy, AppIDSvc running, logs sized, allowed runs logged."""
    state = new_host(**extra)
    state["applocker"]["local"] = render_policy(parse_model(AUDIT_MODEL))
    state["services"]["AppIDSvc"] = {"state": "running", "start_mode": "auto"}
    state["eventlogs"] = dict(SIZES)
    state.setdefault("applocker_events", []).append(dict(ALLOWED))
    return state


def readiness(hosts) -> dict:
    entry = {
        "status": "ready",
        "reasons": [],
        "collections": {c: {"events": 0, "status": "ready"} for c in ("Exe", "Msi", "Script", "Dll", "Appx")},
        "reported": {"events": 3, "first": "2026-10-02T00:00:00Z", "last": "2026-10-30T00:00:00Z"},
    }
    return {
        "generator": "m1038.appcontrol.applocker_readiness",
        "schema": 1,
        "window": {**WINDOW, "days": 31},
        "hosts": dict.fromkeys(hosts, entry),
    }


def modes(xml) -> dict:
    return {name: coll.mode for name, coll in parse_policy(xml).collections.items()}


class Fleet:
    """Hosts on the local connection, each reading its own model through its interpreter wrapper."""

    def __init__(self, base: Path, states: dict[str, dict], shared: dict[str, str] | None = None):
        self.base = base
        self.collections = collection_copy(base)
        self.inventory = base / "inventories" / "dbl"
        self.inventory.mkdir(parents=True)
        self.files: dict[str, Path] = {}
        hosts = {}
        for name in [*states, *(shared or {})]:
            model = (shared or {}).get(name, name)
            self.files[name] = base / f"{model}.json"
            wrapper = base / f"python-{name}"
            wrapper.write_text(f'#!/bin/sh\nM1038_WINDOWS_DOUBLE_STATE={self.files[name]} exec {sys.executable} "$@"\n')
            wrapper.chmod(0o755)
            hosts[name] = {
                "ansible_connection": "local",
                "ansible_shell_type": "sh",  # group_vars/windows says powershell
                "ansible_python_interpreter": str(wrapper),
            }
        for name, state in states.items():
            self.files[name].write_text(json.dumps(state))
        windows = {n: v for n, v in hosts.items() if n != "mgmt-double"}
        inventory = {
            "all": {
                "vars": {"ansible_remote_tmp": str(base / "remote-tmp")},
                "children": {
                    "controller": {
                        "hosts": {
                            "localhost": {
                                "ansible_connection": "local",
                                "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                            }
                        }
                    },
                    "windows": {"hosts": windows},
                    "management": {"hosts": {k: v for k, v in hosts.items() if k == "mgmt-double"}},
                },
            }
        }
        (self.inventory / "hosts.yml").write_text(json.dumps(inventory))
        # A copy of the playbook outside the project: run from the project, its modules would be the
        # project's own (the real probes), not the copy's doubles.
        self.playbooks = base / "playbooks"
        shutil.copytree(PROJECT_ROOT / "playbooks", self.playbooks)
        self.readiness = base / "readiness.json"
        self.rollout = base / "rollout"

    def state(self, name: str) -> dict:
        return json.loads(self.files[name].read_text())

    def exe(self, name: str) -> str:
        return modes(self.state(name)["applocker"]["local"])["Exe"]

    def reports(self) -> list[dict]:
        return [json.loads(p.read_text()) for p in sorted(self.rollout.glob("rollout-*.json"))]

    def run(self, *extra, ok=True, **variables):
        settings = {
            "m1038_rollout_target_modes": {"Exe": "enforce"},
            "m1038_rollout_readiness_file": str(self.readiness),
            "m1038_rollout_dir": str(self.rollout),
            "m1038_rollout_soak_seconds": 0,
            "m1038_rollout_connection_timeout": 10,
            "m1038_readiness_window_days": 31,
            "m1038_readiness_window_end": WINDOW["end"],
            "applocker_output_dir": str(self.base / "out"),
            **variables,
        }
        (self.base / "vars.json").write_text(json.dumps(settings))
        for path in set(self.files.values()):
            state = json.loads(path.read_text())
            state["calls"] = []
            path.write_text(json.dumps(state))
        proc = _playbook(
            self.inventory,
            "-e",
            f"@{self.base / 'vars.json'}",
            *extra,
            playbooks=self.playbooks,
            ANSIBLE_COLLECTIONS_PATH=str(self.collections),
        )
        assert (proc.returncode == 0) is ok, proc.stdout[-10000:] + proc.stderr[-3000:]
        recap = {m.group(1): int(m.group(3)) for m in RECAP.finditer(proc.stdout)}
        calls = {name: self.state(name).get("calls", []) for name in self.files}
        return recap, calls, " ".join(proc.stdout.split())


def _playbook(inventory: Path, *extra, playbooks: Path = PROJECT_ROOT / "playbooks", **env):
    return subprocess.run(
        ["ansible-playbook", "-i", str(inventory / "hosts.yml"), *extra, str(playbooks / "applocker_mode.yml")],
        cwd=PROJECT_ROOT,
        env=ansible_env(ANSIBLE_PIPELINING="1", **env),
        capture_output=True,
        text=True,
        check=False,
    )


def modules(calls) -> list[str]:
    return [c["module"] for c in calls]


def test_staged_switch_burst_rollback_resume_and_back_to_audit(tmp_path):
    states = {name: audited_host() for name in ENDPOINTS}
    states["win-c"]["applocker"]["on_enforce"] = {"Exe": [BLOCKED_APP]}
    # Ready in the report, but its own log holds two would-be blocks the report never counted
    # (the agent does not forward the AppLocker channel): held back.
    states["win-e"]["applocker_events"].append(
        {**BLOCKED_APP, "event_id": 8003, "count": 2, "time": "2026-10-21T10:00:00Z"}
    )
    fleet = Fleet(tmp_path, states)
    fleet.readiness.write_text(json.dumps(readiness(ENDPOINTS)))

    # 1. check: the plan, and nothing else
    _recap, calls, out = fleet.run("--check")
    assert "batch 0 (canary, 1 hosts): win-a" in out
    assert "batch 1 (batch 1, 2 hosts): win-b, win-c" in out and "batch 2 (batch 2, 1 hosts): win-d" in out
    assert "held back: win-e (Exe):" in out
    assert "own log holds 2 would-be-blocked event(s)" in out
    for name in ENDPOINTS:
        assert modules(calls[name]) == ["applocker_probe", "applocker_events_probe"], name
        assert fleet.exe(name) == "AuditOnly"
    assert not fleet.rollout.exists()

    # 2. apply: canary, next batch; win-c's burst sends it back to audit and stops the rollout
    recap, calls, out = fleet.run(ok=False)
    assert fleet.exe("win-a") == "Enabled" and fleet.exe("win-b") == "Enabled"
    assert fleet.exe("win-c") == "AuditOnly"  # rolled back
    assert fleet.exe("win-d") == "AuditOnly" and fleet.exe("win-e") == "AuditOnly"  # never reached / held
    assert modules(calls["win-d"]) == ["applocker_probe", "applocker_events_probe"]
    assert "5 AppLocker block(s) since the switch (8004: 5, 8007: 0), at most 0: a burst" in out
    assert "Rolled back to audit: Exe." in out
    (report,) = fleet.reports()
    assert report["status"] == "stopped"
    assert [b["name"] for b in report["batches"]] == ["canary", "batch 1"]
    assert report["batches"][1]["failed"] == ["win-c"] and report["batches"][1]["continue"] is False
    assert [(r["host"], r["collections"], r["applied"]) for r in report["rollbacks"]] == [("win-c", ["Exe"], True)]
    assert recap["win-c"] > 0

    # 3. apply again: the switched hosts are left alone, win-c stays held, win-d finishes
    recap, calls, out = fleet.run()
    assert "held back: win-c (Exe): Exe: rolled back to audit at" in out
    for name in ("win-a", "win-b"):  # read-only probes, no role, no change
        assert modules(calls[name]) == ["applocker_probe", "applocker_events_probe"] and recap[name] == 0
    assert fleet.exe("win-d") == "Enabled" and fleet.exe("win-c") == "AuditOnly"
    assert fleet.reports()[-1]["status"] == "complete"

    # 4. back to audit: no readiness file (a path that does not exist), no evidence, one batch;
    # limited to two hosts to keep the run short
    recap, calls, out = fleet.run(
        "--limit",
        "controller,win-a,win-b",
        m1038_rollout_target_modes={"Exe": "audit"},
        m1038_rollout_readiness_file=str(tmp_path / "none.json"),
    )
    assert "batch 0 (audit, 2 hosts): win-a, win-b" in out
    assert fleet.exe("win-a") == "AuditOnly" and fleet.exe("win-b") == "AuditOnly" and fleet.exe("win-d") == "Enabled"
    for name in ("win-a", "win-b"):
        assert "applocker_events_probe" not in modules(calls[name])[:2]  # no evidence read before the switch
    assert fleet.reports()[-1]["status"] == "complete"


def test_domain_scope_flips_the_gpo_once(tmp_path):
    gpo = audited_host()
    gpo["applocker"]["gpo"] = {LDAP: render_policy(parse_model(AUDIT_MODEL))}
    gpo["applocker"]["under_gpo"] = LDAP
    gpo["applocker"]["refreshed"] = gpo["applocker"]["gpo"][LDAP]
    fleet = Fleet(tmp_path, {"win-a": gpo}, shared={"win-b": "win-a", "mgmt-double": "win-a"})
    fleet.readiness.write_text(json.dumps(readiness(["win-a", "win-b"])))
    domain = {
        "m1038_rollout_scope": "domain",
        "applocker_domain_ldap": LDAP,
        "applocker_domain_management_host": "mgmt-double",
    }
    _recap, calls, out = fleet.run(**domain)
    assert "GPO: flip once (Exe -> enforce), then check 2 hosts" in out
    steps = [c["module"] + (" " + c.get("script", "")) for c in calls["win-a"]]
    assert steps.count("win_powershell set") == 1  # the GPO, once, from the management host
    assert [c["argv"][0] for c in calls["win-a"] if c["module"] == "win_command"][-2:] == ["gpupdate.exe"] * 2
    state = fleet.state("win-a")
    assert modes(state["applocker"]["gpo"][LDAP])["Exe"] == "Enabled"
    assert modes(state["applocker"]["refreshed"])["Exe"] == "Enabled"
    (report,) = fleet.reports()
    assert report["status"] == "complete" and report["batches"][0]["name"] == "gpo"
    assert report["batches"][0]["healthy"] == ["win-a", "win-b"]


def test_check_mode_on_the_lab_prints_the_plan(tmp_path):
    """The lab's recorded host, with the readiness report the lab's recorded alerts give."""
    lab = PROJECT_ROOT / "inventories" / "lab"
    window = make_window(start="2026-11-01T00:00:00Z", end="2026-12-01T00:00:00Z")
    thresholds = {"binaries": [{"name": "Nightly build tools", "path": "%OSDRIVE%\\Tools\\*", "max_events": None}]}
    evidence = Evidence(window, parse_thresholds(thresholds), ["m1038-lab-win01", "lab-ws-01"])
    report = evidence.report(read_alerts([str(lab / "files" / "wazuh" / "alerts")], evidence))
    assert report["hosts"]["m1038-lab-win01"]["status"] == "ready"
    (tmp_path / "readiness.json").write_text(json.dumps(report))
    (tmp_path / "vars.json").write_text(
        json.dumps(
            {
                "m1038_rollout_readiness_file": str(tmp_path / "readiness.json"),
                "m1038_rollout_dir": str(tmp_path / "rollout"),
            }
        )
    )
    proc = _playbook(lab, "--check", "-e", f"@{tmp_path / 'vars.json'}")
    out = " ".join(proc.stdout.split())
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr
    # The report says ready; the recorded probe says the host has no policy yet (never audited),
    # and no reading of its own log exists: the plan holds it back and says why.
    assert "held back: m1038-lab-win01 (Exe, Msi, Script, Appx)" in out
    assert "Exe: not_configured on the host, not audit" in out
    assert "nothing to do" in out
    assert not (tmp_path / "rollout").exists()
    assert re.search(r"m1038-lab-win01\s+:\s+ok=\d+\s+changed=0", proc.stdout)

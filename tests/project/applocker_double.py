"""Helpers for the applocker role's end-to-end tests against the Windows TEST DOUBLE.

No Windows host exists here. tests/doubles/windows/ holds fake ansible.windows modules and a fake
applocker_probe acting on one JSON file that models a Windows host (README there: what the model
does and what it cannot prove). Each test runs the real role, in a copy of the collection whose
probe modules are the fakes, against ``win-double`` on the local connection; ``mgmt-double`` is the
management host of the domain target and ``win-double2`` a second endpoint under its GPO, both
sharing the one model (so a run with them uses one fork: the model is one JSON file).

Proven: the plan's steps reach the right modules with the right parameters in the right order
(policy, then event logs, then AppIDSvc); the previous policy is kept and set again when setting
fails; verify re-probes; a rerun is one probe and zero changes; check mode applies nothing; the
rollback variables are plans like any other; the domain target sets the GPO once from the management
host. Not proven: anything about Windows, AppLocker or the PowerShell the real modules run.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import ntpath
import re
import subprocess
from pathlib import Path

from .helpers import PROJECT_ROOT, ansible_env
from .windows_double import DOUBLE, RECAP, collection_copy

LDAP = "LDAP://dc01.corp.example/CN={6AC1786C-016F-11D2-945F-00C04FB984F9},CN=Policies,CN=System,DC=corp,DC=example"
REMOTE = "C:\\ProgramData\\m1038-appcontrol\\applocker"
CHANNELS = (
    "Microsoft-Windows-AppLocker/EXE and DLL",
    "Microsoft-Windows-AppLocker/MSI and Script",
    "Microsoft-Windows-AppLocker/Packaged app-Deployment",
    "Microsoft-Windows-AppLocker/Packaged app-Execution",
)
SIZES = {CHANNELS[0]: 67108864, CHANNELS[1]: 67108864, CHANNELS[2]: 16777216, CHANNELS[3]: 16777216}
RESULT = re.compile(r"APPLOCKER_RESULT=([A-Za-z0-9+/=]+)")
CLEAN_SCAN = PROJECT_ROOT / "tests" / "unit" / "fixtures" / "applocker" / "probes" / "clean.json"


def new_host(**state) -> dict:
    """A Windows host as Windows leaves it: no policy, AppIDSvc stopped and manual, AppLocker logs at 1 MiB."""
    return {
        "arch": "AMD64",
        "files": {},
        "service": None,
        "driver": None,
        "eventlog": None,
        "services": {"AppIDSvc": {"state": "stopped", "start_mode": "manual"}},
        "eventlogs": dict.fromkeys(CHANNELS, 1052672),
        "applocker": {"local": None, "gpo": {LDAP: None}},
        "writable_scan": json.loads(CLEAN_SCAN.read_text())["writable_scan"],
        **state,
    }


def _double_applocker():
    spec = importlib.util.spec_from_file_location(
        "_double_applocker", DOUBLE / "ansible.windows" / "module_utils" / "_double_applocker.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_back(xml: str) -> str:
    """The policy as the double's Get-AppLockerPolicy returns it (re-serialised; _double_applocker.py)."""
    return _double_applocker().reserialise(xml)


class AppLockerLab:
    def __init__(self, base: Path, state: dict):
        self.base = base
        self.collections = collection_copy(base)
        self.state_file = base / "host.json"
        self.write_state(state)
        self.out = base / "out"
        local = {"ansible_connection": "local"}
        inventory = {
            "all": {
                "hosts": {name: local for name in ("win-double", "win-double2", "mgmt-double", "localhost")},
                "vars": {
                    "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                    "ansible_remote_tmp": str(base / "remote-tmp"),
                },
            }
        }
        (base / "hosts.yml").write_text(json.dumps(inventory))

    def write_state(self, state):
        self.state_file.write_text(json.dumps(state))

    @property
    def state(self) -> dict:
        return json.loads(self.state_file.read_text())

    def run(self, *extra, ok=True, hosts="win-double", **role_vars):
        """Run the role on ``hosts``; returns win-double's changed count, the model's calls, the flattened
        stdout and each host's ``applocker_result`` (the fact the role returns)."""
        settings = {"applocker_output_dir": str(self.out), **role_vars}
        (self.base / "vars.json").write_text(json.dumps(settings))
        # applocker_result, base64 so that the callback's line wrapping cannot cut it
        (self.base / "play.yml").write_text(
            f"- hosts: {hosts}\n  gather_facts: false\n  roles:\n    - role: m1038.appcontrol.applocker\n"
            "  post_tasks:\n    - name: Print applocker_result\n      ansible.builtin.debug:\n"
            '        msg: "APPLOCKER_RESULT={{ applocker_result | to_json | b64encode }}"\n'
        )
        state = self.state
        state["calls"] = []
        self.write_state(state)
        proc = subprocess.run(
            [
                "ansible-playbook",
                *("-i", str(self.base / "hosts.yml")),
                *("-e", f"@{self.base / 'vars.json'}"),
                *("--forks", "1"),
                *extra,
                str(self.base / "play.yml"),
            ],
            cwd=PROJECT_ROOT,
            env=ansible_env(
                ANSIBLE_COLLECTIONS_PATH=str(self.collections),
                M1038_WINDOWS_DOUBLE_STATE=str(self.state_file),
                ANSIBLE_PIPELINING="1",
            ),
            capture_output=True,
            text=True,
            check=False,
        )
        assert (proc.returncode == 0) is ok, proc.stdout[-8000:] + proc.stderr
        recap = {m.group(1): int(m.group(3)) for m in RECAP.finditer(proc.stdout)}
        results = [json.loads(base64.b64decode(m.group(1))) for m in RESULT.finditer(proc.stdout)]
        # Warnings (module.warn) go to stderr: both are searched.
        return recap.get("win-double"), self.state["calls"], " ".join((proc.stdout + proc.stderr).split()), results

    def file(self, path: str) -> bytes | None:
        """A file on the modelled host, by its Windows path (case-insensitive)."""
        entry = self.state["files"].get(ntpath.normcase(ntpath.normpath(path)))
        return None if entry is None else base64.b64decode(entry["data"])

    def rendered(self, variant: str, host: str = "win-double") -> str:
        folder = self.out / ("domain" if host == "domain" else f"hosts/{host}")
        return (folder / f"{variant}.xml").read_text()


def names(calls):
    """Each call as a short name: the module, the script or the command, and the policy source or Ldap."""
    result = []
    for call in calls:
        if call["module"] == "win_powershell":
            ldap = " -Ldap" if call["parameters"].get("Ldap") else ""
            result.append(f"win_powershell {call.get('script', '?')}{ldap}")
        elif call["module"] == "win_command":
            result.append("wevtutil " + call["argv"][2].rsplit("/", 1)[1])
        elif call["module"] == "applocker_probe":
            result.append(f"applocker_probe {call['policy']}" + (" +scan" if call["scan_roots"] else ""))
        else:
            result.append(call["module"])
    return result

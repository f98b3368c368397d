"""The wazuh_agent role against the Windows TEST DOUBLE: check mode, apply, apply again, and the failure paths.

Two ansible-playbook runs over four modelled hosts (tests/doubles/windows/README.md says what the model does
and cannot prove): ``--check --diff``, then one run with two plays, apply and apply again, each play naming its
phase in the calls the fakes record.

- ``fresh``: no agent. Check mode plans and changes nothing; apply downloads the MSI (SHA256-checked), installs
  it, plans again from the ossec.conf it wrote, puts the edited file in place, writes authd.pass locked down,
  restarts once and verifies; the agent enrolled with the model manager and received its group's agent.conf.
- ``moved``: agent 4.9.2 enrolled with another manager, the MSI a controller-side file (``wazuh_agent_package_src``).
  Upgrade keeping ossec.conf and client.keys, then the manager changed, the old key kept and emptied, one
  restart, a new key from the right manager.
- ``broken`` (apply run only): ossec.conf the agent's reader refuses: reported naming the line, nothing written.
- ``refused`` (apply run only): the agent does not start on the edited ossec.conf: the previous ossec.conf and
  client.keys are put back, the agent started on them, and the host fails saying so.

Apply again is one probe per host and no change; the registration password appears in no output and no call.
"""

from __future__ import annotations

import base64
import hashlib
import json
import ntpath
import re
import subprocess

import pytest

from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_agent_conf import render
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_channels import channels

from .helpers import PROJECT_ROOT, ansible_env
from .windows_double import collection_copy

pytestmark = pytest.mark.slow

MANAGER = "wazuh.corp.example.com"
OLD_MANAGER = "wazuh-old.corp.example.com"
PASSWORD = "TEST-DOUBLE-enrollment-4711"  # noqa: S105 - a test value for the model manager
URL = "https://packages.example.invalid/wazuh-agent-4.14.7-1.msi"
AGENT = "C:\\Program Files (x86)\\ossec-agent"
REMOTE = "C:\\ProgramData\\m1038-appcontrol\\wazuh_agent"
FIXTURES = PROJECT_ROOT / "tests" / "unit" / "fixtures" / "wazuh_agent" / "ossec"
CHANGED = re.compile(r"^changed: \[([\w-]+)", re.MULTILINE)
RECAP = re.compile(r"^([\w-]+)\s+:\s+ok=\d+\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)", re.MULTILINE)
PLAYS = """
- name: apply
  hosts: agents
  gather_facts: false
  environment: {M1038_WINDOWS_DOUBLE_STATE: "{{ double_state }}", M1038_WINDOWS_DOUBLE_PHASE: apply}
  roles: [m1038.appcontrol.wazuh_agent]
- name: again
  hosts: agents
  gather_facts: false
  environment: {M1038_WINDOWS_DOUBLE_STATE: "{{ double_state }}", M1038_WINDOWS_DOUBLE_PHASE: again}
  roles: [m1038.appcontrol.wazuh_agent]
"""


def path_key(path: str) -> str:
    return ntpath.normcase(ntpath.normpath(path))


def crlf(name: str) -> bytes:
    return (FIXTURES / name).read_bytes().replace(b"\n", b"\r\n")


def files(**by_name: bytes) -> dict:
    result = {}
    for name, data in by_name.items():
        path = ntpath.join(AGENT, name.replace("__", "."))
        result[path_key(path)] = {"path": path, "data": base64.b64encode(data).decode()}
    return result


def installed(version: str, product_code: str) -> dict:
    return {"name": "Wazuh Agent", "version": version, "product_code": product_code, "install_dir": AGENT}


class AgentLab:
    """Three modelled hosts, each its own state file, run by one inventory."""

    def __init__(self, base):
        self.base = base
        self.collections = collection_copy(base, ("sysmon_probe", "wazuh_agent_probe", "wazuh_agent_file"))
        msi = {"double": "TEST DOUBLE MSI", "product": "Wazuh Agent", "version": "4.14.7", "product_code": "{NEW}"}
        self.msi = base / "wazuh-agent-4.14.7-1.msi"
        self.msi.write_text(json.dumps(msi))
        self.sha256 = hashlib.sha256(self.msi.read_bytes()).hexdigest()
        old_conf = crlf("default-4x.conf").replace(
            b"<address>0.0.0.0</address>", f"<address>{OLD_MANAGER}</address>".encode()
        )
        running = {"name": "WazuhSvc", "state": "running", "start_mode": "auto"}
        self.hosts = {
            "fresh": self.model("WS-FRESH"),
            "moved": self.model(
                "WS-MOVED",
                product=installed("4.9.2", "{OLD}"),
                service=dict(running),
                files=files(ossec__conf=old_conf, client__keys=b"001 WS-MOVED any 0123abcd\r\n"),
            ),
            "broken": self.model(
                "WS-BROKEN",
                product=installed("4.14.7", "{NEW}"),
                service=dict(running),
                files=files(ossec__conf=crlf("broken-unclosed.conf"), client__keys=b"007 WS-BROKEN any 77\r\n"),
            ),
            "refused": self.model(
                "WS-REFUSED",
                product=installed("4.14.7", "{NEW}"),
                service=dict(running),
                files=files(ossec__conf=old_conf, client__keys=b"009 WS-REFUSED any 99\r\n"),
            ),
        }
        # The model agent rejects the edited file: the restart fails and the rescue runs.
        self.hosts["refused"]["wazuh"]["refuse_start_with"] = f"<address>{MANAGER}</address>"
        for name, state in self.hosts.items():
            (base / f"{name}.json").write_text(json.dumps(state))
        inventory = {
            "all": {
                "children": {"agents": {"hosts": {name: self.host_vars(name) for name in self.hosts}}},
                "hosts": {"localhost": {}},
                "vars": {
                    "ansible_connection": "local",
                    "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                    "ansible_remote_tmp": str(base / "remote-tmp"),
                },
            }
        }
        (base / "hosts.yml").write_text(json.dumps(inventory))
        (base / "remote-tmp").mkdir(mode=0o700)
        # The broken host is in the apply run only: check mode writes nothing anyway.
        check = PLAYS.split("- name: again", maxsplit=1)[0].replace("apply", "check")
        (base / "check.yml").write_text(check.replace("hosts: agents", "hosts: fresh:moved"))
        self.original = {name: state["files"] for name, state in self.hosts.items()}
        (base / "apply.yml").write_text(PLAYS)
        settings = {
            "wazuh_agent_manager_address": MANAGER,
            "wazuh_agent_registration_password": PASSWORD,
            "wazuh_agent_package_sha256": self.sha256,
            "wazuh_agent_output_dir": str(base / "out"),
        }
        (base / "vars.json").write_text(json.dumps(settings))

    def host_vars(self, name):
        """Its state file; the moved host takes the MSI from the controller, the others download it."""
        source = {"wazuh_agent_package_src": str(self.msi)} if name == "moved" else {"wazuh_agent_package_url": URL}
        return {"double_state": str(self.base / f"{name}.json"), **source}

    def model(self, computer, product=None, service=None, files=None):
        manager = {
            "address": MANAGER,
            "password": PASSWORD,
            "agents": {},
            "next_id": 1,
            "groups": {"m1038-windows": base64.b64encode(render(channels()).replace("\n", "\r\n").encode()).decode()},
        }
        return {
            "arch": "AMD64",
            "files": files or {},
            "service": None,
            "urls": {URL: str(self.msi)},
            "wazuh": {
                "computer_name": computer,
                "product": product,
                "service": service,
                "msi_default_conf": base64.b64encode(crlf("default-4x.conf")).decode(),
                "manager": manager,
            },
        }

    def state(self, name: str) -> dict:
        return json.loads((self.base / f"{name}.json").read_text())

    def file(self, name: str, path: str) -> bytes | None:
        entry = self.state(name)["files"].get(path_key(path))
        return None if entry is None else base64.b64decode(entry["data"])

    def run(self, playbook, *extra):
        for name in self.hosts:
            state = self.state(name)
            state["calls"] = []
            (self.base / f"{name}.json").write_text(json.dumps(state))
        proc = subprocess.run(
            [
                "ansible-playbook",
                *("-i", str(self.base / "hosts.yml")),
                *("-e", f"@{self.base / 'vars.json'}"),
                *extra,
                str(self.base / playbook),
            ],
            cwd=PROJECT_ROOT,
            env=ansible_env(ANSIBLE_COLLECTIONS_PATH=str(self.collections), ANSIBLE_PIPELINING="1"),
            capture_output=True,
            text=True,
            check=False,
        )
        output = proc.stdout + proc.stderr
        recap = {m.group(1): (int(m.group(2)), int(m.group(3))) for m in RECAP.finditer(proc.stdout)}
        plays = {}
        for section in proc.stdout.split("\nPLAY [")[1:]:
            play = section.split("]", 1)[0]
            plays[play] = {host: len(re.findall(rf"^changed: \[{host}\b", section, re.M)) for host in self.hosts}
        return recap, plays, output

    def calls(self, name: str, phase: str | None = None) -> list[dict]:
        return [c for c in self.state(name).get("calls", []) if phase is None or c.get("phase") == phase]


def names(calls):
    return [call["module"] for call in calls]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    lab = AgentLab(tmp_path_factory.mktemp("agent-double"))
    before = {name: lab.state(name) for name in lab.hosts}
    check = lab.run("check.yml", "--check", "--diff")
    check_calls = {name: lab.calls(name) for name in lab.hosts}
    after_check = {name: lab.state(name) for name in lab.hosts}
    written = sorted(str(p.relative_to(lab.base)) for p in (lab.base / "out").rglob("*"))
    apply = lab.run("apply.yml", "-v")
    first = {"lab": lab, "before": before, "check": check, "check_calls": check_calls, "after_check": after_check}
    return {**first, "written_in_check": written}, apply


def test_check_mode_plans_shows_the_diff_and_changes_nothing(runs):
    first, _apply = runs
    recap, plays, output = first["check"]
    assert names(first["check_calls"]["broken"]) == names(first["check_calls"]["refused"]) == []
    for name in ("fresh", "moved"):
        assert names(first["check_calls"][name]) == ["wazuh_agent_probe"], name
        state = first["after_check"][name]
        state.pop("calls")
        assert state == first["before"][name], name
    assert plays["check"]["fresh"] > 0 and plays["check"]["moved"] > 0  # the plan reports what would change
    assert recap["fresh"][1] == 0 and recap["moved"][1] == 0
    assert f"-      <address>{OLD_MANAGER}</address>" in output
    assert f"+      <address>{MANAGER}</address>" in output
    assert first["written_in_check"] == []  # not even the controller's copy of the edited ossec.conf


def test_a_broken_ossec_conf_is_reported_and_never_written(runs):
    first, (recap, _plays, output) = runs
    lab = first["lab"]
    assert recap["broken"] == (0, 1)
    text = " ".join(output.split())
    assert "Element 'localfile' not closed. (line 10)" in text
    assert "(a broken or unexpected ossec.conf is reported, never overwritten)" in text
    assert names(lab.calls("broken")) == ["wazuh_agent_probe"]
    assert lab.file("broken", AGENT + "\\ossec.conf") == crlf("broken-unclosed.conf")


def test_fresh_host_is_installed_enrolled_and_connected_then_left_alone(runs):
    first, (_recap, plays, _output) = runs
    lab = first["lab"]
    assert names(lab.calls("fresh", "apply")) == [
        "wazuh_agent_probe",
        "win_file",  # the package folder
        "win_get_url",
        "win_package",
        "wazuh_agent_probe",  # again, after the MSI wrote ossec.conf
        "win_file",  # the staging folder
        "win_copy",  # stage the edited ossec.conf
        "wazuh_agent_file",  # swap it in
        "wazuh_agent_file",  # authd.pass
        "win_service",
        "wazuh_agent_probe",  # verify
    ]
    calls = lab.calls("fresh", "apply")
    package = f"{REMOTE}\\package\\wazuh-agent-{lab.sha256[:16]}"
    assert calls[2]["dest"] == package + ".msi" and calls[3]["path"] == package + ".msi"
    assert calls[7]["path"] == AGENT + "\\ossec.conf" and calls[7]["src"] == REMOTE + "\\staging\\ossec.conf"
    assert calls[8] == {
        "module": "wazuh_agent_file",
        "path": AGENT + "\\authd.pass",
        "src": None,
        "secret": "(secret)",
        "restricted": True,
        "backup": None,
        "phase": "apply",
    }
    assert (calls[9]["state"], calls[9]["start_mode"]) == ("restarted", "auto")
    state = lab.state("fresh")
    model = state["wazuh"]
    assert model["product"]["version"] == "4.14.7" and model["service"]["state"] == "running"
    assert model["starts"] == 1
    assert model["manager"]["agents"]["001"]["group"] == "m1038-windows"
    assert state["files"][path_key(AGENT + "\\authd.pass")]["restricted"] is True
    conf = lab.file("fresh", AGENT + "\\ossec.conf")
    assert conf == (lab.base / "out" / "fresh" / "ossec.conf").read_bytes()
    assert f"<address>{MANAGER}</address>".encode() in conf and b"<groups>m1038-windows</groups>" in conf
    assert b"status='connected'" in lab.file("fresh", AGENT + "\\wazuh-agent.state")
    assert b"Microsoft-Windows-AppLocker/EXE and DLL" in lab.file("fresh", AGENT + "\\shared\\agent.conf")
    assert plays["apply"]["fresh"] > 0
    assert names(lab.calls("fresh", "again")) == ["wazuh_agent_probe"] and plays["again"]["fresh"] == 0


def test_agent_of_another_manager_is_upgraded_moved_and_enrolled_again(runs):
    first, (_recap, plays, _output) = runs
    lab = first["lab"]
    calls = lab.calls("moved", "apply")
    assert names(calls) == [
        "wazuh_agent_probe",
        "win_file",
        "win_copy",  # the MSI from the controller (wazuh_agent_package_src), SHA256 checked there first
        "win_copy",  # keep ossec.conf
        "win_copy",  # keep client.keys
        "win_package",
        "wazuh_agent_probe",
        "win_file",
        "win_copy",
        "wazuh_agent_file",  # ossec.conf
        "wazuh_agent_file",  # authd.pass
        "wazuh_agent_file",  # keep the old key, empty client.keys
        "win_service",
        "wazuh_agent_probe",
    ]
    package = f"{REMOTE}\\package\\wazuh-agent-{lab.sha256[:16]}.msi"
    assert (calls[2]["src"], calls[2]["dest"], calls[2]["remote_src"]) == (str(lab.msi), package, False)
    assert calls[5]["path"] == package
    assert [c["dest"] for c in calls[3:5]] == [
        REMOTE + "\\backup\\ossec.conf.previous",
        REMOTE + "\\backup\\client.keys.previous",
    ]
    assert (
        calls[11]["path"] == AGENT + "\\client.keys"
        and calls[11]["backup"] == REMOTE + "\\backup\\client.keys.previous"
    )
    assert lab.file("moved", REMOTE + "\\backup\\client.keys.previous") == b"001 WS-MOVED any 0123abcd\r\n"
    model = lab.state("moved")["wazuh"]
    assert model["product"]["version"] == "4.14.7" and model["starts"] == 1  # one restart for it all
    keys = lab.file("moved", AGENT + "\\client.keys").decode()
    assert keys.startswith("001 WS-MOVED any ") and keys.split()[3] == model["manager"]["agents"]["001"]["key"]
    assert b"status='connected'" in lab.file("moved", AGENT + "\\wazuh-agent.state")
    conf = lab.file("moved", AGENT + "\\ossec.conf")
    assert f"<address>{MANAGER}</address>".encode() in conf and OLD_MANAGER.encode() not in conf
    assert names(lab.calls("moved", "again")) == ["wazuh_agent_probe"] and plays["again"]["moved"] == 0


def test_the_registration_password_is_in_no_output_and_no_call(runs):
    first, (_recap, _plays, output) = runs
    lab = first["lab"]
    assert PASSWORD not in output and PASSWORD not in first["check"][2]
    for name in lab.hosts:
        assert PASSWORD not in json.dumps(lab.calls(name))
    assert lab.file("fresh", AGENT + "\\authd.pass") == (PASSWORD + "\n").encode()


def test_an_agent_that_does_not_start_gets_its_previous_files_back(runs):
    first, (recap, _plays, output) = runs
    lab = first["lab"]
    assert recap["refused"][1] == 1
    assert names(lab.calls("refused", "apply")) == [
        "wazuh_agent_probe",
        "win_file",
        "win_copy",
        "wazuh_agent_file",  # ossec.conf
        "wazuh_agent_file",  # authd.pass
        "wazuh_agent_file",  # empty client.keys
        "win_service",  # refused
        "wazuh_agent_file",  # ossec.conf back
        "wazuh_agent_file",  # client.keys back
        "win_service",  # started on them
    ]
    for name in ("ossec.conf", "client.keys"):
        key = path_key(AGENT + "\\" + name)
        assert lab.state("refused")["files"][key]["data"] == lab.original["refused"][key]["data"], name
    assert lab.state("refused")["wazuh"]["service"]["state"] == "running"
    text = " ".join(output.split())
    assert "WazuhSvc did not start (Service 'Wazuh' (WazuhSvc) failed to start" in text
    backup = REMOTE + "\\backup\\ossec.conf.previous"
    assert f"The previous ossec.conf was put back from {backup} and the agent started on it." in text

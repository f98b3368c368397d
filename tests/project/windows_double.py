"""Helpers for the sysmon role's end-to-end tests against the Windows TEST DOUBLE.

No Windows host exists here. tests/doubles/windows/ holds fake ansible.windows and community.windows
modules and a fake sysmon_probe that act on one JSON file modelling a Windows host with Sysmon
(README there: what the model does and what it cannot prove). Each test runs the real role, in a
copy of the collection whose sysmon_probe is the fake, against a host on the local connection.

Proven: the plan's steps reach the right modules with the right arguments in the right order;
the package is checked and staged only for an install; upgrades keep and roll back; a refused
configuration is restored; verify re-probes; a rerun is one probe and zero changes; check mode
applies nothing; the EULA gate stops before anything runs. Not proven: anything about Windows.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import zipfile
from pathlib import Path

from .helpers import PROJECT_ROOT, ansible_env

DOUBLE = PROJECT_ROOT / "tests" / "doubles" / "windows"
URL = "https://download.example.invalid/Sysmon.zip"
REMOTE = "C:\\ProgramData\\m1038-appcontrol\\sysmon"
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)", re.MULTILINE)
SKIP = {".git", ".cache", "collections", "lab-output", "plugins", ".hypothesis", ".pytest_cache"}
# Probe modules replaced by their double (tests/doubles/windows/<name>.py): sysmon_probe,
# applocker_probe, software_inventory_probe.
PROBES = sorted(path.stem for path in DOUBLE.glob("*_probe.py"))


def collection_copy(base: Path, fakes: tuple[str, ...] | None = None) -> Path:
    """ansible_collections/ with the doubles and m1038.appcontrol whose probe modules (``fakes``,
    every double in PROBES by default) are the doubles'."""
    fakes = tuple(PROBES) if fakes is None else fakes
    root = base / "collections" / "ansible_collections"
    for namespace, name in (("ansible", "windows"), ("community", "windows")):
        plugins = root / namespace / name / "plugins"
        plugins.mkdir(parents=True)
        for kind in ("modules", "module_utils"):
            if (DOUBLE / f"{namespace}.{name}" / kind).is_dir():
                (plugins / kind).symlink_to(DOUBLE / f"{namespace}.{name}" / kind)
    ours = root / "m1038" / "appcontrol"
    (ours / "plugins" / "modules").mkdir(parents=True)
    for entry in PROJECT_ROOT.iterdir():
        if entry.name not in SKIP:
            (ours / entry.name).symlink_to(entry)
    for entry in (PROJECT_ROOT / "plugins").iterdir():
        if entry.name != "modules":
            (ours / "plugins" / entry.name).symlink_to(entry)
    for entry in (PROJECT_ROOT / "plugins" / "modules").iterdir():
        if entry.name.split(".")[0] not in fakes:
            (ours / "plugins" / "modules" / entry.name).symlink_to(entry)
    for name in fakes:
        (ours / "plugins" / "modules" / f"{name}.py").symlink_to(DOUBLE / f"{name}.py")
    return root.parent


def package(base: Path, version: str = "15.15") -> tuple[Path, str]:
    path = base / f"Sysmon-{version}.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name in ("Sysmon.exe", "Sysmon64.exe", "Sysmon64a.exe"):
            archive.writestr(name, f"TEST DOUBLE {name} {version}")
        archive.writestr("VERSION", version)
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


class Lab:
    def __init__(self, base: Path, state: dict):
        self.base = base
        self.collections = collection_copy(base)
        self.zip, self.sha256 = package(base)
        self.state_file = base / "host.json"
        self.write_state(
            {
                "arch": "AMD64",
                "files": {},
                "service": None,
                "driver": None,
                "eventlog": None,
                "urls": {URL: str(self.zip)},
                **state,
            }
        )
        self.out = base / "out"
        (base / "hosts.yml").write_text(
            json.dumps(
                {
                    "all": {
                        "hosts": {
                            "win-double": {"ansible_connection": "local"},
                            "localhost": {"ansible_connection": "local"},
                        },
                        "vars": {
                            "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                            "ansible_remote_tmp": str(base / "remote-tmp"),
                        },
                    }
                }
            )
        )
        (base / "play.yml").write_text(
            "- hosts: win-double\n  gather_facts: false\n  roles:\n    - role: m1038.appcontrol.sysmon\n"
        )

    def write_state(self, state):
        self.state_file.write_text(json.dumps(state))

    @property
    def state(self) -> dict:
        return json.loads(self.state_file.read_text())

    def file(self, path: str):
        entry = self.state["files"].get(path.lower())
        return entry

    def run(self, *extra, ok=True, **role_vars):
        settings = {
            "sysmon_output_dir": str(self.out),
            "sysmon_accept_eula": True,
            "sysmon_package_url": URL,
            "sysmon_package_sha256": self.sha256,
            **role_vars,
        }
        (self.base / "vars.json").write_text(json.dumps(settings))
        state = self.state
        state["calls"] = []
        self.write_state(state)
        proc = subprocess.run(
            [
                "ansible-playbook",
                "-i",
                str(self.base / "hosts.yml"),
                "-e",
                f"@{self.base / 'vars.json'}",
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
        assert (proc.returncode == 0) is ok, proc.stdout[-6000:] + proc.stderr
        recap = {m.group(1): int(m.group(3)) for m in RECAP.finditer(proc.stdout)}
        return recap.get("win-double"), self.state["calls"], proc.stdout

    def rendered_hash(self) -> str:
        data = (self.out / "win-double" / "sysmonconfig.xml").read_bytes()
        return "SHA256=" + hashlib.sha256(data).hexdigest().upper()


def names(calls):
    return [c["module"] if c["module"] != "win_command" else f"win_command {' '.join(c['argv'][1:])}" for c in calls]


def installed_state(version="14.16", config=b"<Sysmon schemaversion='4.83'/>"):
    binary, conf = "C:\\Windows\\Sysmon64.exe", "C:\\Windows\\sysmonconfig.xml"
    return {
        "files": {
            binary.lower(): {"path": binary, "data": base64.b64encode(b"old binary").decode(), "version": version},
            conf.lower(): {"path": conf, "data": base64.b64encode(config).decode()},
        },
        "service": {"name": "Sysmon64", "binary": binary, "state": "running", "start_mode": "auto"},
        "driver": {"config_file": conf, "config_hash": "SHA256=" + hashlib.sha256(config).hexdigest().upper()},
        "eventlog": 67108864,
    }

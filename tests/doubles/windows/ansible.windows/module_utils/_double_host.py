# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""TEST DOUBLE of a Windows host with Sysmon and AppLocker, kept in one JSON file ($M1038_WINDOWS_DOUBLE_STATE).

Used only by tests/project/test_sysmon_apply_double*.py and test_applocker_apply_double*.py through
the fake ansible.windows and community.windows modules beside this file. It models what the sysmon
and applocker roles rely on and nothing more: files (case-insensitive paths), the Sysmon service,
the driver's ConfigFile/ConfigHash, the Sysmon/Operational log size, and what `Sysmon64.exe -i/-c/-u`
and `wevtutil set-log` do to them; other services and event logs (`services`, `eventlogs`), and
the AppLocker policy (`applocker`: the local policy, GPOs by LDAP path) that the role's two fixed
PowerShell scripts read and set (_double_applocker.py). The model is this project's reading of
the documentation, not Windows: it proves the roles' wiring (the plan's steps reach the right
modules in the right order, rollbacks run, reruns change nothing), not that Windows behaves so.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import ntpath
import os

STATE_ENV = "M1038_WINDOWS_DOUBLE_STATE"
PHASE_ENV = "M1038_WINDOWS_DOUBLE_PHASE"
WINDOWS = "C:\\Windows"
CHANNEL = "Microsoft-Windows-Sysmon/Operational"
DEFAULT_LOG_SIZE = 67108864


def key(path):
    return ntpath.normcase(ntpath.normpath(path))


class Host:
    """One module invocation's view of the model. Several hosts of a run may share one model (a
    domain test: the endpoints and the management host), and Ansible runs them in parallel, so the
    model is held under an exclusive lock from the read to the end of the process and replaced
    atomically: no invocation reads a half-written model or loses another's change."""

    def __init__(self):
        self.path = os.environ[STATE_ENV]
        self._lock = open(self.path + ".lock", "a", encoding="utf-8")  # noqa: SIM115 - held until the process ends
        fcntl.flock(self._lock, fcntl.LOCK_EX)
        with open(self.path, encoding="utf-8") as handle:
            self.state = json.load(handle)

    def save(self):
        temporary = f"{self.path}.{os.getpid()}.tmp"
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(self.state, handle, indent=1, sort_keys=True)
        os.replace(temporary, self.path)

    def call(self, module, **args):
        # A test running several plays in one ansible-playbook run names each (play-level environment).
        phase = {"phase": os.environ[PHASE_ENV]} if os.environ.get(PHASE_ENV) else {}
        self.state.setdefault("calls", []).append({"module": module, **args, **phase})

    # files: {key: {"path": original, "data": base64, "version": optional}}
    def read(self, path):
        entry = self.state["files"].get(key(path))
        return None if entry is None else base64.b64decode(entry["data"])

    def entry(self, path):
        return self.state["files"].get(key(path))

    def write(self, path, data, version=None):
        old = self.state["files"].get(key(path))
        new = {"path": path, "data": base64.b64encode(data).decode()}
        if version:
            new["version"] = version
        self.state["files"][key(path)] = new
        return old != new

    def remove_tree(self, path):
        prefix = key(path)
        gone = [k for k in self.state["files"] if k == prefix or k.startswith(prefix + "\\")]
        for k in gone:
            del self.state["files"][k]
        return bool(gone)

    # Sysmon, as its command line is documented
    def sysmon(self, argv):
        binary = argv[0]
        if self.entry(binary) is None:
            return 2, "", f"{binary} is not recognized as a program"
        if "-accepteula" not in argv:
            return 1, "", "This is the first run of this program. You must accept EULA to continue."
        rest = [a for a in argv[1:] if a != "-accepteula"]
        if rest[:1] == ["-i"]:
            return self._install(binary, rest[1:])
        if rest[:1] == ["-c"] and len(rest) == 2:
            return self._configure(rest[1])
        if rest[:1] == ["-u"]:
            return self._uninstall()
        return 1, "", f"unsupported arguments {rest}"

    def _install(self, binary, rest):
        if self.state.get("service"):
            return 1, "", f"{self.state['service']['name']} is already registered. Uninstall it first."
        name = ntpath.splitext(ntpath.basename(binary))[0]
        installed = ntpath.join(WINDOWS, name + ".exe")
        self.write(installed, self.read(binary), self.entry(binary).get("version"))
        self.state["service"] = {"name": name, "binary": installed, "state": "running", "start_mode": "auto"}
        self.state["driver"] = {"config_file": None, "config_hash": None}
        if self.state.get("eventlog") is None:
            self.state["eventlog"] = DEFAULT_LOG_SIZE
        if rest:
            code, out, err = self._configure(rest[0])
            if code:
                self._uninstall()
                return code, out, err
        return 0, f"{name} installed.", ""

    def _configure(self, path):
        data = self.read(path)
        if data is None:
            return 1, "", f"Failed to open configuration file {path}"
        if not self.state.get("service"):
            return 1, "", "Sysmon is not installed"
        if self.state.get("refuse_marker") and self.state["refuse_marker"].encode() in data:
            return 1, "", f"Error: Incorrect or invalid configuration file {path}"
        self.state["driver"] = {
            "config_file": path,
            "config_hash": "SHA256=" + hashlib.sha256(data).hexdigest().upper(),
        }
        return 0, "Configuration updated.", ""

    def _uninstall(self):
        service = self.state.get("service")
        if not service:
            return 1, "", "Sysmon is not installed"
        self.state["files"].pop(key(service["binary"]), None)
        self.state["service"] = None
        self.state["driver"] = None
        return 0, "Sysmon removed.", ""

    def wevtutil(self, argv):
        if len(argv) != 4 or argv[1] != "set-log" or not argv[3].startswith("/ms:"):
            return 1, "", f"unsupported wevtutil arguments {argv[1:]}"
        if argv[2] in self.state.get("eventlogs", {}):  # other channels (AppLocker's), by exact name
            self.state["eventlogs"][argv[2]] = int(argv[3][4:])
            return 0, "", ""
        if argv[2] != CHANNEL or self.state.get("eventlog") is None:
            return (
                15007,
                "",
                f"Failed to read configuration for log {argv[2]}. The specified channel could not be found.",
            )
        self.state["eventlog"] = int(argv[3][4:])
        return 0, "", ""

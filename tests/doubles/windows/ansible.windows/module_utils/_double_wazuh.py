# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""TEST DOUBLE of a Wazuh agent on a Windows host, and of the manager it enrolls with (state["wazuh"]).

Used only by tests/project/test_wazuh_agent_apply_double.py through the fake win_package, win_service,
wazuh_agent_probe and wazuh_agent_file beside the Sysmon model (_double_host.Host keeps the files).
It models what the wazuh_agent role relies on, as this project reads Wazuh's documentation, and
nothing more:

- the MSI (a JSON file naming product, version and product code): a fresh install writes the default
  ossec.conf and registers WazuhSvc, stopped; an upgrade keeps every file; an older MSI than the
  installed product is refused (msiexec 1638); an uninstall removes the product, the service and the
  install folder;
- starting the service fails when ossec.conf holds the model's ``refuse_start_with`` text (a configuration
  the agent rejects);
- starting the service otherwise: the agent reads ossec.conf (the first <server><address>, <enrollment>
  agent_name and groups, found with plain regular expressions, not Wazuh's reader); with an empty
  client.keys it enrolls with the model manager if the address is the manager's and authd.pass holds
  the manager's password; it connects when its key is one the manager issued, writes
  wazuh-agent.state and receives its group's agent.conf. Otherwise it logs an error and stays pending.

It proves the role's wiring, not Wazuh: the real agent's enrollment, state file and MSI are not these.
"""

from __future__ import annotations

import base64
import hashlib
import json
import ntpath
import re

DEFAULT_DIR = "C:\\Program Files (x86)\\ossec-agent"
LOOSE_ACCESS = "BUILTIN\\Users (ReadAndExecute, Synchronize)"


def _first(pattern, text):
    match = re.search(pattern, text, re.S)
    return match.group(1).strip() if match else None


class Agent:
    def __init__(self, host):
        self.host = host
        self.model = host.state.get("wazuh") or {}

    # --- where things are
    @property
    def install_dir(self):
        product = self.model.get("product")
        return (product or {}).get("install_dir") or DEFAULT_DIR

    def path(self, name):
        return ntpath.join(self.install_dir, name)

    @property
    def service(self):
        return self.model.get("service")

    def handles(self, name):
        return bool(self.service) and self.service["name"].lower() == name.lower()

    def text(self, name):
        data = self.host.read(self.path(name))
        return None if data is None else data.decode("utf-8", "surrogateescape")

    # --- the MSI
    def package(self, params, check_mode):
        """win_package: (changed, rc, message)."""
        if params.get("state") == "absent":
            product = self.model.get("product")
            if not product or product["product_code"] != params.get("product_id"):
                return False, 0, ""
            if not check_mode:
                self.host.remove_tree(self.install_dir)
                self.model["product"] = None
                self.model["service"] = None
            return True, 0, ""
        data = self.host.read(params["path"])
        try:
            msi = json.loads(data.decode()) if data is not None else None
        except ValueError:
            msi = None
        if not isinstance(msi, dict) or "version" not in msi:
            return False, 1620, f"This installation package could not be opened: {params['path']}"
        product = self.model.get("product")
        if product and product["product_code"] == msi["product_code"]:
            return False, 0, ""
        if product and _version(product["version"]) > _version(msi["version"]):
            return False, 1638, "Another version of this product is already installed."
        if not check_mode:
            fresh = not product
            self.model["product"] = {
                "name": msi["product"],
                "version": msi["version"],
                "product_code": msi["product_code"],
                "install_dir": DEFAULT_DIR,
            }
            if fresh:
                if self.host.read(self.path("ossec.conf")) is None:
                    self.host.write(self.path("ossec.conf"), base64.b64decode(self.model["msi_default_conf"]))
                self.model["service"] = {"name": "WazuhSvc", "state": "stopped", "start_mode": "auto"}
            if params.get("log_path"):
                self.host.write(params["log_path"], f"TEST DOUBLE MSI log: {msi['version']} installed\r\n".encode())
        return True, 0, ""

    # --- the service
    def set_service(self, params, check_mode):
        """win_service for WazuhSvc: (changed, error or None)."""
        service = self.service
        wanted_mode = params.get("start_mode")
        state = params.get("state")
        changed = bool(wanted_mode and service["start_mode"] != wanted_mode)
        starts = state == "restarted" or (state == "started" and service["state"] != "running")
        changed = changed or starts
        if check_mode or not changed:
            return changed, None
        if wanted_mode:
            service["start_mode"] = wanted_mode
        if starts:
            self.model["starts"] = self.model.get("starts", 0) + 1
            refused = self.model.get("refuse_start_with")
            if refused and refused in (self.text("ossec.conf") or ""):
                service["state"] = "stopped"
                self._log(f"CRITICAL: (1202): Configuration error at 'ossec.conf' ({refused})")
                return True, "Service 'Wazuh' (WazuhSvc) failed to start: the process ended (exit code 1)"
            service["state"] = "running"
            self._start_agent()
        return True, None

    def _start_agent(self):
        conf = self.text("ossec.conf") or ""
        address = _first(r"<client>.*?<server>.*?<address>(.*?)</address>", conf)
        enrollment = _first(r"<enrollment>(.*?)</enrollment>", conf) or ""
        manager = self.model["manager"]
        keys = [line.split() for line in (self.text("client.keys") or "").splitlines()]
        keys = [fields for fields in keys if len(fields) == 4]
        if not keys:
            keys = self._enroll(address, enrollment, manager)
        issued = manager["agents"].get(keys[0][0], {}).get("key") if keys else None
        known = issued is not None and issued == keys[0][3] and address == manager["address"]
        status = "connected" if known else "pending"
        if keys and not known:
            self._log(f"ERROR: (1216): Unable to connect to '{address}': the manager does not know agent {keys[0][0]}")
        state = f"# State file for wazuh-agent (TEST DOUBLE)\r\nstatus='{status}'\r\n"
        if known:
            state += "last_keepalive='2026-12-01 10:00:00'\r\nlast_ack='2026-12-01 10:00:00'\r\n"
            group = manager["agents"][keys[0][0]]["group"]
            if group in manager["groups"]:
                self.host.write(self.path("shared\\agent.conf"), base64.b64decode(manager["groups"][group]))
        self.host.write(self.path("wazuh-agent.state"), state.encode())

    def _enroll(self, address, enrollment, manager):
        if address != manager["address"]:
            self._log(f"ERROR: Unable to connect to enrollment service at '[{address}]:1515'")
            return []
        password = (self.text("authd.pass") or "").splitlines()[:1]
        if manager.get("password") and password != [manager["password"]]:
            self._log("ERROR: Invalid password (from manager)")
            return []
        name = _first(r"<agent_name>(.*?)</agent_name>", enrollment) or self.model["computer_name"]
        group = _first(r"<groups>(.*?)</groups>", enrollment) or "default"
        agent_id = f"{manager['next_id']:03d}"
        manager["next_id"] += 1
        key = hashlib.sha256(f"{manager['address']} {agent_id} {name}".encode()).hexdigest()
        manager["agents"][agent_id] = {"name": name, "group": group, "key": key}
        self.host.write(self.path("client.keys"), f"{agent_id} {name} any {key}\r\n".encode())
        return [[agent_id, name, "any", key]]

    def _log(self, line):
        old = self.host.read(self.path("ossec.log")) or b""
        self.host.write(self.path("ossec.log"), old + f"2026/12/01 10:00:00 wazuh-agent: {line}\r\n".encode())

    # --- the probe
    def file_report(self, name):
        data = self.host.read(self.path(name))
        report = {
            "path": self.path(name),
            "exists": data is not None,
            "sha256": None if data is None else hashlib.sha256(data).hexdigest(),
            "content_b64": None if data is None else base64.b64encode(data).decode(),
            "size": None if data is None else len(data),
        }
        return report

    def probe(self, log_lines=0):
        product = self.model.get("product")
        service = self.service
        keys_text = self.text("client.keys")
        entries = []
        for line in (keys_text or "").splitlines():
            fields = line.split()
            if len(fields) == 4:
                entries.append({"id": fields[0], "name": fields[1], "ip": fields[2]})
        password = self.host.entry(self.path("authd.pass"))
        restricted = bool(password and password.get("restricted"))
        state_text = self.text("wazuh-agent.state")
        running = bool(service) and service["state"] == "running"
        log = [line for line in (self.text("ossec.log") or "").splitlines() if "ERROR:" in line]
        return {
            "concern": "wazuh_agent",
            "probe_version": 1,
            "host": {
                "architecture": "AMD64",
                "computer_name": self.model["computer_name"],
                "os_version": "10.0.20348.0",
                "os_name": "TEST DOUBLE",
            },
            "installed": bool(product),
            "product": {
                "name": product["name"] if product else None,
                "version": product["version"] if product else None,
                "product_code": product["product_code"] if product else None,
                "install_location": (product["install_dir"] + "\\") if product else None,
            },
            "install_dir": self.install_dir,
            "service": {
                "name": service["name"] if service else "WazuhSvc",
                "exists": bool(service),
                "state": service["state"] if service else None,
                "start_mode": service["start_mode"] if service else None,
                "path": None,
            },
            "ossec_conf": self.file_report("ossec.conf"),
            "client_keys": {
                "path": self.path("client.keys"),
                "exists": keys_text is not None,
                "entries": entries,
                "malformed": 0,
            },
            "password_file": {
                "path": self.path("authd.pass"),
                "exists": password is not None,
                "protected": None if password is None else restricted,
                "other_access": [] if password is None or restricted else [LOOSE_ACCESS],
            },
            "agent_state": {
                "path": self.path("wazuh-agent.state"),
                "exists": state_text is not None,
                "status": _first(r"(?m)^status='([a-z]+)'", state_text) if state_text else None,
                "text": state_text,
                "written_after_start": (state_text is not None) if running else None,
            },
            "shared_conf": self.file_report("shared\\agent.conf"),
            "log": log[-log_lines:] if log_lines else [],
            "waited_seconds": 0,
        }


def _version(text):
    return tuple(int(part) for part in text.split("."))

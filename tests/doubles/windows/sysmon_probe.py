# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""TEST DOUBLE of m1038.appcontrol.sysmon_probe: the probe's JSON, read from the host model.

tests/project/test_sysmon_apply_double.py puts this file in place of sysmon_probe.ps1 in a copy of
the collection. It returns the shape plugins/modules/sysmon_probe.ps1 returns (PROBE_SHAPE).
"""

from __future__ import annotations

import hashlib

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ansible.windows.plugins.module_utils._double_host import CHANNEL, Host


def sha256(data):
    return None if data is None else hashlib.sha256(data).hexdigest()


def main():
    module = AnsibleModule(
        argument_spec={
            "service_names": {"type": "list", "elements": "str"},
            "driver_name": {"type": "str"},
            "channel": {"type": "str"},
            "managed_config": {"type": "str"},
            "read_config": {"type": "bool", "default": False},
            "max_config_bytes": {"type": "int"},
        },
        supports_check_mode=True,
    )
    host = Host()
    host.call("sysmon_probe")
    state = host.state
    service = state.get("service") or {}
    binary = host.entry(service["binary"]) if service else None
    driver = state.get("driver") or {}
    config_file = driver.get("config_file")
    config_data = host.read(config_file) if config_file else None
    managed_path = module.params["managed_config"]
    managed = host.read(managed_path) if managed_path else None
    config = {
        "file": config_file,
        "file_exists": config_data is not None,
        "file_sha256": sha256(config_data),
        "file_size": None if config_data is None else len(config_data),
        "hash": driver.get("config_hash"),
        "hashing_algorithm": 4 if service else None,
    }
    if module.params["read_config"] and config_data is not None:
        config["text"] = config_data.decode("utf-8")
    probe = {
        "concern": "sysmon",
        "probe_version": 1,
        "host": {
            "architecture": state["arch"],
            "process_architecture": state["arch"],
            "computer_name": "DOUBLE",
            "os_version": "10.0.20348.0",
            "os_name": "TEST DOUBLE",
        },
        "installed": bool(service),
        "service": {
            "name": service.get("name"),
            "state": service.get("state"),
            "start_mode": service.get("start_mode"),
            "path": service.get("binary"),
        },
        "binary": {
            "path": service.get("binary"),
            "exists": binary is not None,
            "file_version": binary.get("version") if binary else None,
            "version": binary.get("version") if binary else None,
            "sha256": None,
        },
        "driver": {"name": "SysmonDrv", "installed": bool(service), "options": 0 if service else None},
        "config": config,
        "managed_config": {
            "path": module.params["managed_config"],
            "exists": managed is not None,
            "sha256": sha256(managed),
        },
        "eventlog": {
            "channel": CHANNEL,
            "exists": state.get("eventlog") is not None,
            "max_size": state.get("eventlog"),
            "enabled": True if state.get("eventlog") is not None else None,
        },
    }
    host.save()
    module.exit_json(changed=False, probe=probe)


if __name__ == "__main__":
    main()

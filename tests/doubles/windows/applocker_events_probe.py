# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""TEST DOUBLE of m1038.appcontrol.applocker_events_probe: the host's AppLocker events, read from the host model.

Returns the shape plugins/modules/applocker_events_probe.ps1 returns, from ``applocker_events`` of
the model (_double_applocker.py; the set script and gpupdate log the model's ``on_enforce`` blocks
there when a collection becomes enforced). A channel exists when the model's ``eventlogs`` has it;
``disabled_channels`` lists those switched off (they then read nothing). It reads no Windows log:
that the real probe groups what Get-WinEvent returns this way is not proven here.
"""

from __future__ import annotations

import calendar
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ansible.windows.plugins.module_utils._double_host import Host

CHANNELS = {
    "Microsoft-Windows-AppLocker/EXE and DLL": (8002, 8003, 8004),
    "Microsoft-Windows-AppLocker/MSI and Script": (8005, 8006, 8007),
    "Microsoft-Windows-AppLocker/Packaged app-Execution": (8020, 8021, 8022),
    "Microsoft-Windows-AppLocker/Packaged app-Deployment": (8023, 8024, 8025),
}
FIELDS = ("policy", "file_path", "full_file_path", "package", "file_hash", "fqbn", "user")


def seconds(text: str) -> float:
    return calendar.timegm(time.strptime(text.replace("Z", ""), "%Y-%m-%dT%H:%M:%S"))


def main():
    module = AnsibleModule(
        argument_spec={
            "start_time": {"type": "str", "required": True},
            "end_time": {"type": "str", "required": True},
            "event_ids": {"type": "list", "elements": "int", "default": [8003, 8006, 8021, 8024]},
            "max_events": {"type": "int", "default": 100000},
        },
        supports_check_mode=True,
    )
    params = module.params
    host = Host()
    host.call("applocker_events_probe", start_time=params["start_time"], event_ids=params["event_ids"])
    start, end = seconds(params["start_time"]), seconds(params["end_time"])
    if start >= end:
        module.fail_json(msg=f"start_time {params['start_time']} is not before end_time {params['end_time']}")
    logs, disabled = host.state.get("eventlogs", {}), set(host.state.get("disabled_channels", []))
    events = host.state.get("applocker_events", [])
    channels, groups, read = [], {}, 0
    for channel, ids in CHANNELS.items():
        exists = channel in logs
        entry = {"channel": channel, "exists": exists, "enabled": (channel not in disabled) if exists else None}
        entry.update(latest=None, oldest=None, error=None)
        held = [e for e in events if e["event_id"] in ids] if exists and channel not in disabled else []
        if held:
            entry["oldest"] = min(e["time"] for e in held)
        window = [e for e in held if start <= seconds(e["time"]) < end]
        if window:
            entry["latest"] = max(e["time"] for e in window)
        for event in window:
            if event["event_id"] not in params["event_ids"]:
                continue
            read += 1
            key = (event["event_id"], *(event.get(f) for f in FIELDS))
            group = groups.setdefault(
                key,
                {
                    "event_id": event["event_id"],
                    **{f: event.get(f) for f in FIELDS},
                    "count": 0,
                    "first": event["time"],
                },
            )
            group["count"] += event.get("count", 1)
            group["first"] = min(group["first"], event["time"])
            group["last"] = max(group.get("last", event["time"]), event["time"])
        channels.append(entry)
    host.save()
    probe = {
        "concern": "applocker_events",
        "probe_version": 1,
        "host": {"computer_name": "DOUBLE"},
        "window": {"start": params["start_time"], "end": params["end_time"]},
        "channels": channels,
        "groups": list(groups.values()),
        "events_read": read,
        "truncated": False,
    }
    module.exit_json(changed=False, probe=probe)


if __name__ == "__main__":
    main()

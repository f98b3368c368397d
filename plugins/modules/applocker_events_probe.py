#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This file only documents the module; the code is applocker_events_probe.ps1 (runs on the Windows host).

from __future__ import annotations

DOCUMENTATION = r"""
---
module: applocker_events_probe
short_description: Read a Windows host's AppLocker event logs for a time window in one round trip (read-only)
version_added: 0.1.0
description:
  - The evidence probe for fleets without a Wazuh manager (C(docs/applocker-readiness.md)). It changes nothing and
    returns one JSON object that M(m1038.appcontrol.applocker_readiness) reads (option C(probe_results)).
  - Reads the four AppLocker channels (C(EXE and DLL), C(MSI and Script), C(Packaged app-Execution),
    C(Packaged app-Deployment)) for the events of O(event_ids) between O(start_time) and O(end_time), and returns
    them grouped by event ID, policy, file path, package, file hash, signature (FQBN) and user, with a count and the
    first and last time of each group.
  - Per channel it also reports whether the log exists and is enabled, the newest AppLocker event of any ID in the
    window (evidence that the host reported) and the oldest record the log still holds (a log too small for the
    window has overwritten older events).
  - The same probe with O(event_ids) V([8004, 8007]) and O(start_time) at a switch to enforce counts the blocks
    since then, for the rollout's health check.
author:
  - m1038.appcontrol contributors (@m1038-appcontrol)
attributes:
  check_mode:
    support: full
    description: Reads only; runs the same in check mode.
  diff_mode:
    support: none
    description: Changes nothing, so there is nothing to diff.
  platform:
    support: full
    platforms: windows
    description: Runs on the Windows host (PowerShell, Ansible.Basic).
options:
  start_time:
    description:
      - Start of the window, ISO 8601 (UTC when no offset is given), for example V(2026-11-01T00:00:00Z).
    type: str
    required: true
  end_time:
    description:
      - End of the window, ISO 8601, exclusive.
    type: str
    required: true
  event_ids:
    description:
      - AppLocker event IDs to read and group. The default is the would-have-been-blocked events of audit mode.
    type: list
    elements: int
    default: [8003, 8006, 8021, 8024]
  max_events:
    description:
      - Stop after this many events; the result then says C(truncated) and its counts are lower bounds.
    type: int
    default: 100000
seealso:
  - module: m1038.appcontrol.applocker_readiness
"""

EXAMPLES = r"""
- name: Read the last 30 days of would-be-blocked events
  m1038.appcontrol.applocker_events_probe:
    start_time: "{{ '%Y-%m-%dT%H:%M:%SZ' | strftime(now(utc=true).timestamp() - 30 * 86400, utc=true) }}"
    end_time: "{{ '%Y-%m-%dT%H:%M:%SZ' | strftime(now(utc=true).timestamp(), utc=true) }}"
  register: applocker_events
"""

RETURN = r"""
probe:
  description:
    - C(concern) (V(applocker_events)), C(probe_version) (V(1)), C(host.computer_name), C(window) (C(start),
      C(end)), C(channels) (per channel C(channel), C(exists), C(enabled), C(latest), C(oldest), C(error)),
      C(groups) (C(event_id), C(policy), C(file_path), C(full_file_path), C(package), C(file_hash), C(fqbn), C(user),
      C(count), C(first), C(last)), C(events_read) and C(truncated). Times are ISO 8601 UTC.
  returned: always
  type: dict
"""

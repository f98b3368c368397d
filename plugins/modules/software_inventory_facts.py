#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: software_inventory_facts
short_description: Turn a Windows host's registry software probe into the m1038_software fact and its fact cache file
version_added: 0.1.0
description:
  - The controller half of the Windows route of the C(m1038.appcontrol.software_inventory) role
    (C(docs/software-inventory.md)). Reads the probe of M(m1038.appcontrol.software_inventory_probe), decides
    which Uninstall entries count, cleans their values, and returns the fact C(m1038_software), a sorted list of
    C({name, publisher, version, install_date, scope}).
  - Entries without a usable C(DisplayName) and updates (C(ParentKeyName) set) are skipped; system components
    (C(SystemComponent=1)) are kept unless O(include_system_components=false); the same name, version and
    publisher seen in several scopes is kept once. Every skip and every cleaned value is counted in RV(summary).
  - With O(fact_cache_dir), writes the fact into the host's file of an Ansible C(jsonfile) fact cache directory,
    which M(m1038.appcontrol.wazuh_ruleset) reads (C(inventory_format=fact_cache)); other facts in that file are
    kept. The file is written atomically and only when the list changed.
  - "Runs on the controller (C(delegate_to: localhost)); the facts still belong to the Windows host."
author:
  - m1038.appcontrol contributors (@m1038-appcontrol)
attributes:
  check_mode:
    support: full
    description: Returns the fact and reports whether the cache file would change; writes nothing.
  diff_mode:
    support: full
    description: The host's software list (one line per program) before and after.
  facts:
    support: full
    description: Returns C(m1038_software).
options:
  host:
    description: The Windows host's inventory name; it names the fact cache file.
    type: str
    required: true
  probe:
    description: The C(probe) result of M(m1038.appcontrol.software_inventory_probe).
    type: dict
  probe_file:
    description: A controller path to a recorded probe result (JSON), used instead of O(probe).
    type: path
  include_system_components:
    description: Keep entries marked C(SystemComponent=1) (hidden from Programs and Features, but installed).
    type: bool
    default: true
  fact_cache_dir:
    description: The C(jsonfile) fact cache directory to write the host's file into; nothing is written when empty.
    type: path
notes:
  - A probe from another version of the collection fails naming the first key that differs.
seealso:
  - module: m1038.appcontrol.software_inventory_probe
  - module: m1038.appcontrol.wazuh_ruleset
"""

EXAMPLES = r"""
- name: Read the Uninstall keys (one round trip, read-only)
  m1038.appcontrol.software_inventory_probe:
  register: software_probe

- name: The m1038_software fact and the fact cache file
  m1038.appcontrol.software_inventory_facts:
    host: "{{ inventory_hostname }}"
    probe: "{{ software_probe.probe }}"
    fact_cache_dir: /srv/m1038/software_facts
  delegate_to: localhost
"""

RETURN = r"""
ansible_facts:
  description: The host's facts.
  returned: always
  type: dict
  contains:
    m1038_software:
      description: Installed programs, sorted by name.
      type: list
      elements: dict
      sample:
        - name: 7-Zip 24.08 (x64)
          publisher: Igor Pavlov
          version: "24.08"
          install_date: "2024-10-02"
          scope: machine
summary:
  description:
    - Entries read, records kept, records without a publisher, records per scope, skipped entries by reason
      (C(no_name), C(update), C(system_component), C(duplicate), C(unreadable)), user hives read, unreadable
      sources, and C(normalised) (counts of cleaned values by kind, and the first examples with their registry key).
  returned: always
  type: dict
report:
  description: One line for the log - programs kept per scope, skipped entries and cleaned values by kind.
  returned: always
  type: str
  sample: >-
    12 programs (machine 6, 32-bit 3, user 3 from 1 loaded profiles), 0 without a publisher;
    skipped: 12 no name, 1 update, 1 duplicate; cleaned: nothing
cache_file:
  description: The fact cache file (written, or in check mode to be written, when the task reports C(changed)).
  returned: when O(fact_cache_dir) is set
  type: str
"""

import json

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.m1038.appcontrol.plugins.module_utils._software_inventory_factcache import (
    FACT,
    FactCacheError,
    software_lines,
    update_cache,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._software_inventory_registry import (
    describe,
    normalise_probe,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._winedge import ProbeError, text_diff


def load_probe(path: str) -> object:
    try:
        with open(path, encoding="utf-8-sig") as handle:
            return json.load(handle)
    except OSError as exc:
        raise ProbeError(f"probe_file {path}: cannot be read ({exc.strerror})") from None
    except ValueError as exc:
        raise ProbeError(f"probe_file {path}: not JSON ({exc})") from None


def main():
    module = AnsibleModule(
        argument_spec={
            "host": {"type": "str", "required": True},
            "probe": {"type": "dict"},
            "probe_file": {"type": "path"},
            "include_system_components": {"type": "bool", "default": True},
            "fact_cache_dir": {"type": "path"},
        },
        mutually_exclusive=[("probe", "probe_file")],
        required_one_of=[("probe", "probe_file")],
        supports_check_mode=True,
    )
    params = module.params
    try:
        probe = params["probe"] if params["probe"] is not None else load_probe(params["probe_file"])
        software, summary = normalise_probe(
            probe, host=params["host"], include_system_components=params["include_system_components"]
        )
        changed, cache_file, previous = False, None, None
        if params["fact_cache_dir"]:
            changed, cache_file, previous = update_cache(
                params["fact_cache_dir"], params["host"], software, check_mode=module.check_mode
            )
    except (ProbeError, FactCacheError) as exc:
        module.fail_json(msg=f"software_inventory_facts: {exc}")
    output = {"changed": changed, "ansible_facts": {FACT: software}, "summary": summary, "report": describe(summary)}
    if cache_file is not None:
        output["cache_file"] = cache_file
        if module._diff:
            output["diff"] = text_diff(software_lines(previous), software_lines(software), cache_file, cache_file)
    module.exit_json(**output)


if __name__ == "__main__":
    main()

#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: wazuh_ruleset
short_description: Render Wazuh rules, CDB lists and ruleset tests from a software inventory and a trust policy
version_added: 0.1.0
description:
  - Reads the fleet's software inventory from a file or directory (never through module arguments),
    decides which vendors are trusted (explicitly, by alias, or by prevalence across hosts) and which are
    denied, and writes Wazuh manager content into O(dest).
  - "Layout of O(dest): C(rules/m1038_appcontrol_rules.xml), C(lists/m1038-trusted-companies),
    C(lists/m1038-denied-companies) (CDB text lists, referenced by rules as C(etc/lists/NAME)),
    C(tests/m1038_appcontrol.ini) (Wazuh ruleset tests) and C(summary.json) (counts, reasons, changes, manifest)."
  - Output is deterministic; a second run with the same inputs reports no change. Files the module wrote
    before and no longer renders are removed; files it did not write are never touched.
  - Every file is rendered and checked before anything is written, then written atomically.
  - See C(docs/wazuh-ruleset.md) for the rules, their MITRE ATT&CK mapping and the engine behaviour they rely on.
author:
  - m1038.appcontrol contributors (@m1038-appcontrol)
attributes:
  check_mode:
    support: full
    description: Renders and compares everything, reports what would change, writes nothing.
  diff_mode:
    support: full
    description: Returns the before and after text of every file that changes or is removed.
options:
  inventory_file:
    description:
      - Path of the inventory. A JSON host map file (C(host -> [{name, publisher, version}])), an Ansible
        C(jsonfile) fact cache directory, or saved Wazuh C(GET /syscollector/{agent_id}/packages) responses
        (one response, a JSON list of them, or a directory with one file per agent).
    type: path
    required: true
  inventory_format:
    description:
      - Shape of O(inventory_file). V(auto) detects it and explains what it expected when it cannot.
    type: str
    choices: [auto, host_map, fact_cache, syscollector]
    default: auto
  software_fact:
    description:
      - Name of the fact holding the software list in fact cache files (at the top level or under C(ansible_facts)).
    type: str
    default: m1038_software
  dest:
    description:
      - Output directory. Created when missing.
    type: path
    required: true
  trusted_vendors:
    description:
      - Vendors trusted whatever their prevalence. Each is a CDB key as written and may have aliases.
    type: list
    elements: raw
    default: []
  denied_vendors:
    description:
      - Vendors whose processes raise the denied-vendor alert. Denied wins over any reason to trust.
    type: list
    elements: raw
    default: []
  vendor_aliases:
    description:
      - Maps an installer Publisher (as the inventory reports it) to the PE Company strings Sysmon reports for
        that vendor's binaries. Aliases apply to trusted and denied vendors alike.
    type: dict
    default: {}
  min_prevalence:
    description:
      - A vendor installed on at least this many hosts becomes trusted. An integer (V(3)) is a host count;
        a float in (0, 1] (V(0.5)) is a fraction of the hosts in the inventory, rounded up. V(1) means one host,
        V(1.0) means every host.
    type: raw
    default: 0.5
  rule_id_base:
    description:
      - First rule ID of the block of 200 IDs the module uses. The block must lie inside 100000-120000.
    type: int
    default: 100200
  levels:
    description:
      - Alert levels by rule family; unknown keys are rejected. Defaults are
        C(denied_vendor=12), C(untrusted_vendor=10), C(no_company=8), C(renamed_binary=12),
        C(trusted_in_user_writable=6), C(applocker_allowed=0), C(applocker_audit=7), C(applocker_blocked=10),
        C(withsecure_blocked=10), C(withsecure_reported=7), C(withsecure_error=5).
    type: dict
    default: {}
  used_rule_ids:
    description:
      - Rule IDs already used on the manager. A generated ID that collides fails the run (Wazuh would
        only warn and keep the first rule).
    type: list
    elements: int
    default: []
  watched_binaries:
    description:
      - Binaries whose renamed copies raise an alert (PE OriginalFileName equals the name, the image file name
        does not), mapped to the MITRE technique IDs they serve. Omit to use the documented default list.
    type: dict
  user_writable_dirs:
    description:
      - Folder names that mark a user-writable location for the trusted-vendor-in-user-folder rule.
    type: list
    elements: str
    default: [AppData, Downloads, ProgramData, Temp, Users]
  withsecure_api:
    description:
      - Render rules for WithSecure Elements API events forwarded as C({"integration":"withsecure","withsecure":EVENT}),
        the lines the C(m1038.appcontrol.withsecure_forwarder) role writes on the manager (the central route,
        preferred; docs/withsecure.md).
    type: bool
    default: true
  withsecure_event_log:
    description:
      - Rules for WithSecure events read from the Windows event log (the endpoint route). Keys C(enabled) (default
        V(true)), C(provider) (default C(F-Secure Ultralight SDK)), C(channel) (default C(Application)),
        C(blocked_event_ids) (default V([6])), C(reported_event_ids) (default V([])).
      - B(The application-control event IDs are not publicly documented by WithSecure), and the channel is not
        confirmed by public sources; the defaults come from one public ruleset. Find them on one endpoint before
        relying on this route - start an application an Elements application-control rule blocks, then on that
        endpoint list the provider's recent events, for example
        C(Get-WinEvent -LogName Application -MaxEvents 200 | Where-Object ProviderName -like '*Secure*' | Format-List
        TimeCreated,Id,ProviderName,LogName,Message), and take the ID whose time and file match the block (the same
        event shows in the Elements API with its C(details.targetPath)). C(Get-WinEvent -ListProvider '*Secure*')
        names the channels a provider writes to. Prefer the API route.
    type: dict
    default: {}
  on_invalid_vendor:
    description:
      - What to do with an inventory record whose vendor cannot be a CDB key (control characters, a double
        quote, longer than 1024 bytes). V(fail) stops with an error naming the file, host and record;
        V(skip) leaves the record out and lists it in the summary.
    type: str
    choices: [fail, skip]
    default: fail
notes:
  - Register both lists in the manager's C(ossec.conf) (C(<ruleset><list>etc/lists/NAME</list></ruleset>));
    lists compile at manager start, so a change needs a restart.
"""

EXAMPLES = r"""
- name: Render the M1038 ruleset from the recorded lab fleet
  m1038.appcontrol.wazuh_ruleset:
    inventory_file: "{{ playbook_dir }}/../inventories/lab/files/software_inventory.json"
    dest: "{{ playbook_dir }}/../lab-output/wazuh"
    trusted_vendors: [Microsoft Corporation]
    denied_vendors: [NirSoft]
    vendor_aliases:
      Mozilla: [Mozilla Corporation]
    min_prevalence: 0.5

- name: Render from saved syscollector responses, one file per agent
  m1038.appcontrol.wazuh_ruleset:
    inventory_file: /srv/wazuh/syscollector
    inventory_format: syscollector
    dest: /srv/wazuh/render
    min_prevalence: 25
    used_rule_ids: [100200, 100201]
    rule_id_base: 101000
"""

RETURN = r"""
rules_files:
  description: Rule files in O(dest).
  returned: always
  type: list
  elements: str
decoder_files:
  description: Decoder files in O(dest); empty, the stock C(json) decoder reads the WithSecure API events.
  returned: always
  type: list
  elements: str
list_files:
  description: CDB text lists in O(dest).
  returned: always
  type: list
  elements: str
test_files:
  description: Wazuh ruleset test files (C(.ini)) in O(dest).
  returned: always
  type: list
  elements: str
removed_files:
  description: Files written by an earlier run and no longer rendered (removed unless in check mode).
  returned: always
  type: list
  elements: str
summary:
  description: Content of C(summary.json) (counts, trust reasons per key, changes, rule list, manifest).
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_policy import (
    DEFAULT_USER_WRITABLE_DIRS,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_render import (
    apply_plan,
    make_plan,
    read_previous_summary,
    render,
)

ARGUMENT_SPEC = {
    "inventory_file": {"type": "path", "required": True},
    "inventory_format": {
        "type": "str",
        "default": "auto",
        "choices": ["auto", "host_map", "fact_cache", "syscollector"],
    },
    "software_fact": {"type": "str", "default": "m1038_software"},
    "dest": {"type": "path", "required": True},
    "trusted_vendors": {"type": "list", "elements": "raw", "default": []},
    "denied_vendors": {"type": "list", "elements": "raw", "default": []},
    "vendor_aliases": {"type": "dict", "default": {}},
    "min_prevalence": {"type": "raw", "default": 0.5},
    "rule_id_base": {"type": "int", "default": 100200},
    "levels": {"type": "dict", "default": {}},
    "used_rule_ids": {"type": "list", "elements": "int", "default": []},
    "watched_binaries": {"type": "dict"},
    "user_writable_dirs": {"type": "list", "elements": "str", "default": DEFAULT_USER_WRITABLE_DIRS},
    "withsecure_api": {"type": "bool", "default": True},
    "withsecure_event_log": {"type": "dict", "default": {}},
    "on_invalid_vendor": {"type": "str", "default": "fail", "choices": ["fail", "skip"]},
}


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    dest = module.params["dest"]
    try:
        previous = read_previous_summary(dest)
        rendered = render(module.params, previous)
        plan = make_plan(dest, rendered.files, previous)
    except ValueError as exc:
        module.fail_json(msg=str(exc))

    if plan.changed and not module.check_mode:
        try:
            apply_plan(plan, module.atomic_move, module.tmpdir)
        except OSError as exc:
            module.fail_json(msg=f"writing {dest} failed: {exc}")

    result = {
        "changed": plan.changed,
        "rules_files": plan.paths("rules"),
        "decoder_files": plan.paths("decoders"),
        "list_files": plan.paths("lists"),
        "test_files": plan.paths("tests"),
        "removed_files": [f"{dest}/{rel}" for rel in plan.stale],
        "summary": rendered.summary,
    }
    if module._diff:
        result["diff"] = plan.diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()

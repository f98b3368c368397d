#!/usr/bin/python
# Copyright: m1038.appcontrol contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: wazuh_manager_info
short_description: Read what a Wazuh 4.x manager has installed (ruleset, lists, cluster role)
version_added: 0.1.0
description:
  - Reads the manager's C(ossec.conf) and every rule file its C(<ruleset>) loads, and returns the
    rule IDs and groups per file, the registered and present CDB lists, the cluster role, and the
    files M(m1038.appcontrol.wazuh_content) manages there.
  - Read-only; the pre-flight checks (M(m1038.appcontrol.wazuh_preflight)) use the result on the
    controller.
attributes:
  check_mode:
    support: full
    description: Read-only; runs the same in check mode.
  diff_mode:
    support: none
    description: Nothing is changed, so there is no diff.
options:
  home:
    description: Wazuh installation directory.
    type: path
    default: /var/ossec
  state_dir:
    description:
      - Directory where M(m1038.appcontrol.wazuh_content) keeps its manifest and backups.
      - Defaults to C(<home>/var/m1038-appcontrol).
    type: path
author:
  - m1038.appcontrol contributors (@m1038-appcontrol)
"""

EXAMPLES = r"""
- name: Read the manager's ruleset
  m1038.appcontrol.wazuh_manager_info:
    home: /var/ossec
  register: manager

- name: Show the cluster role
  ansible.builtin.debug:
    msg: "{{ manager.cluster.node_type }} (writes content: {{ manager.cluster.is_writer }})"
"""

RETURN = r"""
installed:
  description: Whether C(<home>/etc/ossec.conf) exists. All other keys are empty when it does not.
  returned: always
  type: bool
ruleset:
  description: The C(<ruleset>) entries of ossec.conf (paths relative to the Wazuh home).
  returned: always
  type: dict
  sample: {"rule_dirs": ["ruleset/rules", "etc/rules"], "rule_excludes": [], "rule_includes": [],
           "decoder_dirs": ["ruleset/decoders", "etc/decoders"], "decoder_excludes": [],
           "lists": ["etc/lists/audit-keys"]}
cluster:
  description: Cluster role; C(is_writer) is true on a standalone manager or the master node.
  returned: always
  type: dict
  sample: {"disabled": true, "node_type": "master", "node_name": "node01", "is_writer": true}
rule_files:
  description: Rule IDs and groups of every loaded rule file, keyed by path relative to the home.
  returned: always
  type: dict
  sample: {"ruleset/rules/0595-win-sysmon_rules.xml": {"ids": [61600, 61603], "groups": ["sysmon_event1"]}}
rule_file_errors:
  description: Rule files that could not be read, with the reason (the pre-flight checks report them).
  returned: always
  type: list
  elements: str
lists_present:
  description: CDB list paths (relative to the home, as ossec.conf names them) that exist as files.
  returned: always
  type: list
  elements: str
managed:
  description: Files the last successful M(m1038.appcontrol.wazuh_content) run placed (relative paths).
  returned: always
  type: list
  elements: str
pending:
  description:
    - Backups of M(m1038.appcontrol.wazuh_content) changes that no validated restart has loaded yet, oldest
      first. Not empty after a run that failed or was interrupted between placing content and the role's
      C(wazuh-analysisd -t) and restart; the role then validates, restarts or rolls back before anything else.
  returned: always
  type: list
  elements: str
interrupted:
  description:
    - Backups of M(m1038.appcontrol.wazuh_content) runs killed between two writes (record still C(open));
      the next M(m1038.appcontrol.wazuh_content) run rolls them back before anything else.
  returned: always
  type: list
  elements: str
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.m1038.appcontrol.plugins.module_utils._ossec_conf import (
    OssecConfError,
    decode_conf,
    read_cluster,
    read_ruleset,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_content_state import (
    OPEN,
    ContentError,
    backups_root,
    check_state_dir,
    list_backups,
    load_manifest,
    load_pending,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_preflight import parse_rules, summarize


def _read_text(path):
    with open(path, encoding="utf-8", errors="replace") as handle:
        return handle.read()


def rule_files(home, ruleset):
    """Yield (relative path, absolute path) of each rule file the engine loads, in name order."""
    excluded = set(ruleset.rule_excludes)
    for rule_dir in ruleset.rule_dirs:
        absolute = os.path.join(home, rule_dir)
        if not os.path.isdir(absolute):
            continue
        for name in sorted(os.listdir(absolute)):
            if name.endswith(".xml") and name not in excluded and os.path.isfile(os.path.join(absolute, name)):
                yield rule_dir + "/" + name, os.path.join(absolute, name)


def present_lists(home, ruleset):
    found = set()
    for path in ruleset.lists:
        if os.path.isfile(os.path.join(home, path)):
            found.add(path)
    lists_dir = os.path.join(home, "etc", "lists")
    if os.path.isdir(lists_dir):
        for root, _dirs, files in os.walk(lists_dir):
            for name in files:
                if name.endswith(".cdb"):
                    continue
                rel = os.path.relpath(os.path.join(root, name), home)
                found.add(rel.replace(os.sep, "/"))
    return sorted(found)


def read_manager(home, state_dir):
    result = {
        "installed": False,
        "ruleset": {},
        "cluster": {},
        "rule_files": {},
        "rule_file_errors": [],
        "lists_present": [],
        "managed": [],
        "pending": [],
        "interrupted": [],
    }
    conf_path = os.path.join(home, "etc", "ossec.conf")
    if not os.path.isfile(conf_path):
        return result
    with open(conf_path, "rb") as handle:
        text = decode_conf(handle.read())  # as wazuh_content reads it: bytes that are not UTF-8 are kept
    ruleset = read_ruleset(text, conf_path)
    result["installed"] = True
    result["ruleset"] = ruleset.as_dict()
    result["cluster"] = read_cluster(text, conf_path).as_dict()
    for rel, absolute in rule_files(home, ruleset):
        rules, findings = parse_rules(_read_text(absolute), rel)
        result["rule_files"][rel] = summarize(rules)
        result["rule_file_errors"].extend(str(f) for f in findings)
    result["lists_present"] = present_lists(home, ruleset)
    check_state_dir(state_dir)
    result["managed"] = load_manifest(state_dir)["files"]
    root = backups_root(state_dir)
    result["pending"] = [os.path.join(root, name) for name in load_pending(state_dir)]
    result["interrupted"] = [b.path for b in list_backups(state_dir) if b.status == OPEN]
    return result


def main():
    module = AnsibleModule(
        argument_spec={
            "home": {"type": "path", "default": "/var/ossec"},
            "state_dir": {"type": "path"},
        },
        supports_check_mode=True,
    )
    home = module.params["home"]
    state_dir = module.params["state_dir"] or os.path.join(home, "var", "m1038-appcontrol")
    try:
        result = read_manager(home, state_dir)
    except (OssecConfError, ContentError) as exc:
        module.fail_json(msg=str(exc))
    except (OSError, ValueError) as exc:
        module.fail_json(msg=f"cannot read the Wazuh manager under {home}: {exc}")
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()

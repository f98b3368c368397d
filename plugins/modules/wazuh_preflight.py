#!/usr/bin/python
# Copyright: m1038.appcontrol contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: wazuh_preflight
short_description: Check rendered Wazuh content against a manager's ruleset before it is deployed
version_added: 0.1.0
description:
  - Reads a rendered content directory (C(rules/*.xml), optional C(decoders/*.xml), C(lists/<name>),
    optional C(tests/*.ini)) and checks it against what M(m1038.appcontrol.wazuh_manager_info)
    read from the manager.
  - Checks that every XML file is well-formed, rule levels are 0..16, rule IDs are unique, free and in
    the custom range, every C(if_sid)/C(if_group)/C(if_matched_sid)/C(if_matched_group) parent exists
    in the manager's rules or ours, every CDB list a rule uses is registered in ossec.conf (or is one
    of ours, which the role registers) and present, every CDB list parses, and every test names a
    rule that exists.
  - Files ours replace, and files a previous run placed that are no longer in the content, are left
    out of the manager's side of the comparison.
  - Meant to run on the controller (with C(delegate_to=localhost)); returns the files to deploy, with
    their content, for M(m1038.appcontrol.wazuh_content).
  - These checks do not replace the engine's parser (C(wazuh-analysisd -t)), which the role runs next.
attributes:
  check_mode:
    support: full
    description: Read-only; runs the same in check mode.
  diff_mode:
    support: none
    description: Nothing is changed, so there is no diff.
options:
  content_dir:
    description: The renderer's output directory.
    type: path
    required: true
  manager:
    description: The registered result of M(m1038.appcontrol.wazuh_manager_info).
    type: dict
    required: true
  enforce:
    description:
      - Fail when a check finds a problem. With V(false) the problems come back as warnings and the
        files are still returned, so only the engine's own check stands between them and a restart
        (the role's negative test uses this to prove the on-manager rollback).
    type: bool
    default: true
  rule_id_min:
    description: Lowest rule ID new (not C(overwrite)) rules may use.
    type: int
    default: 100000
  rule_id_max:
    description: Highest rule ID new (not C(overwrite)) rules may use.
    type: int
    default: 120000
author:
  - m1038.appcontrol contributors (@m1038-appcontrol)
"""

EXAMPLES = r"""
- name: Check the rendered content on the controller
  m1038.appcontrol.wazuh_preflight:
    content_dir: "{{ playbook_dir }}/../lab-output/wazuh"
    manager: "{{ manager_info }}"
  delegate_to: localhost
  register: preflight
"""

RETURN = r"""
files:
  description: Files to place, relative to the Wazuh home, with their text.
  returned: success
  type: list
  elements: dict
  sample: [{"path": "etc/rules/m1038-rules.xml", "content": "<group ...>"}]
lists:
  description: Names of the CDB lists in the content.
  returned: success
  type: list
  elements: str
tests:
  description: Parsed rule test cases from C(tests/*.ini) (see M(m1038.appcontrol.wazuh_logtest)).
  returned: success
  type: list
  elements: dict
summary:
  description: Counts of rule files, rules, decoders, lists and tests.
  returned: always
  type: dict
  sample: {"rule_files": 1, "rules": 4, "decoder_files": 0, "lists": 1, "tests": 2}
findings:
  description: Every problem found (the task fails when there is any).
  returned: always
  type: list
  elements: str
warnings_found:
  description:
    - What the engine itself only warns about, reported without failing. Today that is an C(if_sid)
      parent missing on this manager while the rule keeps another parent (engine warning 7617),
      for example stock rule 67019, which exists from Wazuh 4.9 on.
  returned: always
  type: list
  elements: str
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.m1038.appcontrol.plugins.module_utils._ossec_conf import LIST_NAME_RE
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_preflight import (
    Finding,
    RuleIndex,
    check_cdb_list,
    check_rules,
    parse_rules,
    parse_xml_fragment,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_ruletests import RuleTestError, parse_tests

KINDS = ("rules", "decoders", "lists")


def _files(directory, suffix):
    if not os.path.isdir(directory):
        return []
    return sorted(n for n in os.listdir(directory) if os.path.isfile(os.path.join(directory, n)) and n.endswith(suffix))


def _read(path, rel, findings):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except UnicodeDecodeError as exc:
        findings.append(Finding(rel, f"is not UTF-8 text: {exc}"))
    except OSError as exc:
        findings.append(Finding(rel, f"cannot be read: {exc.strerror}"))
    return None


def _check_layout(content_dir, manager, findings):
    if not os.path.isdir(content_dir):
        findings.append(Finding(content_dir, "content directory does not exist (run the renderer first)"))
        return
    for name in sorted(os.listdir(content_dir)):
        if os.path.isdir(os.path.join(content_dir, name)) and name not in (*KINDS, "tests"):
            findings.append(
                Finding(content_dir, f"unexpected directory {name!r} (expected rules, decoders, lists, tests)")
            )
    if not _files(os.path.join(content_dir, "rules"), ".xml"):
        findings.append(Finding(content_dir, "has no rules/*.xml"))
    ruleset = manager.get("ruleset") or {}
    if "etc/rules" not in ruleset.get("rule_dirs", []):
        findings.append(
            Finding("ossec.conf", "<ruleset> has no <rule_dir>etc/rules</rule_dir>: our rules would not load")
        )
    if _files(os.path.join(content_dir, "decoders"), ".xml") and "etc/decoders" not in ruleset.get("decoder_dirs", []):
        findings.append(Finding("ossec.conf", "<ruleset> has no <decoder_dir>etc/decoders</decoder_dir>"))


def _read_content(content_dir, findings):
    """Read every content file; returns (files, our rules, list names, test cases)."""
    files, ours, lists, tests = [], [], [], []

    def each(kind, suffix):
        for name in _files(os.path.join(content_dir, kind), suffix):
            rel = f"{kind}/{name}"
            text = _read(os.path.join(content_dir, rel), rel, findings)
            if text is not None:
                yield name, rel, text

    for name, rel, text in each("rules", ".xml"):
        rules, problems = parse_rules(text, rel)
        ours.extend(rules)
        findings.extend(problems)
        files.append({"path": f"etc/rules/{name}", "content": text})
    for name, rel, text in each("decoders", ".xml"):
        error = parse_xml_fragment(text, rel)[1]
        if error:
            findings.append(error)
        files.append({"path": f"etc/decoders/{name}", "content": text})
    for name, rel, text in each("lists", ""):
        if not LIST_NAME_RE.fullmatch(name) or name.endswith(".cdb"):
            findings.append(Finding(rel, "CDB list file names must be plain names (letters, digits, '.', '_', '-')"))
            continue
        findings.extend(check_cdb_list(text, rel))
        lists.append(name)
        files.append({"path": f"etc/lists/{name}", "content": text})
    for _name, rel, text in each("tests", ".ini"):
        try:
            tests.extend(parse_tests(text, rel))
        except RuleTestError as exc:
            findings.append(Finding(rel, str(exc).removeprefix(rel + ": ")))
    return files, ours, lists, tests


def collect(content_dir, manager, id_min, id_max):
    """Read and check the content; return (result dict, findings)."""
    findings = []
    if not manager.get("installed"):
        findings.append(Finding("manager", "no Wazuh manager found (ossec.conf missing); install it first"))
        return {}, findings
    _check_layout(content_dir, manager, findings)
    files, ours, lists, tests = _read_content(content_dir, findings)
    new_paths = {f["path"] for f in files}
    replaced = new_paths | set(manager.get("managed", []))
    existing = RuleIndex.from_summary({k: v for k, v in (manager.get("rule_files") or {}).items() if k not in replaced})
    gone = set(manager.get("managed", [])) - new_paths
    ours_lists = {f"etc/lists/{n}" for n in lists}
    registered = (set((manager.get("ruleset") or {}).get("lists", [])) - gone) | ours_lists
    present = (set(manager.get("lists_present", [])) - gone) | ours_lists
    findings.extend(check_rules(ours, existing, registered, present, id_min=id_min, id_max=id_max))
    known_ids = set(existing.ids) | {r.rule_id for r in ours}
    for case in tests:
        if int(case["rule"]) not in known_ids:
            findings.append(
                Finding(case["source"], f"[{case['section']}] expects rule {case['rule']}, which no rule defines")
            )
    result = {
        "files": files,
        "lists": lists,
        "tests": tests,
        "summary": {
            "rule_files": sum(1 for f in files if f["path"].startswith("etc/rules/")),
            "rules": len(ours),
            "decoder_files": sum(1 for f in files if f["path"].startswith("etc/decoders/")),
            "lists": len(lists),
            "tests": len(tests),
        },
    }
    return result, findings


def main():
    module = AnsibleModule(
        argument_spec={
            "content_dir": {"type": "path", "required": True},
            "manager": {"type": "dict", "required": True},
            "enforce": {"type": "bool", "default": True},
            "rule_id_min": {"type": "int", "default": 100000},
            "rule_id_max": {"type": "int", "default": 120000},
        },
        supports_check_mode=True,
    )
    params = module.params
    if params["rule_id_min"] > params["rule_id_max"]:
        module.fail_json(msg=f"rule_id_min {params['rule_id_min']} is above rule_id_max {params['rule_id_max']}")
    for error in params["manager"].get("rule_file_errors") or []:
        module.warn(f"manager rule file not readable here, its rule IDs and groups are unknown to the checks: {error}")
    result, findings = collect(params["content_dir"], params["manager"], params["rule_id_min"], params["rule_id_max"])
    warnings = [str(f) for f in findings if f.severity == "warning"]
    messages = [str(f) for f in findings if f.severity != "warning"]
    for message in warnings:
        module.warn(f"pre-flight: {message}")
    if messages and (params["enforce"] or not result):
        module.fail_json(
            msg=f"pre-flight checks failed for {params['content_dir']} ({len(messages)} problem(s)): "
            + "; ".join(messages),
            findings=messages,
            summary=result.get("summary", {}),
        )
    for message in messages:
        module.warn(f"pre-flight (not enforced): {message}")
    module.exit_json(changed=False, findings=messages, warnings_found=warnings, **result)


if __name__ == "__main__":
    main()

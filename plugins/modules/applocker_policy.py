#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: applocker_policy
short_description: Render AppLocker audit and enforce policies and a coverage report from a model and the trust policy
version_added: 0.1.0
description:
  - Runs on the controller. Builds an AppLocker policy from O(model) (per rule collection Exe, Msi, Script, Dll, Appx
    - mode, default rules, publisher, path and hash rules, exceptions, SID, Allow or Deny) and from the trust policy
    (trusted vendors with a signer subject become Allow publisher rules, denied vendors Deny rules).
  - Closes the user-writable folders the writable-folder probes found under allowed paths with exceptions
    (C(DIR\*), and C(DIR:*) when an alternate data stream can be written onto the folder).
  - Checks the enforce variant against the guardrails (admin allow-all for Exe and Script, Appx rules when Exe is
    enforced, Dll acknowledgement, no empty enforced collection, no Deny rule on what Ansible's WinRM connection runs,
    writable folders scanned and closed). Each is an error unless O(guardrail_overrides) names it.
  - "Writes into O(dest): C(audit.xml) and C(enforce.xml), which differ only in EnforcementMode, and C(coverage.json),
    every divergence between detection (Wazuh) and prevention (AppLocker), both ways."
  - Both policies are validated against the project's AppLocker policy XSD (Microsoft's constraints, stricter where
    Microsoft's is loose) before anything is written. Rule Ids are UUIDv5 over the rule's content, so the same inputs
    always give byte-identical files. Files are written atomically and only when their bytes differ.
  - See C(docs/applocker.md) for the model, the guardrails, the probe shape and the coverage report.
author:
  - m1038.appcontrol contributors (@m1038-appcontrol)
requirements:
  - lxml (XSD validation), on the controller
attributes:
  check_mode:
    support: full
    description: Renders, checks and validates everything and reports what would change; writes nothing.
  diff_mode:
    support: full
    description: Returns the before and after text of every file that changes.
options:
  dest:
    description:
      - Controller directory for C(audit.xml), C(enforce.xml) and C(coverage.json). Created when missing.
    type: path
    required: true
  model:
    description:
      - "The policy model: rule collection name (V(Exe), V(Msi), V(Script), V(Dll), V(Appx)) ->
        C({mode, default_rules, rules}).
        C(mode) is V(audit), V(enforce) or V(not_configured) (the enforce variant's mode; default V(audit));
        C(default_rules) adds Windows' default rules (default V(false)); each rule has C(name), optional C(description),
        C(action) (V(allow)/V(deny)), C(sid) (default Everyone, V(S-1-1-0)), exactly one of C(publisher) (signer
        subject, with C(product), C(binary), C(version) V(*) or C({low, high})), C(path) or C(hash), and C(exceptions)
        (publisher and path rules). Collections left out are NotConfigured and empty. See C(docs/applocker.md)."
    type: dict
    default: {}
  trusted_vendors:
    description:
      - The trust policy's trusted vendors (C(m1038_trusted_vendors)), as the detection side reads them.
    type: list
    elements: raw
    default: []
  denied_vendors:
    description:
      - The trust policy's denied vendors (C(m1038_denied_vendors)). Denied wins over trusted.
    type: list
    elements: raw
    default: []
  vendor_signers:
    description:
      - Vendor (as named in the trust policy) -> the certificate subject(s) its files are signed with, as AppLocker
        writes them (C(O=MICROSOFT CORPORATION, L=REDMOND, S=WASHINGTON, C=US)). Without one a vendor gets no
        AppLocker rule and is listed in C(coverage.json) under C(detection_only).
    type: dict
    default: {}
  detection_summary:
    description:
      - The C(summary.json) of M(m1038.appcontrol.wazuh_ruleset), which says which vendors detection trusts
        (prevalence included). When the file does not exist the explicit lists are used, with a warning.
    type: path
  trust_collections:
    description:
      - Collections that receive the trust policy's publisher rules, when their mode is V(audit) or V(enforce).
    type: list
    elements: str
    choices: [Exe, Msi, Script, Dll]
    default: [Exe, Msi, Script, Dll]
  trust_sid:
    description:
      - User or group SID of the trusted vendors' Allow rules. Deny rules are for Everyone.
    type: str
    default: S-1-1-0
  writable_probes:
    description:
      - Controller paths of applocker probe results (JSON, one per host) holding C(writable_scan), the user-writable
        folders under every allowed path (shape in C(docs/applocker.md)). RV(scan_roots) lists the paths to scan.
    type: list
    elements: path
    default: []
  writable_results:
    description:
      - Applocker probe results given inline, as M(m1038.appcontrol.applocker_probe) returns them (its C(probe)), one
        per host, in addition to O(writable_probes). The role passes the probe it just ran here.
    type: list
    elements: dict
    default: []
  writable_exceptions:
    description:
      - V(add) adds an exception for each writable folder under an allow path rule; V(report) only reports them
        (an enforced collection with one then fails the V(writable_uncovered) guardrail).
    type: str
    choices: [add, report]
    default: add
  known_admins:
    description:
      - SIDs whose write access to a folder does not make it user-writable (domain admin groups), besides the built-in
        administrators, SYSTEM, services and TrustedInstaller.
    type: list
    elements: str
    default: []
  connection_groups:
    description:
      - Group SIDs the Ansible connection's account belongs to besides the well-known ones it always has (Everyone,
        NETWORK, Authenticated Users, This Organization, Administrators, Users, the local account SIDs). A Deny rule
        for any of them that matches powershell.exe, wsmprovhost.exe or the PowerShell DLLs fails the
        V(deny_blocks_ansible) guardrail.
    type: list
    elements: str
    default: []
  guardrail_overrides:
    description:
      - Guardrails to accept on purpose, by name. V(dll_enforcement) is the acknowledgement that enforcing the Dll
        collection needs. Every other name turns that guardrail's error into C(overridden).
    type: list
    elements: str
    choices:
      - no_admin_allow_all
      - exe_without_appx
      - dll_enforcement
      - empty_enforced
      - deny_blocks_ansible
      - unscanned_paths
      - writable_uncovered
    default: []
  variants:
    description:
      - The variant files to render. V([audit, enforce]) writes both. V([audit]) renders the audit variant alone, for
        a host or GPO that is to audit (a rollback to audit included) - it blocks nothing, so the enforce variant's
        guardrail errors become warnings instead of stopping it, and an C(enforce.xml) left in O(dest) by an earlier
        run is removed.
    type: list
    elements: str
    choices: [audit, enforce]
    default: [audit, enforce]
  return_policies:
    description:
      - Also return the text of each rendered variant (RV(policies)), for M(m1038.appcontrol.applocker_plan) - in check
        mode nothing is written, so the planner cannot read the files.
    type: bool
    default: false
notes:
  - Windows enforces the rules of a NotConfigured collection that has rules; the guardrails treat it as enforced and
    the audit variant sets it to AuditOnly.
seealso:
  - module: m1038.appcontrol.wazuh_ruleset
"""

EXAMPLES = r"""
- name: Render the fleet's AppLocker policy from the model and the trust policy
  m1038.appcontrol.applocker_policy:
    dest: "{{ m1038_output_dir }}/applocker"
    model:
      Exe: {mode: enforce, default_rules: true}
      Script: {mode: enforce, default_rules: true}
      Msi: {mode: audit, default_rules: true}
      Appx: {mode: enforce, default_rules: true}
    trusted_vendors: "{{ m1038_trusted_vendors }}"
    denied_vendors: "{{ m1038_denied_vendors }}"
    vendor_signers:
      Microsoft Corporation: O=MICROSOFT CORPORATION, L=REDMOND, S=WASHINGTON, C=US
    detection_summary: "{{ m1038_ruleset_dir }}/summary.json"
    writable_probes:
      - files/windows/ws-01/applocker_probe.json
  delegate_to: localhost

- name: Audit phase without a writable-folder scan yet (the enforce variant is written unchecked for it)
  m1038.appcontrol.applocker_policy:
    dest: /srv/m1038/applocker
    model:
      Exe:
        mode: enforce
        default_rules: true
        rules:
          - name: Contoso line-of-business tools
            publisher: O=CONTOSO LTD, L=SEATTLE, S=WASHINGTON, C=US
            product: CONTOSO TOOLS
            version: {low: 2.0.0.0, high: "*"}
      Appx: {mode: enforce, default_rules: true}
    guardrail_overrides: [unscanned_paths]
  delegate_to: localhost
"""

RETURN = r"""
files:
  description: Paths of C(audit.xml), C(enforce.xml) and C(coverage.json).
  returned: success
  type: dict
sha256:
  description: SHA256 of each file's bytes, by path.
  returned: success
  type: dict
collections:
  description:
    - Per collection C(model_mode), C(audit_mode), C(enforce_mode) (XML EnforcementMode), C(enforced) and C(rules).
  returned: success
  type: dict
guardrails:
  description:
    - Each check C({check, collection, status, message, override}).
    - Status V(ok), V(warning), V(error) or V(overridden).
  returned: always
  type: list
  elements: dict
coverage:
  description: Content of C(coverage.json) (C(detection_only), C(prevention_only), C(vendors), C(writable), counts).
  returned: success
  type: dict
coverage_summary:
  description: One line per divergence between detection and prevention, for the playbook output.
  returned: success
  type: list
  elements: str
scan_roots:
  description: The allowed paths whose user-writable folders a writable-folder probe must report.
  returned: always
  type: list
  elements: str
policy_changes:
  description:
    - Per variant file, the semantic difference from the previous file (mode changes, rules added, removed, changed).
  returned: success
  type: dict
policies:
  description: The XML text of each rendered variant, by variant name (C(audit), C(enforce)).
  returned: success and O(return_policies)
  type: dict
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_core import AppLockerError
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_guardrails import OVERRIDES
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_model import parse_model
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_render import (
    AUDIT_FILE,
    COVERAGE_FILE,
    ENFORCE_FILE,
    GuardrailError,
    diff_entries,
    plan_files,
    policy_changes,
    render,
    sha256s,
    write_files,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_writable import scan_roots
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_xml import lxml_available

ARGUMENT_SPEC = {
    "dest": {"type": "path", "required": True},
    "model": {"type": "dict", "default": {}},
    "trusted_vendors": {"type": "list", "elements": "raw", "default": []},
    "denied_vendors": {"type": "list", "elements": "raw", "default": []},
    "vendor_signers": {"type": "dict", "default": {}},
    "detection_summary": {"type": "path"},
    "trust_collections": {
        "type": "list",
        "elements": "str",
        "choices": ["Exe", "Msi", "Script", "Dll"],
        "default": ["Exe", "Msi", "Script", "Dll"],
    },
    "trust_sid": {"type": "str", "default": "S-1-1-0"},
    "writable_probes": {"type": "list", "elements": "path", "default": []},
    "writable_results": {"type": "list", "elements": "dict", "default": []},
    "writable_exceptions": {"type": "str", "choices": ["add", "report"], "default": "add"},
    "known_admins": {"type": "list", "elements": "str", "default": []},
    "connection_groups": {"type": "list", "elements": "str", "default": []},
    "guardrail_overrides": {"type": "list", "elements": "str", "choices": list(OVERRIDES), "default": []},
    "variants": {"type": "list", "elements": "str", "choices": ["audit", "enforce"], "default": ["audit", "enforce"]},
    "return_policies": {"type": "bool", "default": False},
}


def read_json(path: str, what: str) -> object:
    try:
        with open(path, encoding="utf-8-sig") as handle:
            return json.load(handle)
    except (OSError, ValueError) as exc:
        raise AppLockerError(f"{what} {path}: cannot be read as JSON ({exc})") from None


def inline_source(index: int, probe: dict) -> str:
    """How an inline probe result is named in messages: its host, and where it is in writable_results."""
    host = probe.get("host") if isinstance(probe.get("host"), dict) else {}
    name = host.get("computer_name") if isinstance(host.get("computer_name"), str) else None
    return f"writable_results[{index}]" + (f" ({name})" if name else "")


def coverage_lines(coverage: dict) -> list[str]:
    lines = [
        f"detection only: {item['vendor']} ({item['detection']}): {item['reason']}"
        for item in coverage["detection_only"]
    ]
    lines += [
        f"prevention only: {item['collection']} {item['action']} {item['rule']!r}: {item['reason']}"
        for item in coverage["prevention_only"]
    ]
    lines += [f"unused signer: {item['vendor']}: {item['reason']}" for item in coverage["unused_signers"]]
    lines += [f"inconsistent inputs: {note}" for note in coverage["inconsistencies"]]
    return lines


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if not lxml_available():
        module.fail_json(msg=missing_required_lib("lxml"))
    params = module.params
    dest = params["dest"]
    roots = []
    try:
        roots = scan_roots(parse_model(params["model"]))
        summary, source = None, params["detection_summary"] or ""
        if source and os.path.exists(source):
            summary = read_json(source, "detection_summary")
        elif source:
            module.warn(f"detection_summary {source} does not exist (yet): coverage uses the explicit trust lists only")
        probes = [(path, read_json(path, "writable probe")) for path in params["writable_probes"]]
        probes += [(inline_source(index, probe), probe) for index, probe in enumerate(params["writable_results"])]
        rendered = render(params, summary=summary, summary_source=source, probes=probes)
        changed = plan_files(dest, rendered.files)
    except GuardrailError as exc:
        module.fail_json(msg=str(exc), guardrails=exc.guardrails.results, scan_roots=roots)
    except AppLockerError as exc:
        module.fail_json(msg=str(exc), scan_roots=roots)

    if changed and not module.check_mode:
        try:
            write_files(dest, changed, rendered.files, module.atomic_move, module.tmpdir)
        except OSError as exc:
            module.fail_json(msg=f"writing {dest} failed: {exc}")

    for warning in rendered.guardrails.messages("warning"):
        module.warn(warning)
    result = {
        "changed": bool(changed),
        "files": {
            os.path.splitext(name)[0]: os.path.join(dest, name)
            for name in (AUDIT_FILE, ENFORCE_FILE, COVERAGE_FILE)
            if name in rendered.files
        },
        "sha256": sha256s(dest, rendered.files),
        "collections": rendered.collections,
        "guardrails": rendered.guardrails.results,
        "coverage": rendered.coverage,
        "coverage_summary": coverage_lines(rendered.coverage),
        "scan_roots": roots,
        "policy_changes": policy_changes(changed, rendered.files),
    }
    if params["return_policies"]:
        result["policies"] = {
            os.path.splitext(name)[0]: rendered.files[name].decode("utf-8")
            for name in (AUDIT_FILE, ENFORCE_FILE)
            if name in rendered.files
        }
    if module._diff:
        result["diff"] = diff_entries(dest, changed, rendered.files)
    module.exit_json(**result)


if __name__ == "__main__":
    main()

#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: applocker_readiness
short_description: Judge which Windows hosts are ready to switch AppLocker from audit to enforce, from evidence
version_added: 0.1.0
description:
  - Runs on the controller. Reads AppLocker's would-have-been-blocked events (8003 Exe/Dll, 8006 Msi/Script,
    8021 and 8024 packaged apps) over a time window from any of three sources, as a stream (a month of alerts for
    10,000 hosts is never held in memory) - the Wazuh manager's C(alerts.json) files (O(alerts_files), plain or
    gzip-rotated), the Wazuh indexer's alerts index (O(indexer), OpenSearch search API with a point in time and
    C(search_after), TLS verified), or the endpoints' own event logs read by
    M(m1038.appcontrol.applocker_events_probe) over WinRM (O(probe_results)).
  - "Judges every host: C(ready) when no budget of O(thresholds) is exceeded (per binary, per user group, per
    collection; by default any would-be-blocked event holds a host back), C(not_ready) with the reasons, or
    C(no_evidence) when it reported nothing in the window: silence is not readiness. Each host is judged per
    collection too, for the staged rollout."
  - For each would-be-blocked binary returns the hosts and users it hit, first and last seen, and a suggested allow
    rule in the policy model's format of M(m1038.appcontrol.applocker_policy) (a publisher rule from the event's
    signature, else a hash rule), checked by the model's own parser.
  - "With O(dest), writes C(readiness.json) (the returned data), C(readiness.html) (a self-contained page: summary
    chart, ready / not ready / no evidence hosts, top binaries, suggested rules) and C(suggestions.yml) (the rules
    as a fragment of C(m1038_applocker_model)); atomically, and only the files whose bytes differ."
  - See C(docs/applocker-readiness.md).
author:
  - m1038.appcontrol contributors (@m1038-appcontrol)
attributes:
  check_mode:
    support: full
    description: Reads every source and judges every host; writes nothing and reports what would change.
  diff_mode:
    support: full
    description: Returns the before and after text of every report file that changes.
options:
  dest:
    description:
      - Controller directory for C(readiness.json), C(readiness.html) and C(suggestions.yml). Created when missing.
        Without it nothing is written and the report is only returned.
    type: path
  hosts:
    description:
      - The hosts to judge (the fleet's Windows hosts). A host listed here that never reported is C(no_evidence);
        alerts from other agents (Linux servers, the manager) are counted under C(summary.other_hosts) and not judged.
        Names match sources case-insensitively by their first DNS label (C(WS-01.corp.example) is C(ws-01)).
      - Without it every agent that reported is judged, Linux agents included.
    type: list
    elements: str
  alerts_files:
    description:
      - Controller paths of Wazuh C(alerts.json) files (one JSON alert a line, plain or gzip), or directories read
        for every C(*.json) and C(*.json.gz) under them (the manager's C(logs/alerts/) tree).
    type: list
    elements: path
    default: []
  max_unreadable:
    description:
      - How many alert lines may be unreadable (not JSON, no valid timestamp) before the module fails. A skipped line
        may be the event that holds a host back. The last line of a file without a final newline is being written
        and never counts.
    type: int
    default: 0
  indexer:
    description:
      - The Wazuh indexer to read alerts from (OpenSearch). Credentials belong in a vault or C(no_log) variable.
    type: dict
    suboptions:
      url:
        description: Base URL of the indexer, C(https://) only (for example V(https://wazuh-indexer:9200)).
        type: str
        required: true
      index:
        description: Index or pattern of the alerts.
        type: str
        default: wazuh-alerts-4.x-*
      username:
        description: User for HTTP basic authentication.
        type: str
      password:
        description: Its password. Never logged, never on a command line.
        type: str
      ca_path:
        description: PEM file of the CA that signed the indexer's certificate (default the system's CAs).
        type: path
      client_cert:
        description: PEM client certificate, for certificate authentication.
        type: path
      client_key:
        description: Its private key.
        type: path
      validate_certs:
        description: Verify the indexer's certificate and host name. V(false) only for a throwaway lab.
        type: bool
        default: true
      page_size:
        description: Documents (and aggregation buckets) per page, 1 .. 10000.
        type: int
        default: 1000
      point_in_time:
        description:
          - Page within a point in time (OpenSearch 2.4+, Wazuh indexer 4.6+), so every page sees the same data.
            V(false) pages the live index (older indexers).
        type: bool
        default: true
      keep_alive:
        description: How long the point in time lives between two pages.
        type: str
        default: 5m
      timeout:
        description: Seconds to wait for one answer.
        type: float
        default: 60
      retries:
        description: Retries of a call answered 429, 502, 503 or 504 or a broken connection (with backoff).
        type: int
        default: 3
  probe_results:
    description:
      - Results of M(m1038.appcontrol.applocker_events_probe), per host - the result's C(probe) object, or the
        controller path of a JSON file holding it.
    type: dict
    default: {}
  window_days:
    description:
      - Length of the evidence window in days, ending at O(window_end).
    type: float
    default: 30
  window_start:
    description:
      - Start of the window (ISO 8601, UTC when no offset). Overrides O(window_days).
    type: str
  window_end:
    description:
      - End of the window (ISO 8601), exclusive. Default now (then every run has a new window and a new report).
    type: str
  thresholds:
    description:
      - "Budgets of would-be-blocked events a host may have and still be ready - C(collections) (collection ->
        C(max_events), others take C(default), 0), C(binaries) (list of C(name), C(path) and/or C(publisher)
        (+ C(product), C(binary)) and/or C(hash), optional C(collections), C(max_events)), C(user_groups) (list of
        C(name), C(sids), C(max_events)). Each event counts against the first matching binary, else user group, else
        its collection. C(max_events) null means not cared about. See C(docs/applocker-readiness.md)."
    type: dict
    default: {}
  suggestion_sid:
    description:
      - User or group SID of the suggested allow rules.
    type: str
    default: S-1-1-0
  html_top:
    description:
      - How many binaries the HTML page lists and charts (the JSON has them all).
    type: int
    default: 20
  html_max_rows:
    description:
      - At most this many hosts per status table of the HTML page (the JSON has them all).
    type: int
    default: 2000
notes:
  - A Wazuh source counts any alert of an agent as evidence that it reported. An agent that does not forward the
    AppLocker channels therefore looks ready; the probe route reads the logs themselves.
seealso:
  - module: m1038.appcontrol.applocker_events_probe
  - module: m1038.appcontrol.applocker_policy
"""

EXAMPLES = r"""
- name: Readiness from the manager's alerts of the last 30 days
  m1038.appcontrol.applocker_readiness:
    dest: "{{ m1038_output_dir }}/readiness"
    hosts: "{{ groups['windows'] }}"
    alerts_files:
      - /srv/wazuh-alerts/alerts/          # a copy of /var/ossec/logs/alerts/
    thresholds:
      collections: {Dll: 50}
      binaries:
        - name: Build tools on the share
          path: '%OSDRIVE%\Tools\*'
          max_events: null
  delegate_to: localhost

- name: Readiness from the indexer (credentials from the vault)
  m1038.appcontrol.applocker_readiness:
    dest: "{{ m1038_output_dir }}/readiness"
    hosts: "{{ groups['windows'] }}"
    window_days: 14
    indexer:
      url: https://wazuh-indexer.corp.example:9200
      username: readiness
      password: "{{ vault_wazuh_indexer_password }}"
      ca_path: /etc/pki/wazuh/root-ca.pem
  delegate_to: localhost
  register: readiness

- name: Print the hosts that are not ready
  ansible.builtin.debug:
    msg: "{{ readiness.hosts | dict2items | selectattr('value.status', '==', 'not_ready') | map(attribute='key') }}"
"""

RETURN = r"""
files:
  description: Paths of C(readiness.json), C(readiness.html) and C(suggestions.yml) (only with O(dest)).
  returned: success
  type: dict
window:
  description: C(start), C(end) (ISO 8601 UTC) and C(days) of the window.
  returned: success
  type: dict
summary:
  description:
    - Counts - C(hosts), C(ready), C(not_ready), C(no_evidence), C(would_be_blocked_events), C(blocked_events),
      C(binaries), C(suggestions), C(users), C(other_hosts) (agents not in O(hosts)), C(outside_window).
  returned: success
  type: dict
hosts:
  description:
    - Per host C(status) (ready, not_ready, no_evidence), C(reasons), C(collections) (per collection C(events) and
      C(status)), C(reported) (C(events), C(first), C(last)), C(would_be_blocked), C(blocked), C(binaries) (top ten)
      and C(warnings).
  returned: success
  type: dict
binaries:
  description:
    - Each would-be-blocked binary, most hosts first - C(id), C(collection), C(kind) (publisher, hash, path),
      C(label), C(publisher), C(product), C(binary), C(sha256), C(versions), C(paths), C(events), C(hosts),
      C(users), C(host_names), C(first_seen), C(last_seen), C(suggestion) (C(collection) and C(rule)) and
      C(suggestion_note).
  returned: success
  type: list
  elements: dict
suggestions:
  description: The suggested rules per collection, each a rule of the policy model (paste into its C(rules)).
  returned: success
  type: dict
sources:
  description: Per source what was read (files, lines, alerts, AppLocker events, unreadable lines, pages, requests).
  returned: success
  type: list
  elements: dict
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_core import AppLockerError
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_model import sid as checked_sid
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_readiness import Evidence, make_window
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_readiness_events import EvidenceError
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_readiness_indexer import (
    read_indexer,
    settings_from,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_readiness_output import (
    FILES,
    changed_files,
    diff_entries,
    render_files,
    write_files,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_readiness_sources import (
    read_alerts,
    read_probes,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_readiness_thresholds import (
    ThresholdError,
    parse_thresholds,
)

MAX_WARNINGS = 10
INDEXER_OPTIONS = {
    "url": {"type": "str", "required": True},
    "index": {"type": "str", "default": "wazuh-alerts-4.x-*"},
    "username": {"type": "str"},
    "password": {"type": "str", "no_log": True},
    "ca_path": {"type": "path"},
    "client_cert": {"type": "path"},
    "client_key": {"type": "path", "no_log": False},
    "validate_certs": {"type": "bool", "default": True},
    "page_size": {"type": "int", "default": 1000},
    "point_in_time": {"type": "bool", "default": True},
    "keep_alive": {"type": "str", "default": "5m"},
    "timeout": {"type": "float", "default": 60},
    "retries": {"type": "int", "default": 3},
}
ARGUMENT_SPEC = {
    "dest": {"type": "path"},
    "hosts": {"type": "list", "elements": "str"},
    "alerts_files": {"type": "list", "elements": "path", "default": []},
    "max_unreadable": {"type": "int", "default": 0},
    "indexer": {"type": "dict", "options": INDEXER_OPTIONS},
    "probe_results": {"type": "dict", "default": {}},
    "window_days": {"type": "float", "default": 30},
    "window_start": {"type": "str"},
    "window_end": {"type": "str"},
    "thresholds": {"type": "dict", "default": {}},
    "suggestion_sid": {"type": "str", "default": "S-1-1-0"},
    "html_top": {"type": "int", "default": 20},
    "html_max_rows": {"type": "int", "default": 2000},
}


def read_json(path: str, what: str) -> object:
    try:
        with open(path, encoding="utf-8-sig") as handle:
            return json.load(handle)
    except (OSError, ValueError) as exc:
        raise EvidenceError(f"{what} {path}: cannot be read as JSON ({exc})") from None


def assess(params: dict) -> dict:
    """Every source into one ``Evidence``, judged: the report as data (pure apart from reading the sources)."""
    if not (params["alerts_files"] or params["indexer"] or params["probe_results"]):
        raise EvidenceError("no evidence source: give alerts_files, indexer or probe_results")
    if params["max_unreadable"] < 0:
        raise EvidenceError(f"max_unreadable: {params['max_unreadable']} must be 0 or more")
    window = make_window(params["window_days"], params["window_start"], params["window_end"])
    thresholds = parse_thresholds(params["thresholds"])
    suggestion_sid = checked_sid(params["suggestion_sid"], "suggestion_sid")
    evidence = Evidence(window, thresholds, params["hosts"])
    sources = []
    if params["alerts_files"]:
        sources += read_alerts(params["alerts_files"], evidence, params["max_unreadable"])
    if params["indexer"]:
        sources.append(read_indexer(settings_from(params["indexer"]), evidence, window))
    if params["probe_results"]:
        sources += read_probes(params["probe_results"], evidence, window, read_json)
    return evidence.report(sources, suggestion_sid)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    for key in ("html_top", "html_max_rows"):
        if params[key] < 1:
            module.fail_json(msg=f"{key}: {params[key]} must be 1 or more")
    try:
        report = assess(params)
    except (EvidenceError, ThresholdError, AppLockerError) as exc:
        module.fail_json(msg=str(exc))

    result = {"changed": False, **{key: report[key] for key in ("window", "summary", "hosts", "binaries")}}
    result.update(suggestions=report["suggestions"], sources=report["sources"])
    dest = params["dest"]
    if dest:
        files = render_files(report, top=params["html_top"], max_rows=params["html_max_rows"])
        try:
            changed = changed_files(dest, files)
            if changed and not module.check_mode:
                write_files(dest, changed, files, module.atomic_move, module.tmpdir)
        except (EvidenceError, OSError) as exc:
            module.fail_json(msg=f"writing the report into {dest} failed: {exc}")
        result["changed"] = bool(changed)
        result["files"] = {os.path.splitext(name)[0]: os.path.join(dest, name) for name in FILES}
        if module._diff:
            result["diff"] = diff_entries(dest, changed, files)
    warnings = [f"{name}: {warning}" for name, host in report["hosts"].items() for warning in host["warnings"]]
    for warning in warnings[:MAX_WARNINGS]:
        module.warn(warning)
    if len(warnings) > MAX_WARNINGS:
        module.warn(f"and {len(warnings) - MAX_WARNINGS} more host warnings (hosts.<name>.warnings)")
    module.exit_json(**result)


if __name__ == "__main__":
    main()

# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Wazuh rules for M1038 (execution prevention), built from a validated policy.

Rule IDs are fixed offsets from ``rule_id_base`` so that an ID keeps its meaning across
renders (docs/wazuh-ruleset.md, "Rule IDs").  Every pattern is ``type="pcre2"``; every value
that comes from the policy goes through ``pcre2_literal``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_escape import (
    eventchannel_value,
    pcre2_literal,
    wazuh_xml_text,
    xml_attribute,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_policy import Policy, PolicyError
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_stock import (
    SYSMON_EID1,
    SYSMON_EID1_SILENT,
    event_log_parents,
    exists_in_every_version,
)

GENERATOR = "m1038.appcontrol.wazuh_ruleset"
RULES_FILE = "m1038_appcontrol_rules.xml"
TRUSTED_LIST = "m1038-trusted-companies"
DENIED_LIST = "m1038-denied-companies"
LIST_PATH = "etc/lists/"

# Where each family hangs (docs/wazuh-ruleset.md, "Where the rules hang"). Sysmon Event 1:
# 61603 and its level-0 stock children, which the engine tries first and which would otherwise
# end reg.exe, netsh.exe, PowerShell-with-a-script and WmiPrvSE-spawned processes silently.
SYSMON_PARENTS = (SYSMON_EID1, *SYSMON_EID1_SILENT)
# AppLocker channels have no stock classifier: the severity classifiers route their events.
APPLOCKER_PARENTS = tuple(event_log_parents("Microsoft-Windows-AppLocker/EXE and DLL"))

# offset, event ID, policy, outcome, channel label
APPLOCKER_EVENTS = (
    (10, 8002, "Exe/Dll", "allowed"),
    (11, 8003, "Exe/Dll", "audit"),
    (12, 8004, "Exe/Dll", "blocked"),
    (13, 8005, "Msi/Script", "allowed"),
    (14, 8006, "Msi/Script", "audit"),
    (15, 8007, "Msi/Script", "blocked"),
    (16, 8020, "Packaged app execution", "allowed"),
    (17, 8021, "Packaged app execution", "audit"),
    (18, 8022, "Packaged app execution", "blocked"),
    (19, 8023, "Packaged app deployment", "allowed"),
    (20, 8024, "Packaged app deployment", "audit"),
    (21, 8025, "Packaged app deployment", "blocked"),
)
APPLOCKER_MITRE = {"Exe/Dll": ["T1204.002"], "Msi/Script": ["T1059", "T1218.007"]}

# offset, alertType (None = any other), action, level key, techniques, label
WITHSECURE_API_EVENTS = (
    (32, "application_control.application_start.block", None, "withsecure_blocked", ["T1204.002"], "blocked start"),
    (33, "application_control.application_start.report", None, "withsecure_reported", ["T1204.002"], "reported start"),
    (34, "application_control.file_access.block", None, "withsecure_blocked", ["T1204.002"], "blocked file access"),
    (35, "application_control.file_access.report", None, "withsecure_reported", ["T1204.002"], "reported access"),
    (36, "application_control.installation_start.block", None, "withsecure_blocked", ["T1218.007"], "blocked install"),
    (37, "application_control.settings.error", None, "withsecure_error", ["T1562.001"], "rule error"),
    (38, None, "blocked", "withsecure_blocked", ["T1204.002"], "other blocked event"),
    (39, None, "reported", "withsecure_reported", ["T1204.002"], "other reported event"),
)


@dataclass
class Rule:
    """One generated rule, with what the test-event generator needs to exercise it."""

    rule_id: int
    level: int
    kind: str
    description: str
    parents: list[int] = field(default_factory=list)
    decoded_as: str | None = None
    fields: list[tuple[str, str, bool]] = field(default_factory=list)  # name, pcre2, negate
    lists: list[tuple[str, str, str]] = field(default_factory=list)  # field, lookup, list name
    regex: list[tuple[str, bool]] = field(default_factory=list)  # pcre2 on the full log, negate
    mitre: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    facts: dict = field(default_factory=dict)  # kind-specific data for test events

    def to_xml(self) -> list[str]:
        where = f"rule {self.rule_id}"
        lines = [f'  <rule id="{self.rule_id}" level="{self.level}">']
        if self.decoded_as:
            lines.append(f"    <decoded_as>{wazuh_xml_text(self.decoded_as, where)}</decoded_as>")
        if self.parents:
            lines.append(f"    <if_sid>{', '.join(str(p) for p in self.parents)}</if_sid>")
        for name, pattern, negate in self.fields:
            attrs = f'name="{xml_attribute(name, where)}" type="pcre2"' + (' negate="yes"' if negate else "")
            lines.append(f"    <field {attrs}>{wazuh_xml_text(pattern, where)}</field>")
        for field_name, lookup, list_name in self.lists:
            attrs = f'field="{xml_attribute(field_name, where)}" lookup="{xml_attribute(lookup, where)}"'
            lines.append(f"    <list {attrs}>{LIST_PATH}{wazuh_xml_text(list_name, where)}</list>")
        for pattern, negate in self.regex:
            negate_attr = ' negate="yes"' if negate else ""
            lines.append(f'    <regex type="pcre2"{negate_attr}>{wazuh_xml_text(pattern, where)}</regex>')
        lines.append(f"    <description>{wazuh_xml_text(self.description, where)}</description>")
        if self.mitre:
            lines.append("    <mitre>")
            lines.extend(f"      <id>{wazuh_xml_text(t, where)}</id>" for t in self.mitre)
            lines.append("    </mitre>")
        lines.append("    <options>no_full_log</options>")
        groups = ",".join(["m1038", *self.groups]) + ","
        lines.append(f"    <group>{wazuh_xml_text(groups, where)}</group>")
        lines.append("  </rule>")
        return lines


def exact(value: str) -> str:
    return "^" + pcre2_literal(value) + "$"


def decoded_literal(value: str) -> str:
    """A policy string as an eventchannel field carries it (``_wazuh_escape.eventchannel_value``)."""
    return pcre2_literal(eventchannel_value(value))


def _sysmon_rules(policy: Policy, base: int, has_trusted: bool, has_denied: bool) -> list[Rule]:
    levels = policy.levels
    company = "win.eventdata.company"
    rules = []
    if has_denied:
        rules.append(
            Rule(
                base + 1,
                levels["denied_vendor"],
                "denied_vendor",
                "M1038: process from denied vendor $(win.eventdata.company) started: $(win.eventdata.image)",
                parents=list(SYSMON_PARENTS),
                lists=[(company, "match_key", DENIED_LIST)],
                mitre=["T1204.002"],
                groups=["m1038_sysmon", "m1038_denied_vendor"],
            )
        )
    rules.append(
        Rule(
            base + 2,
            levels["untrusted_vendor"],
            "untrusted_vendor",
            "M1038: process from untrusted vendor $(win.eventdata.company) started: $(win.eventdata.image)",
            parents=list(SYSMON_PARENTS),
            lists=[(company, "not_match_key", TRUSTED_LIST), (company, "not_match_key", DENIED_LIST)],
            mitre=["T1204.002"],
            groups=["m1038_sysmon", "m1038_untrusted_vendor"],
        )
    )
    # <field> and <list> never match an absent field, whatever negate says (rules.c,
    # OS_CheckIfRuleMatch: FindField() == NULL -> return NULL).  The decoder drops a Company
    # of "-", so "no Company" is tested on the full log, the compact JSON of the event,
    # where the key can only appear as "company":" (quotes inside values are escaped).
    rules.append(
        Rule(
            base + 3,
            levels["no_company"],
            "no_company",
            "M1038: process without Company metadata started: $(win.eventdata.image)",
            parents=list(SYSMON_PARENTS),
            regex=[('"company":"', True)],
            mitre=["T1036", "T1204.002"],
            groups=["m1038_sysmon", "m1038_no_company"],
        )
    )
    if has_trusted:
        dirs = "|".join(decoded_literal(d) for d in policy.user_writable_dirs)
        rules.append(
            Rule(
                base + 4,
                levels["trusted_in_user_writable"],
                "trusted_in_user_writable",
                "M1038: trusted vendor $(win.eventdata.company) running from a user-writable folder: "
                "$(win.eventdata.image)",
                parents=list(SYSMON_PARENTS),
                lists=[(company, "match_key", TRUSTED_LIST)],
                # Paths carry doubled backslashes in the field value; \\+ accepts one or more.
                fields=[("win.eventdata.image", f"(?i)\\\\+(?:{dirs})\\\\+", False)],
                mitre=["T1036.005"],
                groups=["m1038_sysmon", "m1038_masquerading"],
                facts={"dirs": list(policy.user_writable_dirs)},
            )
        )
    for index, (binary, techniques) in enumerate(sorted(policy.watched_binaries.items())):
        name = decoded_literal(binary)
        label = binary if re.fullmatch(r"[A-Za-z0-9._ -]+", binary) else "watched binary"
        rules.append(
            Rule(
                base + 100 + index,
                levels["renamed_binary"],
                "renamed_binary",
                f"M1038: renamed {label} (OriginalFileName $(win.eventdata.originalFileName)) "
                "started as $(win.eventdata.image)",
                parents=list(SYSMON_PARENTS),
                fields=[
                    ("win.eventdata.originalFileName", f"(?i)^{name}$", False),
                    ("win.eventdata.image", f"(?i)\\\\{name}$", True),
                ],
                mitre=sorted({"T1036.003", *techniques}),
                groups=["m1038_sysmon", "m1038_masquerading"],
                facts={"binary": binary},
            )
        )
    return rules


def _applocker_rules(policy: Policy, base: int) -> list[Rule]:
    rules = []
    for offset, event_id, policy_name, outcome in APPLOCKER_EVENTS:
        packaged = policy_name.startswith("Packaged")
        level = policy.levels[f"applocker_{outcome}"]
        what = "$(win.ruleAndFileData.package)" if packaged else "$(win.ruleAndFileData.filePath)"
        verb = {"allowed": "allowed", "audit": "would have blocked", "blocked": "blocked"}[outcome]
        rules.append(
            Rule(
                base + offset,
                level,
                f"applocker_{outcome}",
                f"M1038: AppLocker {verb} ({policy_name}, event {event_id}): {what} "
                "by rule $(win.ruleAndFileData.ruleName)",
                parents=list(APPLOCKER_PARENTS),
                fields=[
                    ("win.system.providerName", exact("Microsoft-Windows-AppLocker"), False),
                    ("win.system.eventID", exact(str(event_id)), False),
                ],
                mitre=["T1204.002"] if packaged else APPLOCKER_MITRE[policy_name],
                groups=["m1038_applocker", f"m1038_applocker_{outcome}"],
                facts={"event_id": event_id, "policy": policy_name, "outcome": outcome},
            )
        )
    return rules


def _withsecure_api_rules(policy: Policy, base: int) -> list[Rule]:
    root = Rule(
        base + 30,
        0,
        "withsecure_root",
        "WithSecure Elements security event.",
        decoded_as="json",
        fields=[("integration", exact("withsecure"), False)],
        groups=["withsecure"],
    )
    engine = Rule(
        base + 31,
        0,
        "withsecure_application_control",
        "WithSecure application control event.",
        parents=[base + 30],
        fields=[("withsecure.engine", exact("applicationControl"), False)],
        groups=["withsecure", "m1038_withsecure"],
    )
    rules = [root, engine]
    for offset, alert_type, action, level_key, techniques, label in WITHSECURE_API_EVENTS:
        fields = []
        if alert_type:
            fields.append(("withsecure.details.alertType", exact(alert_type), False))
        if action:
            fields.append(("withsecure.action", exact(action), False))
        rules.append(
            Rule(
                base + offset,
                policy.levels[level_key],
                "withsecure_api",
                f"M1038: WithSecure application control, {label}: $(withsecure.details.targetPath) "
                "on $(withsecure.device.name), rule $(withsecure.details.ruleName)",
                parents=[base + 31],
                fields=fields,
                mitre=techniques,
                groups=["withsecure", "m1038_withsecure"],
                facts={"alert_type": alert_type, "action": action},
            )
        )
    return rules


def _withsecure_event_log_rules(policy: Policy, base: int) -> list[Rule]:
    config = policy.withsecure_event_log
    channel = config["channel"]
    parents = event_log_parents(channel)
    rules = []
    for offset, key, outcome, level_key in (
        (40, "blocked_event_ids", "blocked", "withsecure_blocked"),
        (41, "reported_event_ids", "reported", "withsecure_reported"),
    ):
        ids = config[key]
        if not ids:
            continue
        rules.append(
            Rule(
                base + offset,
                policy.levels[level_key],
                "withsecure_event_log",
                f"M1038: WithSecure endpoint event {outcome} (event $(win.system.eventID)): $(win.system.message)",
                parents=parents,
                fields=[
                    ("win.system.providerName", "^" + decoded_literal(config["provider"]) + "$", False),
                    ("win.system.channel", "^" + decoded_literal(channel) + "$", False),
                    ("win.system.eventID", "^(?:" + "|".join(str(i) for i in ids) + ")$", False),
                ],
                mitre=["T1204.002"],
                groups=["withsecure", "m1038_withsecure"],
                facts={"event_ids": ids, "outcome": outcome, "provider": config["provider"], "channel": channel},
            )
        )
    return rules


def build_rules(policy: Policy, has_trusted: bool, has_denied: bool) -> list[Rule]:
    """All rules for the policy, in file order, with IDs checked for range and collisions."""
    base = policy.rule_id_base
    rules = _sysmon_rules(policy, base, has_trusted, has_denied) + _applocker_rules(policy, base)
    if policy.withsecure_api:
        rules += _withsecure_api_rules(policy, base)
    if policy.withsecure_event_log["enabled"]:
        rules += _withsecure_event_log_rules(policy, base)
    seen: dict[int, str] = {}
    own = {rule.rule_id for rule in rules}
    for rule in rules:
        if not base <= rule.rule_id < base + 200:
            raise PolicyError(f"rule {rule.rule_id} ({rule.kind}) falls outside the block starting at {base}")
        if rule.rule_id in seen:
            raise PolicyError(f"rule ID {rule.rule_id} generated twice ({seen[rule.rule_id]}, {rule.kind})")
        if rule.rule_id in policy.used_rule_ids:
            raise PolicyError(
                f"rule ID {rule.rule_id} ({rule.kind}) is already used on the manager (used_rule_ids); "
                "choose another rule_id_base"
            )
        seen[rule.rule_id] = rule.kind
        for parent in rule.parents:
            if parent not in own and not exists_in_every_version(parent):
                raise PolicyError(
                    f"rule {rule.rule_id} ({rule.kind}): parent {parent} is not a stock rule of every 4.x"
                )
    return rules


def render_rules_xml(rules: list[Rule]) -> str:
    lines = [
        f"<!-- Generated by {GENERATOR}: do not edit, changes are overwritten. -->",
        '<group name="m1038,application_control,">',
    ]
    for rule in rules:
        lines.extend(rule.to_xml())
        lines.append("")
    if lines[-1] == "":
        lines.pop()
    lines.append("</group>")
    return "\n".join(lines) + "\n"

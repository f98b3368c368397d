# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ruleset tests (Wazuh's ``ruleset/testing/tests/*.ini`` format) for every generated rule.

Each section holds ``log N pass`` events that must end on the section's rule at its level
and ``log N fail`` events that must not. Eventchannel events are the JSON the eventchannel
decoder produces, values in the form the rules see them (``AT&amp;T``, doubled backslashes:
``_wazuh_escape.eventchannel_value``); like Wazuh's own Windows tests they use
``decoder = json``, which requires the test harness to let stock rule 60000 accept
json-decoded events (``runtests.py`` rewrites its ``decoded_as`` for the run). Every event is
walked through the engine model (``_wazuh_engine``: the stock routing rules and the generated
rules as the engine orders them) before it is written, so a test that could not pass is never
emitted, and every ``pass`` event a builder proposes must pass: a rule the engine would not
reach for one of them (a severity, a parent process) stops the render.
"""

from __future__ import annotations

from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_engine import (
    Tree,
    compact_json,
    route,
    trace,
    winner,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_escape import eventchannel_value
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_policy import PolicyError
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_rules import (
    DENIED_LIST,
    GENERATOR,
    TRUSTED_LIST,
    Rule,
)

TESTS_FILE = "m1038_appcontrol.ini"
SEVERITY = {"allowed": "INFORMATION", "audit": "WARNING", "blocked": "ERROR"}
EVENT_LOG_SEVERITIES = ("INFORMATION", "WARNING", "ERROR", "CRITICAL")
APPLOCKER_CHANNELS = {
    "Exe/Dll": ("Microsoft-Windows-AppLocker/EXE and DLL", "Exe"),
    "Msi/Script": ("Microsoft-Windows-AppLocker/MSI and Script", "Script"),
    "Packaged app execution": ("Microsoft-Windows-AppLocker/Packaged app-Execution", "Appx"),
    "Packaged app deployment": ("Microsoft-Windows-AppLocker/Packaged app-Deployment", "Appx"),
}


def as_decoded(event: dict) -> dict:
    """An eventchannel event with every string value in the form the rules see it."""
    return {
        key: as_decoded(value) if isinstance(value, dict) else eventchannel_value(value) for key, value in event.items()
    }


def sysmon_event(image: str, company: str | None, original: str | None = None, parent: str | None = None) -> dict:
    """A Sysmon Event 1 as decoded; ``company`` None means the field is absent."""
    parent = parent or "C:\\Windows\\explorer.exe"
    name = image.rsplit("\\", 1)[-1]
    eventdata = {
        "utcTime": "2026-01-15 09:30:00.000",
        "processGuid": "{6f7c1a52-2b3d-4c8e-9a10-5e2f3b4c5d6e}",
        "processId": "4242",
        "image": image,
        "fileVersion": "1.0.0.0",
        "description": "M1038 test process",
        "product": "M1038 test product",
    }
    if company is not None:
        eventdata["company"] = company
    eventdata.update(
        {
            "originalFileName": original if original is not None else name,
            "commandLine": f'"{image}"',
            "currentDirectory": "C:\\Users\\alice\\",
            "user": "LAB\\alice",
            "integrityLevel": "Medium",
            "hashes": "SHA256=2C26B46B68FFC68FF99B453C1D30413413422D706483BFA0F98A5E886266E7AE",
            "parentImage": parent,
            "parentCommandLine": parent,
        }
    )
    system = {
        "providerName": "Microsoft-Windows-Sysmon",
        "providerGuid": "{5770385f-c22a-43e0-bf4c-06f5698ffbd9}",
        "eventID": "1",
        "channel": "Microsoft-Windows-Sysmon/Operational",
        "computer": "ws-lab-01.lab.example",
        "severityValue": "INFORMATION",
    }
    return as_decoded({"win": {"system": system, "eventdata": eventdata}})


def applocker_event(event_id: int, policy_name: str, outcome: str) -> dict:
    channel, policy_short = APPLOCKER_CHANNELS[policy_name]
    severity = SEVERITY[outcome]
    data = {
        "policyName": policy_short,
        "ruleName": "M1038 test rule",
        "ruleId": "{00000000-0000-4000-8000-000000000001}",
    }
    if policy_short == "Appx":
        data["package"] = "C:\\Program Files\\WindowsApps\\Contoso.App_1.0.0.0_x64__8wekyb3d8bbwe\\app.exe"
        data["fqbn"] = "CN=Contoso\\CONTOSO.APP\\APP\\1.0.0.0"
    else:
        name = "setup.msi" if policy_short == "Script" and event_id != 8006 else "run.ps1"
        data["filePath"] = f"%OSDRIVE%\\USERS\\ALICE\\DOWNLOADS\\{name.upper()}"
        data["fullFilePath"] = f"C:\\Users\\alice\\Downloads\\{name}"
    system = {
        "providerName": "Microsoft-Windows-AppLocker",
        "providerGuid": "{cbda4dbf-8d5d-4f69-9578-be14aa540d22}",
        "eventID": str(event_id),
        "channel": channel,
        "computer": "ws-lab-01.lab.example",
        "severityValue": severity,
    }
    return as_decoded({"win": {"system": system, "ruleAndFileData": data}})


def withsecure_api_event(alert_type: str, action: str, engine: str = "applicationControl") -> dict:
    severity = {"blocked": "warning", "reported": "info"}.get(action, "critical")
    details = {"alertType": alert_type, "ruleName": "M1038 test rule", "ruleId": "m1038-test"}
    if ".file_access." in alert_type:
        details.update(targetPath="C:\\Users\\alice\\secret.txt", parentPath="C:\\Windows\\System32\\notepad.exe")
    else:
        details.update(
            targetPath="c:\\users\\alice\\downloads\\tool.exe",
            targetSha1="0123456789abcdef0123456789abcdef01234567",
            targetVersionCompanyName="Unlisted Vendor",
            parentPath="c:\\windows\\explorer.exe",
        )
    event = {
        "id": "m1038-test-event",
        "engine": engine,
        "action": action,
        "severity": severity,
        "persistenceTimestamp": "2026-01-15T09:30:00.000Z",
        "device": {"id": "00000000-0000-4000-8000-000000000002", "name": "ws-lab-01"},
        "organization": {"id": "00000000-0000-4000-8000-000000000003", "name": "lab"},
        "details": details,
    }
    return {"integration": "withsecure", "withsecure": event}


def withsecure_log_event(provider: str, channel: str, event_id: int, severity: str = "WARNING") -> dict:
    system = {
        "providerName": provider,
        "eventID": str(event_id),
        "channel": channel,
        "computer": "ws-lab-01.lab.example",
        "severityValue": severity,
    }
    event = as_decoded({"win": {"system": system, "eventdata": {"data": "M1038 test"}}})
    # The decoder takes the agent's rendered message from its JSON envelope and keeps the
    # surrounding quotes (winevtchannel.c: wstr_unescape_json of cJSON_PrintUnformatted).
    event["win"]["system"]["message"] = '"M1038 test: application control event"'
    return event


def _unlisted_company(keys: list[str]) -> str:
    name, suffix = "Unlisted Test Vendor Ltd", 0
    while name in keys:
        suffix += 1
        name = f"Unlisted Test Vendor {suffix} Ltd"
    return name


class _Context:
    """What the candidate builders share: the listed vendors (as written in the policy)."""

    def __init__(self, trusted: list[str], denied: list[str], rules: list[Rule]) -> None:
        self.trusted = sorted(trusted)
        self.denied = sorted(denied)
        self.unlisted = _unlisted_company(self.trusted + self.denied)
        self.rules = rules


_PLAIN_IMAGE = "C:\\Tools\\Contoso\\contoso-agent.exe"
# A parent that a level-0 stock child of 61603 (92069) claims before any generated sibling.
_WMI_PARENT = "C:\\Windows\\System32\\wbem\\WmiPrvSE.exe"


def _denied(ctx: _Context, rule: Rule) -> tuple[list, list]:
    passes = [sysmon_event(_PLAIN_IMAGE, c, parent=p) for c in ctx.denied[:1] for p in (None, _WMI_PARENT)]
    return passes, [sysmon_event(_PLAIN_IMAGE, ctx.unlisted)]


def _untrusted(ctx: _Context, rule: Rule) -> tuple[list, list]:
    fails = [sysmon_event(_PLAIN_IMAGE, c) for c in ctx.trusted[:1] + ctx.denied[:1]]
    passes = [sysmon_event(_PLAIN_IMAGE, ctx.unlisted, parent=p) for p in (None, _WMI_PARENT)]
    return passes, [*fails, sysmon_event(_PLAIN_IMAGE, None)]


def _no_company(ctx: _Context, rule: Rule) -> tuple[list, list]:
    return [sysmon_event(_PLAIN_IMAGE, None)], [sysmon_event(_PLAIN_IMAGE, ctx.unlisted)]


def _user_writable(ctx: _Context, rule: Rule) -> tuple[list, list]:
    company = ctx.trusted[0]
    writable = f"C:\\Users\\alice\\{rule.facts['dirs'][0]}\\contoso-agent.exe"
    fails = [sysmon_event(path, company) for path in (_PLAIN_IMAGE, "C:\\Windows\\System32\\contoso-agent.exe")]
    return [sysmon_event(writable, company)], fails


def _renamed(ctx: _Context, rule: Rule) -> tuple[list, list]:
    binary = rule.facts["binary"]
    companies = [*ctx.trusted[:1], None, ctx.unlisted]
    passes = [sysmon_event("C:\\Tools\\Contoso\\update-helper.exe", c, binary) for c in companies]
    return passes, [sysmon_event(f"C:\\Windows\\System32\\{binary}", companies[0], binary)]


def _applocker(ctx: _Context, rule: Rule) -> tuple[list, list]:
    policy_name = rule.facts["policy"]

    def case(facts: dict) -> dict:
        return applocker_event(facts["event_id"], policy_name, facts["outcome"])

    siblings = [r for r in ctx.rules if r.kind.startswith("applocker_") and r.facts["policy"] == policy_name]
    return [case(rule.facts)], [case(r.facts) for r in siblings if r is not rule]


def _withsecure_root(ctx: _Context, rule: Rule) -> tuple[list, list]:
    other = withsecure_api_event("deep_guard.m1038_test.block", "blocked", engine="deepGuard")
    foreign = {"integration": "m1038-other", "withsecure": other["withsecure"]}
    return [other], [foreign]


def _withsecure_engine(ctx: _Context, rule: Rule) -> tuple[list, list]:
    unknown = withsecure_api_event("application_control.m1038_unknown.none", "none")
    other = withsecure_api_event("deep_guard.m1038_test.none", "none", engine="deepGuard")
    return [unknown], [other]


def _withsecure_api(ctx: _Context, rule: Rule) -> tuple[list, list]:
    facts = rule.facts
    alert_type = facts["alert_type"] or f"application_control.m1038_unknown.{facts['action']}"
    outcome = {"block": "blocked", "report": "reported"}.get(alert_type.rsplit(".", 1)[-1], "none")
    action = facts["action"] or outcome
    return [withsecure_api_event(alert_type, action)], [withsecure_api_event(alert_type, action, engine="deepGuard")]


def _withsecure_log(ctx: _Context, rule: Rule) -> tuple[list, list]:
    """Every severity the endpoint may give the event must reach the rule."""
    facts = rule.facts
    other = next(i for i in range(1, 70000) if i not in facts["event_ids"])
    event_id = facts["event_ids"][0]
    passes = [withsecure_log_event(facts["provider"], facts["channel"], event_id, s) for s in EVENT_LOG_SEVERITIES]
    return passes, [withsecure_log_event(facts["provider"], facts["channel"], other)]


_BUILDERS = {
    "denied_vendor": _denied,
    "untrusted_vendor": _untrusted,
    "no_company": _no_company,
    "trusted_in_user_writable": _user_writable,
    "renamed_binary": _renamed,
    "applocker_allowed": _applocker,
    "applocker_audit": _applocker,
    "applocker_blocked": _applocker,
    "withsecure_root": _withsecure_root,
    "withsecure_application_control": _withsecure_engine,
    "withsecure_api": _withsecure_api,
    "withsecure_event_log": _withsecure_log,
}


def build_tests(rules: list[Rule], lists: dict[str, dict[str, str]], listed: dict[str, list[str]]) -> list[dict]:
    """One test section per rule; raise if the engine model says a pass event misses its rule.

    ``lists`` are the CDB lists as written (keys in the form the engine looks up), ``listed``
    the same keys as the policy wrote them, per list name.
    """
    sections = []
    ctx = _Context(listed[TRUSTED_LIST], listed[DENIED_LIST], rules)
    tree = Tree(rules)
    for rule in rules:
        passes, fails = _BUILDERS[rule.kind](ctx, rule)
        for event in passes:
            got = winner(rules, event, lists, tree)
            if got is not rule:
                raise PolicyError(
                    f"rule {rule.rule_id} ({rule.kind}) is not reached by its test event: the engine would end on "
                    f"{getattr(got, 'rule_id', None)} ({trace(route(rules, event, lists, tree))}); "
                    "check the levels (docs/wazuh-ruleset.md, 'Where the rules hang')"
                )
        logs = [("pass", event) for event in passes]
        logs += [("fail", event) for event in fails if winner(rules, event, lists, tree) is not rule]
        sections.append({"rule": rule, "logs": logs})
    return sections


def render_tests_ini(sections: list[dict]) -> str:
    lines = [
        f"# Generated by {GENERATOR}: do not edit, changes are overwritten.",
        "# Events are eventchannel JSON: the harness must let rule 60000 accept decoder json (runtests.py does).",
    ]
    for section in sections:
        rule = section["rule"]
        lines.append("")
        lines.append(f"[M1038 rule {rule.rule_id} {rule.kind}]")
        for number, (outcome, event) in enumerate(section["logs"], start=1):
            lines.append(f"log {number} {outcome} = {compact_json(event)}")
        lines.append(f"rule = {rule.rule_id}")
        lines.append(f"alert = {rule.level}")
        lines.append("decoder = json")
    return "\n".join(lines) + "\n"

# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The stock Wazuh rules an eventchannel event passes on its way to the generated rules.

Read from the Wazuh ruleset at tags v4.7.5, v4.9.2 and v4.14.7 (identical unless ``since`` says
otherwise) and checked against the engine built from those tags (docs/wazuh-ruleset.md,
"Engine behaviour relied on"). Each entry is a stock rule with the conditions it tests, in the
order the engine tries it among its siblings (level 0 first, then highest level first, equal
levels in load order; see ``_wazuh_engine``).

Only the routing rules are modelled with their conditions (channel, provider, severity and
event ID classifiers, and the level-0 Sysmon Event 1 rules that end an event silently). Other
stock children are listed as ``opaque``: the model assumes they do not match a generated test
event, which only the real engine can confirm for a given event (the project checks its test
events on the engine while developing; the manager role can run them through logtest).
Frequency rules are opaque too: they match only after a burst of earlier events.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

CHANNEL = "win.system.channel"
PROVIDER = "win.system.providerName"
SEVERITY = "win.system.severityValue"
EVENT_ID = "win.system.eventID"

VERSIONS = ("4.7", "4.8", "4.9", "4.10", "4.11", "4.12", "4.13", "4.14")


@dataclass(frozen=True)
class StockRule:
    rule_id: int
    level: int
    source: str
    # (field, Python regex equivalent of the stock pattern); all must match.
    conditions: tuple[tuple[str, str], ...] = ()
    opaque: bool = False  # conditions not modelled: assumed not to match a test event
    since: str = "4.7"
    frequency: bool = False
    children: tuple[int, ...] = field(default_factory=tuple)

    def matches(self, event_fields) -> bool:
        if self.opaque:
            return False
        for name, pattern in self.conditions:
            value = event_fields(name)
            if value is None or re.search(pattern, value) is None:
                return False
        return True


def _r(rule_id, level, source, *conditions, children=(), since="4.7"):
    return StockRule(rule_id, level, source, tuple(conditions), children=tuple(children), since=since)


def _opaque(rule_id, level, source, since="4.7", frequency=False):
    return StockRule(rule_id, level, source, opaque=True, since=since, frequency=frequency)


_BASE = "0575-win-base_rules.xml"
_APP = "0585-win-application_rules.xml"
_SEC = "0580-win-security_rules.xml"
_SYS = "0590-win-system_rules.xml"
_SYSMON = "0595-win-sysmon_rules.xml"
_SYSMON1 = "0800-sysmon_id_1.xml"
_GENERIC = "0620-win-generic_rules.xml"
_WEF = "0955-WEF-baseline_rules.xml"
_PS = "0915-win-powershell_rules.xml"

EVENTCHANNEL_ROOT = 60000
SYSMON_EID1 = 61603  # "Sysmon - Event 1: Process creation", level 0, group sysmon_event1
# Level-0 stock children of 61603 (if_group sysmon_event1): tried before any generated child,
# they end an event silently unless one of their own children matches.
SYSMON_EID1_SILENT = (92025, 92028, 92042, 92069)
# Channel classifiers under 60000 and their severity children, for the channels a generated
# event-log rule may name (docs/wazuh-ruleset.md, "Where the rules hang").
CHANNEL_RULES = {"Security": 60001, "System": 60002, "Application": 60003}
SEVERITY_RULES = (60009, 60010, 60011, 60012)  # INFORMATION, WARNING, ERROR, CRITICAL

_SEVERITY_CHILDREN = (64100, 64104)  # channel classifiers listed under every severity rule

RULES: dict[int, StockRule] = {
    rule.rule_id: rule
    for rule in (
        # 60000's children in match order: the level-0 channel/provider classifiers, the
        # INFORMATION and WARNING classifiers, then 60012 (level 10) and 60011 (level 5).
        _r(
            60000,
            0,
            _BASE,
            (PROVIDER, r".+"),
            children=(60001, 60002, 60003, 60004, 60005, 60016, 60018, 60009, 60010, 91801, 60012, 60011),
        ),
        _r(60001, 0, _BASE, (CHANNEL, r"^Security$"), children=(60017, 60100, 60101, 60103, 60102, 60104)),
        _r(60002, 0, _BASE, (CHANNEL, r"^System$"), children=(60007, 60008, 61100, 61101, 61103, 61102)),
        _r(60003, 0, _BASE, (CHANNEL, r"^Application$"), children=(60006, 60600, 60601, 61069, 61070, 60602)),
        _r(60004, 0, _BASE, (CHANNEL, r"^Microsoft-Windows-Sysmon/Operational$"), children=(61600, 61601, 61602)),
        _r(60005, 0, _BASE, (CHANNEL, r"^Microsoft-Windows-Windows Defender/Operational$")),
        _r(60016, 0, _BASE, (CHANNEL, r"^Microsoft-Windows-Windows Firewall With Advanced Security/Firewall$")),
        _r(60018, 0, _BASE, (PROVIDER, r"^Microsoft-Windows-WMI-Activity$")),
        _r(91801, 0, _PS, (CHANNEL, r"^Microsoft-Windows-PowerShell/Operational$")),
        _r(60009, 0, _BASE, (SEVERITY, r"^INFORMATION$"), children=(*_SEVERITY_CHILDREN, 67011, 67014, 67019)),
        _r(60010, 0, _BASE, (SEVERITY, r"^WARNING$"), children=(*_SEVERITY_CHILDREN, 91801, 60013, 67012, 67020)),
        _r(60011, 5, _BASE, (SEVERITY, r"^ERROR$"), children=(*_SEVERITY_CHILDREN, 92655, 60014, 67013, 67021)),
        _r(60012, 10, _BASE, (SEVERITY, r"^CRITICAL$"), children=(*_SEVERITY_CHILDREN, 60015)),
        _r(64100, 0, _GENERIC, (CHANNEL, r"^File Replication Service$")),
        _r(64104, 0, _GENERIC, (CHANNEL, r"^Microsoft-Windows-TerminalServices-Gateway/Operational$")),
        _r(92655, 15, "0840-win_event_channel.xml", (EVENT_ID, r"^808$")),
        _opaque(60013, 8, _BASE, frequency=True),  # if_matched_sid 60010; never fires (parent is level 0)
        _opaque(60014, 10, _BASE, frequency=True),  # 8 ERROR events ending at 60011 within 240 s
        _opaque(60015, 12, _BASE, frequency=True),
        # Stock AppLocker rules (osregex, unanchored), 4.9 and later.
        _r(67011, 3, _WEF, (PROVIDER, "Microsoft-Windows-AppLocker"), (EVENT_ID, "8002"), since="4.9"),
        _r(67012, 3, _WEF, (PROVIDER, "Microsoft-Windows-AppLocker"), (EVENT_ID, "8003"), since="4.9"),
        _r(67013, 3, _WEF, (PROVIDER, "Microsoft-Windows-AppLocker"), (EVENT_ID, "8004"), since="4.9"),
        _r(67014, 3, _WEF, (PROVIDER, "Microsoft-Windows-TaskScheduler"), (EVENT_ID, "106"), since="4.9"),
        _r(67019, 3, _WEF, (PROVIDER, "Microsoft-Windows-AppLocker"), (EVENT_ID, "8020"), since="4.9"),
        _r(67020, 3, _WEF, (PROVIDER, "Microsoft-Windows-AppLocker"), (EVENT_ID, "8021"), since="4.9"),
        _r(67021, 3, _WEF, (PROVIDER, "Microsoft-Windows-AppLocker"), (EVENT_ID, "8022"), since="4.9"),
        # Security channel.
        _r(60017, 0, _BASE, (PROVIDER, r"^Microsoft-Windows-Eventlog$")),
        _r(60100, 0, _SEC, (SEVERITY, r"^INFORMATION$")),
        _r(60101, 0, _SEC, (SEVERITY, r"^WARNING$")),
        _r(60103, 0, _SEC, (SEVERITY, r"^AUDIT_SUCCESS$|^success$")),
        _r(60102, 5, _SEC, (SEVERITY, r"^ERROR$")),
        _r(60104, 5, _SEC, (SEVERITY, r"^AUDIT_FAILURE$|^failure$")),
        # System channel.
        _r(60007, 0, _BASE, (PROVIDER, r"^Eventlog$|^Microsoft-Windows-Eventlog$")),
        _r(60008, 0, _BASE, (PROVIDER, r"^Microsoft Antimalware$")),
        _r(61100, 0, _SYS, (SEVERITY, r"^INFORMATION$")),
        _r(61101, 0, _SYS, (SEVERITY, r"^WARNING$")),
        _r(61103, 9, _SYS, (SEVERITY, r"^CRITICAL$")),
        _r(61102, 5, _SYS, (SEVERITY, r"^ERROR$")),
        # Application channel; the children of 60600-60602 are provider-specific or frequency
        # rules (61061 under 60602: level 10, 8 events within 240 s), not modelled.
        _r(60006, 0, _BASE, (PROVIDER, r"^McLogEvent$")),
        _r(60600, 0, _APP, (SEVERITY, r"^INFORMATION$")),
        _r(60601, 0, _APP, (SEVERITY, r"^WARNING$")),
        _r(61069, 0, _APP, (SEVERITY, r"^AUDIT_FAILURE$")),
        _r(61070, 0, _APP, (SEVERITY, r"^AUDIT_SUCCESS$")),
        _r(60602, 9, _APP, (SEVERITY, r"^ERROR$")),
        # Sysmon: INFORMATION events, Event ID 1.
        _r(61600, 0, _SYSMON, (SEVERITY, r"^INFORMATION$"), children=(SYSMON_EID1,)),
        _r(61601, 0, _SYSMON, (SEVERITY, r"^WARNING$")),
        _r(61602, 5, _SYSMON, (SEVERITY, r"^ERROR$")),
        _r(SYSMON_EID1, 0, _SYSMON, (EVENT_ID, r"^1$"), children=SYSMON_EID1_SILENT),
        _r(92025, 0, _SYSMON1, ("win.eventdata.originalFileName", r"(?i)reg.EXE")),
        _r(
            92028,
            0,
            _SYSMON1,
            ("win.eventdata.commandLine", r"(?i)\.(bat|cmd|lnk|pif|vbs|vbe|js|wsh|ps1)"),
            ("win.eventdata.originalFileName", r"(?i)powershell\.exe$"),
        ),
        _r(92042, 0, _SYSMON1, ("win.eventdata.originalFileName", r"(?i)netsh.EXE")),
        _r(92069, 0, _SYSMON1, ("win.eventdata.parentImage", r"(?i)WmiPrvSE\.exe")),
    )
}

# Channels that a stock classifier other than the three above claims first (a channel
# classifier under 60000 or under every severity rule): events there never reach a rule hung
# where the generated event-log rules hang.
CLAIMED_CHANNELS = {
    re.sub(r"^\^|\$$", "", RULES[rid].conditions[0][1]): rid for rid in (60004, 60005, 60016, 91801, 64100, 64104)
}
CLAIMED_PROVIDERS = {"Microsoft-Windows-WMI-Activity": 60018}


def exists_in_every_version(rule_id: int) -> bool:
    """True when the stock rule exists from Wazuh 4.7 on (the oldest supported version)."""
    rule = RULES.get(rule_id)
    return rule is not None and rule.since == VERSIONS[0]


def event_log_parents(channel: str) -> list[int]:
    """Where a rule for events of ``channel`` hangs so the engine reaches it at every severity.

    A channel with its own classifier (Security, System, Application) routes every event to
    it, and then to its level-0 INFORMATION/WARNING children before any generated sibling:
    hang from the classifier and each severity child. Any other channel goes through the
    severity classifiers; hanging from 60000 too lets a rule of level 6 or more answer ERROR
    events before 60011 and its frequency child 60014.
    """
    classifier = CHANNEL_RULES.get(channel)
    if classifier is not None:
        severity_children = [c for c in RULES[classifier].children if RULES[c].conditions[0][0] == SEVERITY]
        return [classifier, *severity_children]
    return [EVENTCHANNEL_ROOT, *SEVERITY_RULES]

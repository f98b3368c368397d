# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The trust policy: validate it and decide which Company strings are trusted or denied.

A vendor (installer ``Publisher``) is trusted when it is listed in ``trusted_vendors``
(reason ``explicit``) or installed on at least the prevalence threshold of hosts (reason
``prevalence``).  Each trusted or denied vendor contributes its own name and every Company
string that ``vendor_aliases`` maps it to (reason ``alias``).  Denied always wins: a key that
is both trusted and denied is only denied, and the summary lists the conflict.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_escape import checked_vendor, entity_in
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_inventory import FleetCounts
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_stock import CLAIMED_CHANNELS, CLAIMED_PROVIDERS

DEFAULT_LEVELS = {
    "denied_vendor": 12,
    "untrusted_vendor": 10,
    "no_company": 8,
    "renamed_binary": 12,
    "trusted_in_user_writable": 6,
    "applocker_allowed": 0,
    "applocker_audit": 7,
    "applocker_blocked": 10,
    "withsecure_blocked": 10,
    "withsecure_reported": 7,
    "withsecure_error": 5,
}

# Default watch-list for renamed system utilities (T1036.003): binary name, as its PE
# OriginalFileName reads (compared case-insensitively), -> the techniques it serves.
# certutil.exe and wscript.exe are left out: stock rules 92016 (level 13) and 92051 (level 12)
# already alert on renamed copies of them and, loaded first, win over an equal or lower level.
DEFAULT_WATCHED_BINARIES = {
    "bitsadmin.exe": ["T1197"],
    "cmd.exe": ["T1059.003"],
    "cmstp.exe": ["T1218.003"],
    "cscript.exe": ["T1059.005"],
    "installutil.exe": ["T1218.004"],
    "msbuild.exe": ["T1127.001"],
    "mshta.exe": ["T1218.005"],
    "msiexec.exe": ["T1218.007"],
    "powershell.exe": ["T1059.001"],
    "regasm.exe": ["T1218.009"],
    "regsvcs.exe": ["T1218.009"],
    "regsvr32.exe": ["T1218.010"],
    "rundll32.exe": ["T1218.011"],
    "wmic.exe": ["T1047"],
}

DEFAULT_USER_WRITABLE_DIRS = ["AppData", "Downloads", "ProgramData", "Temp", "Users"]

DEFAULT_WITHSECURE_EVENT_LOG = {
    "enabled": True,
    "provider": "F-Secure Ultralight SDK",
    "channel": "Application",
    "blocked_event_ids": [6],
    "reported_event_ids": [],
}

RULE_ID_MIN = 100000
RULE_ID_MAX = 120000
# IDs the bundle reserves from rule_id_base (see docs/wazuh-ruleset.md, "Rule IDs").
RULE_ID_BLOCK = 200
MAX_WATCHED_BINARIES = 100


class PolicyError(ValueError):
    """A policy parameter is invalid; the message names the parameter and the value."""


@dataclass
class Policy:
    trusted_vendors: list[str]
    denied_vendors: list[str]
    vendor_aliases: dict[str, list[str]]
    min_prevalence: int | float
    rule_id_base: int
    levels: dict[str, int]
    used_rule_ids: set[int]
    watched_binaries: dict[str, list[str]]
    user_writable_dirs: list[str]
    withsecure_api: bool
    withsecure_event_log: dict


@dataclass
class TrustDecision:
    threshold_hosts: int
    trusted: dict[str, list[str]] = field(default_factory=dict)  # key -> sorted reasons
    denied: dict[str, list[str]] = field(default_factory=dict)
    vendors: dict[str, dict] = field(default_factory=dict)  # publisher -> hosts, reasons
    alias_of: dict[str, list[str]] = field(default_factory=dict)  # alias key -> publishers it came from
    conflicts: list[str] = field(default_factory=list)


def _policy_string(value: object, where: str) -> str:
    """A vendor, folder or name typed into the policy: written as Windows shows it.

    Wazuh alerts show eventchannel values in the decoder's form (``AT&amp;T``, doubled
    backslashes); a string copied from an alert would never match, so an XML character
    reference is refused with the form to write instead.
    """
    text = checked_vendor(value, where)
    entity = entity_in(text)
    if entity:
        plain = text.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
        raise PolicyError(
            f"{where}: {value!r} holds the XML reference {entity!r}, as Wazuh alerts show '&', '<' and '>'; "
            f"write the name as Windows shows it (for example {plain!r}): the bundle converts it"
        )
    return text


def _vendor_list(value: object, name: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise PolicyError(f"{name} must be a list of vendor names, got {type(value).__name__}")
    return sorted({_policy_string(item, f"{name}[{index}]") for index, item in enumerate(value)})


def _aliases(value: object) -> dict[str, list[str]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PolicyError(f"vendor_aliases must map a publisher to a list of Company strings, got {value!r}")
    aliases: dict[str, set[str]] = {}
    for publisher, companies in value.items():
        key = _policy_string(publisher, f"vendor_aliases key {publisher!r}")
        where = f"vendor_aliases[{publisher!r}]"
        listed = [companies] if isinstance(companies, str) else companies
        aliases.setdefault(key, set()).update(_vendor_list(listed, where))
    return {publisher: sorted(companies) for publisher, companies in aliases.items()}


def parse_prevalence(value: object) -> int | float:
    """An int >= 1 is a host count; a float in (0, 1] is a fraction of the fleet."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = int(text) if text.isdigit() else float(text)
        except ValueError:
            raise PolicyError(f"min_prevalence {value!r} is neither a host count nor a fraction") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PolicyError(f"min_prevalence must be an int >= 1 or a float in (0, 1], got {value!r}")
    if isinstance(value, int):
        if value < 1:
            raise PolicyError(f"min_prevalence {value} is a host count and must be >= 1")
        return value
    if not (0.0 < value <= 1.0) or math.isnan(value):
        raise PolicyError(f"min_prevalence {value!r} is a fraction and must lie in (0, 1]")
    return value


def threshold_hosts(min_prevalence: int | float, hosts: int) -> int:
    """How many hosts a vendor must be installed on to be trusted by prevalence."""
    if isinstance(min_prevalence, int):
        return min_prevalence
    # ceil with a guard for binary fractions such as 0.3 * 10 = 3.0000000000000004
    return max(1, math.ceil(round(min_prevalence * hosts, 9)))


def _merge_known(defaults: dict, value: object, name: str) -> dict:
    """``defaults`` updated with ``value``; keys the defaults do not have are refused."""
    merged = dict(defaults)
    if value is None:
        return merged
    if not isinstance(value, dict):
        raise PolicyError(f"{name} must be a dict, got {value!r}")
    for key, item in value.items():
        if key not in merged:
            raise PolicyError(f"{name}: unknown key {key!r}; known keys: {', '.join(sorted(merged))}")
        merged[key] = item
    return merged


def _levels(value: object) -> dict[str, int]:
    levels = _merge_known(DEFAULT_LEVELS, value, "levels")
    for name, level in levels.items():
        if isinstance(level, bool) or not isinstance(level, int) or not 0 <= level <= 16:
            raise PolicyError(f"levels[{name!r}] must be an integer 0..16, got {level!r}")
    return levels


def _int_list(value: object, name: str) -> list[int]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise PolicyError(f"{name} must be a list of integers, got {value!r}")
    result = []
    for index, item in enumerate(value):
        number = int(item) if isinstance(item, str) and item.strip().isdigit() else item
        if isinstance(number, bool) or not isinstance(number, int) or number < 0:
            raise PolicyError(f"{name}[{index}] must be a non-negative integer, got {item!r}")
        result.append(number)
    return result


def _watched(value: object) -> dict[str, list[str]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PolicyError(f"watched_binaries must map a binary name to a list of MITRE IDs, got {value!r}")
    if len(value) > MAX_WATCHED_BINARIES:
        raise PolicyError(f"watched_binaries holds {len(value)} names; at most {MAX_WATCHED_BINARIES} fit the ID block")
    watched: dict[str, list[str]] = {}
    for name, techniques in value.items():
        key = _policy_string(name, f"watched_binaries key {name!r}").lower()
        if "\\" in key or "/" in key:
            raise PolicyError(f"watched_binaries key {name!r} must be a file name, not a path")
        if key in watched:
            raise PolicyError(f"watched_binaries lists {name!r} twice (names compare case-insensitively)")
        watched[key] = _techniques(techniques, f"watched_binaries[{name!r}]")
    return watched


def _techniques(value: object, where: str) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise PolicyError(f"{where} must be a list of MITRE technique IDs, got {value!r}")
    for item in items:
        parts = item.split(".") if isinstance(item, str) else []
        main_ok = len(parts[0]) == 5 and parts[0][0] == "T" and parts[0][1:].isdigit() if parts else False
        sub_ok = len(parts) == 1 or (len(parts) == 2 and len(parts[1]) == 3 and parts[1].isdigit())
        if not (main_ok and sub_ok):
            raise PolicyError(f"{where}: {item!r} is not a MITRE technique ID such as T1036 or T1036.003")
    return sorted(set(items))


def _event_log(value: object) -> dict:
    merged = _merge_known(DEFAULT_WITHSECURE_EVENT_LOG, value, "withsecure_event_log")
    if not isinstance(merged["enabled"], bool):
        raise PolicyError(f"withsecure_event_log.enabled must be a boolean, got {merged['enabled']!r}")
    for key in ("provider", "channel"):
        merged[key] = _policy_string(merged[key], f"withsecure_event_log.{key}")
    for key in ("blocked_event_ids", "reported_event_ids"):
        merged[key] = sorted(set(_int_list(merged[key], f"withsecure_event_log.{key}")))
    overlap = set(merged["blocked_event_ids"]) & set(merged["reported_event_ids"])
    if overlap:
        raise PolicyError(f"withsecure_event_log: event IDs {sorted(overlap)} are both blocked and reported")
    if merged["enabled"] and not (merged["blocked_event_ids"] or merged["reported_event_ids"]):
        raise PolicyError("withsecure_event_log is enabled but lists no blocked_event_ids or reported_event_ids")
    claimed = CLAIMED_CHANNELS.get(merged["channel"]) or CLAIMED_PROVIDERS.get(merged["provider"])
    if merged["enabled"] and claimed:
        raise PolicyError(
            f"withsecure_event_log: channel {merged['channel']!r} / provider {merged['provider']!r} is claimed by "
            f"stock rule {claimed}, whose children the generated rules cannot be hung under for every severity; "
            "WithSecure logs to Application (docs/wazuh-ruleset.md)"
        )
    return merged


def build_policy(params: dict) -> Policy:
    """Validate module parameters into a Policy; raise PolicyError naming the bad value."""
    base = params.get("rule_id_base")
    if isinstance(base, bool) or not isinstance(base, int):
        raise PolicyError(f"rule_id_base must be an integer, got {base!r}")
    if base < RULE_ID_MIN or base + RULE_ID_BLOCK - 1 > RULE_ID_MAX:
        raise PolicyError(
            f"rule_id_base {base} must leave room for {RULE_ID_BLOCK} IDs inside {RULE_ID_MIN}-{RULE_ID_MAX} "
            f"(largest allowed base: {RULE_ID_MAX - RULE_ID_BLOCK + 1})"
        )
    dirs = params.get("user_writable_dirs")
    dirs = _vendor_list(DEFAULT_USER_WRITABLE_DIRS if dirs is None else dirs, "user_writable_dirs")
    for name in dirs:
        if "\\" in name or "/" in name:
            raise PolicyError(f"user_writable_dirs entry {name!r} must be a folder name, not a path")
    if not dirs:
        raise PolicyError("user_writable_dirs must name at least one folder")
    watched = params.get("watched_binaries")
    return Policy(
        trusted_vendors=_vendor_list(params.get("trusted_vendors"), "trusted_vendors"),
        denied_vendors=_vendor_list(params.get("denied_vendors"), "denied_vendors"),
        vendor_aliases=_aliases(params.get("vendor_aliases")),
        min_prevalence=parse_prevalence(params.get("min_prevalence", 0.5)),
        rule_id_base=base,
        levels=_levels(params.get("levels")),
        used_rule_ids=set(_int_list(params.get("used_rule_ids"), "used_rule_ids")),
        watched_binaries=_watched(DEFAULT_WATCHED_BINARIES if watched is None else watched),
        user_writable_dirs=dirs,
        withsecure_api=bool(params.get("withsecure_api", True)),
        withsecure_event_log=_event_log(params.get("withsecure_event_log")),
    )


def decide_trust(policy: Policy, counts: FleetCounts) -> TrustDecision:
    """Apply the policy to the fleet counts."""
    decision = TrustDecision(threshold_hosts=threshold_hosts(policy.min_prevalence, counts.hosts))
    publisher_reasons: dict[str, set[str]] = {}
    for vendor in policy.trusted_vendors:
        publisher_reasons.setdefault(vendor, set()).add("explicit")
    for vendor, hosts in counts.vendor_hosts.items():
        if hosts >= decision.threshold_hosts:
            publisher_reasons.setdefault(vendor, set()).add("prevalence")

    alias_of: dict[str, set[str]] = {}

    def with_aliases(keys: dict[str, set[str]], publisher: str, reasons: set[str]) -> None:
        keys.setdefault(publisher, set()).update(reasons)
        for company in policy.vendor_aliases.get(publisher, []):
            keys.setdefault(company, set()).add("alias")
            alias_of.setdefault(company, set()).add(publisher)

    trusted: dict[str, set[str]] = {}
    for publisher, reasons in publisher_reasons.items():
        with_aliases(trusted, publisher, reasons)
    denied: dict[str, set[str]] = {}
    for publisher in policy.denied_vendors:
        with_aliases(denied, publisher, {"explicit"})

    decision.conflicts = sorted(set(trusted) & set(denied))
    decision.trusted = {key: sorted(reasons) for key, reasons in trusted.items() if key not in denied}
    decision.denied = {key: sorted(reasons) for key, reasons in denied.items()}
    decision.alias_of = {key: sorted(publishers) for key, publishers in alias_of.items()}
    listed = set(counts.vendor_hosts) | set(policy.trusted_vendors) | set(policy.denied_vendors)
    for vendor in sorted(listed):
        status = "denied" if vendor in denied else "trusted" if vendor in decision.trusted else "untrusted"
        decision.vendors[vendor] = {
            "hosts": counts.vendor_hosts.get(vendor, 0),
            "status": status,
            "reasons": sorted(publisher_reasons.get(vendor, set()) | (denied.get(vendor, set()) & {"explicit"})),
            "aliases": policy.vendor_aliases.get(vendor, []),
        }
    return decision

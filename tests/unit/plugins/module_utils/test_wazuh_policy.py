"""Trust policy validation and the trust decision."""

from __future__ import annotations

import pytest

from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_inventory import FleetCounts
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_policy import (
    DEFAULT_LEVELS,
    PolicyError,
    build_policy,
    decide_trust,
    parse_prevalence,
    threshold_hosts,
)


def policy(**overrides):
    params = {"rule_id_base": 100200, "min_prevalence": 0.5}
    params.update(overrides)
    return build_policy(params)


def fleet(hosts, **vendor_hosts):
    return FleetCounts(hosts=hosts, vendor_hosts=dict(vendor_hosts))


@pytest.mark.parametrize(
    ("value", "hosts", "expected"),
    [
        (0.5, 8, 4),
        (0.5, 9, 5),  # rounded up
        (0.3, 10, 3),  # 0.3 * 10 is 3.0000000000000004 in binary floating point
        (1.0, 8, 8),  # every host
        (1, 8, 1),  # an int is a host count
        (25, 8, 25),
        (0.01, 8, 1),
        ("0.25", 8, 2),
        ("3", 8, 3),
    ],
)
def test_threshold(value, hosts, expected):
    assert threshold_hosts(parse_prevalence(value), hosts) == expected


@pytest.mark.parametrize("value", [0, -1, 0.0, 1.5, float("nan"), True, "many", None, [1]])
def test_bad_prevalence(value):
    with pytest.raises(PolicyError, match="min_prevalence"):
        parse_prevalence(value)


def test_reasons_explicit_prevalence_alias():
    p = policy(
        trusted_vendors=["Microsoft Corporation"],
        vendor_aliases={"Mozilla": ["Mozilla Corporation"], "Notepad++ Team": "Don HO don.h@free.fr"},
    )
    decision = decide_trust(p, fleet(4, **{"Microsoft Corporation": 4, "Mozilla": 2, "Notepad++ Team": 1}))
    assert decision.threshold_hosts == 2
    assert decision.trusted == {
        "Microsoft Corporation": ["explicit", "prevalence"],
        "Mozilla": ["prevalence"],
        "Mozilla Corporation": ["alias"],
    }
    assert decision.alias_of == {"Mozilla Corporation": ["Mozilla"]}  # Notepad++ Team is not trusted
    assert decision.vendors["Notepad++ Team"] == {
        "hosts": 1,
        "status": "untrusted",
        "reasons": [],
        "aliases": ["Don HO don.h@free.fr"],
    }


def test_denied_wins_and_is_reported():
    p = policy(
        trusted_vendors=["AnyDesk Software GmbH"],
        denied_vendors=["AnyDesk Software GmbH"],
        vendor_aliases={"AnyDesk Software GmbH": ["philandro Software GmbH"]},
    )
    decision = decide_trust(p, fleet(2, **{"AnyDesk Software GmbH": 2}))
    assert decision.trusted == {}
    assert decision.denied == {"AnyDesk Software GmbH": ["explicit"], "philandro Software GmbH": ["alias"]}
    assert decision.conflicts == ["AnyDesk Software GmbH", "philandro Software GmbH"]
    assert decision.vendors["AnyDesk Software GmbH"]["status"] == "denied"


def test_policy_strings_are_normalised_and_deduplicated():
    p = policy(trusted_vendors=["Contoso ", "Contoso", "Fabrikam\t"])
    assert p.trusted_vendors == ["Contoso", "Fabrikam"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"trusted_vendors": ["ok", "bad\x1b"]}, r"trusted_vendors\[1\]"),
        ({"denied_vendors": "Contoso"}, "denied_vendors must be a list"),
        ({"vendor_aliases": {"Mozilla": ["ok", 'q"uote']}}, r"vendor_aliases\['Mozilla'\]\[1\]"),
        ({"vendor_aliases": ["x"]}, "vendor_aliases must map"),
        ({"rule_id_base": 99999}, "rule_id_base 99999"),
        ({"rule_id_base": 119900}, "largest allowed base: 119801"),
        ({"rule_id_base": "100200"}, "rule_id_base must be an integer"),
        ({"levels": {"untrusted_vendor": 17}}, r"levels\['untrusted_vendor'\]"),
        ({"levels": {"nonsense": 3}}, "unknown key 'nonsense'"),
        ({"used_rule_ids": [100200, "x"]}, r"used_rule_ids\[1\]"),
        ({"watched_binaries": {"C:\\Windows\\cmd.exe": ["T1059"]}}, "must be a file name"),
        ({"watched_binaries": {"cmd.exe": ["T1059"], "CMD.EXE": []}}, "twice"),
        ({"watched_binaries": {"cmd.exe": ["1059"]}}, "not a MITRE technique ID"),
        ({"withsecure_event_log": {"blocked_event_ids": [6], "reported_event_ids": [6]}}, "both blocked and reported"),
        ({"withsecure_event_log": {"blocked_event_ids": []}}, "lists no blocked_event_ids"),
        ({"withsecure_event_log": {"provider": "bad\x07provider"}}, "withsecure_event_log.provider"),
        ({"withsecure_event_log": {"colour": "red"}}, "unknown key 'colour'"),
        ({"user_writable_dirs": ["Users", "C:\\Temp"]}, "must be a folder name, not a path"),
        ({"user_writable_dirs": []}, "at least one folder"),
    ],
)
def test_policy_errors_name_the_value(overrides, message):
    with pytest.raises(ValueError, match=message):
        policy(**overrides)


def test_defaults():
    p = policy()
    assert p.levels == DEFAULT_LEVELS
    assert "powershell.exe" in p.watched_binaries
    assert "certutil.exe" not in p.watched_binaries  # stock 92016 covers it at level 13
    assert p.withsecure_event_log["provider"] == "F-Secure Ultralight SDK"
    assert p.withsecure_event_log["channel"] == "Application"
    assert p.user_writable_dirs == ["AppData", "Downloads", "ProgramData", "Temp", "Users"]


def test_watched_binaries_can_be_emptied():
    assert policy(watched_binaries={}).watched_binaries == {}

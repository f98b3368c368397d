"""One trust policy feeding AppLocker: publisher rules from vendors' signers, and coverage both ways."""

from __future__ import annotations

from pathlib import Path

import pytest

from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_core import AppLockerError
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_model import parse_model
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_trust import (
    coverage,
    detection_decision,
    signer_subject,
    trust_rules,
    vendor_signers,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_render import render as render_wazuh

MICROSOFT = "O=MICROSOFT CORPORATION, L=REDMOND, S=WASHINGTON, C=US"
MOZILLA = "O=MOZILLA CORPORATION, L=SAN FRANCISCO, S=CALIFORNIA, C=US"
ANYDESK = "O=ANYDESK SOFTWARE GMBH, L=STUTTGART, S=BADEN-WÜRTTEMBERG, C=DE"
HOST_MAP = Path(__file__).resolve().parents[3] / "fixtures" / "wazuh_ruleset" / "host_map.json"
MODEL = {name: {"mode": "enforce", "default_rules": True} for name in ("Exe", "Msi", "Script", "Appx")}
TRUST = {"trusted_vendors": ["Microsoft Corporation", "Wazuh, Inc."], "denied_vendors": ["AnyDesk Software GmbH"]}


def feed(model=None, params=None, signers=None, summary=None, collections=("Exe", "Msi", "Script", "Dll")):
    model = MODEL if model is None else model
    params = TRUST if params is None else params
    signers = vendor_signers(
        signers if signers is not None else {"Microsoft Corporation": MICROSOFT, "AnyDesk Software GmbH": ANYDESK}
    )
    decision = detection_decision(params, summary, "summary.json" if summary else "")
    policy, placed = trust_rules(parse_model(model), decision, signers, list(collections), "S-1-1-0")
    return policy, coverage(policy, decision, signers, placed)


def names(policy, collection):
    return sorted(r.name for r in policy.collections[collection].rules if r.origin == "trust policy")


@pytest.mark.parametrize(
    "subject",
    [
        MICROSOFT,
        ANYDESK,
        'O="ZOOM VIDEO COMMUNICATIONS, INC.", L=SAN JOSE, S=CALIFORNIA, C=US',
        "CN=Contoso Code Signing, O=Contoso",
    ],
)
def test_signer_subjects(subject):
    assert signer_subject(subject, "where") == subject


@pytest.mark.parametrize(
    ("subject", "message"),
    [
        ("Microsoft Corporation", "is not a certificate subject"),
        ("L=REDMOND, C=US", "names no O= (organisation) or CN="),
        ("O=X, =Y", "is not a certificate subject"),
        ("", "must not be empty"),
    ],
)
def test_bad_signer_subjects_name_the_vendor(subject, message):
    with pytest.raises(AppLockerError) as exc:
        vendor_signers({"Contoso": [MICROSOFT, subject]})
    assert str(exc.value).startswith("vendor_signers['Contoso'][1]")
    assert message in str(exc.value)


def test_trusted_and_denied_vendors_become_publisher_rules_in_configured_collections():
    policy, report = feed()
    for name in ("Exe", "Msi", "Script"):
        assert names(policy, name) == ["Denied vendor: AnyDesk Software GmbH", "Trusted vendor: Microsoft Corporation"]
    assert names(policy, "Dll") == []  # not configured: a rule there would switch Dll enforcement on
    assert names(policy, "Appx") == []  # packaged-app publishers are not file signers
    deny = next(r for r in policy.collections["Exe"].rules if r.name.startswith("Denied"))
    assert (deny.action, deny.sid, deny.condition.publisher, deny.condition.low) == ("Deny", "S-1-1-0", ANYDESK, "*")
    assert report["trust_collections"] == ["Exe", "Msi", "Script"]
    assert report["vendors"]["Microsoft Corporation"]["applocker"][0]["collection"] == "Exe"


def test_coverage_both_ways():
    _policy, report = feed()
    assert report["detection_only"] == [
        {
            "vendor": "Wazuh, Inc.",
            "detection": "trusted",
            "reasons": ["explicit"],
            "reason": "no signer subject in vendor_signers: AppLocker cannot match this vendor",
        }
    ]
    prevention = {(p["collection"], p["rule"]): p["reason"] for p in report["prevention_only"]}
    assert prevention[("Exe", "(Default Rule) All files located in the Windows folder")] == (
        "path rule: detection trusts vendors, not folders"
    )
    assert prevention[("Msi", "(Default Rule) All digitally signed Windows Installer files")] == (
        "allows every signed file; detection trusts vendors one by one"
    )
    assert not any(rule.startswith(("Trusted vendor", "Denied vendor")) for _c, rule in prevention)
    assert report["counts"] == {
        "vendors": 3,
        "covered": 2,
        "detection_only": 1,
        "prevention_only": 10,
        "unused_signers": 0,
        "conflicts": 0,
    }
    assert report["detection_source"]["kind"] == "trust_policy"


def test_model_publisher_rules_without_a_trusted_vendor_are_prevention_only():
    model = {
        **MODEL,
        "Exe": {
            "mode": "enforce",
            "default_rules": True,
            "rules": [
                {"name": "Contoso", "publisher": "O=CONTOSO, C=US"},
                {"name": "Microsoft tools", "publisher": MICROSOFT.lower(), "product": "SYSINTERNALS"},
                {"name": "Block AnyDesk", "publisher": ANYDESK, "action": "deny", "binary": "ANYDESK.EXE"},
                {"name": "Allow AnyDesk", "publisher": ANYDESK, "binary": "ANYDESK.EXE", "sid": "S-1-5-32-544"},
                {"name": "Old", "hash": "0x" + "AB" * 32, "action": "deny"},
            ],
        },
    }
    _policy, report = feed(model)
    prevention = {p["rule"]: p["reason"] for p in report["prevention_only"] if p["collection"] == "Exe"}
    assert prevention["Contoso"] == "publisher rule for a signer no trusted vendor of the trust policy maps to"
    assert "Microsoft tools" not in prevention  # Microsoft's signer is trusted (case does not matter)
    assert "Block AnyDesk" not in prevention  # AnyDesk's signer is denied
    assert prevention["Allow AnyDesk"] == "publisher rule for a signer no trusted vendor of the trust policy maps to"
    assert prevention["Old"] == "hash rule: detection trusts vendors, not file hashes"


def test_one_signer_for_several_vendors_is_one_rule():
    params = {"trusted_vendors": ["Adobe", "Adobe Inc."], "denied_vendors": []}
    adobe = "O=ADOBE INC., L=SAN JOSE, S=CA, C=US"
    policy, report = feed(params=params, signers={"Adobe": adobe, "Adobe Inc.": [adobe.lower()]})
    assert names(policy, "Exe") == ["Trusted vendor: Adobe, Adobe Inc."]
    assert report["counts"]["covered"] == 2


def test_a_signer_both_trusted_and_denied_is_denied_only():
    params = {"trusted_vendors": ["Vendor A"], "denied_vendors": ["Vendor B"]}
    shared = "O=SHARED SIGNING SERVICE, C=US"
    policy, report = feed(params=params, signers={"Vendor A": shared, "Vendor B": shared})
    assert names(policy, "Exe") == ["Denied vendor: Vendor B"]
    assert report["conflicts"] == [{"signer": shared, "trusted": ["Vendor A"], "denied": ["Vendor B"]}]
    assert report["detection_only"][0]["vendor"] == "Vendor A"
    assert report["detection_only"][0]["reason"] == "its signer is both trusted and denied: denied wins, no allow rule"


def test_the_same_rule_written_in_the_model_is_kept_once():
    model = {**MODEL, "Exe": {**MODEL["Exe"], "rules": [{"name": "Our Microsoft rule", "publisher": MICROSOFT}]}}
    policy, report = feed(model)
    assert names(policy, "Exe") == ["Denied vendor: AnyDesk Software GmbH"]
    placed = report["vendors"]["Microsoft Corporation"]["applocker"]
    assert placed[0] == {
        "collection": "Exe",
        "action": "Allow",
        "rule": "Our Microsoft rule",
        "rule_id": placed[0]["rule_id"],
    }


def test_unused_signers_and_no_configured_collection():
    _policy, report = feed(
        signers={"Microsoft Corporation": MICROSOFT, "Google LLC": "O=GOOGLE LLC, C=US"}, collections=("Dll",)
    )
    assert report["unused_signers"] == [
        {
            "vendor": "Google LLC",
            "signers": ["O=GOOGLE LLC, C=US"],
            "reason": "the trust policy neither trusts nor denies this vendor",
        }
    ]
    ms = next(d for d in report["detection_only"] if d["vendor"] == "Microsoft Corporation")
    assert ms["reason"] == "no configured collection in trust_collections to hold its rule"


def test_the_detection_summary_says_what_detection_trusts(tmp_path):
    """The real wazuh_ruleset render's summary.json: prevalence-trusted vendors count too."""
    params = {
        "inventory_file": str(HOST_MAP),
        "trusted_vendors": ["Wazuh, Inc."],
        "denied_vendors": ["AnyDesk Software GmbH"],
        "min_prevalence": 0.5,
        "rule_id_base": 100200,
    }
    summary = render_wazuh(params, {}).summary
    signers = {"Mozilla": MOZILLA, "Microsoft Corporation": MICROSOFT}
    policy, report = feed(
        params={**params, "trusted_vendors": ["Wazuh, Inc.", "Contoso"]}, signers=signers, summary=summary
    )
    # Microsoft (4 of 4 hosts) and Mozilla (2 of 4) are trusted by prevalence
    assert names(policy, "Exe") == ["Trusted vendor: Microsoft Corporation", "Trusted vendor: Mozilla"]
    assert report["vendors"]["Mozilla"]["reasons"] == ["prevalence"]
    assert report["detection_source"] == {
        "kind": "detection_summary",
        "path": "summary.json",
        "note": "what the Wazuh render decided",
    }
    assert report["inconsistencies"] == [
        "'Contoso' is in trusted_vendors but summary.json does not list it as explicitly trusted"
    ]
    assert {d["vendor"] for d in report["detection_only"]} == {"Wazuh, Inc.", "AnyDesk Software GmbH"}


def test_a_summary_from_elsewhere_is_refused():
    with pytest.raises(AppLockerError, match=r"not a summary\.json written by m1038\.appcontrol\.wazuh_ruleset"):
        detection_decision(TRUST, {"generator": "other"}, "x/summary.json")


def test_the_trust_lists_are_validated_as_detection_validates_them():
    with pytest.raises(AppLockerError, match=r"trusted_vendors\[0\]"):
        detection_decision({"trusted_vendors": ["bad\x00vendor"]}, None, "")
    with pytest.raises(AppLockerError, match="trust_collections: 'Appx' is not one of Exe, Msi, Script, Dll"):
        feed(collections=("Appx",))

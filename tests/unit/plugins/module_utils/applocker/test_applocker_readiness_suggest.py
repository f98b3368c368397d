"""Suggested rules are the policy model's own: pasted into the model they render to XSD-valid XML."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_readiness import Evidence, make_window
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_readiness_events import Event, Signature
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_readiness_html import suggestions_yaml
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_readiness_sources import read_alerts
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_readiness_suggest import organisation, suggest
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_readiness_thresholds import parse_thresholds
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_render import AUDIT_FILE, ENFORCE_FILE, render
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_xml import parse_policy, xsd_errors

ROOT = Path(__file__).resolve().parents[5]
ALERTS = ROOT / "tests" / "unit" / "fixtures" / "applocker" / "readiness" / "alerts.json"
WINDOW = make_window(start="2026-11-01T00:00:00Z", end="2026-12-01T00:00:00Z")


def project_model() -> dict:
    """The project's shipped model (group_vars/all/applocker.yml), as a user starts from it."""
    return yaml.safe_load((ROOT / "group_vars" / "all" / "applocker.yml").read_text())["m1038_applocker_model"]


def paste(model: dict, fragment: dict) -> dict:
    """What a user does with suggestions.yml: each rule appended to its collection's rules."""
    model = copy.deepcopy(model)
    for collection, settings_ in fragment["m1038_applocker_model"].items():
        model.setdefault(collection, {"mode": "audit"}).setdefault("rules", []).extend(settings_["rules"])
    return model


def rendered(model: dict) -> dict[str, bytes]:
    params = {"model": model, "guardrail_overrides": ["unscanned_paths"]}
    return render(params).files


def report() -> dict:
    evidence = Evidence(WINDOW, parse_thresholds({}), None)
    return evidence.report(read_alerts([str(ALERTS)], evidence))


def test_suggestions_pasted_into_the_model_render_xsd_valid_xml_with_every_rule():
    readiness = report()
    fragment = yaml.safe_load(suggestions_yaml(readiness))
    assert sorted(fragment["m1038_applocker_model"]) == ["Appx", "Dll", "Exe", "Msi", "Script"]
    files = rendered(paste(project_model(), fragment))
    for name in (AUDIT_FILE, ENFORCE_FILE):
        assert xsd_errors(files[name], name) == []
    policy = parse_policy(files[ENFORCE_FILE])
    names = {rule.name for coll in policy.collections.values() for rule in coll.rules}
    suggested = [rule for rules in readiness["suggestions"].values() for rule in rules]
    assert len(suggested) == readiness["summary"]["suggestions"] == 8
    assert {rule["name"] for rule in suggested} <= names
    npp = next(r for r in policy.collections["Exe"].rules if r.name.startswith("Readiness: NPP"))
    assert npp.condition.kind == "publisher"
    assert (npp.condition.publisher, npp.condition.low, npp.condition.high) == (
        "O=NOTEPAD++, L=SAINT CLOUD, S=ILE-DE-FRANCE, C=FR",
        "8.4.1.0",
        "*",
    )
    att = next(r for r in policy.collections["Exe"].rules if "ATTCONNECT" in r.name)
    assert att.condition.publisher == 'O="AT&T SERVICES, INC.", L=DALLAS, S=TEXAS, C=US'  # entities undone
    script = policy.collections["Script"].rules
    assert any(r.condition.kind == "hash" and r.condition.hashes[0].source_name == "setup-printer.ps1" for r in script)
    appx = next(r for r in policy.collections["Appx"].rules if r.name.startswith("Readiness"))
    assert (appx.condition.product, appx.condition.binary) == ("5319275A.WHATSAPPDESKTOP", "*")


def test_one_suggestion_is_one_copy_into_the_model():
    readiness = report()
    entry = next(b for b in readiness["binaries"] if b["label"] == "CONTOSOAGENT.MSI")
    model = project_model()
    model["Msi"].setdefault("rules", []).append(entry["suggestion"]["rule"])
    policy = parse_policy(rendered(model)[ENFORCE_FILE])
    assert entry["suggestion"]["rule"]["name"] in {r.name for r in policy.collections["Msi"].rules}


def test_no_suggestion_without_signature_or_hash_and_for_an_unsigned_package():
    readiness = report()
    by_label = {b["label"]: b for b in readiness["binaries"]}
    assert by_label["unknown.exe"]["suggestion"] is None
    assert "write the rule by hand" in by_label["unknown.exe"]["suggestion_note"]
    sideloaded = by_label["Contoso.SideloadedApp_1.0.0.0_x64__8wekyb3d8bbwe"]
    assert sideloaded["suggestion"] is None
    assert "packaged apps are allowed by publisher only" in sideloaded["suggestion_note"]


def test_a_rule_that_would_not_render_is_never_offered():
    binary = {
        "collection": "Exe",
        "kind": "publisher",
        "label": "X.EXE",
        "publisher": "O=BAD\x01VENDOR",
        "product": "P",
        "binary": "X.EXE",
        "versions": {"low": "1.0.0.0"},
        "paths": ["C:\\x.exe"],
    }
    suggestion, note = suggest(binary)
    assert suggestion is None
    assert "would not render" in note and "U+0001" in note


def test_organisation_for_names():
    assert organisation('O="ZOOM VIDEO COMMUNICATIONS, INC.", L=SAN JOSE, S=CALIFORNIA, C=US') == (
        "ZOOM VIDEO COMMUNICATIONS, INC."
    )
    assert organisation("CN=24803D75-212C-471A-BC57-9EF86AB91435") == "24803D75-212C-471A-BC57-9EF86AB91435"


subject_text = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\\"), min_size=1, max_size=40
)


@settings(max_examples=40)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["Exe", "Dll", "Msi", "Script", "Appx"]),
            subject_text,
            subject_text,
            subject_text,
            st.none() | st.tuples(*[st.integers(0, 65535)] * 4).map(lambda t: ".".join(map(str, t))),
            st.none() | st.binary(min_size=32, max_size=32).map(lambda b: b.hex().upper()),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_any_evidence_gives_suggestions_that_render(items):
    evidence = Evidence(WINDOW, parse_thresholds({}), None)
    for index, (collection, org, product, binary, version, sha) in enumerate(items):
        signature = Signature(f"O={org}", product, binary, version) if index % 2 == 0 else None
        evidence.add(
            Event(
                f"h{index}",
                8003,
                collection,
                "audit",
                f"C:\\f{index}.x",
                f"C:\\f{index}.x",
                signature,
                sha,
                None,
                1.8e9,
                1.8e9,
            )
        )
    readiness = evidence.report()
    fragment = yaml.safe_load(suggestions_yaml(readiness))
    model = paste({name: {"mode": "audit"} for name in ("Exe", "Msi", "Script", "Dll", "Appx")}, fragment)
    files = rendered(model)  # two suggestions are never the same rule: one binary, one suggestion
    for name in (AUDIT_FILE, ENFORCE_FILE):
        assert xsd_errors(files[name], name) == []

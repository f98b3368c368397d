"""Readiness events: times, the decoder's escaping undone, FQBNs, collections, alerts as the manager writes them."""

from __future__ import annotations

import calendar
import json
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_readiness_events import (
    AUDIT_IDS,
    BLOCKED_IDS,
    EvidenceError,
    alert_facts,
    collection_of,
    decoded_value,
    file_hash,
    format_time,
    make_event,
    parse_fqbn,
    parse_time,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_escape import eventchannel_value

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "applocker" / "readiness"


def alerts() -> list[dict]:
    return [json.loads(line) for line in (FIXTURES / "alerts.json").read_text(encoding="utf-8").splitlines()]


# --- times ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-20T10:15:02.123+0000", calendar.timegm((2026, 11, 20, 10, 15, 2)) + 0.123),  # alerts.json
        ("2022-08-10T23:36:47.5675660Z", calendar.timegm((2022, 8, 10, 23, 36, 47)) + 0.567566),  # systemTime
        ("2026-11-20T12:15:02+02:00", calendar.timegm((2026, 11, 20, 10, 15, 2))),
        ("2026-11-20T05:15:02-0500", calendar.timegm((2026, 11, 20, 10, 15, 2))),
        ("2026-11-20 10:15:02", calendar.timegm((2026, 11, 20, 10, 15, 2))),  # no zone: UTC
    ],
)
def test_times_as_the_sources_write_them(text, expected):
    assert parse_time(text) == pytest.approx(expected)


@pytest.mark.parametrize(
    "text", ["2026-02-30T00:00:00Z", "2026-13-01T00:00:00Z", "2026-11-20T24:00:00Z", "yesterday", "", None, 1763600000]
)
def test_a_bad_time_names_itself_and_where(text):
    with pytest.raises(EvidenceError, match=r"^alerts.json:7: timestamp: "):
        parse_time(text, "alerts.json:7: timestamp")


def test_an_impossible_offset_is_refused():
    with pytest.raises(EvidenceError, match="offset"):
        parse_time("2026-11-20T10:15:02+25:00")


@given(st.integers(min_value=0, max_value=4_102_444_799))
def test_format_then_parse_is_the_identity_to_the_second(seconds):
    assert parse_time(format_time(seconds)) == seconds


@given(
    st.datetimes(min_value=datetime(1000, 1, 1)),
    st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59),
    st.integers(min_value=0, max_value=999),
)
def test_every_offset_form_reads_as_the_same_instant(moment, offset_minutes, millis):
    sign = "+" if offset_minutes >= 0 else "-"
    hours, minutes = divmod(abs(offset_minutes), 60)
    base = moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{millis:03d}"
    utc = calendar.timegm(moment.timetuple()) + millis / 1000 - offset_minutes * 60
    assert parse_time(f"{base}{sign}{hours:02d}{minutes:02d}") == pytest.approx(utc)
    assert parse_time(f"{base}{sign}{hours:02d}:{minutes:02d}") == pytest.approx(utc)


# --- values -----------------------------------------------------------------------------------


@given(st.text())
def test_decoded_value_undoes_the_eventchannel_decoder(text):
    assert decoded_value(eventchannel_value(text)) == text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("C:\\\\x\\\\npp.exe", "C:\\x\\npp.exe"),  # doubled backslashes as the decoder writes them
        ('O=\\"AT&amp;T SERVICES, INC.\\"', 'O="AT&T SERVICES, INC."'),
        ("C:\\x\\npp.exe", "C:\\x\\npp.exe"),  # not in the decoder's form: kept
        ("&lt;x&gt; &amp;amp;", "<x> &amp;"),
        (None, None),
    ],
)
def test_decoded_value_examples(value, expected):
    assert decoded_value(value) == expected


def test_an_fqbn_splits_from_the_right_and_keeps_a_version_only_when_it_is_one():
    signed = parse_fqbn("O=CONTOSO LTD, L=SEATTLE, S=WASHINGTON, C=US\\CONTOSO TOOLS\\TOOL.EXE\\2.10.0.7")
    assert (signed.publisher, signed.product, signed.binary, signed.version) == (
        "O=CONTOSO LTD, L=SEATTLE, S=WASHINGTON, C=US",
        "CONTOSO TOOLS",
        "TOOL.EXE",
        "2.10.0.7",
    )
    assert parse_fqbn("O=X\\P\\B\\*").version is None
    for unsigned in (None, "", "-", "*", "TOOL.EXE", "no-publisher\\P\\B\\1.0.0.0"):
        assert parse_fqbn(unsigned) is None


@given(
    st.text(st.characters(blacklist_characters="\\\r\n", blacklist_categories=("Cs",)), min_size=1).map(
        lambda s: "O=" + s
    ),
    st.text(st.characters(blacklist_characters="\\", blacklist_categories=("Cs",))),
    st.text(st.characters(blacklist_characters="\\", blacklist_categories=("Cs",))),
    st.tuples(*[st.integers(0, 65535)] * 4).map(lambda t: ".".join(map(str, t))),
)
def test_any_fqbn_round_trips_through_its_parts(publisher, product, binary, version):
    parsed = parse_fqbn(f"{publisher}\\{product}\\{binary}\\{version}")
    assert parsed is not None
    assert parsed.publisher == publisher.strip()
    assert parsed.product == (product.strip() or "*")
    assert parsed.binary == (binary.strip() or "*")
    assert parsed.version == version


@pytest.mark.parametrize(
    ("event_id", "policy", "path", "expected"),
    [
        (8003, "EXE", "C:\\x.exe", "Exe"),
        (8003, "Dll", "C:\\x.exe", "Dll"),  # the policy name wins
        (8003, None, "C:\\x\\plugin.DLL", "Dll"),
        (8006, None, "C:\\setup.MSI", "Msi"),
        (8006, None, "C:\\logon.ps1", "Script"),
        (8021, None, "Contoso.App_1.0.0.0_x64__8wekyb3d8bbwe", "Appx"),
        (8024, "nonsense", "", "Appx"),
        (8003, "SCRIPT", "C:\\x.exe", "Exe"),  # a policy name the event's channel cannot hold is not taken
        (8006, "EXE", "C:\\setup.msi", "Msi"),
    ],
)
def test_collection_of(event_id, policy, path, expected):
    assert collection_of(event_id, policy, path) == expected


def test_file_hash_takes_sha256_only():
    digest = "ab" * 32
    assert file_hash(digest) == digest.upper()
    assert file_hash("0x" + digest) == digest.upper()
    assert file_hash("ab" * 20) is None  # SHA1
    assert file_hash("-") is None


def test_the_audit_and_block_tables():
    assert AUDIT_IDS == (8003, 8006, 8021, 8024)
    assert BLOCKED_IDS == (8004, 8007, 8022, 8025)


# --- alerts -----------------------------------------------------------------------------------


def test_an_8003_alert_as_the_manager_writes_it():
    alert = next(a for a in alerts() if a["agent"]["name"] == "WS-08")
    facts = alert_facts(alert, "alerts.json:14")
    event = facts.event
    assert facts.host == "WS-08"
    assert (event.event_id, event.collection, event.outcome) == (8003, "Exe", "audit")
    assert event.path == "%PROGRAMFILES%\\AT&T\\ATTCONNECT.EXE"
    assert event.full_path == "C:\\Program Files (x86)\\AT&T\\attconnect.exe"
    assert event.signature.publisher == 'O="AT&T SERVICES, INC.", L=DALLAS, S=TEXAS, C=US'
    assert event.signature.product == "AT&T CONNECT"
    assert event.user == "S-1-5-21-1004336348-1177238915-682003330-1105"


def test_an_8006_alert_and_a_packaged_app_alert():
    by_host = {a["agent"]["name"]: a for a in alerts() if a.get("rule", {}).get("id") in ("100214", "100217")}
    script = alert_facts(next(a for a in alerts() if '"SCRIPT"' in json.dumps(a)), "x").event
    assert (script.event_id, script.collection, script.sha256) == (8006, "Script", "0D1F5C9E" + script.sha256[8:])
    appx = alert_facts(by_host["WS-05"], "x").event
    assert appx.collection == "Appx"
    assert appx.path.startswith("\\??\\C:\\Program Files\\WindowsApps\\5319275A.WhatsAppDesktop")
    assert appx.signature.product == "5319275A.WHATSAPPDESKTOP"


def test_alerts_of_the_manager_other_providers_and_the_stock_rule():
    facts = [alert_facts(a, "x") for a in alerts()]
    assert None in facts  # agent 000, the manager
    browser = [f for f, a in zip(facts, alerts(), strict=True) if a["rule"]["id"] == "61118"]
    assert browser and browser[0].event is None  # event 8003 of another provider is not AppLocker
    stock = [f for f, a in zip(facts, alerts(), strict=True) if a["rule"]["id"] == "67012"]
    assert stock and stock[0].event.event_id == 8003  # read by provider and ID, whatever rule fired


def test_an_alert_that_is_not_an_object_or_has_no_time():
    with pytest.raises(EvidenceError, match="an alert is a JSON object"):
        alert_facts([1, 2], "alerts.json:3")
    with pytest.raises(EvidenceError, match=r"alerts\.json:4: timestamp"):
        alert_facts({"agent": {"id": "001", "name": "WS-01"}}, "alerts.json:4")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=50)
@given(json_values, st.sampled_from(["8003", "8006", 8021, "8024", "x", None]), json_values)
def test_any_alert_shape_either_reads_or_raises_an_evidence_error(noise, event_id, fields):
    alert = {
        "timestamp": "2026-11-20T10:15:02.123+0000",
        "agent": {"id": "007", "name": "WS-07"},
        "data": {"win": {"system": {"providerName": "Microsoft-Windows-AppLocker", "eventID": event_id}}},
        "noise": noise,
    }
    alert["data"]["win"]["ruleAndFileData"] = fields
    try:
        facts = alert_facts(alert, "x")
    except EvidenceError:
        return
    assert facts.host == "WS-07"


@given(st.dictionaries(st.sampled_from(["policyName", "filePath", "fullFilePath", "fqbn", "fileHash"]), st.text()))
def test_make_event_accepts_any_field_text(data):
    event = make_event("h", 8003, (0.0, 0.0), data, decode=True)
    assert event.collection in ("Exe", "Dll")

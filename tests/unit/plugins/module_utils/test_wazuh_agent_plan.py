"""The Wazuh agent planner against recorded probe results (tests/unit/fixtures/wazuh_agent/probes)."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.m1038.appcontrol.plugins.module_utils._ossec_conf import decode_conf, encode_conf
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_agent_conf import render
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_agent_ossec_edit import Desired as EditDesired
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_agent_plan import (
    Desired,
    Rendered,
    edit_probed,
    make_plan,
    needs,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_agent_probe import (
    connection,
    parse_state,
    parse_version,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_channels import channels
from ansible_collections.m1038.appcontrol.plugins.module_utils._winedge import PlanError, ProbeError

PROJECT = Path(__file__).resolve().parents[4]
FIXTURES = PROJECT / "tests" / "unit" / "fixtures" / "wazuh_agent"
LAB_PROBE = PROJECT / "inventories" / "lab" / "files" / "windows" / "m1038-lab-win01" / "wazuh_agent_probe.json"
MANAGER = "wazuh.corp.example.com"
AGENT_DIR = "C:\\Program Files (x86)\\ossec-agent"
ROOT = "C:\\ProgramData\\m1038-appcontrol\\wazuh_agent"
PACKAGE_ID = "wazuh-agent-0123456789abcdef"
# SHA256 of ossec.conf on the compliant fixtures: the default 4.x file as the role edits it by default
# for MANAGER (checked below against the editor): a change that re-edits every compliant agent fails here.
COMPLIANT_SHA256 = "7451bf6589f013a5a94535271016da781bd661108006cc96784e7d7ff5701e30"


def probe(name: str) -> dict:
    return json.loads((FIXTURES / "probes" / f"{name}.json").read_text())


def text_of(report: dict) -> str:
    return decode_conf(base64.b64decode(report["content_b64"]))


def plan_for(name: str, current: dict | None = None, **overrides):
    current = current if current is not None else probe(name)
    settings = {
        "version": "4.14.7",
        "manager_address": MANAGER,
        "groups": "m1038-windows",
        "password": True,
        "channels": channels(),
        "package_id": PACKAGE_ID,
    }
    settings.update(overrides)
    local = settings.get("collection") == "ossec_conf"
    result, error = edit_probed(
        current,
        EditDesired(
            manager_address=settings["manager_address"],
            agent_name=settings.get("agent_name", ""),
            groups=settings["groups"],
            password_file=settings["password"],
            channels=settings["channels"] if local else [],
        ),
    )
    if "rendered" not in settings:
        settings["rendered"] = Rendered(
            path="/ctl/out/ws/ossec.conf" if result is not None and result.changes else "",
            host_sha256=current["ossec_conf"]["sha256"],
            sha256=hashlib.sha256(encode_conf(result.text)).hexdigest() if result else None,
            changes=result.changes if result else [],
            warnings=result.warnings if result else [],
            error=error,
        )
    return make_plan(current, Desired(**settings), host=name)


def test_compliant_fixtures_hold_what_the_role_writes_by_default():
    """ossec.conf of the compliant fixtures is the default 4.x file as the role edits it, and it edits no further."""
    default = (FIXTURES / "ossec" / "default-4x.conf").read_bytes().replace(b"\n", b"\r\n")
    for name in ("compliant", "older-version", "newer-installed"):
        report = probe(name)["ossec_conf"]
        assert report["sha256"] == COMPLIANT_SHA256, name
        assert hashlib.sha256(base64.b64decode(report["content_b64"])).hexdigest() == COMPLIANT_SHA256
    assert text_of(probe("not-enrolled")["ossec_conf"]) == decode_conf(default)
    result, error = edit_probed(probe("compliant"), EditDesired(manager_address=MANAGER, groups="m1038-windows"))
    assert error is None and result.changes == []
    # The agent group's agent.conf on the agent is what the manager role renders from the same table.
    assert text_of(probe("compliant")["shared_conf"]).replace("\r\n", "\n") == render(channels())


def test_the_role_defaults_are_what_the_fixtures_assume():
    defaults = yaml.safe_load((PROJECT / "roles" / "wazuh_agent" / "defaults" / "main.yml").read_text())
    assert defaults["wazuh_agent_version"] == "4.14.7"
    assert defaults["wazuh_agent_group"] == "m1038-windows"
    assert defaults["wazuh_agent_collection"] == "agent_group"
    assert defaults["wazuh_agent_name"] == ""


def test_not_installed_plans_install_enrollment_configuration_and_one_restart():
    plan = plan_for("not-installed")
    assert plan.action_ids == ["install", "configure", "enroll", "restart"]
    install = plan.actions[0].details
    assert install["package"] == {
        "dir": ROOT + "\\package",
        "msi": ROOT + "\\package\\" + PACKAGE_ID + ".msi",
        "log": ROOT + "\\package\\" + PACKAGE_ID + ".log",
    }
    assert plan.actions[2].details == {
        "kind": "not_registered",
        "password_file": AGENT_DIR + "\\authd.pass",
        "clear_keys": None,
    }
    assert plan.actions[1].details == {"after_install": True}
    assert plan.actions[3].details["reasons"] == ["install", "configure", "enroll"]
    assert needs(plan) == {"package": True, "blocked": None}
    assert plan.changed and plan.facts["installed_version"] is None


def test_without_a_package_an_install_names_none():
    plan = plan_for("not-installed", package_id="")
    assert plan.actions[0].details["package"] is None and needs(plan)["package"] is True


def test_after_the_install_the_second_plan_restarts_for_the_new_release():
    current = probe("not-enrolled")
    plan = plan_for("not-enrolled", current, after_install=True)
    assert plan.action_ids == ["configure", "enroll", "restart"]
    assert plan.actions[-1].details["reasons"] == ["new release", "configure", "enroll"]


def test_older_version_is_upgraded_keeping_the_configuration_and_the_key():
    plan = plan_for("older-version")
    assert plan.action_ids == ["upgrade", "restart"]
    upgrade = plan.actions[0]
    assert (upgrade.details["from"], upgrade.details["to"]) == ("4.9.2", "4.14.7")
    assert upgrade.details["keep"] == [
        {"src": AGENT_DIR + "\\ossec.conf", "dest": ROOT + "\\backup\\ossec.conf.previous"},
        {"src": AGENT_DIR + "\\client.keys", "dest": ROOT + "\\backup\\client.keys.previous"},
    ]
    assert "4.9.2 to 4.14.7" in upgrade.reason
    assert plan.warnings == []


def test_newer_installed_is_never_downgraded_unless_allowed():
    plan = plan_for("newer-installed")
    assert plan.compliant and "newer than wazuh_agent_version 4.14.7" in plan.warnings[0]
    assert "wazuh_agent_allow_downgrade" in plan.warnings[0]
    plan = plan_for("newer-installed", allow_downgrade=True)
    assert plan.action_ids == ["downgrade", "restart"]
    downgrade = plan.actions[0].details
    assert downgrade["uninstall_product_code"] == "{6D9B1C42-7F1E-4B8A-9A3E-2C5D8E0F1A47}"
    assert downgrade["restore"] == [
        {"src": ROOT + "\\backup\\client.keys.previous", "dest": AGENT_DIR + "\\client.keys"}
    ]
    assert any("not carried over" in w for w in plan.warnings)
    with pytest.raises(PlanError, match=r"4\.14\.9 is installed, 4\.14\.7 was requested"):
        plan_for("newer-installed", verify=True)


def test_other_manager_re_enrolls_keeping_the_old_key():
    plan = plan_for("other-manager")
    assert plan.action_ids == ["configure", "enroll", "restart"]
    enroll = plan.actions[1]
    assert enroll.details["kind"] == "other_manager"
    assert enroll.details["clear_keys"] == {
        "path": AGENT_DIR + "\\client.keys",
        "backup": ROOT + "\\backup\\client.keys.previous",
    }
    assert "enrolled with wazuh-old.corp.example.com, not wazuh.corp.example.com" in enroll.reason
    configure = plan.actions[0].details
    assert configure["push"] == {"src": "/ctl/out/ws/ossec.conf", "dest": ROOT + "\\staging\\ossec.conf"}
    assert configure["expected_sha256"] == probe("other-manager")["ossec_conf"]["sha256"]
    assert configure["backup"] == ROOT + "\\backup\\ossec.conf.previous"
    assert plan.facts["current_manager"] == "wazuh-old.corp.example.com"
    # The same manager under another letter case is the same manager.
    assert not plan_for("other-manager", manager_address="WAZUH-OLD.corp.example.com").has("enroll")


def test_not_enrolled_enrolls_starts_and_locks_the_password_file():
    plan = plan_for("not-enrolled")
    assert plan.action_ids == ["configure", "enroll", "restart"]
    assert plan.actions[1].details["kind"] == "not_registered"
    assert "server><address>: '0.0.0.0' -> 'wazuh.corp.example.com'" in plan.actions[0].reason
    # The enrollment rewrites authd.pass locked down, so the loose one needs no separate step.
    assert not plan.has("password_file")
    assert plan.facts["connection"]["status"] == "pending"
    without = plan_for("not-enrolled", password=False)
    assert any("enrolls without one" in w for w in without.warnings)
    assert any("BUILTIN\\Users" in w and "locked down" in w for w in without.warnings)


def test_a_loose_password_file_on_an_enrolled_agent_is_locked_down():
    current = probe("compliant")
    current["password_file"] = probe("not-enrolled")["password_file"]
    plan = plan_for("compliant", current)
    assert plan.action_ids == ["password_file"]
    assert "BUILTIN\\Users" in plan.actions[0].reason


def test_compliant_plans_nothing_and_verifies():
    plan = plan_for("compliant")
    assert plan.compliant and plan.warnings == [] and not plan.changed
    assert plan.facts["connection"] == {
        "registered": True,
        "agent_id": "017",
        "agent_name": "WS-0101",
        "status": "connected",
        "last_ack": "2026-11-30 09:14:02",
        "last_keepalive": "2026-11-30 09:14:02",
        "stale_state": False,
    }
    assert plan.facts["shared_conf_missing"] == []
    plan_for("compliant", verify=True)
    assert needs(plan) == {"package": False, "blocked": None}


def test_local_collection_adds_the_block_and_restarts():
    plan = plan_for("compliant", collection="ossec_conf")
    assert plan.action_ids == ["configure", "restart"]
    assert "managed block added (5 channels)" in plan.actions[0].reason
    assert "Application: ossec.conf already collects it" in plan.warnings[0]


def test_broken_ossec_conf_is_reported_and_blocks_everything():
    plan = plan_for("broken-ossec-conf", version="4.14.9")
    assert plan.action_ids == ["blocked"]
    assert "Element 'localfile' not closed. (line 10)" in plan.actions[0].reason
    assert needs(plan)["blocked"].startswith(AGENT_DIR + "\\ossec.conf: Wazuh's XML reader refuses it")
    assert plan.facts["ossec_conf_error"] == needs(plan)["blocked"]
    with pytest.raises(PlanError, match="not compliant after the apply: blocked"):
        plan_for("broken-ossec-conf", verify=True)


def test_a_failover_configuration_is_blocked_too():
    current = probe("compliant")
    text = (FIXTURES / "ossec" / "failover.conf").read_bytes()
    current["ossec_conf"].update(
        content_b64=base64.b64encode(text).decode(), sha256=hashlib.sha256(text).hexdigest(), size=len(text)
    )
    plan = plan_for("compliant", current)
    assert plan.action_ids == ["blocked"] and "lists 2 managers" in plan.actions[0].reason


def test_a_disconnected_compliant_agent_is_reported_not_restarted():
    current = probe("compliant")
    current["agent_state"]["text"] = current["agent_state"]["text"].replace(
        "status='connected'", "status='disconnected'"
    )
    plan = plan_for("compliant", current)
    assert plan.compliant and "not connected to its manager (status disconnected" in plan.warnings[0]
    with pytest.raises(PlanError, match=r"did not enroll and connect to wazuh\.corp\.example\.com within 0 s"):
        plan_for("compliant", current, verify=True)


def test_a_state_file_from_before_the_restart_is_not_taken_for_a_connection():
    current = probe("compliant")
    current["agent_state"]["written_after_start"] = False
    link = connection(current)
    assert link["status"] is None and link["stale_state"] is True
    with pytest.raises(PlanError, match="state unknown"):
        plan_for("compliant", current, verify=True)
    current["agent_state"]["written_after_start"] = True
    plan_for("compliant", current, verify=True)


def test_the_plan_after_the_msi_fails_when_the_release_is_still_not_there():
    with pytest.raises(PlanError, match=r"the MSI ran, but the agent on older-version still needs upgrade.*'4\.9\.2'"):
        plan_for("older-version", after_install=True)


def test_after_a_downgrade_the_key_is_judged_by_the_manager_it_came_from():
    """A downgrade reinstalls: the fresh ossec.conf says 0.0.0.0, but the restored key is from our manager."""
    current = probe("not-enrolled")
    current["client_keys"] = probe("compliant")["client_keys"]
    plan = plan_for("not-enrolled", current, after_install=True, enrolled_manager=MANAGER)
    assert plan.action_ids == ["configure", "password_file", "restart"]
    # Without it the fresh file's 0.0.0.0 would send the restored key away, and the agent enrolls again.
    plan = plan_for("not-enrolled", current, after_install=True)
    assert plan.action_ids == ["configure", "enroll", "restart"]
    assert plan.actions[1].details["kind"] == "other_manager"
    # Only the plan after the MSI uses it.
    assert plan_for("other-manager", enrolled_manager=MANAGER).has("enroll")


def test_verify_names_what_the_agent_logged():
    current = probe("not-enrolled")
    current["waited_seconds"] = 120
    with pytest.raises(PlanError, match=r"within 120 s: client\.keys has 0 entries, state pending.*Unable to connect"):
        plan_for(
            "not-enrolled", current, verify=True, manage_enrollment=False, manage_config=False, manage_service=False
        )


def test_agent_group_check_warns_when_the_group_config_has_not_arrived():
    current = probe("compliant")
    current["shared_conf"] = {**current["shared_conf"], "exists": False, "content_b64": None, "sha256": None}
    plan = plan_for("compliant", current)
    assert plan.compliant and "has not received the agent.conf of m1038-windows" in plan.warnings[0]
    current = probe("compliant")
    partial = render(channels()[:1]).encode()
    current["shared_conf"]["content_b64"] = base64.b64encode(partial).decode()
    plan = plan_for("compliant", current)
    assert "does not collect Microsoft-Windows-AppLocker/EXE and DLL" in plan.warnings[0]


def test_name_mismatch_is_a_warning_not_a_second_enrollment():
    plan = plan_for("compliant", agent_name="ws-0101-new")
    assert not plan.has("enroll") and "enrolled as 'WS-0101', not 'ws-0101-new'" in plan.warnings[0]


def test_switched_off_concerns_are_not_planned():
    plan = plan_for("not-installed", manage_install=False)
    assert plan.compliant and "installing is switched off" in plan.warnings[0]
    plan = plan_for("other-manager", manage_service=False)
    assert plan.action_ids == ["configure", "enroll"]
    assert "needs a restart (configure, enroll) but wazuh_agent_service_enabled is false" in plan.warnings[-1]
    assert plan_for("other-manager", manage_enrollment=False, manage_config=False).action_ids == []


def test_stopped_service_is_started_when_nothing_restarts_it():
    current = probe("compliant")
    current["service"].update(state="stopped", start_mode="manual")
    plan = plan_for("compliant", current)
    assert plan.action_ids == ["service"] and plan.actions[0].details == {"name": "WazuhSvc"}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"version": "4.x"}, "wazuh_agent_version '4.x' is not a release"),
        ({"collection": "both"}, "wazuh_agent_collection 'both' is not one of agent_group, ossec_conf"),
        ({"remote_dir": "ProgramData\\x"}, re.escape("wazuh_agent_remote_dir 'ProgramData\\\\x' is not an absolute")),
        ({"rendered": Rendered(host_sha256="0" * 64, changes=["x"])}, "made from another file than the probe read"),
    ],
)
def test_impossible_requests_are_named(overrides, message):
    with pytest.raises(PlanError, match=message):
        plan_for("compliant", **overrides)


def test_bad_settings_for_the_edit_are_plan_errors():
    with pytest.raises(PlanError, match="manager address 'a b' is not a host name"):
        edit_probed(probe("compliant"), EditDesired(manager_address="a b"))


@pytest.mark.parametrize("key", ["product", "client_keys", "agent_state", "waited_seconds"])
def test_malformed_probes_name_the_key(key):
    current = probe("compliant")
    del current[key]
    with pytest.raises(ProbeError, match=f"lacks wazuh_agent.{key}"):
        plan_for("compliant", current)


def test_a_probe_entry_without_its_fields_is_refused():
    current = probe("compliant")
    current["client_keys"]["entries"] = [{"id": "001"}]
    with pytest.raises(ProbeError, match=r"client_keys\.entries\[0\]"):
        plan_for("compliant", current)


def test_the_lab_host_plans_an_upgrade():
    lab = json.loads(LAB_PROBE.read_text())
    plan = plan_for("lab", lab, manager_address="m1038-lab-manager", package_id="")
    assert plan.action_ids == ["upgrade", "restart"]
    assert needs(plan)["package"] is True and plan.actions[0].details["package"] is None


def test_state_file_and_versions():
    state = parse_state("# comment\nstatus='connected'\nlast_ack=''\nnot a value\nmsg_sent='12'\n")
    assert state == {"status": "connected", "last_ack": "", "msg_sent": "12"}
    assert parse_version("4.14.7") == (4, 14, 7) == parse_version("v4.14.7") == parse_version("4.14.7-1")
    assert parse_version("4.14") is None and parse_version(None) is None and parse_version("x4.1.1") is None
    current = probe("compliant")
    current["agent_state"]["text"] = None
    current["agent_state"]["status"] = "weird"
    assert connection(current)["status"] is None


@given(st.text(max_size=200))
def test_property_state_parser_never_raises_and_keeps_only_assignments(text):
    for key, value in parse_state(text).items():
        assert f"{key}='{value}'" in text


def test_probe_fixtures_are_deep_copies_of_the_shape():
    first, second = probe("compliant"), probe("compliant")
    first["client_keys"]["entries"].append({"id": "002", "name": "x", "ip": "any"})
    assert copy.deepcopy(second) == probe("compliant")

"""The Sysmon planner against recorded probe results (tests/unit/fixtures/sysmon/probes)."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.m1038.appcontrol.plugins.module_utils._sysmon_config import Builtin, render_builtin
from ansible_collections.m1038.appcontrol.plugins.module_utils._sysmon_plan import (
    Desired,
    RenderedConfig,
    config_diff,
    loaded_state,
    make_plan,
    needs,
    shows_config_diff,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._winedge import (
    Plan,
    PlanError,
    ProbeError,
    normalize_arch,
    parse_hash_list,
    same_path,
)

PROJECT = Path(__file__).resolve().parents[4]
PROBES = PROJECT / "tests" / "unit" / "fixtures" / "sysmon" / "probes"
LAB_PROBE = PROJECT / "inventories" / "lab" / "files" / "windows" / "m1038-lab-win01" / "sysmon_probe.json"
ROOT = "C:\\ProgramData\\m1038-appcontrol\\sysmon"
MANAGED = ROOT + "\\sysmonconfig.xml"
BACKUP = ROOT + "\\backup\\sysmonconfig.previous.xml"
PACKAGE_ID = "Sysmon-0123456789abcdef"
# SHA256 of the role's default configuration for Sysmon 15.15 (checked below against the renderer)
DEFAULT_SHA256 = "16d6a7c3448d11bbf98fb93a51dc0cdf3cf9af58900babc713749a55e58fec39"


def probe(name: str) -> dict:
    return json.loads((PROBES / f"{name}.json").read_text())


def rendered(sha256: str = DEFAULT_SHA256, schema: str = "4.90", content: str | None = None) -> RenderedConfig:
    return RenderedConfig("/ctl/ws/sysmonconfig.xml", schema, sha256, content=content)


def desired(**overrides) -> Desired:
    settings = {"version": "15.15", "eventlog_max_size": 268435456, "config": rendered(), "package_id": PACKAGE_ID}
    settings.update(overrides)
    return Desired(**settings)


def plan_for(name: str, **overrides) -> Plan:
    return make_plan(probe(name), desired(**overrides), host=name)


def test_the_compliant_fixtures_hold_the_default_configuration():
    """The role's defaults render exactly the configuration the compliant fixtures say is loaded."""
    defaults = yaml.safe_load((PROJECT / "roles" / "sysmon" / "defaults" / "main.yml").read_text())
    text, _warnings = render_builtin(
        Builtin(
            schemaversion="4.90",  # auto for sysmon_version 15.15
            hash_algorithms=defaults["sysmon_config_hash_algorithms"],
            check_revocation=defaults["sysmon_config_check_revocation"],
            dns_lookup=defaults["sysmon_config_dns_lookup"],
            archive_directory=defaults["sysmon_config_archive_directory"],
            process_create_exclusions=defaults["sysmon_process_create_exclusions"],
            events=defaults["sysmon_config_events"],
        )
    )
    assert defaults["sysmon_version"] == "15.15"
    assert hashlib.sha256(text.encode()).hexdigest() == DEFAULT_SHA256
    for name in ("compliant", "x86-service-stopped", "newer-installed", "hash-unreadable"):
        assert probe(name)["managed_config"]["sha256"] == DEFAULT_SHA256, name


def test_not_installed_installs_the_amd64_binary_and_sizes_the_log():
    plan = plan_for("not-installed")
    assert plan.action_ids == ["install", "eventlog"]
    assert plan.facts["binary_name"] == "Sysmon64.exe" and plan.facts["service_name"] == "Sysmon64"
    assert plan.facts["max_schema"] == "4.90"
    assert needs(plan) == {"eula": True, "package": True}
    assert plan.changed and not plan.compliant
    assert "not registered yet" in plan.actions[1].reason
    install = plan.actions[0].details
    package = ROOT + "\\package\\" + PACKAGE_ID
    assert install["package"] == {"zip": package + ".zip", "dir": package, "binary": package + "\\Sysmon64.exe"}
    assert install["push"] == {"src": "/ctl/ws/sysmonconfig.xml", "dest": MANAGED}
    assert install["argv"] == [package + "\\Sysmon64.exe", "-accepteula", "-i", MANAGED]
    assert plan.actions[1].details["argv"] == [
        "wevtutil.exe",
        "set-log",
        "Microsoft-Windows-Sysmon/Operational",
        "/ms:268435456",
    ]


def test_without_a_package_an_install_has_no_command_line():
    plan = plan_for("not-installed", package_id="")
    assert plan.actions[0].details["package"] is None and plan.actions[0].details["argv"] is None
    assert needs(plan)["package"] is True


def test_arm64_installs_sysmon64a():
    plan = plan_for("arm64-not-installed")
    assert plan.action_ids == ["install", "eventlog"]
    assert plan.facts["architecture"] == "ARM64" and plan.facts["binary_name"] == "Sysmon64a.exe"
    assert plan.facts["service_name"] == "Sysmon64a"
    assert plan.actions[0].details["argv"][0].endswith("\\Sysmon64a.exe")


def test_old_version_is_upgraded_and_the_install_loads_the_config():
    plan = plan_for("old-version")
    assert plan.action_ids == ["upgrade", "eventlog"]
    upgrade = plan.actions[0]
    assert (upgrade.details["from"], upgrade.details["to"]) == ("14.16", "15.15")
    assert "14.16 to 15.15" in upgrade.reason
    previous = ROOT + "\\backup\\previous\\Sysmon64.exe"  # the same name: Sysmon names its service after it
    assert upgrade.details["keep"] == [
        {"src": "C:\\Windows\\Sysmon64.exe", "dest": previous},
        {"src": "C:\\Windows\\sysmonconfig.xml", "dest": BACKUP},
    ]
    assert upgrade.details["uninstall_argv"] == ["C:\\Windows\\Sysmon64.exe", "-accepteula", "-u", "force"]
    assert upgrade.details["argv"][1:] == ["-accepteula", "-i", MANAGED]
    assert upgrade.details["rollback_argv"] == [previous, "-accepteula", "-i", BACKUP]
    assert plan.facts["max_schema"] == "4.90"  # the release that will run, not the installed 4.83 one


def test_old_version_without_install_refuses_a_config_it_cannot_load():
    with pytest.raises(PlanError, match=r"schemaversion 4\.90 is above 4\.83, the highest Sysmon 14\.16 loads"):
        plan_for("old-version", manage_install=False)
    plan = plan_for("old-version", manage_install=False, config=rendered(schema="4.83", sha256="0" * 64))
    assert plan.action_ids == ["configure", "eventlog"]


def test_other_config_is_replaced_keeping_the_loaded_file():
    plan = plan_for("other-config")
    assert plan.action_ids == ["configure", "eventlog"]
    configure = plan.actions[0]
    assert configure.details == {
        "keep": {"src": "C:\\Windows\\sysmonconfig-export.xml", "dest": BACKUP},
        "push": {"src": "/ctl/ws/sysmonconfig.xml", "dest": MANAGED},
        "argv": ["C:\\Windows\\Sysmon64.exe", "-accepteula", "-c", MANAGED],
        "restore_argv": ["C:\\Windows\\Sysmon64.exe", "-accepteula", "-c", BACKUP],
    }
    assert "SHA256=" in configure.reason and "is not the rendered 16d6a7c3448d" in configure.reason
    assert needs(plan) == {"eula": True, "package": False}
    assert plan.facts["config_loaded"] is False


def test_compliant_host_plans_nothing():
    plan = plan_for("compliant")
    assert plan.compliant and plan.action_ids == [] and not plan.changed and plan.warnings == []
    assert needs(plan) == {"eula": False, "package": False}
    plan.require_compliant()
    make_plan(probe("compliant"), desired(strict_version=True)).require_compliant()


def test_stopped_service_on_x86_is_started():
    plan = plan_for("x86-service-stopped")
    assert plan.action_ids == ["service"]
    assert plan.actions[0].details == {"name": "Sysmon"}
    assert plan.facts["binary_name"] == "Sysmon.exe"
    assert needs(plan) == {"eula": False, "package": False}


def test_newer_release_is_left_unless_downgrades_are_allowed():
    plan = plan_for("newer-installed")
    assert plan.compliant and "newer than sysmon_version 15.15" in plan.warnings[0]
    plan = plan_for("newer-installed", allow_downgrade=True)
    assert plan.action_ids == ["downgrade"]
    with pytest.raises(PlanError, match=r"Sysmon 15\.20 is installed, 15\.15 was requested"):
        plan_for("newer-installed", strict_version=True)


def test_unreadable_config_hash_falls_back_to_the_loaded_file_with_a_warning():
    plan = plan_for("hash-unreadable")
    assert plan.compliant
    assert "no ConfigHash" in plan.warnings[0]
    other = rendered(sha256="1" * 64)
    assert plan_for("hash-unreadable", config=other).action_ids == ["configure"]


def test_config_hash_is_compared_with_the_same_algorithm():
    current = probe("compliant")
    plan = Plan("sysmon", "h")
    config = RenderedConfig("p", "4.90", DEFAULT_SHA256, sha1="a" * 40, md5="b" * 32)
    current["config"]["hash"] = "MD5=" + "B" * 32
    assert loaded_state(current, config, plan, MANAGED)[0] is True
    current["config"]["hash"] = "SHA1=" + "c" * 40
    assert loaded_state(current, config, plan, MANAGED)[0] is False
    current["config"]["hash"] = "IMPHASH=" + "d" * 32  # nothing comparable: judged by the file, with a warning
    assert loaded_state(current, config, plan, MANAGED)[0] is True and "no MD5/SHA1/SHA256" in plan.warnings[0]
    assert loaded_state(current, config, plan, ROOT + "\\other.xml")[0] is False


def test_a_config_loaded_from_the_backup_is_not_copied_onto_itself():
    current = probe("other-config")
    current["config"]["file"] = BACKUP.upper()
    configure = make_plan(current, desired()).actions[0]
    assert configure.details["keep"] is None
    assert configure.details["restore_argv"][-1] == BACKUP


def test_a_missing_binary_cannot_be_configured():
    current = probe("other-config")
    current["binary"]["exists"] = False
    with pytest.raises(PlanError, match="does not exist: repair or uninstall"):
        make_plan(current, desired())


@pytest.mark.parametrize("root", ["relative\\dir", "\\\\server\\share", "C:", "C:\\a\\..\\b", ""])
def test_the_remote_dir_must_be_an_absolute_local_path(root):
    with pytest.raises(PlanError, match="sysmon_remote_dir"):
        plan_for("compliant", remote_dir=root)


def test_state_absent_uninstalls_an_installed_sysmon_only():
    plan = plan_for("compliant", state="absent")
    assert plan.action_ids == ["uninstall"]
    assert plan.actions[0].details == {
        "argv": ["C:\\Windows\\Sysmon64.exe", "-accepteula", "-u", "force"],
        "remove": ROOT,
    }
    assert plan_for("not-installed", state="absent").compliant


def test_switches_limit_what_is_planned():
    assert plan_for("other-config", manage_config=False).action_ids == ["eventlog"]
    assert plan_for("other-config", manage_eventlog=False).action_ids == ["configure"]
    assert plan_for("x86-service-stopped", manage_service=False).compliant
    assert plan_for("other-config", config=None).action_ids == ["eventlog"]
    not_installed = plan_for("not-installed", manage_install=False)
    assert not_installed.compliant and "installing is switched off" in not_installed.warnings[0]


def test_a_recorded_probe_never_reports_a_change():
    plan = make_plan(probe("not-installed"), desired(), host="lab", recorded=True)
    assert plan.action_ids == ["install", "eventlog"] and not plan.changed
    assert plan.to_dict()["recorded"] is True


def test_verify_lists_what_is_still_pending():
    with pytest.raises(PlanError, match=r"sysmon on other-config is not compliant after the apply: configure \("):
        plan_for("other-config").require_compliant()


def test_plan_dict_shape():
    plan = plan_for("other-config").to_dict()
    assert set(plan) == {
        "schema",
        "concern",
        "host",
        "recorded",
        "compliant",
        "action_ids",
        "actions",
        "warnings",
        "facts",
    }
    assert plan["actions"][0]["id"] == "configure" and "reason" in plan["actions"][0]
    json.dumps(plan)  # the result travels as JSON


def test_the_lab_host_probe_plans_a_configure():
    plan = make_plan(json.loads(LAB_PROBE.read_text()), desired(), host="m1038-lab-win01", recorded=True)
    assert plan.action_ids == ["configure", "eventlog"]


@pytest.mark.parametrize("version", ["", "15", "fifteen"])
def test_a_bad_requested_version_is_refused(version):
    with pytest.raises(PlanError, match="sysmon_version"):
        plan_for("compliant", version=version)


# --- the probe check ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda p: p.update(concern="applocker"), "concern 'applocker', not 'sysmon'"),
        (lambda p: p.update(probe_version=2), "probe_version 2"),
        (lambda p: p.pop("eventlog"), "lacks sysmon.eventlog"),
        (lambda p: p["eventlog"].pop("max_size"), "lacks sysmon.eventlog.max_size"),
        (lambda p: p["eventlog"].update(max_size="64MB"), "sysmon.eventlog.max_size is '64MB', expected int or null"),
        (lambda p: p["eventlog"].update(max_size=True), "expected int or null"),
        (lambda p: p.update(installed="yes"), "sysmon.installed is 'yes', expected bool"),
        (lambda p: p.update(config=[]), "sysmon.config is list, expected an object"),
        (lambda p: p["host"].update(architecture="IA64"), "'IA64' is not one of AMD64, ARM64, x86"),
    ],
)
def test_a_malformed_probe_names_the_key(mutate, message):
    data = copy.deepcopy(probe("compliant"))
    mutate(data)
    with pytest.raises(ProbeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make_plan(data, desired(), host="ws")


def test_a_probe_that_is_not_an_object():
    with pytest.raises(ProbeError, match="not a JSON object"):
        make_plan(["sysmon"], desired())


# --- the diff -------------------------------------------------------------------------------


def test_config_diff_labels_what_the_host_has():
    current = probe("other-config")
    config = rendered(content="<Sysmon/>\n")
    diff = config_diff(current, config, "ws")
    assert diff["before"] == "" and "not read by the probe" in diff["before_header"]
    current["config"]["text"] = "<Sysmon schemaversion='4.50'/>\n"
    diff = config_diff(current, config, "ws")
    assert diff["before"].startswith("<Sysmon schemaversion") and diff["after"] == "<Sysmon/>\n"
    assert diff["before_header"] == "ws:C:\\Windows\\sysmonconfig-export.xml (loaded)"
    assert config_diff(current, rendered(), "ws") is None
    diff = config_diff(probe("not-installed"), config, "ws")
    assert (diff["before"], diff["before_header"]) == ("", "ws:(Sysmon not installed)")
    assert shows_config_diff(plan_for("not-installed")) and shows_config_diff(plan_for("other-config"))
    assert not shows_config_diff(plan_for("x86-service-stopped"))


def test_a_huge_diff_is_prepared_and_cut():
    current = probe("other-config")
    current["config"]["text"] = "a\n" * 150_000
    diff = config_diff(current, rendered(content="b\n" * 150_000), "ws")
    assert "prepared" in diff and len(diff["prepared"]) <= 200_000


# --- Windows value helpers ------------------------------------------------------------------

ALGOS = st.sampled_from([("MD5", 32), ("SHA1", 40), ("SHA256", 64), ("IMPHASH", 32)])


@given(
    st.lists(
        ALGOS.flatmap(
            lambda a: st.tuples(st.just(a[0]), st.text("0123456789abcdefABCDEF", min_size=a[1], max_size=a[1]))
        ),
        unique_by=lambda t: t[0],
    )
)
def test_hash_lists_round_trip(pairs):
    text = ",".join(f"{algo.lower() if i % 2 else algo}={digest}" for i, (algo, digest) in enumerate(pairs))
    assert parse_hash_list(text) == {algo: digest.lower() for algo, digest in pairs}


@given(st.text())
def test_hash_list_parser_never_raises(text):
    for algo, digest in parse_hash_list(text).items():
        assert algo == algo.upper() and digest == digest.lower()


def test_hash_list_drops_wrong_lengths_and_junk():
    assert parse_hash_list("SHA256=abc,MD5=" + "a" * 32 + ",junk,=x,SHA1=zz") == {"MD5": "a" * 32}
    assert parse_hash_list(None) == {}


@given(st.text(alphabet="abcXYZ01 _-.", min_size=1, max_size=12), st.booleans())
def test_windows_paths_compare_case_and_slash_insensitively(name, upper):
    path = f"C:\\ProgramData\\{name}\\x.xml"
    other = path.replace("\\", "/")
    assert same_path(path, other.upper() if upper else other)
    assert not same_path(path, None) and not same_path(path, path + "x")


@pytest.mark.parametrize(
    ("value", "arch"), [("AMD64", "AMD64"), ("amd64", "AMD64"), ("ARM64", "ARM64"), ("x86", "x86"), ("X86", "x86")]
)
def test_architectures(value, arch):
    assert normalize_arch(value) == arch


@pytest.mark.parametrize("value", ["IA64", "", None, 64])
def test_unknown_architectures(value):
    with pytest.raises(ProbeError):
        normalize_arch(value)

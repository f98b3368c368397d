"""Verify the wazuh_manager role on the wazuh-manager TEST DOUBLE (molecule `default`).

What this proves: the role's mechanics. The package came from a signed APT repository through the
role's own install tasks; the rendered files sit in etc/rules and etc/lists byte-for-byte with the
right owner, group and mode; ossec.conf gained exactly the <list> line for our CDB list and the
<localfile> block of the WithSecure forwarder (tests/test_withsecure.py) and nothing else changed in
it; the agent group's agent.conf carries the channels; the manager runs; and over prepare + check +
converge + idempotence the service started exactly three times (install, the one restart for new
content, the one restart for the forwarder's <localfile>): the check-mode run wrote and restarted
nothing, the idempotence run restarted nothing.

What it cannot prove: that a real Wazuh engine accepts the rules. The double's `wazuh-analysisd -t`
runs the project's own pre-flight checks (tests/doubles/wazuh-manager/README.md); regex syntax,
field names, decoders and rule matching are only checked by a real manager.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[3]
FIXTURE = PROJECT / "tests" / "fixtures" / "wazuh_manager" / "good"
PACKAGED_OSSEC_CONF = PROJECT / "tests" / "doubles" / "wazuh-manager" / "root" / "var" / "ossec" / "etc" / "ossec.conf"
HOME = "/var/ossec"
OUR_FILES = {
    "etc/rules/m1038-appcontrol_rules.xml": FIXTURE / "rules" / "m1038-appcontrol_rules.xml",
    "etc/lists/m1038-trusted-companies": FIXTURE / "lists" / "m1038-trusted-companies",
}
LIST_LINE = "<list>etc/lists/m1038-trusted-companies</list>"
FORWARDER_OUTPUT = "/var/log/m1038-withsecure/events.json"
LOCALFILE = (
    "  <localfile>\n"
    "    <log_format>json</log_format>\n"
    f"    <location>{FORWARDER_OUTPUT}</location>\n"
    '    <only-future-events max-size="1G">no</only-future-events>\n'
    "  </localfile>\n"
)
CHANNELS = [
    "Microsoft-Windows-Sysmon/Operational",
    "Microsoft-Windows-AppLocker/EXE and DLL",
    "Microsoft-Windows-AppLocker/MSI and Script",
    "Microsoft-Windows-AppLocker/Packaged app-Execution",
    "Microsoft-Windows-AppLocker/Packaged app-Deployment",
    "Application",
    "Security",
]
SECURITY_QUERY = "*[System[EventID>=4688 and EventID<=4689]]"  # converge.yml: '<' and '>' in a query


def test_the_double_was_installed_from_the_local_repository(host):
    pkg = host.package("wazuh-manager")
    assert pkg.is_installed
    assert pkg.version == "4.14.7-1+m1038double"
    sources = host.file("/etc/apt/sources.list.d/wazuh.sources")
    assert sources.contains("file:///srv/m1038-double-repo")
    assert sources.contains("Signed-By: /etc/apt/keyrings/wazuh-manager.asc")
    held = host.check_output("dpkg --get-selections wazuh-manager")
    assert held.split() == ["wazuh-manager", "hold"]


@pytest.mark.parametrize("rel", sorted(OUR_FILES))
def test_content_is_in_place_with_owner_group_mode(host, rel):
    f = host.file(f"{HOME}/{rel}")
    assert f.is_file
    assert (f.user, f.group, f.mode) == ("wazuh", "wazuh", 0o660)
    assert f.sha256sum == hashlib.sha256(OUR_FILES[rel].read_bytes()).hexdigest()


def test_ossec_conf_gained_only_our_list_line_and_the_forwarders_localfile(host):
    conf = host.file(f"{HOME}/etc/ossec.conf").content_string
    assert conf.count(LIST_LINE) == 1
    assert conf.count(LOCALFILE) == 1
    conf = conf.replace(LOCALFILE, "", 1)
    without_ours = "".join(line for line in conf.splitlines(keepends=True) if LIST_LINE not in line)
    assert without_ours == PACKAGED_OSSEC_CONF.read_text(encoding="utf-8")
    f = host.file(f"{HOME}/etc/ossec.conf")
    assert (f.user, f.group, f.mode) == ("root", "wazuh", 0o660)


def test_users_own_rule_file_is_untouched(host):
    local = host.file(f"{HOME}/etc/rules/local_rules.xml")
    packaged = PROJECT / "tests/doubles/wazuh-manager/root/var/ossec/etc/rules/local_rules.xml"
    assert local.sha256sum == hashlib.sha256(packaged.read_bytes()).hexdigest()


def test_engine_test_passes_on_the_deployed_content(host):
    result = host.run(f"{HOME}/bin/wazuh-analysisd -t")
    assert result.rc == 0, result.stderr


def test_manager_runs_and_is_enabled(host):
    service = host.service("wazuh-manager")
    assert service.is_running
    assert service.is_enabled


def test_started_exactly_three_times_install_content_localfile(host):
    """prepare starts it; check mode must not restart; converge restarts once for the content and once for
    the forwarder's <localfile> (two roles, each with its validated restart); idempotence never."""
    log = host.file(f"{HOME}/logs/ossec.log").content_string
    starts = re.findall(r"started pid (\d+)", log)
    assert len(starts) == 3, log
    main_pid = host.check_output("systemctl show -p MainPID --value wazuh-manager")
    assert main_pid == starts[-1]


def test_one_backup_made_by_each_real_change(host):
    backups = host.check_output(f"ls -1 {HOME}/var/m1038-appcontrol/backups").split()
    assert len(backups) == 2  # the content, then the forwarder's <localfile> (names sort by time)
    records = [
        json.loads(host.file(f"{HOME}/var/m1038-appcontrol/backups/{name}/backup.json").content_string)
        for name in backups
    ]
    assert [r["status"] for r in records] == ["committed", "committed"]
    assert sorted(records[0]["created"]) == sorted(OUR_FILES)
    assert records[1]["created"] == []
    assert [[s["path"] for s in r["saved"]] for r in records] == [["etc/ossec.conf"], ["etc/ossec.conf"]]
    manifest = json.loads(host.file(f"{HOME}/var/m1038-appcontrol/managed.json").content_string)
    assert manifest == {
        "files": sorted(OUR_FILES),
        "lists": ["m1038-trusted-companies"],
        "localfiles": [
            {"location": FORWARDER_OUTPUT, "log_format": "json", "only_future_events": False, "max_size": "1G"}
        ],
    }
    state_dir = host.file(f"{HOME}/var/m1038-appcontrol")
    assert (state_dir.user, state_dir.mode) == ("root", 0o700)


def test_agent_group_conf_collects_the_channels(host):
    f = host.file(f"{HOME}/etc/shared/m1038-windows/agent.conf")
    assert (f.user, f.group, f.mode) == ("wazuh", "wazuh", 0o660)
    text = f.content_string
    assert re.findall(r"<location>(.*?)</location>", text) == CHANNELS
    assert text.count("<log_format>eventchannel</log_format>") == len(CHANNELS)
    assert "<query>Event/System[Provider[@Name='F-Secure Ultralight SDK']]</query>" in text
    assert host.run(f"{HOME}/bin/verify-agent-conf -f {HOME}/etc/shared/m1038-windows/agent.conf").rc == 0


def test_agent_conf_queries_reach_the_agent_as_written(host):
    """What the agent passes to EvtSubscribe: read by the double's os_xml port, then filter_special_chars().

    No entity in the file (Wazuh would keep it); '<' written with os_xml's backslash escape.
    """
    path = f"{HOME}/etc/shared/m1038-windows/agent.conf"
    assert "&lt;" not in host.file(path).content_string and "&gt;" not in host.file(path).content_string
    shown = host.run(f"{HOME}/bin/verify-agent-conf -f {path} --show")
    assert shown.rc == 0, shown.stderr
    queries = {e["location"]: e["query_for_agent"] for e in json.loads(shown.stdout)}
    assert queries["Security"] == SECURITY_QUERY
    assert queries["Application"] == "Event/System[Provider[@Name='F-Secure Ultralight SDK']]"
    assert queries["Microsoft-Windows-Sysmon/Operational"] is None


def test_nothing_is_left_pending_validation(host):
    """The converge's change was tested by the engine and loaded by the one restart: the marker is gone."""
    assert not host.file(f"{HOME}/var/m1038-appcontrol/pending.json").exists

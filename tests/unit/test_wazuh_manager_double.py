"""The wazuh-manager TEST DOUBLE's own behaviour: what its `wazuh-analysisd -t` catches, and what it cannot.

The double proves the role's mechanics (install, placement, ossec.conf edits, restart-once, rollback);
its engine check is the project's own pre-flight logic, so it cannot see what only the real Wazuh
parser would (the last test shows an invalid regex passing). See tests/doubles/wazuh-manager/README.md.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_agent_conf import render

PROJECT = Path(__file__).resolve().parents[2]
DOUBLE = PROJECT / "tests" / "doubles" / "wazuh-manager"
FIXTURES = PROJECT / "tests" / "fixtures" / "wazuh_manager"
LIST_LINE = "    <list>etc/lists/m1038-trusted-companies</list>\n"


@pytest.fixture
def home(tmp_path):
    """The double's /var/ossec as the package installs it, in a temporary directory."""
    target = tmp_path / "ossec"
    shutil.copytree(DOUBLE / "root" / "var" / "ossec", target)
    lib = target / "lib" / "m1038-double"
    for mod in ("_wazuh_preflight.py", "_wazuh_rulesyntax.py", "_ossec_conf.py", "_wazuh_osxml.py"):  # as build.sh
        shutil.copy(PROJECT / "plugins" / "module_utils" / mod, lib / mod)
    return target


def analysisd(home, *args):
    return subprocess.run(
        [sys.executable, str(home / "lib" / "m1038-double" / "analysisd.py"), *args],
        capture_output=True,
        text=True,
        check=False,
    )


def deploy(home, fixture, *, register=True):
    for kind in ("rules", "lists"):
        for f in (FIXTURES / fixture / kind).glob("*"):
            shutil.copy(f, home / "etc" / kind / f.name)
    if register:
        conf = home / "etc" / "ossec.conf"
        text = conf.read_text(encoding="utf-8")
        conf.write_text(text.replace("  </ruleset>\n", LIST_LINE + "  </ruleset>\n", 1), encoding="utf-8")


def test_clean_install_passes(home):
    run = analysisd(home, "-t")
    assert (run.returncode, run.stderr) == (0, "")


def test_good_content_passes(home):
    deploy(home, "good")
    run = analysisd(home, "-t")
    assert (run.returncode, run.stderr) == (0, "")


def test_broken_rule_fails_with_engine_like_messages(home):
    deploy(home, "broken")
    run = analysisd(home, "-t")
    assert run.returncode == 1
    lines = run.stderr.splitlines()
    prefix = "wazuh-analysisd: CRITICAL: (test double) etc/rules/m1038-appcontrol_rules.xml"
    assert f"{prefix} line 38: rule 100120: parent rule 99999 (if_sid) does not exist" in lines
    assert (
        f"{prefix} line 43: rule id 100110 is defined twice (first in etc/rules/m1038-appcontrol_rules.xml line 29)"
        in lines
    )
    assert lines[-1] == "wazuh-analysisd: CRITICAL: (test double) Configuration error. Exiting."


def test_unregistered_list_fails(home):
    deploy(home, "good", register=False)
    run = analysisd(home, "-t")
    assert run.returncode == 1
    assert "CDB list etc/lists/m1038-trusted-companies is not registered in ossec.conf" in run.stderr


def test_registered_but_missing_list_fails(home):
    deploy(home, "good")
    (home / "etc" / "lists" / "m1038-trusted-companies").unlink()
    run = analysisd(home, "-t")
    assert "registered CDB list etc/lists/m1038-trusted-companies does not exist" in run.stderr


def test_excluded_stock_file_is_not_loaded(home):
    """0215-double-policy_rules.xml reuses 60000; it is excluded, so no duplicate is reported."""
    assert analysisd(home, "-t").returncode == 0
    conf = home / "etc" / "ossec.conf"
    conf.write_text(
        conf.read_text(encoding="utf-8").replace("<rule_exclude>0215-double-policy_rules.xml</rule_exclude>", ""),
        encoding="utf-8",
    )
    run = analysisd(home, "-t")
    assert "rule id 60000 is already used by ruleset/rules/0215-double-policy_rules.xml" in run.stderr


def test_only_dash_t_is_supported(home):
    assert analysisd(home).returncode == 2


def verify_agent_conf(home, path, *extra, env=None):
    return subprocess.run(
        [sys.executable, str(home / "lib" / "m1038-double" / "verify_agent_conf.py"), "-f", str(path), *extra],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )


AGENT_CONF = (
    "<agent_config><localfile><location>{location}</location><log_format>eventchannel</log_format>"
    "<query>{query}</query></localfile></agent_config>"
)


def test_verify_agent_conf(home, tmp_path):
    good = tmp_path / "good.conf"
    good.write_text(
        "<agent_config><localfile><location>A</location><log_format>eventchannel</log_format></localfile></agent_config>"
    )
    bad = tmp_path / "bad.conf"
    bad.write_text("<agent_config><localfile><location>A</location></localfile>")
    assert verify_agent_conf(home, good).returncode == 0
    assert verify_agent_conf(home, bad).returncode == 1


def test_verify_agent_conf_reads_like_os_xml_no_entity_decoded(home, tmp_path):
    """Issue 8, item 5: a standard XML parser decoded &gt; and hid that Wazuh keeps it; the double no longer does."""
    conf = tmp_path / "agent.conf"
    conf.write_text(AGENT_CONF.format(location="Security", query="EventID&gt;4000 and Level&lt;=3"))
    run = verify_agent_conf(home, conf, "--show")
    assert run.returncode == 0, run.stderr  # os_xml accepts it: the entities are plain text to Wazuh ...
    (entry,) = json.loads(run.stdout)
    assert entry["query_for_agent"] == "EventID&gt;4000 and Level&lt;=3"  # ... and the agent gets them verbatim


def test_verify_agent_conf_takes_the_backslash_escape_and_refuses_a_bare_less_than(home, tmp_path):
    conf = tmp_path / "agent.conf"
    conf.write_text(AGENT_CONF.format(location="Security", query="EventID>4000 and Level\\<=3"))
    run = verify_agent_conf(home, conf, "--show")
    assert run.returncode == 0, run.stderr
    (entry,) = json.loads(run.stdout)
    assert (entry["query"], entry["query_for_agent"]) == ("EventID>4000 and Level\\<=3", "EventID>4000 and Level<=3")
    conf.write_text(AGENT_CONF.format(location="Security", query="Level<=3"))
    run = verify_agent_conf(home, conf)
    assert run.returncode == 1
    assert "XMLERR" in run.stderr


def test_verify_agent_conf_accepts_what_the_role_renders(home, tmp_path):
    channels = [
        {"location": "Microsoft-Windows-Sysmon/Operational", "query": ""},
        {"location": "Security", "query": "*[System[EventID>=4688 and EventID<=4689]] & x \\ y"},
    ]
    conf = tmp_path / "agent.conf"
    conf.write_text(render(channels), encoding="utf-8")
    run = verify_agent_conf(home, conf, "--show")
    assert run.returncode == 0, run.stderr
    assert [(e["location"], e["query_for_agent"] or "") for e in json.loads(run.stdout)] == [
        (c["location"], c["query"]) for c in channels
    ]


def test_what_the_double_cannot_see_an_invalid_osregex_passes(home):
    """A real wazuh-analysisd refuses an unbalanced OS_Regex; the pre-flight compiles only PCRE2 patterns.

    This is the documented limit: the double proves the role's mechanics, not the engine's parser.
    """
    rules = home / "etc" / "rules" / "m1038-bad-regex.xml"
    text = (
        '<group name="m1038,">\n  <rule id="100900" level="3">\n    <if_sid>61603</if_sid>\n'
        '    <field name="win.eventdata.image" type="osregex">(unbalanced</field>\n'
        "    <description>invalid regex</description>\n  </rule>\n</group>\n"
    )
    rules.write_text(text, encoding="utf-8")
    assert analysisd(home, "-t").returncode == 0
    # the same pattern as pcre2 is compiled with libpcre2-8, like the engine does, and refused
    rules.write_text(text.replace('type="osregex"', 'type="pcre2"'), encoding="utf-8")
    run = analysisd(home, "-t")
    assert run.returncode == 1
    assert "missing closing parenthesis" in run.stderr


def test_missing_version_specific_parent_only_warns(home):
    """Like the engine (7617): a rule keeps its other parents when one if_sid ID is absent."""
    (home / "etc" / "rules" / "m1038_extra.xml").write_text(
        '<group name="m1038,"><rule id="100190" level="0"><if_sid>61603, 99998</if_sid>'
        "<description>d</description></rule></group>\n",
        encoding="utf-8",
    )
    run = analysisd(home, "-t")
    assert run.returncode == 0, run.stderr
    assert "WARNING: (test double) etc/rules/m1038_extra.xml" in run.stderr
    assert "parent rule 99998 (if_sid) does not exist here" in run.stderr


def test_verify_agent_conf_fault_injection(home, tmp_path):
    """The interrupted-run tests make verify-agent-conf fail, or wait, on demand (molecule broken_rule)."""
    tool = home / "lib" / "m1038-double" / "verify_agent_conf.py"
    conf = tmp_path / "agent.conf"
    conf.write_text(
        "<agent_config><localfile><location>A</location><log_format>eventchannel</log_format></localfile></agent_config>"
    )
    env = {"M1038_DOUBLE_HOME": str(home), "PATH": "/usr/bin:/bin"}
    run = [sys.executable, str(tool), "-f", str(conf)]
    assert subprocess.run(run, env=env, check=False).returncode == 0
    (home / "etc" / ".m1038-double-fail-verify-agent-conf").write_text("refused by the test\n")
    failed = subprocess.run(run, env=env, capture_output=True, text=True, check=False)
    assert failed.returncode == 1
    assert "fault injected by a test: refused by the test" in failed.stderr
    (home / "etc" / ".m1038-double-fail-verify-agent-conf").unlink()
    hang = home / "etc" / ".m1038-double-hang-verify-agent-conf"
    hang.touch()
    waiting = subprocess.Popen(run, env=env)
    try:
        deadline = time.monotonic() + 30
        while not (home / "etc" / ".m1038-double-verify-agent-conf-waiting").exists():
            assert time.monotonic() < deadline, "verify-agent-conf did not start waiting"
            time.sleep(0.1)
        assert waiting.poll() is None
    finally:
        hang.unlink()
    assert waiting.wait(timeout=30) == 0

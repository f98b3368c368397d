"""The wazuh_manager role's first task refuses bad settings, naming the value, before anything else runs.

Each case applies the role to localhost with one bad variable. The assert is the role's first task after
the argument-spec validation, so a refused value never reaches a task that touches the machine; a value the
assert lets through would fail later, at "Fail when no manager is installed", with another message.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from .helpers import PROJECT_ROOT, ansible_env

pytestmark = pytest.mark.slow


def run_role(tmp_path, role_vars: dict) -> subprocess.CompletedProcess:
    play = [
        {
            "name": "Apply the wazuh_manager role with one bad setting",
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": False,
            "roles": [{"role": "m1038.appcontrol.wazuh_manager", "vars": role_vars}],
        }
    ]
    playbook = tmp_path / "play.yml"
    # The role variables are written as YAML, so an unquoted mode stays an integer as a user's would.
    playbook.write_text(yaml.safe_dump(play, sort_keys=False), encoding="utf-8")
    return subprocess.run(
        ["ansible-playbook", "-i", "localhost,", "-e", f"ansible_python_interpreter={sys.executable}", str(playbook)],
        cwd=PROJECT_ROOT,
        env=ansible_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


@pytest.mark.parametrize(
    ("role_vars", "message"),
    [
        # Issue 8 (minor): re.match with '$' accepted a trailing newline.
        (
            {"wazuh_manager_agent_group": "m1038-windows\n"},
            'wazuh_manager_agent_group "m1038-windows\\n" may hold only',
        ),
        # Issue 8, item 2: agent.conf goes through ansible.builtin.copy, which the module's check does not cover.
        ({"wazuh_manager_agent_conf_mode": "0666"}, "wazuh_manager_agent_conf_mode '0666' lets every user write"),
        ({"wazuh_manager_agent_conf_mode": 0o662}, "wazuh_manager_agent_conf_mode 434 (0o662) lets every user write"),
        ({"wazuh_manager_content_mode": "u=rw"}, "wazuh_manager_content_mode 'u=rw' is not an octal mode"),
        ({"wazuh_manager_content_mode": 0o666}, "wazuh_manager_content_mode 438 (0o666) lets every user write"),
    ],
    ids=["group-trailing-newline", "agent-conf-0666", "agent-conf-int-0662", "content-symbolic", "content-int-0666"],
)
def test_bad_setting_is_refused_by_the_first_assert(tmp_path, role_vars, message):
    run = run_role(tmp_path, {"wazuh_manager_content_dir": str(tmp_path), **role_vars})
    out = run.stdout + run.stderr
    assert run.returncode != 0, out
    assert "Check settings the argument spec cannot express" in out
    assert message in out, out
    assert "Read the manager's ruleset" not in out, out


def test_an_unquoted_yaml_mode_passes_the_checks(tmp_path):
    """0o660 (YAML's unquoted 0660) is accepted: the run gets past the assert to the missing manager."""
    role_vars = {"wazuh_manager_content_dir": str(tmp_path), "wazuh_manager_home": str(tmp_path)}
    run = run_role(tmp_path, {**role_vars, "wazuh_manager_content_mode": 0o660})
    out = run.stdout + run.stderr
    assert run.returncode != 0, out
    assert "etc/ossec.conf does not exist" in out, out

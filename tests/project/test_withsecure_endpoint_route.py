"""The endpoint route of WithSecure: what agents collect comes from the values the rules match.

Both roles' default WithSecure channel and query derive from ``m1038_withsecure_event_log``
(group_vars/all/trust_policy.yml), the provider and channel the rendered event-log rules match, so
the two cannot disagree (docs/withsecure.md, "What the agent side must expose"). Two playbook runs
template the roles' own defaults through the lab inventory, once with the project's values and
once with a provider holding an apostrophe and another channel.
"""

from __future__ import annotations

import json
import subprocess

from .helpers import PROJECT_ROOT, ansible_env

PLAY = """
- hosts: localhost
  gather_facts: false
  vars_files:
    - {root}/roles/wazuh_agent/defaults/main.yml
    - {root}/roles/wazuh_manager/defaults/main.yml
  tasks:
    - name: Template both roles' WithSecure defaults
      ansible.builtin.copy:
        dest: "{{{{ out }}}}"
        content: "{{{{ {{'agent': [wazuh_agent_withsecure_channel, wazuh_agent_withsecure_query],
                      'manager': [wazuh_manager_withsecure_channel, wazuh_manager_withsecure_query],
                      'agent_table': wazuh_agent_channels[-1], 'manager_table': wazuh_manager_agent_channels[-1]}}
                     | to_json }}}}"
        mode: "0600"
"""


def run(tmp_path, name, *extra):
    play = tmp_path / "play.yml"
    play.write_text(PLAY.format(root=PROJECT_ROOT))
    out = tmp_path / f"{name}.json"
    proc = subprocess.run(
        ["ansible-playbook", "-i", "inventories/lab/hosts.yml", "-e", f"out={out}", *extra, str(play)],
        cwd=PROJECT_ROOT,
        env=ansible_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    return json.loads(out.read_text())


def test_agents_collect_the_provider_and_channel_the_rules_match(tmp_path):
    project = run(tmp_path, "project")
    expected = ["Application", "Event/System[Provider[@Name='F-Secure Ultralight SDK']]"]
    assert project["agent"] == project["manager"] == expected
    assert project["agent_table"] == project["manager_table"] == dict(zip(("location", "query"), expected, strict=True))

    event_log = {"enabled": True, "provider": "O'Brien SDK", "channel": "WithSecure/Operational"}
    other = run(tmp_path, "other", "-e", json.dumps({"m1038_withsecure_event_log": event_log}))
    expected = ["WithSecure/Operational", 'Event/System[Provider[@Name="O\'Brien SDK"]]']
    assert other["agent"] == other["manager"] == expected

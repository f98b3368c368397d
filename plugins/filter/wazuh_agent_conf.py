# Copyright: m1038.appcontrol contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: wazuh_agent_conf
short_description: Render a Wazuh agent group's shared agent.conf for Windows event channels
version_added: 0.1.0
description:
  - Returns the text of an C(agent.conf) holding one C(<agent_config>) block with an eventchannel
    C(<localfile>) per channel.
  - Written for Wazuh's own XML reader (os_xml), which decodes no entity. A query is written with its
    backslash escape (each C(\) doubled, each C(<) written C(\<)), which the Windows agent removes
    before the query reaches C(EvtSubscribe), so a query such as C(EventID>4000 and Level<=3) arrives as
    written. The text is read back the way the manager and the agent read it before it is returned.
  - Fails with a message naming the bad entry (missing location, duplicate channel, line break, a query
    holding C(<!), a channel name holding C(<) or ending in a backslash; Wazuh cannot read those back).
positional: _input
options:
  _input:
    description: Channels, each a mapping with C(location) and an optional C(query) (XPath).
    type: list
    elements: dict
    required: true
  os:
    description: Value of the C(os) attribute of C(<agent_config>); empty for none.
    type: str
    default: Windows
"""

EXAMPLES = r"""
- name: Write agent.conf
  ansible.builtin.copy:
    content: "{{ channels | m1038.appcontrol.wazuh_agent_conf(os='Windows') }}"
    dest: /var/ossec/etc/shared/m1038-windows/agent.conf
    mode: "0660"
"""

RETURN = r"""
_value:
  description: The agent.conf text.
  type: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_agent_conf import AgentConfError, render


def wazuh_agent_conf(channels, os="Windows"):
    try:
        return render(list(channels) if isinstance(channels, (list, tuple)) else channels, os_filter=os)
    except AgentConfError as exc:
        raise AnsibleFilterError(f"wazuh_agent_conf: {exc}") from exc


class FilterModule:
    def filters(self):
        return {"wazuh_agent_conf": wazuh_agent_conf}

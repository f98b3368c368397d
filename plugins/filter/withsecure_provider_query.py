# Copyright: m1038.appcontrol contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: withsecure_provider_query
short_description: The XPath query that collects one event provider's events on a Wazuh agent
version_added: 0.1.0
description:
  - Returns C(Event/System[Provider[@Name='PROVIDER']]), the query of the C(<localfile>) through
    which an agent collects the WithSecure endpoint events (the endpoint route, docs/withsecure.md).
  - The roles C(m1038.appcontrol.wazuh_agent) and C(m1038.appcontrol.wazuh_manager) build their
    default WithSecure query with it from C(m1038_withsecure_event_log.provider), the value the
    rendered rules match, so what the agent collects and what the rules read cannot disagree.
  - A name holding a C(') is quoted with C("); a name holding both quote characters, a control
    character or nothing is refused (XPath 1.0 has no escape in a string literal).
positional: _input
options:
  _input:
    description: The event provider's name, for example C(F-Secure Ultralight SDK).
    type: str
    required: true
"""

EXAMPLES = r"""
- name: The query for WithSecure's endpoint provider
  ansible.builtin.debug:
    msg: "{{ 'F-Secure Ultralight SDK' | m1038.appcontrol.withsecure_provider_query }}"
"""

RETURN = r"""
_value:
  description: The XPath query.
  type: str
  sample: Event/System[Provider[@Name='F-Secure Ultralight SDK']]
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_channels import ChannelTableError, provider_query


def withsecure_provider_query(provider):
    try:
        return provider_query(provider)
    except ChannelTableError as exc:
        raise AnsibleFilterError(f"withsecure_provider_query: {exc}") from exc


class FilterModule:
    def filters(self):
        return {"withsecure_provider_query": withsecure_provider_query}

# Copyright: m1038.appcontrol contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: wazuh_channels
short_description: The Windows event channels a Wazuh agent collects for M1038 (one list for every role)
version_added: 0.1.0
description:
  - Returns the collection's channel table as a list of C({location, query}) mappings - the Sysmon channel, the four
    AppLocker channels and the WithSecure endpoint channel, in that order.
  - The one source of what agents collect - the C(wazuh_manager) role renders the agent group's C(agent.conf) from it,
    the C(wazuh_agent) role its managed block in the local C(ossec.conf). The table lives in
    C(plugins/module_utils/_wazuh_channels.py).
  - Takes no terms. Use C(query()) (or C(lookup(..., wantlist=true))) so the result is always a list.
options:
  withsecure_channel:
    description: Event channel of WithSecure (F-Secure) endpoint events; public sources do not confirm it.
    type: str
    default: Application
  withsecure_query:
    description: XPath query selecting the WithSecure events in that channel; empty collects the whole channel.
    type: str
    default: "Event/System[Provider[@Name='F-Secure Ultralight SDK']]"
  exclude:
    description:
      - Keys of channels to leave out - C(sysmon), C(applocker_exe_dll), C(applocker_msi_script),
        C(applocker_packaged_execution), C(applocker_packaged_deployment), C(withsecure).
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Channels of the agent group, WithSecure events read from their own channel
  ansible.builtin.set_fact:
    channels: "{{ query('m1038.appcontrol.wazuh_channels', withsecure_channel='F-Secure', withsecure_query='') }}"
"""

RETURN = r"""
_raw:
  description:
    - One mapping per channel, C(location) (the channel name) and C(query) (XPath, empty for the whole channel).
  type: list
  elements: dict
"""

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_channels import ChannelTableError, channels


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        if terms:
            raise AnsibleLookupError(f"wazuh_channels takes no terms, got {terms!r}")
        self.set_options(var_options=variables, direct=kwargs)
        try:
            return channels(
                withsecure_channel=self.get_option("withsecure_channel"),
                withsecure_query=self.get_option("withsecure_query"),
                exclude=tuple(self.get_option("exclude")),
            )
        except ChannelTableError as exc:
            raise AnsibleLookupError(f"wazuh_channels: {exc}") from exc

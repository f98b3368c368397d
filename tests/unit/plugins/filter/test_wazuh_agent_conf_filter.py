"""The wazuh_agent_conf filter: a thin wrapper that turns renderer errors into filter errors.

Kept apart from the module_utils tests: ansible-test runs those without the controller's
``ansible`` package, and this one needs ``ansible.errors``.
"""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.m1038.appcontrol.plugins.filter.wazuh_agent_conf import FilterModule


def test_filter_plugin_wraps_errors_as_filter_errors():
    render_filter = FilterModule().filters()["wazuh_agent_conf"]
    assert "<location>Application</location>" in render_filter([{"location": "Application"}], os="Windows")
    with pytest.raises(AnsibleFilterError, match="wazuh_agent_conf: channel #1 location must not be empty"):
        render_filter([{"location": ""}])

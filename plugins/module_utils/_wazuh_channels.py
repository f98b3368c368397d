# Copyright: m1038.appcontrol contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Windows event channels a Wazuh agent collects for M1038: the one list (private helper, stdlib only).

Both places that tell an agent what to collect read it: the manager role's agent-group ``agent.conf``
(``wazuh_manager_agent_channels``) and the agent role's managed block in the local ``ossec.conf``
(``wazuh_agent_channels``). Roles reach it through the ``m1038.appcontrol.wazuh_channels`` lookup.

The WithSecure entry is the only one with settings: public sources do not confirm the channel its
endpoint events land in (FACTS: provider ``F-Secure Ultralight SDK``, likely ``Application``), so its
channel and XPath query are parameters with these defaults.
"""

from __future__ import annotations

SYSMON = "Microsoft-Windows-Sysmon/Operational"
APPLOCKER_EXE_DLL = "Microsoft-Windows-AppLocker/EXE and DLL"
APPLOCKER_MSI_SCRIPT = "Microsoft-Windows-AppLocker/MSI and Script"
APPLOCKER_PACKAGED_EXECUTION = "Microsoft-Windows-AppLocker/Packaged app-Execution"
APPLOCKER_PACKAGED_DEPLOYMENT = "Microsoft-Windows-AppLocker/Packaged app-Deployment"
APPLOCKER = (APPLOCKER_EXE_DLL, APPLOCKER_MSI_SCRIPT, APPLOCKER_PACKAGED_EXECUTION, APPLOCKER_PACKAGED_DEPLOYMENT)

WITHSECURE_CHANNEL = "Application"
WITHSECURE_PROVIDER = "F-Secure Ultralight SDK"
WITHSECURE_QUERY = f"Event/System[Provider[@Name='{WITHSECURE_PROVIDER}']]"  # provider_query(WITHSECURE_PROVIDER)

# (key, location, query): the order is the order of the rendered <localfile> entries.
CHANNELS = (
    ("sysmon", SYSMON, ""),
    ("applocker_exe_dll", APPLOCKER_EXE_DLL, ""),
    ("applocker_msi_script", APPLOCKER_MSI_SCRIPT, ""),
    ("applocker_packaged_execution", APPLOCKER_PACKAGED_EXECUTION, ""),
    ("applocker_packaged_deployment", APPLOCKER_PACKAGED_DEPLOYMENT, ""),
    ("withsecure", None, None),  # location and query from the parameters below
)
KEYS = tuple(key for key, _location, _query in CHANNELS)


class ChannelTableError(ValueError):
    """A parameter of the channel table is not usable."""


def provider_query(provider: str) -> str:
    """The XPath query an agent's ``<localfile>`` uses to collect one event provider's events.

    XPath 1.0 has no escape inside a string literal: a name holding ``'`` is quoted with ``"``, and a
    name holding both quote characters cannot be written, so it is refused, as are control
    characters and an empty name. The endpoint route's provider comes from the same value the
    renderer's rules match (``m1038_withsecure_event_log.provider``), so collection and rules agree.
    """
    if not isinstance(provider, str):
        raise ChannelTableError(f"provider must be a string, got {type(provider).__name__}: {provider!r}")
    if not provider.strip():
        raise ChannelTableError("provider must not be empty")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in provider):
        raise ChannelTableError(f"provider {provider!r} holds a control character")
    if "'" in provider and '"' in provider:
        raise ChannelTableError(f"provider {provider!r} holds both quote characters: XPath 1.0 cannot quote it")
    quote = '"' if "'" in provider else "'"
    return f"Event/System[Provider[@Name={quote}{provider}{quote}]]"


def channels(
    withsecure_channel: str = WITHSECURE_CHANNEL,
    withsecure_query: str = WITHSECURE_QUERY,
    exclude: tuple | list = (),
) -> list[dict]:
    """``[{location, query}]`` for every channel of the table, minus the keys in ``exclude``.

    The result is what ``_wazuh_agent_conf.normalize_channels`` and the agent role's ossec.conf block
    take; they check the values (line breaks, ``<!`` in a query, duplicates) where they write them.
    """
    unknown = sorted(set(exclude) - set(KEYS))
    if unknown:
        raise ChannelTableError(f"unknown channel keys {unknown}; the table has {list(KEYS)}")
    for name, value in (("withsecure_channel", withsecure_channel), ("withsecure_query", withsecure_query)):
        if not isinstance(value, str):
            raise ChannelTableError(f"{name} must be a string, got {type(value).__name__}: {value!r}")
    if "withsecure" not in exclude and not withsecure_channel.strip():
        raise ChannelTableError("withsecure_channel must not be empty (exclude 'withsecure' to leave it out)")
    result = []
    for key, location, query in CHANNELS:
        if key in exclude:
            continue
        if key == "withsecure":
            result.append({"location": withsecure_channel, "query": withsecure_query})
        else:
            result.append({"location": location, "query": query})
    return result

# Copyright: m1038.appcontrol contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Wazuh agent probe's result, read on the controller (private helper, stdlib only).

``wazuh_agent_probe`` (PowerShell, on the host) returns raw facts; this module turns the parts that need
parsing into values the planner compares: the agent version, the state file ``wazuh-agent.state``
(``key='value'`` lines, written by ``wazuh-agentd``'s ``write_state()``: ``status`` is ``pending``,
``connected`` or ``disconnected``), and the files the probe sends as base64.
"""

from __future__ import annotations

import base64
import binascii
import re

from ansible_collections.m1038.appcontrol.plugins.module_utils._ossec_conf import decode_conf
from ansible_collections.m1038.appcontrol.plugins.module_utils._winedge import ProbeError

CONCERN = "wazuh_agent"
PROBE_VERSION = 1
OPT_STR = (str, None)
PROBE_SHAPE = {
    "host": {"architecture": str, "computer_name": str, "os_version": str},
    "installed": bool,
    "product": {"name": OPT_STR, "version": OPT_STR, "product_code": OPT_STR, "install_location": OPT_STR},
    "install_dir": str,
    "service": {"name": str, "exists": bool, "state": OPT_STR, "start_mode": OPT_STR},
    "ossec_conf": {"path": str, "exists": bool, "size": (int, None), "sha256": OPT_STR, "content_b64": OPT_STR},
    "client_keys": {"path": str, "exists": bool, "entries": list, "malformed": int},
    "password_file": {"path": str, "exists": bool, "protected": (bool, None), "other_access": list},
    "agent_state": {
        "path": str,
        "exists": bool,
        "status": OPT_STR,
        "text": OPT_STR,
        "?written_after_start": (bool, None),
    },
    "shared_conf": {"path": str, "exists": bool, "sha256": OPT_STR, "content_b64": OPT_STR},
    "log": list,
    "waited_seconds": int,
}
STATUSES = ("pending", "connected", "disconnected")
_VERSION_RE = re.compile(r"^v?(\d{1,3})\.(\d{1,3})\.(\d{1,4})(?:[-.].*)?$")
_STATE_LINE_RE = re.compile(r"^([A-Za-z_]+)='([^']*)'\s*$")
_ENTRY_KEYS = ("id", "name", "ip")


def parse_version(text: object) -> tuple[int, int, int] | None:
    """``4.14.7`` (also ``v4.14.7`` or ``4.14.7-1``) -> (4, 14, 7); anything else -> None."""
    match = _VERSION_RE.match(text.strip()) if isinstance(text, str) else None
    return tuple(int(part) for part in match.groups()) if match else None


def version_text(version: tuple[int, int, int]) -> str:
    return ".".join(str(part) for part in version)


def parse_state(text: str | None) -> dict:
    """The ``key='value'`` lines of wazuh-agent.state; comments and anything else are skipped."""
    values: dict[str, str] = {}
    for line in (text or "").splitlines():
        match = _STATE_LINE_RE.match(line.strip())
        if match:
            values[match.group(1)] = match.group(2)
    return values


def decode_file(report: dict, what: str) -> str | None:
    """Text of a file the probe sent as base64 (bytes that are not UTF-8 kept, see decode_conf)."""
    data = report.get("content_b64")
    if data is None:
        return None
    try:
        return decode_conf(base64.b64decode(data, validate=True))
    except (binascii.Error, ValueError) as exc:
        raise ProbeError(f"probe: {what}.content_b64 is not base64 ({exc})") from None


def json_safe(value):
    """``value`` with every string made encodable as UTF-8: a byte kept by decode_conf() shows as U+FFFD.

    Module results must be valid UTF-8 (ansible-core refuses lone surrogates), and a file's stray byte
    may reach a message or a diff.
    """
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    if isinstance(value, dict):
        return {json_safe(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    return value


def key_entries(probe: dict) -> list[dict]:
    """client.keys entries (id, name, ip); each must be an object with those keys."""
    entries = probe["client_keys"]["entries"]
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or any(not isinstance(entry.get(key), str) for key in _ENTRY_KEYS):
            raise ProbeError(f"probe: client_keys.entries[{index}] is {entry!r}, expected {{id, name, ip}} strings")
    return entries


def connection(probe: dict) -> dict:
    """Enrolled or not, and what the state file says about the link to the manager.

    The agent rewrites its state file every few seconds while it runs; a file last written before the
    agent's process started (``written_after_start`` false, e.g. right after a restart) tells about the
    previous process, so its status counts as unknown.
    """
    report = probe["agent_state"]
    state = parse_state(report["text"])
    status = state.get("status") or report["status"]
    stale = report.get("written_after_start") is False
    entries = key_entries(probe)
    return {
        "registered": bool(entries),
        "agent_id": entries[0]["id"] if entries else None,
        "agent_name": entries[0]["name"] if entries else None,
        "status": status if status in STATUSES and not stale else None,
        "stale_state": stale,
        "last_ack": state.get("last_ack") or None,
        "last_keepalive": state.get("last_keepalive") or None,
    }

# Copyright: m1038.appcontrol contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The state directory of wazuh_content on a manager (private helper, stdlib only).

``<state_dir>/managed.json`` lists the files and CDB lists the last run placed. Everything read
back from the state directory is checked as strictly as the module's own input, and every error
names the file it comes from.
"""

from __future__ import annotations

import json
import os
import re

MANIFEST = "managed.json"
OSSEC_CONF = "etc/ossec.conf"
# What wazuh_content may place: relative to the Wazuh home, nothing outside these three directories.
PATH_RE = re.compile(
    r"etc/(rules/[A-Za-z0-9][A-Za-z0-9._-]*\.xml|decoders/[A-Za-z0-9][A-Za-z0-9._-]*\.xml|lists/[A-Za-z0-9][A-Za-z0-9._-]*)"
)


class ContentError(Exception):
    """A change that cannot be made safely; the message says why and names the file or value."""


def read_bytes(path):
    """The bytes of ``path``, or None when it does not exist."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def load_json(path):
    """Parse the JSON file ``path`` (None when it does not exist); errors name the file."""
    raw = read_bytes(path)
    if raw is None:
        return None
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ContentError(f"{path} is not valid UTF-8 JSON ({exc}); it was not written by wazuh_content") from None


def load_manifest(state_dir):
    """``{"files": [...], "lists": [...]}`` of the last run, each entry checked like the module's input."""
    path = os.path.join(state_dir, MANIFEST)
    data = load_json(path)
    if data is None:
        return {"files": [], "lists": []}
    return check_manifest(data, path)


def check_manifest(data, where):
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("files", []), list)
        or not isinstance(data.get("lists", []), list)
    ):
        raise ContentError(f"{where}: expected {{'files': [...], 'lists': [...]}}, found {data!r}")
    return {"files": sorted(data.get("files", [])), "lists": sorted(data.get("lists", []))}

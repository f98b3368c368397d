"""Verify the real Windows host of the windows scenario through testinfra's WinRM backend.

Runs only when M1038_WINDOWS_HOST names a host (docs/windows-edge-pattern.md lists the
variables); credentials come from the environment. Independent of the role's own probe: it
reads the service, the driver's registry values and the event log with verify_sysmon.ps1.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import urllib.parse
from pathlib import Path

import pytest
import testinfra

HOST = os.environ.get("M1038_WINDOWS_HOST", "")
pytestmark = pytest.mark.skipif(not HOST, reason="M1038_WINDOWS_HOST is not set: no real Windows host to verify")
SCRIPT = Path(__file__).with_name("verify_sysmon.ps1")
OUTPUT = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/nonexistent")) / "sysmon"
MAX_SIZE = 268435456


@pytest.fixture(scope="module")
def state():
    user = urllib.parse.quote(os.environ["M1038_WINDOWS_USER"], safe="")
    password = urllib.parse.quote(os.environ["M1038_WINDOWS_PASSWORD"], safe="")
    port = os.environ.get("M1038_WINDOWS_PORT") or "5986"
    no_verify = os.environ.get("M1038_WINDOWS_CERT_VALIDATION", "validate") == "ignore"
    host = testinfra.get_host(f"winrm://{user}:{password}@{HOST}:{port}", no_verify_ssl=no_verify)
    if os.environ.get("M1038_WINDOWS_CA_PATH"):
        host.backend.conn_args["ca_trust_path"] = os.environ["M1038_WINDOWS_CA_PATH"]
    encoded = base64.b64encode(SCRIPT.read_text(encoding="utf-8").encode("utf-16-le")).decode()
    result = host.run(f"powershell.exe -NoProfile -NonInteractive -EncodedCommand {encoded}")
    assert result.rc == 0, result.stderr
    return json.loads(result.stdout)


def test_one_sysmon_service_runs_automatically(state):
    assert len(state["services"]) == 1, state["services"]
    service = state["services"][0]
    assert (service["state"], service["start_mode"]) == ("Running", "Auto")


def test_the_rendered_configuration_is_loaded(state):
    """ConfigHash holds ALGO=HEX pairs over the loaded file: each we can compute must match the rendered bytes."""
    rendered = (OUTPUT / HOST / "sysmonconfig.xml").read_bytes()
    pairs = dict(part.split("=", 1) for part in state["parameters"]["config_hash"].split(",") if "=" in part)
    known = ("MD5", "SHA1", "SHA256")
    comparable = {algo.upper(): digest.lower() for algo, digest in pairs.items() if algo.upper() in known}
    assert comparable, state["parameters"]
    for algo, digest in comparable.items():
        assert hashlib.new(algo.lower(), rendered).hexdigest() == digest, algo
    assert state["parameters"]["config_file"].lower().endswith("\\sysmonconfig.xml")


def test_the_operational_log_has_the_requested_size(state):
    assert state["channel"]["max_size"] == MAX_SIZE and state["channel"]["enabled"] is True


def test_the_software_inventory_read_the_machine_uninstall_keys():
    """The role's probe ran on the host; its fact cache file lists what the registry holds."""
    cache = OUTPUT.parent / "software_facts" / HOST
    records = json.loads(cache.read_text(encoding="utf-8"))["m1038_software"]
    assert records and all(set(r) == {"name", "publisher", "version", "install_date", "scope"} for r in records)
    assert any(r["scope"] == "machine" for r in records)

"""Verify the real Windows host of the windows scenario through testinfra's WinRM backend.

Runs only when M1038_WINDOWS_HOST names a host (docs/windows-edge-pattern.md lists the
variables); credentials come from the environment. Independent of the roles' own probes: it
reads the service, the driver's registry values and the event log with verify_sysmon.ps1, and
the local AppLocker policy, AppIDSvc and the AppLocker logs with verify_applocker.ps1.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sys
import urllib.parse
from pathlib import Path

import pytest
import testinfra

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "collections"))

from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_compare import compare

HOST = os.environ.get("M1038_WINDOWS_HOST", "")
pytestmark = pytest.mark.skipif(not HOST, reason="M1038_WINDOWS_HOST is not set: no real Windows host to verify")
SCRIPT = Path(__file__).with_name("verify_sysmon.ps1")
APPLOCKER_SCRIPT = Path(__file__).with_name("verify_applocker.ps1")
EPHEMERAL = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/nonexistent"))
OUTPUT = EPHEMERAL / "sysmon"
MAX_SIZE = 268435456
APPLOCKER_SIZES = {  # the applocker role's defaults
    "Microsoft-Windows-AppLocker/EXE and DLL": 67108864,
    "Microsoft-Windows-AppLocker/MSI and Script": 67108864,
    "Microsoft-Windows-AppLocker/Packaged app-Deployment": 16777216,
    "Microsoft-Windows-AppLocker/Packaged app-Execution": 16777216,
}


def run_script(script: Path) -> dict:
    user = urllib.parse.quote(os.environ["M1038_WINDOWS_USER"], safe="")
    password = urllib.parse.quote(os.environ["M1038_WINDOWS_PASSWORD"], safe="")
    port = os.environ.get("M1038_WINDOWS_PORT") or "5986"
    no_verify = os.environ.get("M1038_WINDOWS_CERT_VALIDATION", "validate") == "ignore"
    host = testinfra.get_host(f"winrm://{user}:{password}@{HOST}:{port}", no_verify_ssl=no_verify)
    if os.environ.get("M1038_WINDOWS_CA_PATH"):
        host.backend.conn_args["ca_trust_path"] = os.environ["M1038_WINDOWS_CA_PATH"]
    encoded = base64.b64encode(script.read_text(encoding="utf-8").encode("utf-16-le")).decode()
    result = host.run(f"powershell.exe -NoProfile -NonInteractive -EncodedCommand {encoded}")
    assert result.rc == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def state():
    return run_script(SCRIPT)


@pytest.fixture(scope="module")
def applocker():
    return run_script(APPLOCKER_SCRIPT)


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


def test_the_rendered_applocker_variant_is_the_local_policy(applocker):
    """The local policy, read back by Get-AppLockerPolicy, means what the role rendered (M1038_APPLOCKER_VARIANT)."""
    variant = os.environ.get("M1038_APPLOCKER_VARIANT") or "audit"
    rendered = (EPHEMERAL / "applocker" / "hosts" / HOST / f"{variant}.xml").read_bytes()
    diff = compare(applocker["policy"], rendered)
    assert diff.equal, diff.summary()


def test_appidsvc_runs_automatically_and_the_applocker_logs_are_sized(applocker):
    assert applocker["service"] == {"state": "Running", "start_mode": "Auto"}
    assert {c["name"]: c["max_size"] for c in applocker["channels"]} == APPLOCKER_SIZES

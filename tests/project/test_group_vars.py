"""The top-level group_vars/ reaches the hosts of every inventory; inventories override it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from .helpers import PROJECT_ROOT, ansible_env

pytestmark = pytest.mark.slow

INVENTORIES = sorted(p for p in (PROJECT_ROOT / "inventories").iterdir() if (p / "hosts.yml").is_file())


def inventory(path: Path, cwd: Path = PROJECT_ROOT) -> dict:
    out = subprocess.run(
        ["ansible-inventory", "-i", str(path / "hosts.yml"), "--list"],
        cwd=cwd,
        env=ansible_env(),
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)


def host_vars(data: dict) -> dict:
    return data["_meta"]["hostvars"]


def test_there_are_lab_and_example_inventories():
    assert {p.name for p in INVENTORIES} >= {"lab", "example"}


@pytest.mark.parametrize("inv", INVENTORIES, ids=lambda p: p.name)
def test_project_group_vars_apply_to_every_host(inv):
    hv = host_vars(inventory(inv))
    assert hv, f"{inv} has no hosts"
    for host, values in hv.items():
        assert values.get("m1038_preflight_allow_insecure_winrm") is False, host
        assert "m1038_output_dir" in values, host


def test_project_windows_group_vars_apply_and_inventory_overrides_win():
    hv = host_vars(inventory(PROJECT_ROOT / "inventories" / "example"))
    pilot = hv["ws-pilot-01.corp.example.com"]
    # from the project-wide group_vars/windows/winrm.yml
    assert pilot["ansible_winrm_scheme"] == "https"
    assert pilot["ansible_winrm_server_cert_validation"] == "validate"
    assert pilot["ansible_winrm_connection_timeout"] == 30
    # inventories/example/group_vars/windows overrides the project value
    assert pilot["ansible_winrm_operation_timeout_sec"] == 120
    # a host variable overrides both
    assert hv["app-01.corp.example.com"]["ansible_winrm_transport"] == "ntlm"
    assert pilot["ansible_winrm_transport"] == "kerberos"
    # credentials stay a vault reference
    assert pilot["ansible_password"] == "{{ vault_m1038_winrm_password }}"  # noqa: S105 - a vault reference


def test_example_software_inventory_api_credentials_are_a_vault_reference():
    controller = host_vars(inventory(PROJECT_ROOT / "inventories" / "example"))["localhost"]
    assert controller["software_inventory_api_url"].startswith("https://")
    assert controller["software_inventory_api_password"] == "{{ vault_software_inventory_api_password }}"  # noqa: S105


def test_lab_inventory_override_of_all(tmp_path):
    hv = host_vars(inventory(PROJECT_ROOT / "inventories" / "lab"))
    assert hv["localhost"]["m1038_lab"] is True


def test_project_group_vars_apply_from_another_working_directory(tmp_path):
    hv = host_vars(inventory(PROJECT_ROOT / "inventories" / "example", cwd=tmp_path))
    assert hv["ws-0101.corp.example.com"]["ansible_winrm_scheme"] == "https"
    assert hv["ws-0101.corp.example.com"]["ansible_winrm_operation_timeout_sec"] == 120


def test_a_new_inventory_gets_the_project_group_vars(tmp_path):
    """Any inventory, not only the shipped ones, gets the project layer."""
    (tmp_path / "hosts.yml").write_text("---\nall:\n  children:\n    windows:\n      hosts:\n        w1:\n")
    hv = host_vars(inventory(tmp_path))
    assert hv["w1"]["ansible_winrm_server_cert_validation"] == "validate"

"""The sysmon role's upgrade and rollback paths against the Windows TEST DOUBLE.

tests/doubles/windows/README.md says what the double models and what it cannot prove; helpers in
windows_double.py.
"""

from __future__ import annotations

import pytest

from .windows_double import REMOTE, Lab, installed_state, names

pytestmark = pytest.mark.slow


def test_upgrade_keeps_the_old_release_and_reruns_clean(tmp_path):
    lab = Lab(tmp_path, installed_state())
    changed, calls, stdout = lab.run(sysmon_package_src=str(lab.zip))
    assert "upgrade Sysmon 14.16 to 15.15 as sysmon_version requests" in " ".join(stdout.split())
    assert names(calls) == [
        "sysmon_probe",
        "win_copy",  # the package from the controller
        "win_unzip",
        "win_copy",  # keep the binary
        "win_copy",  # keep the loaded configuration
        "win_copy",  # push the rendered configuration
        "win_command -accepteula -u force",
        f"win_command -accepteula -i {REMOTE}\\sysmonconfig.xml",
        "win_command set-log Microsoft-Windows-Sysmon/Operational /ms:268435456",
        "sysmon_probe",
    ]
    assert lab.file(f"{REMOTE}\\backup\\previous\\Sysmon64.exe")["version"] == "14.16"
    assert lab.file(f"{REMOTE}\\backup\\sysmonconfig.previous.xml") is not None
    assert lab.file("C:\\Windows\\Sysmon64.exe")["version"] == "15.15"
    assert lab.state["driver"]["config_hash"] == lab.rendered_hash()
    changed, calls, _stdout = lab.run(sysmon_package_src=str(lab.zip))
    assert changed == 0 and names(calls) == ["sysmon_probe"]


def test_a_refused_configuration_is_replaced_by_the_previous_one(tmp_path):
    state = installed_state(version="15.15")
    state["refuse_marker"] = "m1038.appcontrol sysmon_config"  # in the header of every rendered config
    lab = Lab(tmp_path, state)
    old_hash = state["driver"]["config_hash"]
    _changed, calls, stdout = lab.run(ok=False)
    assert names(calls) == [
        "sysmon_probe",
        "win_copy",  # keep C:\Windows\sysmonconfig.xml
        "win_copy",  # push
        f"win_command -accepteula -c {REMOTE}\\sysmonconfig.xml",
        f"win_command -accepteula -c {REMOTE}\\backup\\sysmonconfig.previous.xml",
    ]
    assert "Sysmon refused" in stdout and "The previous configuration was reloaded" in " ".join(stdout.split())
    assert lab.state["driver"] == {
        "config_file": f"{REMOTE}\\backup\\sysmonconfig.previous.xml",
        "config_hash": old_hash,
    }


def test_a_failed_upgrade_reinstalls_the_previous_release(tmp_path):
    state = installed_state()
    state["refuse_marker"] = "m1038.appcontrol sysmon_config"  # the new install's -i CONFIG fails
    lab = Lab(tmp_path, state)
    _changed, calls, stdout = lab.run(ok=False)
    assert names(calls)[-3:] == [
        "win_command -accepteula -u force",
        f"win_command -accepteula -i {REMOTE}\\sysmonconfig.xml",
        f"win_command -accepteula -i {REMOTE}\\backup\\sysmonconfig.previous.xml",
    ]
    assert "The previous release was reinstalled (rc 0)" in " ".join(stdout.split())
    assert lab.file("C:\\Windows\\Sysmon64.exe")["version"] == "14.16"
    assert lab.state["service"]["state"] == "running"

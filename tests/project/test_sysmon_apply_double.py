"""The sysmon role's install, rerun, check mode, gates and uninstall against the Windows TEST DOUBLE.

tests/doubles/windows/README.md says what the double models and what it cannot prove; helpers in
windows_double.py. Rollback paths are in test_sysmon_apply_double_rollback.py (a file each, so the
two spread over pytest-xdist's workers).
"""

from __future__ import annotations

import pytest

from .windows_double import REMOTE, Lab, installed_state, names

pytestmark = pytest.mark.slow


def test_fresh_install_then_nothing_then_check_mode(tmp_path):
    lab = Lab(tmp_path, {})
    changed, calls, _stdout = lab.run()
    assert changed > 0
    staged = f"{REMOTE}\\package\\Sysmon-{lab.sha256[:16]}\\Sysmon64.exe"
    assert names(calls) == [
        "sysmon_probe",
        "win_file",
        "win_get_url",
        "win_unzip",
        "win_copy",
        f"win_command -accepteula -i {REMOTE}\\sysmonconfig.xml",
        "win_command set-log Microsoft-Windows-Sysmon/Operational /ms:268435456",
        "sysmon_probe",
    ]
    assert calls[5]["argv"][0] == staged
    state = lab.state
    assert state["service"] == {
        "name": "Sysmon64",
        "binary": "C:\\Windows\\Sysmon64.exe",
        "state": "running",
        "start_mode": "auto",
    }
    assert state["driver"]["config_hash"] == lab.rendered_hash()
    assert state["eventlog"] == 268435456

    changed, calls, _stdout = lab.run()
    assert changed == 0 and names(calls) == ["sysmon_probe"]  # a compliant host costs one probe

    changed, calls, _stdout = lab.run("--check", "--diff")
    assert changed == 0 and names(calls) == ["sysmon_probe"]


def test_a_package_with_another_sha256_is_refused_before_it_is_copied(tmp_path):
    lab = Lab(tmp_path, {})
    _changed, calls, stdout = lab.run(ok=False, sysmon_package_src=str(lab.zip), sysmon_package_sha256="0" * 64)
    assert "has SHA256" in stdout and names(calls) == ["sysmon_probe"]


def test_without_the_eula_nothing_runs(tmp_path):
    lab = Lab(tmp_path, {})
    _changed, calls, stdout = lab.run(ok=False, sysmon_accept_eula=False)
    assert "set sysmon_accept_eula to true" in " ".join(stdout.split())
    assert names(calls) == ["sysmon_probe"]


def test_state_absent_uninstalls_and_cleans_up(tmp_path):
    lab = Lab(tmp_path, installed_state(version="15.15"))
    changed, calls, _stdout = lab.run(sysmon_state="absent")
    assert changed > 0
    assert names(calls) == ["sysmon_probe", "win_command -accepteula -u force", "win_file", "sysmon_probe"]
    assert lab.state["service"] is None
    changed, calls, _stdout = lab.run(sysmon_state="absent")
    assert changed == 0 and names(calls) == ["sysmon_probe"]

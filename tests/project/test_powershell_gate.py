"""The PowerShell syntax gate (scripts/ps_syntax_gate.py): the project passes, broken scripts fail."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap

import pytest

from .helpers import PROJECT_ROOT

GATE = PROJECT_ROOT / "scripts" / "ps_syntax_gate.py"
PROBE = PROJECT_ROOT / "plugins" / "modules" / "sysmon_probe.ps1"
SOFTWARE_PROBE = PROJECT_ROOT / "plugins" / "modules" / "software_inventory_probe.ps1"

_spec = importlib.util.spec_from_file_location("ps_syntax_gate", GATE)
gate = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("ps_syntax_gate", gate)
_spec.loader.exec_module(gate)


def reasons(problems):
    return [p.reason for p in problems]


def test_every_project_script_passes():
    ps1, yml = gate.project_files()
    assert PROBE in ps1 and SOFTWARE_PROBE in ps1  # the gate really looks at the modules
    assert PROJECT_ROOT / "plugins" / "modules" / "applocker_probe.ps1" in ps1
    assert any(p.parts[-3:] == ("sysmon", "tasks", "main.yml") for p in yml)
    assert gate.check_files(ps1, yml) == []


def test_the_applocker_role_inline_scripts_are_parsed():
    """The keep and set scripts (the set script twice: applied, and set again in the rescue through a YAML alias)."""
    found = gate.inline_scripts(PROJECT_ROOT / "roles" / "applocker" / "tasks" / "policy.yml")
    assert [module for module, _line, _script in found] == ["ansible.windows.win_powershell"] * 3
    assert "Get-AppLockerPolicy" in found[0][2] and all("Set-AppLockerPolicy" in s for _m, _l, s in found[1:])
    script = found[1][2]
    broken = script.replace("-XmlPolicy $PolicyFile\n", "-XmlPolicy (\n", 1)
    assert broken != script and gate.check_script(broken, "policy.yml")


def test_the_cli_passes_on_the_project_and_fails_on_a_broken_file(tmp_path):
    ok = subprocess.run([sys.executable, str(GATE)], capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stderr
    assert "0 problem(s)" in ok.stdout
    broken = tmp_path / "broken.ps1"
    broken.write_text("if ($a {\n    Get-Item x\n}\n")
    bad = subprocess.run([sys.executable, str(GATE), str(broken)], capture_output=True, text=True, check=False)
    assert bad.returncode == 1
    assert f"{broken}:1:" in bad.stderr and "syntax error" in bad.stderr


@pytest.mark.parametrize("probe", [PROBE, SOFTWARE_PROBE], ids=lambda p: p.name)
def test_the_probe_module_with_a_brace_removed_fails(probe):
    source = probe.read_text()
    broken = source.replace("$module.Result.changed = $false\n", "$module.Result.changed = $false\n}\n", 1)
    assert broken != source
    problems = gate.check_script(broken, probe.name, module=True)
    assert problems and all("syntax error" in r for r in reasons(problems))


@pytest.mark.parametrize(
    "script",
    [
        "Get-Item -Path (Join-Path 'a' 'b'",  # missing paren
        "$x = @{ a = 1",  # unclosed hashtable
        "function f { param([string]$a) ",  # unclosed function
        "try { 1 } catch [System.Exception { 2 }",  # bad type literal
    ],
)
def test_syntax_errors_are_found(script):
    problems = gate.check_script(script, "s.ps1")
    assert any("syntax error" in r for r in reasons(problems)), script


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("Invoke-Expression $code", "Invoke-Expression"),
        ("iex $code", "iex"),
        ("& Invoke-Expression 'x'", "Invoke-Expression"),
        ("Microsoft.PowerShell.Utility\\Invoke-Expression 'x'", "Invoke-Expression"),
        ("Write-Host 'hello'", "Write-Host"),
        ("[scriptblock]::Create($text).Invoke()", "dynamic code"),
        ("$ExecutionContext.InvokeCommand.InvokeScript('x')", "dynamic code"),
        ("Get-ChildItem | % { $_.Name }", "alias '%'"),
        ("Get-Service | ? { $_.Status }", "alias '?'"),
        ("gci C:\\", "alias 'gci'"),
        ("Get-Process | select Name", "alias 'select'"),
        ("Get-Process | foreach { $_ }", "alias 'foreach'"),
    ],
)
def test_banned_constructs(script, expected):
    assert any(expected in r for r in reasons(gate.check_script(script, "s.ps1"))), script


def test_write_output_is_banned_in_modules_only():
    assert any("Write-Output" in r for r in reasons(gate.check_script("Write-Output 1", "m.ps1", module=True)))
    assert gate.check_script("Write-Output 1", "s.ps1") == []


def test_what_the_project_writes_parses():
    script = textwrap.dedent(
        """\
        #AnsibleRequires -CSharpUtil Ansible.Basic
        $list = [System.Collections.Generic.List[string]]::new()
        $text = @"
        here-string $($list.Count)
        "@
        $params = @{ Path = 'C:\\x'; ErrorAction = 'Stop' }
        try { Get-Item @params } catch [System.Management.Automation.ItemNotFoundException] { $null }
        foreach ($item in $list) { $item.Length }
        class Thing { [string]$Name }
        """
    )
    assert gate.check_script(script, "ok.ps1", module=True) == []


def test_known_grammar_limit_backtick_arity_generics_are_rejected():
    """Valid PowerShell the grammar cannot parse: the project writes List[string] instead (see the gate's doc)."""
    assert gate.check_script("$l = New-Object 'System.Collections.Generic.List`1[String]'; [List`1[String]]$x", "g.ps1")


def test_inline_scripts_in_tasks(tmp_path):
    tasks = tmp_path / "tasks.yml"
    tasks.write_text(
        textwrap.dedent(
            """\
            ---
            - name: Fine
              ansible.windows.win_powershell:
                script: |
                  param([string]$Name)
                  Get-Service -Name $Name
                parameters:
                  Name: Sysmon64
            - name: Block
              block:
                - name: Broken
                  ansible.windows.win_powershell:
                    script: |
                      $a = 1
                      if ($a -eq 1 {
                        Get-Item x
                      }
            - name: Interpolated
              ansible.windows.win_shell: Get-Service -Name {{ service }}
            """
        )
    )
    found = gate.inline_scripts(tasks)
    assert [entry[0] for entry in found] == ["ansible.windows.win_powershell"] * 2 + ["ansible.windows.win_shell"]
    problems = gate.check_yaml(tasks, "tasks.yml")
    syntax = [p for p in problems if "syntax error" in p.reason]
    assert syntax and min(p.line for p in syntax) == 15, problems  # the line of `if ($a -eq 1 {` in the file
    assert any("interpolates Jinja" in p.reason for p in problems)

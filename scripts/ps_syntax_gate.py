"""PowerShell syntax gate: parse every .ps1 and every inline PowerShell script of the project.

pwsh cannot be installed on these machines, so ansible-test's pslint cannot run. This gate parses
PowerShell with the tree-sitter-powershell grammar (PyPI) instead and fails on:

- a syntax error: any ERROR or MISSING node of the parse tree (a missing paren, an unclosed block);
- a banned construct: ``Invoke-Expression`` (and ``iex``), ``[scriptblock]::Create`` and ``InvokeScript``
  (dynamic code), ``Write-Host``; in modules also ``Write-Output`` (stray pipeline output corrupts the
  module's JSON); and command aliases (``%``, ``?``, ``gci``, ``select``, ...) that hide what runs;
- in YAML tasks, an inline script (``script:`` of win_powershell, the command of win_shell) that
  interpolates Jinja (``{{ }}``): pass values as parameters instead.

The grammar rejects some valid PowerShell (backtick-arity generics such as ``List`1[String]`` and nested
generic type literals); the project writes PowerShell it parses. Never silence the gate.

    python scripts/ps_syntax_gate.py            # check plugins/, roles/, playbooks/, molecule/
    python scripts/ps_syntax_gate.py FILE...    # check the given .ps1 or YAML files
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

import tree_sitter
import tree_sitter_powershell
import yaml

ROOT = Path(__file__).resolve().parent.parent
SCAN_DIRS = ("plugins", "roles", "playbooks", "molecule")
BANNED_COMMANDS = {
    "invoke-expression": "Invoke-Expression runs a string as code",
    "iex": "iex (Invoke-Expression) runs a string as code",
    "write-host": "Write-Host writes around Ansible's result; report through $module or the task result",
}
MODULE_ONLY_BANNED = {
    "write-output": "Write-Output in a module puts stray output before the module's JSON",
}
# Built-in aliases of Windows PowerShell 5.1 that appear in scripts; spell the command out.
ALIASES = {
    "%": "ForEach-Object",
    "?": "Where-Object",
    "ac": "Add-Content",
    "cat": "Get-Content",
    "cd": "Set-Location",
    "chdir": "Set-Location",
    "clc": "Clear-Content",
    "cls": "Clear-Host",
    "copy": "Copy-Item",
    "cp": "Copy-Item",
    "cpi": "Copy-Item",
    "curl": "Invoke-WebRequest",
    "del": "Remove-Item",
    "dir": "Get-ChildItem",
    "echo": "Write-Output",
    "erase": "Remove-Item",
    "foreach": "ForEach-Object",
    "gc": "Get-Content",
    "gci": "Get-ChildItem",
    "gcm": "Get-Command",
    "gi": "Get-Item",
    "gm": "Get-Member",
    "gp": "Get-ItemProperty",
    "gps": "Get-Process",
    "group": "Group-Object",
    "gsv": "Get-Service",
    "gv": "Get-Variable",
    "icm": "Invoke-Command",
    "ii": "Invoke-Item",
    "ipmo": "Import-Module",
    "irm": "Invoke-RestMethod",
    "iwr": "Invoke-WebRequest",
    "kill": "Stop-Process",
    "ls": "Get-ChildItem",
    "md": "mkdir",
    "mi": "Move-Item",
    "move": "Move-Item",
    "mv": "Move-Item",
    "ni": "New-Item",
    "popd": "Pop-Location",
    "ps": "Get-Process",
    "pushd": "Push-Location",
    "pwd": "Get-Location",
    "rd": "Remove-Item",
    "ren": "Rename-Item",
    "ri": "Remove-Item",
    "rm": "Remove-Item",
    "rmdir": "Remove-Item",
    "rp": "Remove-ItemProperty",
    "sal": "Set-Alias",
    "sc": "Set-Content",
    "select": "Select-Object",
    "set": "Set-Variable",
    "sl": "Set-Location",
    "sleep": "Start-Sleep",
    "sort": "Sort-Object",
    "sp": "Set-ItemProperty",
    "spps": "Stop-Process",
    "start": "Start-Process",
    "sv": "Set-Variable",
    "tee": "Tee-Object",
    "type": "Get-Content",
    "wget": "Invoke-WebRequest",
    "where": "Where-Object",
    "write": "Write-Output",
}
DYNAMIC_CODE = re.compile(r"\[\s*scriptblock\s*\]\s*::\s*create\b|\.invokescript\s*\(", re.IGNORECASE)
# Task keys whose value is a PowerShell script, by module.
INLINE_SCRIPT_MODULES = {
    "ansible.windows.win_powershell": ("script",),
    "win_powershell": ("script",),
    "ansible.windows.win_shell": ("cmd", "_raw_params"),
    "win_shell": ("cmd", "_raw_params"),
}
JINJA = re.compile(r"{{.*?}}|{%.*?%}", re.DOTALL)

_PARSER = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))


@dataclass(frozen=True)
class Problem:
    where: str
    line: int
    column: int
    reason: str

    def __str__(self) -> str:
        return f"{self.where}:{self.line}:{self.column}: {self.reason}"


def _walk(node):
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))


def _command_name(node, source: bytes) -> str | None:
    name = node.child_by_field_name("command_name")
    if name is None:
        return None
    text = source[name.start_byte : name.end_byte].decode("utf-8", "replace").strip().strip("'\"")
    return text.rsplit("\\", 1)[-1].lower()


def check_script(source: bytes | str, where: str, *, module: bool = False, line_offset: int = 0) -> list[Problem]:
    """Syntax errors and banned constructs of one script; ``line_offset`` maps lines back into a YAML file."""
    data = source.encode("utf-8") if isinstance(source, str) else source
    tree = _PARSER.parse(data)
    problems: list[Problem] = []
    banned = {**BANNED_COMMANDS, **(MODULE_ONLY_BANNED if module else {})}
    for node in _walk(tree.root_node):
        line, column = node.start_point[0] + 1 + line_offset, node.start_point[1] + 1
        if node.type == "ERROR":
            snippet = data[node.start_byte : node.end_byte].decode("utf-8", "replace").splitlines()[:1]
            reason = f"syntax error near {snippet[0][:60]!r}" if snippet else "syntax error"
            problems.append(Problem(where, line, column, reason))
        elif node.is_missing:
            problems.append(Problem(where, line, column, f"syntax error: missing {node.type!r}"))
        elif node.type == "command":
            name = _command_name(node, data)
            if name in banned:
                problems.append(Problem(where, line, column, f"banned: {banned[name]}"))
            elif name in ALIASES:
                problems.append(Problem(where, line, column, f"banned alias {name!r}: write {ALIASES[name]}"))
        elif node.type == "invokation_expression" and DYNAMIC_CODE.search(
            data[node.start_byte : node.end_byte].decode("utf-8", "replace")
        ):
            problems.append(Problem(where, line, column, "banned: dynamic code ([scriptblock]::Create, InvokeScript)"))
    return problems


def _tasks(document):
    """Every task mapping in a YAML document: plays' tasks, blocks, rescue/always, handlers."""
    if isinstance(document, list):
        for item in document:
            yield from _tasks(item)
    elif isinstance(document, dict):
        yield document
        for key in ("tasks", "pre_tasks", "post_tasks", "handlers", "block", "rescue", "always"):
            if isinstance(document.get(key), list):
                yield from _tasks(document[key])


class _LineLoader(yaml.SafeLoader):
    """A SafeLoader that records the line each mapping value starts on (``__lines__``)."""


def _construct_mapping(loader, node, deep=False):
    mapping = yaml.SafeLoader.construct_mapping(loader, node, deep=deep)
    mapping["__lines__"] = {key.value: value.start_mark.line for key, value in node.value if hasattr(key, "value")}
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def inline_scripts(path: Path) -> list[tuple[str, int, str]]:
    """(module, first line, script) for every inline PowerShell script in a YAML file."""
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=_LineLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError:
        return []  # not Ansible YAML the gate can read; yamllint reports real YAML errors
    found = []
    for task in _tasks(document):
        for module, keys in INLINE_SCRIPT_MODULES.items():
            if module not in task:
                continue
            args, lines = task[module], task["__lines__"]
            if isinstance(args, str):
                found.append((module, lines.get(module, 0), args))
                continue
            if isinstance(args, dict):
                arg_lines = args.get("__lines__", {})
                for key in keys:
                    if isinstance(args.get(key), str):
                        found.append((module, arg_lines.get(key, lines.get(module, 0)), args[key]))
    return found


def check_yaml(path: Path, where: str | None = None) -> list[Problem]:
    where = where or str(path)
    problems = []
    for module, line, script in inline_scripts(path):
        if JINJA.search(script):
            problems.append(
                Problem(where, line + 1, 1, f"{module} script interpolates Jinja: pass values as parameters instead")
            )
        # A block scalar starts on the line after its key.
        problems.extend(check_script(JINJA.sub("$jinja", script), where, line_offset=line + 1))
    return problems


def project_files(root: Path = ROOT) -> tuple[list[Path], list[Path]]:
    ps1, yml = [], []
    for name in SCAN_DIRS:
        base = root / name
        if base.is_dir():
            ps1.extend(sorted(p for p in base.rglob("*.ps1") if p.is_file()))
            yml.extend(sorted(p for p in base.rglob("*.yml") if p.is_file()))
    return ps1, yml


def check_files(ps1: list[Path], yml: list[Path], root: Path = ROOT) -> list[Problem]:
    problems = []
    for path in ps1:
        rel = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
        problems.extend(check_script(path.read_bytes(), rel, module="modules" in path.parts))
    for path in yml:
        rel = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
        problems.extend(check_yaml(path, rel))
    return problems


def main(argv: list[str] | None = None) -> int:
    args = [Path(a).resolve() for a in (sys.argv[1:] if argv is None else argv)]
    if args:
        ps1 = [p for p in args if p.suffix.lower() == ".ps1"]
        yml = [p for p in args if p.suffix.lower() in (".yml", ".yaml")]
    else:
        ps1, yml = project_files()
    problems = check_files(ps1, yml)
    for problem in problems:
        print(problem, file=sys.stderr)
    scripts = len(ps1) + sum(len(inline_scripts(p)) for p in yml)
    print(f"ps_syntax_gate: {len(ps1)} .ps1 file(s), {scripts - len(ps1)} inline script(s), {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

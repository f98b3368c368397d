"""Each PowerShell module's argument spec matches its documentation stub.

ansible-test's validate-modules does this comparison with pwsh, which cannot be installed here
(scripts/ansible-test.sh skips .ps1 modules for that reason). This test reads the ``$spec``
options of every plugins/modules/*.ps1 (one option per line, as the project writes them) and
compares names, types, elements, defaults and required with the DOCUMENTATION of the .py beside it.
"""

from __future__ import annotations

import ast
import re

import pytest
import yaml

from .helpers import PROJECT_ROOT

MODULES = sorted((PROJECT_ROOT / "plugins" / "modules").glob("*.ps1"))
OPTION = re.compile(r"^\s+(\w+) = @\{ (.*) \}\s*$")
SETTING = re.compile(r"(\w+) = ('[^']*'|\$true|\$false|-?\d+|@\([^)]*\))")


def ps_value(text: str):
    if text in ("$true", "$false"):
        return text == "$true"
    if text.startswith("@("):
        items = [item.strip() for item in text[2:-1].split(",") if item.strip()]
        return [item.strip("'") if item.startswith("'") else int(item) for item in items]
    if text.startswith("'"):
        return text[1:-1]
    return int(text)


def ps_options(source: str) -> dict:
    block = source[source.index("options = @{") : source.index("supports_check_mode")]
    options = {}
    for line in block.splitlines()[1:]:
        match = OPTION.match(line)
        if match:
            options[match.group(1)] = {key: ps_value(value) for key, value in SETTING.findall(match.group(2))}
    return options


def documented_options(stub) -> dict:
    tree = ast.parse(stub.read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and node.targets[0].id == "DOCUMENTATION":
            return yaml.safe_load(node.value.value)["options"]
    raise AssertionError(f"{stub} has no DOCUMENTATION")


def test_there_is_a_powershell_module():
    assert MODULES, "no .ps1 module: this test would check nothing"


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.name)
def test_spec_matches_documentation(module):
    spec = ps_options(module.read_text())
    docs = documented_options(module.with_suffix(".py"))
    assert set(spec) == set(docs), (sorted(spec), sorted(docs))
    for name, setting in spec.items():
        doc = docs[name]
        assert setting.get("type", "str") == doc.get("type", "str"), name
        assert setting.get("elements") == doc.get("elements"), name
        assert setting.get("default") == doc.get("default"), name
        assert bool(setting.get("required")) == bool(doc.get("required")), name


def test_the_parser_reads_what_it_claims():
    source = "\n".join(
        [
            "options = @{",
            "    a = @{ type = 'list'; elements = 'str'; default = @('x', 'y') }",
            "    b = @{ type = 'bool'; default = $false }",
            "    c = @{ type = 'list'; elements = 'int'; default = @(8003, 8006) }",
            "}",
            "supports_check_mode",
        ]
    )
    assert ps_options(source) == {
        "a": {"type": "list", "elements": "str", "default": ["x", "y"]},
        "b": {"type": "bool", "default": False},
        "c": {"type": "list", "elements": "int", "default": [8003, 8006]},
    }

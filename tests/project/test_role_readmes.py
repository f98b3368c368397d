"""Every role README's variable table matches its meta/argument_specs.yml."""

from __future__ import annotations

import subprocess
import sys

from .helpers import PROJECT_ROOT

GENERATOR = PROJECT_ROOT / "scripts" / "gen_role_readme.py"


def test_role_readmes_are_current():
    proc = subprocess.run([sys.executable, str(GENERATOR), "--check"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


def test_every_role_has_argument_specs_and_readme():
    for role in (PROJECT_ROOT / "roles").iterdir():
        if role.is_dir():
            assert (role / "meta" / "argument_specs.yml").is_file(), role
            assert (role / "README.md").is_file(), role


def test_check_mode_detects_a_stale_table(tmp_path):
    role = tmp_path / "demo"
    (role / "meta").mkdir(parents=True)
    (role / "meta" / "argument_specs.yml").write_text(
        "---\nargument_specs:\n  main:\n    options:\n      demo_x:\n        type: int\n        default: 3\n"
        "        description: The x.\n"
    )
    (role / "README.md").write_text("# demo\n<!-- BEGIN VARS -->\nold\n<!-- END VARS -->\n")
    stale = subprocess.run(
        [sys.executable, str(GENERATOR), "--check", str(role)], check=False, capture_output=True, text=True
    )
    assert stale.returncode == 1
    assert "stale" in stale.stderr
    subprocess.run([sys.executable, str(GENERATOR), str(role)], check=True, capture_output=True)
    text = (role / "README.md").read_text()
    assert "| `demo_x` | int | `3` | The x. |" in text
    fresh = subprocess.run(
        [sys.executable, str(GENERATOR), "--check", str(role)], check=False, capture_output=True, text=True
    )
    assert fresh.returncode == 0


def test_sub_options_and_markup_are_rendered(tmp_path):
    role = tmp_path / "demo"
    (role / "meta").mkdir(parents=True)
    (role / "meta" / "argument_specs.yml").write_text(
        "---\nargument_specs:\n  main:\n    options:\n"
        "      demo_items:\n        type: list\n        elements: dict\n        default: []\n"
        "        description: Items, see M(ansible.builtin.copy) and L(the guide,https://example.org/g).\n"
        "        options:\n          name:\n            type: str\n            required: true\n"
        "            description: Name; V(a|b) is one value.\n"
        "      demo_map:\n        type: dict\n        default: {}\n        description: A map.\n"
        "        options:\n          key:\n            type: int\n            default: 1\n"
        "            description: The key.\n"
    )
    (role / "README.md").write_text("# demo\n<!-- BEGIN VARS -->\n<!-- END VARS -->\n")
    subprocess.run([sys.executable, str(GENERATOR), str(role)], check=True, capture_output=True)
    rows = [line for line in (role / "README.md").read_text().splitlines() if line.startswith("| `")]
    assert rows == [
        "| `demo_items` | list of dict | `[]` | Items, see `ansible.builtin.copy` and"
        " [the guide](https://example.org/g). |",
        "| `demo_items[].name` | str | *required* | Name; `a\\|b` is one value. |",
        "| `demo_map` | dict | `{}` | A map. |",
        "| `demo_map.key` | int | `1` | The key. |",
    ]

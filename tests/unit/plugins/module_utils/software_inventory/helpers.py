"""Shared by the software_inventory tests: fixture paths, the Wazuh API TEST DOUBLE, the renderer check."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_inventory import load_fleet
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_render import render

TESTS = Path(__file__).resolve().parents[4]
FIXTURES = TESTS / "unit" / "fixtures" / "software_inventory"
PROBES = FIXTURES / "probes"
DOUBLE_PATH = TESTS / "doubles" / "wazuh-api" / "wazuh_api_double.py"


def load_double():
    """tests/doubles/wazuh-api/wazuh_api_double.py (a folder name with a dash is no package)."""
    if "wazuh_api_double" not in sys.modules:
        spec = importlib.util.spec_from_file_location("wazuh_api_double", DOUBLE_PATH)
        module = importlib.util.module_from_spec(spec)
        sys.modules["wazuh_api_double"] = module
        spec.loader.exec_module(module)
    return sys.modules["wazuh_api_double"]


def probe(name: str) -> dict:
    return json.loads((PROBES / f"{name}.json").read_text(encoding="utf-8"))


def renderer_accepts(path: Path, inventory_format: str) -> dict:
    """Run the renderer's loader and a whole render on ``path`` exactly as it is; strict on bad vendors."""
    counts, used = load_fleet(str(path), inventory_format, "m1038_software", "fail")
    assert used == inventory_format
    rendered = render(
        {
            "inventory_file": str(path),
            "inventory_format": inventory_format,
            "rule_id_base": 100200,
            "min_prevalence": 0.5,
            "on_invalid_vendor": "fail",
        },
        {},
    )
    return {"counts": counts, "summary": rendered.summary}

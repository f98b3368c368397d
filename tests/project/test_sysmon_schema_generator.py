"""scripts/gen_sysmon_schema.py: the committed table is what the manifests say.

The manifests are reference data outside the repository (../shared/reference/sysmon-schema beside
the checkout, or $M1038_SYSMON_SCHEMA_DIR). On a clean clone without them these tests skip; the
table's internal consistency is still tested by tests/unit/plugins/module_utils/test_sysmon_schema.py.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from .helpers import PROJECT_ROOT

GENERATOR = PROJECT_ROOT / "scripts" / "gen_sysmon_schema.py"
TABLE = PROJECT_ROOT / "plugins" / "module_utils" / "_sysmon_schema_data.py"
REFERENCE = os.environ.get("M1038_SYSMON_SCHEMA_DIR") or str(
    PROJECT_ROOT.parent / "shared" / "reference" / "sysmon-schema"
)

pytestmark = pytest.mark.skipif(
    not os.path.isfile(os.path.join(REFERENCE, "microsoft-SysmonCommon_manifest.xml")),
    reason=f"Sysmon schema manifests not present at {REFERENCE} (clean clone): the generator cannot be checked",
)


def run(*args):
    return subprocess.run(
        [sys.executable, str(GENERATOR), "--reference", REFERENCE, *args], capture_output=True, text=True, check=False
    )


def test_committed_table_matches_the_manifests():
    result = run("--check")
    assert result.returncode == 0, result.stderr


def test_check_detects_a_stale_table(tmp_path):
    stale = tmp_path / "_sysmon_schema_data.py"
    stale.write_text(TABLE.read_text().replace('"ParentUser",', "", 1))
    result = run("--check", "--output", str(stale))
    assert result.returncode == 1 and "stale" in result.stderr
    assert run("--output", str(stale)).returncode == 0
    assert stale.read_text() == TABLE.read_text()

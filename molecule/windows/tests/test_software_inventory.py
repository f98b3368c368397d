"""Verify the software inventory's Windows route on the recorded hosts of the windows scenario.

converge ran m1038.appcontrol.software_inventory on two recorded registry probes (the lab's host and
the unit fixture of broken values): each host left its file in the jsonfile fact cache directory
software_facts/ of the scenario's ephemeral directory. This checks those files, through the real
Ansible machinery (argument spec, variables, delegation to the controller), and that the renderer
reads the directory as it is.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(PROJECT / "collections"))

from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_inventory import load_fleet  # noqa: E402

OUTPUT = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/nonexistent")) / "software_facts"
HOSTS = ["software-m1038-lab-win01", "software-odd-values"]
KEYS = {"name", "publisher", "version", "install_date", "scope"}


def software(host):
    return json.loads((OUTPUT / host).read_text(encoding="utf-8"))["m1038_software"]


def test_every_recorded_host_has_its_fact_cache_file():
    recorded = sorted(p.name for p in OUTPUT.iterdir() if p.name.startswith("software-"))
    assert recorded == HOSTS  # (a real host, when one is named, has its own file beside them)


def test_the_lab_host_keeps_every_scope_and_skips_the_update():
    records = software("software-m1038-lab-win01")
    assert all(set(r) == KEYS for r in records)
    assert sorted({r["scope"] for r in records}) == ["machine", "machine_wow64", "user"]
    assert len(records) == 9
    assert not any("KB5002623" in r["name"] for r in records)


def test_broken_values_were_cleaned_not_fatal_and_template_text_stayed_data():
    records = {r["name"]: r for r in software("software-odd-values")}
    assert records["Fabrikam Agent"]["publisher"] == ""  # a REG_DWORD publisher is no text
    assert records["Tail spin Toys"]["version"] == "4.0"  # control characters became a space
    assert records["{{ lookup('ansible.builtin.pipe', 'id') }}"]["version"] == "{{ 7 * 7 }}"


def test_the_renderer_reads_the_fact_cache_as_it_is():
    counts, used = load_fleet(str(OUTPUT), "auto", "m1038_software", "fail")
    assert used == "fact_cache" and set(HOSTS) <= counts.host_names and counts.skipped_count == 0

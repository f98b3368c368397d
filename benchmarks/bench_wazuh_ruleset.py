"""Benchmark m1038.appcontrol.wazuh_ruleset against a bare json.load of the same inventory.

For each fleet size it writes a synthetic host map (HOSTS x PACKAGES records, realistic
vendor skew) into a temporary directory, then runs, each in a fresh interpreter so that peak
RSS is its own:

* ``json.load`` of the file (the reference), and
* the renderer: load the inventory, decide trust, build and check every file, write them.

It prints time and peak RSS for both, their ratios (targets: time <= 1.5x, memory <= 1.2x)
and how the render time grows from the first size to the others. Figures only; it asserts
nothing.

    .cache/venv/bin/python benchmarks/bench_wazuh_ruleset.py --hosts 1000,10000,50000
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COLLECTIONS = ROOT / "collections"

LOAD_CODE = """
import json, resource, sys, time
start = time.perf_counter()
with open(sys.argv[1], encoding="utf-8") as handle:
    data = json.load(handle)
elapsed = time.perf_counter() - start
print(json.dumps({"seconds": elapsed, "peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""

RENDER_CODE = """
import json, resource, sys, tempfile, time
sys.path.insert(0, sys.argv[3])
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_render import (
    apply_plan, atomic_move, make_plan, read_previous_summary, render)
params = {
    "inventory_file": sys.argv[1], "rule_id_base": 100200, "min_prevalence": 0.5,
    "trusted_vendors": ["Microsoft Corporation"], "denied_vendors": ["Shady Remote Tools Ltd"],
    "vendor_aliases": {"Mozilla": ["Mozilla Corporation"]},
}
dest = sys.argv[2]
start = time.perf_counter()
previous = read_previous_summary(dest)
rendered = render(params, previous)
plan = make_plan(dest, rendered.files, previous)
apply_plan(plan, atomic_move, tempfile.mkdtemp())
elapsed = time.perf_counter() - start
counts = rendered.summary["counts"]
print(json.dumps({"seconds": elapsed, "peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "trusted": counts["trusted_keys"], "vendors": counts["vendors"]}))
"""

COMMON = [
    ("Microsoft Corporation", 0.98),
    ("Google LLC", 0.85),
    ("Mozilla", 0.55),
    ("Adobe", 0.6),
    ("Igor Pavlov", 0.5),
    ("Zoom Video Communications, Inc.", 0.45),
    ("Wazuh, Inc.", 0.99),
    ("Oracle Corporation", 0.3),
    ("Notepad++ Team", 0.25),
    ("Shady Remote Tools Ltd", 0.01),
]


def write_fleet(path: Path, hosts: int, packages: int, seed: int = 1038) -> None:
    """A host map with common vendors, a long tail of rare ones and some unsigned tools."""
    rng = random.Random(seed)
    tail = [f"Vendor {i:05d} Software GmbH" for i in range(4000)]
    with path.open("w", encoding="utf-8") as handle:
        handle.write("{")
        for host in range(hosts):
            records = []
            for vendor, share in COMMON:
                if rng.random() < share:
                    records.extend(
                        {"name": f"{vendor} product {k}", "publisher": vendor, "version": f"{k}.{host % 7}.0"}
                        for k in range(rng.randint(3, 25))
                    )
            while len(records) < packages:
                roll = rng.random()
                vendor = "" if roll < 0.03 else tail[int(len(tail) * roll**3)]
                number = rng.randrange(100000)
                version = f"{number % 40}.{number % 9}"
                records.append({"name": f"Package {number}", "publisher": vendor, "version": version})
            records = records[:packages]
            handle.write(("," if host else "") + json.dumps(f"ws-{host:06d}") + ":" + json.dumps(records))
        handle.write("}\n")


def measure(code: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def best(code: str, repeat: int, *args: str, fresh_dir: str | None = None) -> dict:
    runs = []
    for _run in range(repeat):
        if fresh_dir:
            shutil.rmtree(fresh_dir, ignore_errors=True)
        runs.append(measure(code, *args))
    result = min(runs, key=lambda run: run["seconds"])
    result["peak_kb"] = max(run["peak_kb"] for run in runs)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--hosts", default="1000,10000,50000", help="comma-separated fleet sizes")
    parser.add_argument("--packages", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=2, help="runs per measurement (best time, worst peak)")
    args = parser.parse_args()
    sizes = [int(size) for size in args.hosts.split(",")]
    rows = []
    with tempfile.TemporaryDirectory(prefix="m1038-bench-") as workdir:
        for hosts in sizes:
            path = Path(workdir) / f"fleet-{hosts}.json"
            write_fleet(path, hosts, args.packages)
            size_mb = path.stat().st_size / 1e6
            load = best(LOAD_CODE, args.repeat, str(path))
            dest = os.path.join(workdir, f"render-{hosts}")
            rend = best(RENDER_CODE, args.repeat, str(path), dest, str(COLLECTIONS), fresh_dir=dest)
            path.unlink()
            rows.append((hosts, size_mb, load, rend))
            print(
                f"{hosts:>7} hosts  {size_mb:8.1f} MB"
                f"  json.load {load['seconds']:7.2f} s {load['peak_kb'] / 1024:8.0f} MB"
                f"  render {rend['seconds']:7.2f} s {rend['peak_kb'] / 1024:8.0f} MB"
                f"  time x{rend['seconds'] / load['seconds']:.2f}  memory x{rend['peak_kb'] / load['peak_kb']:.2f}"
                f"  ({rend['vendors']} vendors, {rend['trusted']} trusted)",
                flush=True,
            )
    first_hosts, _mb, _load, first = rows[0]
    print("\ngrowth of render time (linear = equal per-host cost):")
    for hosts, _mb, _load, rend in rows:
        per_1k = rend["seconds"] / hosts * 1000
        scale = (rend["seconds"] / first["seconds"]) / (hosts / first_hosts)
        print(f"{hosts:>7} hosts  {per_1k:6.3f} s per 1k hosts  x{scale:.2f} of linear from {first_hosts}")


if __name__ == "__main__":
    main()

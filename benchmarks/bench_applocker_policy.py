"""Benchmark m1038.appcontrol.applocker_policy: render, validate and compare a large AppLocker policy.

For each policy size it builds a synthetic model (publisher, path and hash rules spread over
the five collections, a third of the path rules with exceptions), then, in a fresh interpreter
per size so that the peak RSS is its own, times each phase:

* model: validate the model into a policy (rule Ids included);
* render: the XML of both variants;
* xsd: validate both variants against the project's XSD (lxml);
* pipeline: the module's whole render (model, trust rules, writable-folder exceptions from the
  lab's recorded probe, guardrails, coverage, both variants, XSD) without writing;
* parse: read the enforce variant back from its XML;
* compare-same: normalise and compare the policy with a reordered, re-encoded copy (UTF-16);
* compare-changed: compare with a copy where 1 % of the rules changed and one mode switched;
* plan: what the applocker role's plan step does on the controller per host (applocker_plan):
  validate the variant against the XSD, then plan against a probe whose policy is the reordered
  copy (as Get-AppLockerPolicy -Xml may return it), which must be compliant.

Figures only; it asserts nothing but the comparisons' verdicts.

    .cache/venv/bin/python benchmarks/bench_applocker_policy.py --rules 1000,5000,20000
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "collections"))

PROBE = ROOT / "inventories" / "lab" / "files" / "windows" / "m1038-lab-win01" / "applocker_probe.json"
SIGNERS = [f"O=VENDOR {i:04d} LTD, L=CITY, S=STATE, C=US" for i in range(400)]


def build_model(rules: int, seed: int = 1038) -> dict:
    rng = random.Random(seed)
    model = {
        name: {"mode": "enforce", "default_rules": True, "rules": []}
        for name in ("Exe", "Msi", "Script", "Dll", "Appx")
    }
    for index in range(rules):
        collection = rng.choices(["Exe", "Msi", "Script", "Dll", "Appx"], weights=[40, 10, 15, 30, 5])[0]
        roll = rng.random()
        rule = {"name": f"rule {index:05d}", "description": f"synthetic rule {index} & more"}
        if collection == "Appx" or roll < 0.4:
            rule.update(
                publisher=rng.choice(SIGNERS),
                product=f"PRODUCT {index}",
                binary="*" if rng.random() < 0.5 else f"TOOL{index}.EXE",
                version={"low": f"{index % 9}.0.0.0", "high": "*"},
            )
        elif roll < 0.8:
            rule["path"] = f"%PROGRAMFILES%\\Vendor {index % 400:03d}\\App {index:05d}\\*"
            if rng.random() < 0.33:
                rule["exceptions"] = [{"path": f"%PROGRAMFILES%\\Vendor {index % 400:03d}\\App {index:05d}\\Cache\\*"}]
        else:
            rule["hash"] = {"data": f"0x{index:064X}", "file": f"tool{index}.exe", "length": 1000 + index}
        model[collection]["rules"].append(rule)
    return model


def timed(function, repeat: int):
    best, value = None, None
    for _run in range(repeat):
        start = time.perf_counter()
        value = function()
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    return best, value


def worker(rules: int, repeat: int) -> dict:
    from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_compare import compare  # noqa: PLC0415
    from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_core import variant  # noqa: PLC0415
    from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_model import parse_model  # noqa: PLC0415
    from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_plan import (  # noqa: PLC0415
        Desired,
        RenderedPolicy,
        make_plan,
    )
    from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_render import render  # noqa: PLC0415
    from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_xml import (  # noqa: PLC0415
        parse_policy,
        render_policy,
        xsd_errors,
    )

    model = build_model(rules)
    times = {}
    times["model"], policy = timed(lambda: parse_model(model), repeat)
    times["render"], (enforce, audit) = timed(
        lambda: (render_policy(policy), render_policy(variant(policy, "audit"))), repeat
    )
    times["xsd"], errors = timed(lambda: xsd_errors(enforce) + xsd_errors(audit), repeat)
    assert errors == [], errors[:3]
    probe = json.loads(PROBE.read_text())
    params = {"model": model, "trusted_vendors": ["Vendor"], "vendor_signers": {"Vendor": SIGNERS[0]}}
    params["guardrail_overrides"] = ["dll_enforcement"]
    times["pipeline"], rendered = timed(lambda: render(params, probes=[(str(PROBE), probe)]), repeat)
    times["parse"], _parsed = timed(lambda: parse_policy(enforce), repeat)

    from lxml import etree  # noqa: PLC0415

    rng = random.Random(7)
    root = etree.fromstring(enforce.encode("utf-8"))
    for coll in root:
        children = list(coll)
        rng.shuffle(children)
        for child in children:
            coll.remove(child)
            coll.append(child)
    utf16 = b"\xff\xfe" + etree.tostring(root, encoding="unicode").encode("utf-16-le")  # reordered, UTF-16
    times["compare-same"], same = timed(lambda: compare(enforce, utf16), repeat)
    assert same.equal

    changed_text = enforce.replace('Type="Msi" EnforcementMode="Enabled"', 'Type="Msi" EnforcementMode="AuditOnly"')
    step = max(1, rules // 100)
    count = 0
    for index in range(0, rules, step):
        before = f'Name="rule {index:05d}"'
        if before in changed_text:
            changed_text = changed_text.replace(before, f'Name="rule {index:05d} renamed"', 1)
            count += 1
    times["compare-changed"], diff = timed(lambda: compare(enforce, changed_text), repeat)
    changed_rules = sum(len(entry["changed"]) for entry in diff.collections.values())
    assert changed_rules == count and diff.collections["Msi"]["mode"]

    host = {**probe, "policy": {"source": "local", "ldap": None, "xml": utf16.decode("utf-16"), "error": None}}
    host["service"] = {"name": "AppIDSvc", "exists": True, "state": "running", "start_mode": "auto"}
    host["eventlogs"] = []
    desired = Desired(policy=RenderedPolicy("enforce", "enforce.xml", enforce), manage_eventlog=False)
    times["plan"], plan = timed(lambda: (xsd_errors(enforce), make_plan(host, desired, host="bench"))[1], repeat)
    assert plan.compliant, plan.to_dict()["actions"]
    return {
        "rules": rules,
        "total_rules": sum(len(c.rules) for c in rendered.policy.collections.values()),
        "bytes": len(enforce.encode("utf-8")),
        "times": times,
        "changed_rules": changed_rules,
        "peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rules", default="1000,5000,20000", help="comma-separated policy sizes (model rules)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per phase (best time)")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.repeat)))
        return
    phases = ["model", "render", "xsd", "pipeline", "parse", "compare-same", "compare-changed", "plan"]
    print(f"{'rules':>7} {'in XML':>7} {'size':>8}  " + "  ".join(f"{p:>15}" for p in phases) + "  peak RSS")
    for rules in (int(size) for size in args.rules.split(",")):
        out = subprocess.run(
            [sys.executable, __file__, "--worker", str(rules), "--repeat", str(args.repeat)],
            check=True,
            capture_output=True,
            text=True,
        )
        row = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"{row['rules']:>7} {row['total_rules']:>7} {row['bytes'] / 1e6:6.1f}MB  "
            + "  ".join(f"{row['times'][p]:>13.3f} s" for p in phases)
            + f"  {row['peak_kb'] / 1024:6.0f} MB  ({row['changed_rules']} rules changed)",
            flush=True,
        )


if __name__ == "__main__":
    main()

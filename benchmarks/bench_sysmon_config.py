"""Benchmark the Sysmon configuration validator on large, public-size configurations.

Public configurations hold thousands of filters (sysmon-modular's merged sysmonconfig.xml about
2,000 in 2,700 lines; larger ones in the wild). For each size it generates a configuration in
the sysmon-modular shape (schema 4.90; a RuleGroup per block; include and exclude blocks for most
event types; one <Rule groupRelation="and"> in four; every filter condition in use), then times
``validate`` (parse with line numbers, check every element against the schema table) and compares
it with a bare ``xml.etree.ElementTree.fromstring`` of the same bytes. It also times rendering the
role's own configuration with the same number of ProcessCreate exclusions. Figures only; it
asserts nothing except that the generated configurations validate.

    .cache/venv/bin/python benchmarks/bench_sysmon_config.py --rules 2000,10000,50000
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "collections"))

from ansible_collections.m1038.appcontrol.plugins.module_utils._sysmon_config import (  # noqa: E402
    Builtin,
    escape_attr,
    escape_text,
    render_builtin,
    validate,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._sysmon_schema import get_schema  # noqa: E402

SCHEMA = "4.90"
WORDS = ["svchost", "chrome", "teams", "onedrive", "wazuh-agent", "powershell", "msedge", "java", "python"]


def value(rng: random.Random) -> str:
    folder = rng.choice(["C:\\Windows\\System32", "C:\\Program Files", "C:\\Users\\Public", "C:\\ProgramData"])
    return f"{folder}\\{rng.choice(WORDS)}-{rng.randrange(10**6)} & <{rng.choice(WORDS)}>.exe"


def filter_line(rng: random.Random, event, conditions) -> str:
    field = rng.choice([f for f in event.fields if f not in ("RuleName", "UtcTime")])
    condition = rng.choice(conditions)
    text = str(rng.randrange(65536)) if condition in ("less than", "more than") else value(rng)
    name = f' name="technique_id=T{rng.randrange(1000, 1700)}"' if rng.random() < 0.4 else ""
    return f'<{field}{name} condition="{escape_attr(condition)}">{escape_text(text)}</{field}>'


def generate(rules: int, seed: int = 1038) -> bytes:
    rng = random.Random(seed)
    schema = get_schema(SCHEMA)
    conditions = list(schema.conditions)
    events = [e for name, e in schema.events.items() if name not in ("FileBlockExecutable", "FileBlockShredding")]
    lines = [f'<Sysmon schemaversion="{SCHEMA}">', "  <HashAlgorithms>*</HashAlgorithms>", "  <EventFiltering>"]
    per_block = max(1, rules // (len(events) * 2))
    written = 0
    while written < rules:
        for event in events:
            for onmatch in ("include", "exclude"):
                if written >= rules:
                    break
                lines.append('    <RuleGroup groupRelation="or">')
                lines.append(f'      <{event.rulename} onmatch="{onmatch}">')
                for _filter in range(min(per_block, rules - written)):
                    if rng.random() < 0.25:
                        lines.append('        <Rule groupRelation="and">')
                        lines.append("          " + filter_line(rng, event, conditions))
                        lines.append("          " + filter_line(rng, event, conditions))
                        lines.append("        </Rule>")
                        written += 2
                    else:
                        lines.append("        " + filter_line(rng, event, conditions))
                        written += 1
                lines.append(f"      </{event.rulename}>")
                lines.append("    </RuleGroup>")
    lines.extend(["  </EventFiltering>", "</Sysmon>", ""])
    return "\n".join(lines).encode("utf-8")


def best(func, repeat: int) -> float:
    times = []
    for _run in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--rules", default="2000,10000,50000", help="comma-separated filter counts")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (best is printed)")
    args = parser.parse_args(argv)
    print(f"{'filters':>8} {'lines':>8} {'size':>9} {'ET.fromstring':>14} {'validate':>9} {'ratio':>6} {'render':>8}")
    for rules in (int(r) for r in args.rules.split(",")):
        data = generate(rules)
        result = validate(data, source="generated", max_schema=SCHEMA, require_all_processes=False)
        assert result.ok, result.messages(limit=5)
        parse_s = best(lambda data=data: ET.fromstring(data), args.repeat)  # noqa: S314 - our own generated XML
        validate_s = best(lambda data=data: validate(data, source="generated", max_schema=SCHEMA), args.repeat)
        rng = random.Random(rules)
        exclusions = [{"field": "Image", "condition": "is", "value": value(rng)} for _rule in range(rules)]
        settings = Builtin(SCHEMA, ["SHA256"], True, False, "", exclusions, {})
        render_s = best(lambda settings=settings: render_builtin(settings), args.repeat)
        lines = data.count(b"\n")
        print(
            f"{result.rules:>8,} {lines:>8,} {len(data) / 1e6:>7.2f}MB {parse_s:>13.3f}s "
            f"{validate_s:>8.3f}s {validate_s / parse_s:>6.1f} {render_s:>7.3f}s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

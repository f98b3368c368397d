"""Generate plugins/module_utils/_sysmon_schema_data.py from the Sysmon schema manifests.

The manifests (what ``sysmon -s`` prints) are reference data outside this repository
(``../shared/reference/sysmon-schema`` beside the checkout, or ``$M1038_SYSMON_SCHEMA_DIR``).
The project commits only the compact table derived from them, so CI on a clean clone needs
no reference data; this script rebuilds the table and, with ``--check``, proves the committed
one is what the manifests say.

    python scripts/gen_sysmon_schema.py            # rewrite the table
    python scripts/gen_sysmon_schema.py --check    # exit 1 when the committed table is stale
    python scripts/gen_sysmon_schema.py --check --reference DIR

Which manifest each Windows schema version comes from:

- 4.0 to 4.81: microsoft/SysmonCommon ``manifest.xml`` (shared with Sysmon for Linux; events
  marked ``target="linux"`` are left out, so are options marked ``target="internal"`` and the
  command-line-only options marked ``noconfig="true"``).
- 4.82 and 4.83 (Windows-only, not in SysmonCommon): 4.81 plus event 27 (4.82) and event 28 (4.83)
  as Sysmon 14.0 and 14.1 added them (SYSMON-VERSIONS.md); the fields of 27 and 28 are those of the
  darkoperator 4.90 Windows manifest. Events 1-26 are identical in 4.81 and 4.90, so this is the
  only plausible content, but no 4.82/4.83 manifest was seen: the table marks them ``derived``.
- 4.90 and 4.91: darkoperator/vscode-sysmon Windows manifests (``sysmon -s`` output; events 1-29).

Schema versions below 4.0 are left out: Sysmon 7.0 and later reject a 3.x configuration.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "plugins" / "module_utils" / "_sysmon_schema_data.py"
DEFAULT_REFERENCE = ROOT.parent / "shared" / "reference" / "sysmon-schema"
COMMON = "microsoft-SysmonCommon_manifest.xml"
DARKOPERATOR = {
    "4.90": "darkoperator-vscode-sysmon_sysmon-4.90.xml",
    "4.91": "darkoperator-vscode-sysmon_sysmon-4.91.xml",
}
DERIVED = {"4.82": ("4.81", ("27",)), "4.83": ("4.82", ("28",))}
FIRST_SCHEMA = (4, 0)


def reference_dir(explicit: str | None) -> Path:
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("M1038_SYSMON_SCHEMA_DIR") or DEFAULT_REFERENCE)


def _schema_key(version: str) -> tuple[int, int]:
    major, _dot, minor = version.partition(".")
    # "4.2" is 4.20 and "4.21" is 4.21: compare the fraction as written to two places.
    return int(major), int((minor + "00")[:2])


def _manifest(element: ET.Element, origin: str) -> dict:
    options, rule_options = [], []
    for option in element.find("configuration/options"):
        if option.get("noconfig") == "true" or option.get("target") == "internal":
            continue
        (rule_options if option.get("rule") == "true" else options).append(option.get("name"))
    conditions = [c.strip() for c in element.find("configuration/filters").text.split(",")]
    events = []
    for event in element.find("events"):
        if event.get("target") == "linux" or not event.get("rulename"):
            continue  # events without a rulename (4, 16, 255) cannot be filtered by a configuration
        fields = [data.get("name") for data in event.findall("data")]
        events.append({"id": event.get("value"), "rulename": event.get("rulename"), "fields": fields})
    return {
        "options": sorted(options),
        "rule_options": sorted(rule_options),
        "conditions": conditions,
        "events": events,
        "origin": origin,
    }


def read_manifests(ref: Path) -> dict[str, dict]:
    schemas: dict[str, dict] = {}
    common = ET.parse(ref / COMMON).getroot()  # noqa: S314 - trusted reference file
    for manifest in common:
        version = manifest.get("schemaversion")
        if _schema_key(version) < FIRST_SCHEMA or version in DARKOPERATOR:
            continue
        schemas[version] = _manifest(manifest, f"SysmonCommon {COMMON} schemaversion {version}")
    windows = {}
    for version, name in DARKOPERATOR.items():
        root = ET.parse(ref / name).getroot()  # noqa: S314 - trusted reference file
        if root.get("schemaversion") != version:
            raise SystemExit(f"{name}: schemaversion {root.get('schemaversion')}, expected {version}")
        windows[version] = _manifest(root, f"darkoperator/vscode-sysmon {name}")
    for version, (base, added) in DERIVED.items():
        source = schemas[base]
        extra = [e for e in windows["4.90"]["events"] if e["id"] in added]
        if len(extra) != len(added):
            raise SystemExit(f"{version}: events {added} missing from the 4.90 Windows manifest")
        schemas[version] = {
            **source,
            "events": [*source["events"], *extra],
            "origin": f"derived: {base} plus event(s) {', '.join(added)} (fields from the 4.90 Windows manifest)",
        }
    schemas.update(windows)
    _check_windows_consistency(schemas)
    return dict(sorted(schemas.items(), key=lambda item: _schema_key(item[0])))


def _check_windows_consistency(schemas: dict[str, dict]) -> None:
    """Events 1-26 of the 4.81 (SysmonCommon) and 4.90 (Windows) manifests must agree, or the derivation is wrong."""

    def core(version):
        return {e["id"]: (e["rulename"], e["fields"]) for e in schemas[version]["events"] if int(e["id"], 0) <= 26}

    if core("4.81") != core("4.90"):
        raise SystemExit("events 1-26 differ between SysmonCommon 4.81 and the 4.90 Windows manifest")


def build_table(schemas: dict[str, dict]) -> dict:
    """Intern the field lists: most events keep their fields across many schema versions."""
    fieldsets: list[tuple[str, ...]] = []
    index: dict[tuple[str, ...], int] = {}
    events: dict[str, list] = {}
    for version, manifest in schemas.items():
        rows = []
        for event in manifest["events"]:
            fields = tuple(event["fields"])
            if fields not in index:
                index[fields] = len(fieldsets)
                fieldsets.append(fields)
            rows.append([event["id"], event["rulename"], index[fields]])
        events[version] = rows
    return {
        "schemas": list(schemas),
        "origin": {v: m["origin"] for v, m in schemas.items()},
        "conditions": {v: m["conditions"] for v, m in schemas.items()},
        "options": {v: m["options"] for v, m in schemas.items()},
        "rule_options": {v: m["rule_options"] for v, m in schemas.items()},
        "fieldsets": [list(f) for f in fieldsets],
        "events": events,
    }


def digest(table: dict) -> str:
    return hashlib.sha256(json.dumps(table, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _literal(value, indent: int) -> list[str]:
    """A Python literal, one element per line with a trailing comma (stable under ``ruff format``)."""
    pad = " " * indent
    if isinstance(value, dict):
        lines = ["{"]
        for key, item in value.items():
            inner = _literal(item, indent + 4)
            lines.append(f"{pad}    {json.dumps(key)}: {inner[0]}")
            lines.extend(inner[1:])
            lines[-1] += ","
        lines.append(pad + "}")
        return lines
    if isinstance(value, list):
        flat = json.dumps(value)
        if len(flat) + indent + 12 <= 110 and not any(isinstance(v, (list, dict)) for v in value):
            return [flat]
        lines = ["["]
        for item in value:
            inner = _literal(item, indent + 4)
            lines.append(f"{pad}    {inner[0]}")
            lines.extend(inner[1:])
            lines[-1] += ","
        lines.append(pad + "]")
        return lines
    return [json.dumps(value)]


def render(table: dict) -> str:
    lines = [
        "# -*- coding: utf-8 -*-",
        "# Copyright: contributors to m1038.appcontrol",
        "# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)",
        '"""Sysmon schema table for Windows: generated by scripts/gen_sysmon_schema.py, do not edit.',
        "",
        "Derived from the schema manifests (what ``sysmon -s`` prints); see the generator for which",
        "manifest each schema version comes from. ``_sysmon_schema.py`` reads it.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        f"DIGEST = {json.dumps(digest(table))}",
        "",
    ]
    for key in ("schemas", "origin", "conditions", "options", "rule_options", "fieldsets", "events"):
        body = _literal(table[key], 0)
        lines.append(f"{key.upper()} = {body[0]}")
        lines.extend(body[1:])
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the committed table is stale")
    parser.add_argument("--reference", help="folder with the manifests (default: ../shared/reference/sysmon-schema)")
    parser.add_argument("--output", default=str(OUTPUT), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    ref = reference_dir(args.reference)
    if not (ref / COMMON).is_file():
        print(f"gen_sysmon_schema: no manifests in {ref}", file=sys.stderr)
        return 2
    text = render(build_table(read_manifests(ref)))
    output = Path(args.output)
    current = output.read_text(encoding="utf-8") if output.exists() else ""
    if args.check:
        if current != text:
            print(f"gen_sysmon_schema: {output} is stale; run python scripts/gen_sysmon_schema.py", file=sys.stderr)
            return 1
        return 0
    if current != text:
        output.write_text(text, encoding="utf-8")
        print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

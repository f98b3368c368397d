"""Generate the variable table of each role README from meta/argument_specs.yml.

The table sits between the markers ``<!-- BEGIN VARS -->`` and ``<!-- END VARS -->``.
argument_specs.yml is the single source: it validates input at run time and documents it.
Why this script and not aar-doc or ansible-docsmith: docs/docs-tooling.md.

    python scripts/gen_role_readme.py            # rewrite stale tables
    python scripts/gen_role_readme.py --check    # exit 1 and name each stale README
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import yaml

BEGIN = "<!-- BEGIN VARS -->"
END = "<!-- END VARS -->"
ROOT = Path(__file__).resolve().parent.parent


# Ansible's documentation markup (the part role option descriptions use): I() italic, B() bold,
# U() a URL, L(text,url) a link; C(), V(), O(), RV(), E(), M() and P() name code, values,
# options, return values, environment variables, modules and plugins.
_MARKUP = re.compile(r"\b(RV|[CIBVOEMPUL])\(([^()]*)\)")


def _markdown(match: re.Match) -> str:
    kind, text = match.groups()
    if kind == "I":
        return f"*{text}*"
    if kind == "B":
        return f"**{text}**"
    if kind == "U":
        return f"<{text}>"
    if kind == "L":
        label, _sep, url = text.rpartition(",")
        return f"[{label.strip()}]({url.strip()})"
    if kind in ("M", "P"):
        text = text.split("#", 1)[0]  # P(fqcn#type): the plugin's name
    return f"`{text}`"


def _cell(text) -> str:
    text = " ".join(str(text).split())
    text = _MARKUP.sub(_markdown, text)
    return text.replace("|", "\\|")


def _default(option: dict) -> str:
    if "default" not in option:
        return "*required*" if option.get("required") else ""
    value = option["default"]
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if value in ("", None):
        return f"`{value!r}`" if value == "" else "`null`"
    rendered = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
    rendered = rendered.removesuffix("...").strip()
    return f"`{_cell(rendered)}`"


def _type(option: dict) -> str:
    kind = option.get("type", "str")
    if kind == "list" and option.get("elements"):
        kind = f"list of {option['elements']}"
    if option.get("choices"):
        kind += " (" + ", ".join(f"`{c}`" for c in option["choices"]) + ")"
    return kind


def render_table(specs: dict) -> str:
    lines = []
    for entry, spec in sorted(specs.get("argument_specs", {}).items()):
        lines.append(f"### Entry point `{entry}`")
        lines.append("")
        if spec.get("short_description"):
            lines.append(_cell(spec["short_description"]))
            lines.append("")
        lines.append("| Variable | Type | Default | Description |")
        lines.append("|---|---|---|---|")
        lines.extend(_rows(spec.get("options") or {}, ""))
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _rows(options: dict, prefix: str) -> list[str]:
    """One row per option, then one per sub-option, named ``parent[].sub`` (list) or ``parent.sub`` (dict)."""
    rows = []
    for name, option in sorted(options.items()):
        description = option.get("description", "")
        if isinstance(description, list):
            description = " ".join(description)
        full = f"{prefix}{name}"
        rows.append(f"| `{full}` | {_cell(_type(option))} | {_default(option)} | {_cell(description)} |")
        if option.get("options"):
            rows.extend(_rows(option["options"], f"{full}[]." if option.get("type") == "list" else f"{full}."))
    return rows


def expected_readme(readme_text: str, specs: dict, readme: Path) -> str:
    if BEGIN not in readme_text or END not in readme_text:
        raise ValueError(f"{readme}: missing {BEGIN} / {END} markers")
    head, rest = readme_text.split(BEGIN, 1)
    _old, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{render_table(specs)}{END}{tail}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report stale READMEs, change nothing")
    parser.add_argument("roles", nargs="*", type=Path, help="role folders (default: every role under roles/)")
    args = parser.parse_args(argv)
    roles = args.roles or sorted(p for p in (ROOT / "roles").iterdir() if p.is_dir())
    problems = 0
    for role in roles:
        specs_file = role / "meta" / "argument_specs.yml"
        readme = role / "README.md"
        if not specs_file.is_file():
            print(f"{role}: no meta/argument_specs.yml", file=sys.stderr)
            problems += 1
            continue
        if not readme.is_file():
            print(f"{readme}: missing", file=sys.stderr)
            problems += 1
            continue
        specs = yaml.safe_load(specs_file.read_text(encoding="utf-8")) or {}
        current = readme.read_text(encoding="utf-8")
        try:
            wanted = expected_readme(current, specs, readme)
        except ValueError as exc:
            print(exc, file=sys.stderr)
            problems += 1
            continue
        if wanted == current:
            continue
        if args.check:
            print(f"{readme}: variable table is stale; run python scripts/gen_role_readme.py", file=sys.stderr)
            problems += 1
        else:
            readme.write_text(wanted, encoding="utf-8")
            print(f"updated {readme}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

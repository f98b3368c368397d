# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The readiness report as a page a manager can read, and the suggested rules as YAML to paste.

One self-contained HTML file: inline CSS and SVG, no script, no external resource (no font,
image, stylesheet or link that a browser would fetch), so it can be mailed or opened offline.
Every number a test or a reader may want has a stable hook: ``id="count-ready"`` and friends for
the summary, ``data-status`` on host rows, ``data-binary`` on binary rows, ``data-collection`` on
suggestion blocks. Every value from the evidence is escaped.

``suggestions_yaml`` writes the suggested rules under ``m1038_applocker_model`` in the model's
own keys; strings are JSON-quoted, which YAML reads as double-quoted scalars, so no value needs
a YAML library to be written safely.
"""

from __future__ import annotations

import json
from html import escape

from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_core import COLLECTIONS

COLOURS = {"ready": "#2e7d32", "not_ready": "#c62828", "no_evidence": "#757575"}
LABELS = {"ready": "Ready", "not_ready": "Not ready", "no_evidence": "No evidence"}
RULE_KEYS = ("name", "description", "action", "sid", "publisher", "product", "binary", "version", "path", "hash")

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem;color:#212121;max-width:78rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
.meta{color:#555;font-size:.9rem}.cards{display:flex;gap:1rem;flex-wrap:wrap;margin:1rem 0}
.card{border:1px solid #ddd;border-radius:6px;padding:.6rem 1rem;min-width:9rem}
.card .n{font-size:1.8rem;font-weight:600}.card.ready .n{color:#2e7d32}.card.not_ready .n{color:#c62828}
.card.no_evidence .n{color:#757575}table{border-collapse:collapse;width:100%;font-size:.88rem;margin:.5rem 0}
th,td{border-bottom:1px solid #e0e0e0;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f5f5f5}td.num,th.num{text-align:right}.status{font-weight:600}
.status.ready{color:#2e7d32}.status.not_ready{color:#c62828}.status.no_evidence{color:#757575}
pre{background:#f7f7f7;border:1px solid #e0e0e0;padding:.8rem;overflow-x:auto;font-size:.8rem}
.note{color:#555;font-size:.85rem}code{font-size:.85rem}
td.name,td.time{white-space:nowrap}td.sig{word-break:break-all;max-width:24rem}
"""


def _e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def _summary_chart(summary: dict) -> str:
    """A stacked bar of ready / not ready / no evidence hosts, with its legend (inline SVG)."""
    total = sum(summary[key] for key in COLOURS) or 1
    width, x, parts = 600, 0.0, []
    for key, colour in COLOURS.items():
        share = summary[key] / total * width
        if summary[key]:
            parts.append(
                f'<rect x="{x:.1f}" y="0" width="{share:.1f}" height="28" fill="{colour}">'
                f"<title>{LABELS[key]}: {summary[key]}</title></rect>"
            )
        x += share
    legend = "".join(
        f'<rect x="{i * 200}" y="40" width="12" height="12" fill="{colour}"/>'
        f'<text x="{i * 200 + 18}" y="51" font-size="13">{LABELS[key]}: {summary[key]}</text>'
        for i, (key, colour) in enumerate(COLOURS.items())
    )
    return (
        f'<svg id="summary-chart" role="img" aria-label="hosts by readiness" width="{width}" height="60" '
        f'viewBox="0 0 {width} 60" xmlns="http://www.w3.org/2000/svg">{"".join(parts)}{legend}</svg>'
    )


def _binaries_chart(binaries: list[dict]) -> str:
    """Horizontal bars: hosts per would-be-blocked binary (the top ones)."""
    if not binaries:
        return ""
    most = max(b["hosts"] for b in binaries) or 1
    rows = []
    for index, binary in enumerate(binaries):
        y = index * 22
        length = binary["hosts"] / most * 360
        rows.append(
            f'<text x="0" y="{y + 15}" font-size="12">{_e(binary["label"][:40])}</text>'
            f'<rect x="250" y="{y + 3}" width="{length:.1f}" height="15" fill="#c62828"/>'
            f'<text x="{250 + length + 6:.1f}" y="{y + 15}" font-size="12">{binary["hosts"]}</text>'
        )
    height = len(binaries) * 22 + 4
    return (
        f'<svg id="binaries-chart" role="img" aria-label="hosts per would-be-blocked binary" width="660" '
        f'height="{height}" viewBox="0 0 660 {height}" xmlns="http://www.w3.org/2000/svg">{"".join(rows)}</svg>'
    )


def _scalar(value: object) -> str:
    if value is None:
        return "null"
    return json.dumps(value, ensure_ascii=False)


def _rule_yaml(rule: dict, indent: str) -> list[str]:
    lines, first = [], True
    for key in RULE_KEYS:
        if key not in rule:
            continue
        value = rule[key]
        if isinstance(value, dict):
            inner = ", ".join(f"{k}: {_scalar(v)}" for k, v in value.items())
            text = f"{key}: {{{inner}}}"
        else:
            text = f"{key}: {_scalar(value)}"
        lines.append(f"{indent}{'- ' if first else '  '}{text}")
        first = False
    return lines


def suggestions_yaml(report: dict) -> str:
    """The suggested rules as a YAML fragment of ``m1038_applocker_model`` (merge each list into yours)."""
    lines = [
        "# Suggested AppLocker allow rules from the readiness evidence "
        f"({report['window']['start']} .. {report['window']['end']}).",
        "# Review each one; accepting a rule is copying it into m1038_applocker_model.<collection>.rules",
        "# (group_vars/all/applocker.yml). Generated by m1038.appcontrol.applocker_readiness.",
    ]
    suggestions = report["suggestions"]
    if not suggestions:
        lines.append("m1038_applocker_model: {}")
        return "\n".join(lines) + "\n"
    lines.append("m1038_applocker_model:")
    for collection in COLLECTIONS:
        if collection not in suggestions:
            continue
        lines += [f"  {collection}:", "    rules:"]
        for rule in suggestions[collection]:
            lines += _rule_yaml(rule, "      ")
    return "\n".join(lines) + "\n"


def _host_rows(hosts: dict, status: str, max_rows: int) -> tuple[str, int]:
    rows, total = [], 0
    for name, host in hosts.items():
        if host["status"] != status:
            continue
        total += 1
        if len(rows) >= max_rows:
            continue
        collections = ", ".join(
            f"{c} {host['collections'][c]['events']}" for c in COLLECTIONS if host["collections"][c]["events"]
        )
        if status == "ready":
            detail = "within the thresholds" if host["would_be_blocked"] else "-"
        else:
            detail = "; ".join(host["reasons"])
        warnings = "<br>".join(_e(w) for w in host["warnings"])
        rows.append(
            f'<tr data-status="{status}" data-host="{_e(name)}"><td class="name">{_e(name)}</td>'
            f'<td class="num">{host["would_be_blocked"]}</td><td>{_e(collections) or "-"}</td>'
            f'<td class="time">{_e(host["reported"]["last"] or "-")}</td><td>{_e(detail)}'
            + (f'<br><span class="note">{warnings}</span>' if warnings else "")
            + "</td></tr>"
        )
    return "\n".join(rows), total


def render_html(report: dict, top: int = 20, max_rows: int = 2000) -> str:
    """The page. ``top`` binaries are listed and charted; host tables stop at ``max_rows`` each."""
    summary, window = report["summary"], report["window"]
    cards = "".join(
        f'<div class="card {key}"><div class="n" id="count-{key}">{summary[key]}</div>{LABELS[key]} hosts</div>'
        for key in COLOURS
    ) + (
        f'<div class="card"><div class="n" id="count-hosts">{summary["hosts"]}</div>hosts judged</div>'
        f'<div class="card"><div class="n" id="count-events">{summary["would_be_blocked_events"]}</div>'
        "would-be-blocked events</div>"
        f'<div class="card"><div class="n" id="count-binaries">{summary["binaries"]}</div>binaries</div>'
    )
    sections = []
    for status in ("not_ready", "no_evidence", "ready"):
        rows, total = _host_rows(report["hosts"], status, max_rows)
        more = f'<p class="note">{total - max_rows} more in readiness.json.</p>' if total > max_rows else ""
        sections.append(
            f'<h2 id="hosts-{status}">{LABELS[status]} hosts ({total})</h2>'
            + (
                '<table><tr><th>host</th><th class="num">would-be-blocked</th><th>by collection</th>'
                f"<th>last reported</th><th>why</th></tr>{rows}</table>{more}"
                if total
                else '<p class="note">None.</p>'
            )
        )
    shown = report["binaries"][:top]
    binary_rows = "\n".join(
        f'<tr data-binary="{_e(b["id"])}"><td>{_e(b["label"])}</td><td>{_e(b["collection"])}</td>'
        f'<td class="num" data-field="hosts">{b["hosts"]}</td><td class="num" data-field="users">{b["users"]}</td>'
        f'<td class="num" data-field="events">{b["events"]}</td><td class="time">{_e(b["first_seen"])}</td>'
        f'<td class="time">{_e(b["last_seen"])}</td>'
        f'<td class="sig">{_e(b["publisher"] or ("SHA256 " + b["sha256"] if b["sha256"] else "-"))}'
        f"</td><td>{_e(b['suggestion_note'])}</td></tr>"
        for b in shown
    )
    suggestion_blocks = "\n".join(
        f'<h3>{collection} ({len(rules)})</h3><pre data-collection="{collection}">'
        + _e("\n".join(line for rule in rules for line in _rule_yaml(rule, "")))
        + "</pre>"
        for collection, rules in report["suggestions"].items()
    )
    sources = "".join(
        f"<li>{_e(s.get('kind'))}: {_e(s.get('path') or s.get('url') or s.get('host'))}"
        f" ({_e(s.get('applocker_events', 0))} AppLocker events)</li>"
        for s in report["sources"]
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>AppLocker readiness: audit to enforce</title>"
        f"<style>{CSS}</style></head><body>"
        "<h1>AppLocker readiness: can these hosts switch from audit to enforce?</h1>"
        f'<p class="meta" id="window">Evidence window {_e(window["start"])} to {_e(window["end"])} '
        f"({_e(window['days'])} days). A host is ready when nothing it cares about would have been blocked "
        "in the window; a host that reported nothing is <b>no evidence</b>, never ready.</p>"
        f'<div class="cards">{cards}</div>{_summary_chart(summary)}'
        + "\n".join(sections)
        + f'<h2 id="binaries">Top would-be-blocked binaries ({min(top, len(report["binaries"]))} of '
        f"{len(report['binaries'])})</h2>{_binaries_chart(shown)}"
        + (
            '<table><tr><th>binary</th><th>collection</th><th class="num">hosts</th><th class="num">users</th>'
            '<th class="num">events</th><th>first seen</th><th>last seen</th><th>signer or hash</th>'
            f"<th>suggestion</th></tr>{binary_rows}</table>"
            if shown
            else '<p class="note">None: nothing would have been blocked.</p>'
        )
        + f'<h2 id="suggestions">Suggested allow rules ({summary["suggestions"]})</h2>'
        '<p class="note">In the policy model\'s format: copy a rule into '
        "<code>m1038_applocker_model.&lt;collection&gt;.rules</code> (group_vars/all/applocker.yml), "
        "or take the whole fragment from suggestions.yml. Review each one first.</p>"
        + (suggestion_blocks or '<p class="note">None.</p>')
        + f'<h2>Sources</h2><ul class="note">{sources}</ul>'
        '<p class="note">Generated by m1038.appcontrol.applocker_readiness.</p></body></html>\n'
    )

"""The readiness page: parsed back, its numbers are the report's; it is self-contained and escapes the evidence."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import yaml

from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_readiness import Evidence, make_window
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_readiness_events import Event
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_readiness_html import render_html
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_readiness_sources import read_alerts
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_readiness_thresholds import parse_thresholds

ALERTS = Path(__file__).resolve().parents[3] / "fixtures" / "applocker" / "readiness" / "alerts.json"
WINDOW = make_window(start="2026-11-01T00:00:00Z", end="2026-12-01T00:00:00Z")
HOSTS = [f"WS-{n:02d}" for n in range(1, 14)]


class Page(HTMLParser):
    """Elements by id, rows by data-status / data-binary, suggestion blocks, every tag and attribute seen."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.ids: dict[str, str] = {}
        self.rows: dict[str, list[str]] = {}
        self.binaries: dict[str, dict[str, str]] = {}
        self.blocks: dict[str, str] = {}
        self.tags: set[str] = set()
        self.attributes: list[tuple[str, str, str]] = []
        self._stack: list[tuple[str, dict]] = []
        self._text: list[list[str]] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.tags.add(tag)
        self.attributes += [(tag, name, value or "") for name, value in attrs]
        if tag == "tr" and "data-status" in attributes:
            self.rows.setdefault(attributes["data-status"], []).append(attributes["data-host"])
        if tag == "tr" and "data-binary" in attributes:
            self._binary = attributes["data-binary"]
            self.binaries[self._binary] = {}
        self._stack.append((tag, attributes))
        self._text.append([])

    def handle_endtag(self, tag):
        while self._stack:
            open_tag, attributes = self._stack.pop()
            text = "".join(self._text.pop())
            if self._text:
                self._text[-1].append(text)
            if "id" in attributes:
                self.ids[attributes["id"]] = text
            if "data-field" in attributes:
                self.binaries[self._binary][attributes["data-field"]] = text
            if "data-collection" in attributes:
                self.blocks[attributes["data-collection"]] = text
            if open_tag == tag:
                break

    def handle_data(self, data):
        if self._text:
            self._text[-1].append(data)


def report(hosts=HOSTS, extra=()) -> dict:
    evidence = Evidence(WINDOW, parse_thresholds({}), hosts)
    sources = read_alerts([str(ALERTS)], evidence)
    for item in extra:
        evidence.add(item)
    return evidence.report(sources)


def test_the_page_shows_the_reports_numbers():
    data = report()
    page = Page(render_html(data))
    summary = data["summary"]
    assert (summary["ready"], summary["not_ready"], summary["no_evidence"]) == (2, 9, 2)
    for key in ("ready", "not_ready", "no_evidence", "hosts", "binaries"):
        assert int(page.ids[f"count-{key}"]) == summary[key], key
    assert int(page.ids["count-events"]) == summary["would_be_blocked_events"] == 12
    assert page.rows == {
        "not_ready": ["WS-02", "WS-03", "WS-04", "WS-05", "WS-06", "WS-07", "WS-08", "WS-12", "WS-13"],
        "no_evidence": ["WS-10", "WS-11"],
        "ready": ["WS-01", "WS-09"],
    }
    assert page.ids["hosts-not_ready"] == "Not ready hosts (9)"
    for binary in data["binaries"]:
        shown = page.binaries[binary["id"]]
        assert (int(shown["hosts"]), int(shown["users"]), int(shown["events"])) == (
            binary["hosts"],
            binary["users"],
            binary["events"],
        )
    assert "Ready: 2" in page.ids["summary-chart"] and "Not ready: 9" in page.ids["summary-chart"]


def test_the_suggestion_blocks_are_the_rules_as_yaml():
    data = report()
    page = Page(render_html(data))
    assert sorted(page.blocks) == sorted(data["suggestions"])
    for collection, text in page.blocks.items():
        assert yaml.safe_load(text) == data["suggestions"][collection]


def test_the_page_is_self_contained():
    text = render_html(report())
    page = Page(text)
    assert not page.tags & {"script", "link", "img", "iframe", "object", "embed", "audio", "video", "source"}
    for tag, name, value in page.attributes:
        assert name not in ("src", "href", "srcset", "action", "formaction"), (tag, name)
        if tag == "svg" and name == "xmlns":
            continue
        assert "//" not in value, (tag, name, value)
    assert re.findall(r"https?://[^\s\"'<>]+", text) == ["http://www.w3.org/2000/svg"] * text.count("<svg ")
    assert "url(" not in text and "@import" not in text


def test_evidence_values_are_escaped():
    hostile = Event(
        "<script>alert(1)</script>",
        8003,
        "Exe",
        "audit",
        "C:\\<b>x</b>.exe",
        'C:\\"onload=x.exe',
        None,
        None,
        None,
        WINDOW.start + 10,
        WINDOW.start + 10,
    )
    text = render_html(report(hosts=None, extra=[hostile]))
    assert "<script>" not in text and "<b>x</b>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    page = Page(text)
    assert "<script>alert(1)</script>" in page.rows["not_ready"]
    assert "script" not in page.tags


def test_long_host_tables_stop_with_a_note_and_top_limits_binaries():
    data = report()
    page = Page(render_html(data, top=3, max_rows=4))
    assert len(page.rows["not_ready"]) == 4
    assert "5 more in readiness.json" in render_html(data, top=3, max_rows=4)
    assert len(page.binaries) == 3
    assert page.ids["binaries"] == f"Top would-be-blocked binaries (3 of {len(data['binaries'])})"

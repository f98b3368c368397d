# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The readiness report's files: readiness.json, readiness.html, suggestions.yml, written atomically.

Rendered in memory first; only the files whose bytes differ are written, each through a
temporary file and an atomic rename, readiness.json last (a reader that sees a new JSON sees the
page and the suggestions of the same run).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable

from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_core import write_atomic
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_readiness_events import EvidenceError
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_readiness_html import (
    render_html,
    suggestions_yaml,
)

JSON_FILE = "readiness.json"
HTML_FILE = "readiness.html"
SUGGESTIONS_FILE = "suggestions.yml"
FILES = (HTML_FILE, SUGGESTIONS_FILE, JSON_FILE)  # written in this order: the JSON last


def render_files(report: dict, top: int = 20, max_rows: int = 2000) -> dict[str, bytes]:
    return {
        HTML_FILE: render_html(report, top=top, max_rows=max_rows).encode("utf-8"),
        SUGGESTIONS_FILE: suggestions_yaml(report).encode("utf-8"),
        JSON_FILE: (json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8"),
    }


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise EvidenceError(f"{path}: cannot be read ({exc})") from None


def changed_files(dest: str, files: dict[str, bytes]) -> dict[str, bytes | None]:
    """The files whose bytes differ from what ``dest`` holds: name -> current bytes (None when missing)."""
    changed = {}
    for name in FILES:
        current = _read(os.path.join(dest, name))
        if current != files[name]:
            changed[name] = current
    return changed


def diff_entries(dest: str, changed: dict[str, bytes | None], files: dict[str, bytes]) -> list[dict]:
    return [
        {
            "before_header": os.path.join(dest, name),
            "after_header": os.path.join(dest, name),
            "before": (before or b"").decode("utf-8", "replace"),
            "after": files[name].decode("utf-8"),
        }
        for name, before in changed.items()
    ]


def write_files(
    dest: str, changed: dict, files: dict[str, bytes], move: Callable[[str, str], None], tmpdir: str
) -> None:
    """Each changed file through a temporary file in ``tmpdir`` and ``move`` (atomic rename)."""
    os.makedirs(dest, exist_ok=True)
    for name in FILES:
        if name not in changed:
            continue
        write_atomic(os.path.join(dest, name), files[name], move, tmpdir, "m1038-readiness")

# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One normalisation of software-inventory strings for both routes of the software_inventory role.

A program's name, publisher and version come from the same registry values whichever route read
them (the Windows route reads the Uninstall keys itself; Wazuh's syscollector reads the same keys
on the agent), so both routes clean them with these functions and count what they changed in a
``Tally``. The renderer (``_wazuh_inventory``) then accepts every record unchanged: a publisher it
would refuse is cleared here, counted and listed, instead of stopping the render.

Rules (docs/software-inventory.md, "Odd values"):

* A value that is not a string is no text: name -> the record is skipped; publisher and version
  -> empty. A list of strings (REG_MULTI_SZ) gives its first string, as a C string read of the
  value would (syscollector reads values that way).
* Text ends at the first NUL (a C string read of the value stops there).
* name and version: every run of control characters (Unicode Cc) becomes one space, a lone
  surrogate becomes U+FFFD, whitespace is stripped at both ends, and the text is cut to
  ``MAX_NAME_CHARS`` / ``MAX_VERSION_CHARS``.
* publisher: trailing C whitespace is dropped (what the eventchannel decoder does to a Company
  value, ``_wazuh_escape.normalise_vendor``); leading whitespace is kept, lookups being exact. A
  publisher that still cannot be a CDB key (a control character, a lone surrogate, U+FFFE/U+FFFF,
  a double quote, more than 1024 UTF-8 bytes) is cleared: the record stays, without a vendor.
"""

from __future__ import annotations

import datetime
import re
from collections import Counter
from dataclasses import dataclass, field

from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_escape import (
    normalise_vendor,
    unrepresentable_reason,
)

MAX_NAME_CHARS = 512
MAX_VERSION_CHARS = 128
# How many examples a Tally keeps (its counts are always complete).
MAX_EXAMPLES = 25
_CONTROL_RUN = re.compile(r"[\x00-\x1f\x7f-\x9f]+")
# Python holds a valid surrogate pair as one code point, so any surrogate left in a str is lone.
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_DATE = re.compile(r"(\d{4})([-/]?)(\d{2})\2(\d{2})", re.ASCII)


@dataclass
class Tally:
    """Counts of what normalisation did, and the first ``MAX_EXAMPLES`` cases with where they came from."""

    counts: Counter[str] = field(default_factory=Counter)
    examples: list[dict] = field(default_factory=list)

    def note(self, what: str, where: str, detail: str = "") -> None:
        self.counts[what] += 1
        if len(self.examples) < MAX_EXAMPLES:
            example = {"what": what, "where": where}
            if detail:
                example["detail"] = detail
            self.examples.append(example)

    def merge(self, other: Tally) -> None:
        self.counts.update(other.counts)
        room = MAX_EXAMPLES - len(self.examples)
        if room > 0:
            self.examples.extend(other.examples[:room])

    def to_dict(self) -> dict:
        return {"counts": dict(sorted(self.counts.items())), "examples": list(self.examples)}


def _as_text(value: object, field_name: str, where: str, tally: Tally) -> str | None:
    """The text of a value, or None when it holds none (noted unless the value is absent)."""
    if value is None:
        return None
    if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        tally.note(f"{field_name}_multi_string", where, f"a list of {len(value)}; the first is used")
        value = value[0]
    if not isinstance(value, str):
        tally.note(f"{field_name}_not_a_string", where, type(value).__name__)
        return None
    nul = value.find("\x00")
    if nul >= 0:
        tally.note(f"{field_name}_cut_at_nul", where, f"at character {nul}")
        value = value[:nul]
    return value


def clean_label(value: object, field_name: str, max_chars: int, where: str, tally: Tally) -> str:
    """A name or version: one line of printable text, at most ``max_chars`` characters; "" when none."""
    text = _as_text(value, field_name, where, tally)
    if text is None:
        return ""
    if _CONTROL_RUN.search(text):
        tally.note(f"{field_name}_control_characters", where, repr(text[:80]))
        text = _CONTROL_RUN.sub(" ", text)
    if _SURROGATE.search(text):
        tally.note(f"{field_name}_lone_surrogate", where)
        text = _SURROGATE.sub("\ufffd", text)
    text = text.strip()
    if len(text) > max_chars:
        tally.note(f"{field_name}_truncated", where, f"{len(text)} characters")
        text = text[:max_chars].rstrip()
    return text


def clean_publisher(value: object, where: str, tally: Tally) -> str:
    """A publisher the renderer accepts as a vendor, or "" (no vendor)."""
    text = _as_text(value, "publisher", where, tally)
    if text is None:
        return ""
    text = normalise_vendor(text)
    if not text.strip():
        return ""
    reason = unrepresentable_reason(text)
    if reason:
        tally.note("publisher_cleared", where, f"{text[:80]!r}: {reason}")
        return ""
    return text


def clean_install_date(value: object, where: str, tally: Tally) -> str | None:
    """``YYYYMMDD`` (the Uninstall key's documented form), ``YYYY-MM-DD`` or ``YYYY/MM/DD`` -> ISO date."""
    text = _as_text(value, "install_date", where, tally)
    if text is None:
        return None
    text = text.strip()
    if not text:
        return None
    match = _DATE.fullmatch(text)
    if match:
        try:
            return datetime.date(int(match[1]), int(match[3]), int(match[4])).isoformat()
        except ValueError:
            pass
    tally.note("install_date_unparsed", where, repr(text[:40]))
    return None


__all__ = [
    "MAX_EXAMPLES",
    "MAX_NAME_CHARS",
    "MAX_VERSION_CHARS",
    "Tally",
    "clean_install_date",
    "clean_label",
    "clean_publisher",
]

# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Suggested allow rules for would-be-blocked binaries, in the policy model's own format.

A suggestion is a rule of ``m1038_applocker_model.<Collection>.rules`` (docs/applocker.md,
"The model"): accepting it is one copy of the ``rule`` mapping into that list. Which rule:

- the event carried a signature (``Fqbn``): a **publisher rule** for that signer subject,
  product and binary, from the lowest file version seen upwards (``high: '*'``, the AppLocker
  wizard's "and above": updates keep running). Packaged apps (Appx) are allowed per package:
  binary ``*``;
- else the event carried the file's SHA256 (``FileHash``): a **hash rule** (type SHA256, the
  hash AppLocker computed for the file, with its file name);
- else none: a path rule for where the file was would be a guess, and for a user-writable
  folder it would let anyone run anything from there. The binary is listed with a note.

Each suggestion is run through the model's own parser (``_applocker_model.parse_rule``) before
it is offered, so a suggestion that would not render is reported, never offered.
"""

from __future__ import annotations

import re

from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_core import SID_EVERYONE, AppLockerError
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_model import parse_rule

MAX_NAME = 200
_ORGANISATION = re.compile(r'(?:^|,)\s*O\s*=\s*("(?:[^"]|"")*"|[^,]*)', re.IGNORECASE)
_COMMON_NAME = re.compile(r'(?:^|,)\s*CN\s*=\s*("(?:[^"]|"")*"|[^,]*)', re.IGNORECASE)


def organisation(subject: str) -> str:
    """The O= (else CN=) part of a signer subject, for a readable rule name."""
    for pattern in (_ORGANISATION, _COMMON_NAME):
        match = pattern.search(subject)
        if match and match.group(1).strip():
            value = match.group(1).strip()
            return value[1:-1].replace('""', '"') if value.startswith('"') and value.endswith('"') else value
    return subject


def _name(text: str) -> str:
    return text if len(text) <= MAX_NAME else text[: MAX_NAME - 3] + "..."


def suggest(binary: dict, sid: str = SID_EVERYONE) -> tuple[dict | None, str]:
    """``(suggestion, note)`` for one binary of the readiness report.

    ``binary`` has ``collection``, ``kind`` (publisher | hash | path), ``label``, ``publisher``,
    ``product``, ``binary``, ``versions`` (``low``) and ``sha256`` and ``paths``. The suggestion is
    ``{"collection": ..., "rule": {...}}``; ``note`` says why there is none, or what was chosen.
    """
    collection = binary["collection"]
    where = binary.get("paths", [""])[0] if binary.get("paths") else binary["label"]
    if binary["kind"] == "publisher":
        low = binary.get("versions", {}).get("low")
        rule = {
            "name": _name(f"Readiness: {binary['label']} ({organisation(binary['publisher'])})"),
            "description": f"Suggested by applocker_readiness from audit events ({where}): signed files, this "
            "version and later.",
            "action": "allow",
            "sid": sid,
            "publisher": binary["publisher"],
            "product": binary["product"],
            "binary": "*" if collection == "Appx" else binary["binary"],
            "version": {"low": low, "high": "*"} if low else "*",
        }
        note = "publisher rule from the event's signature"
    elif binary["kind"] == "hash" and collection != "Appx":
        rule = {
            "name": _name(f"Readiness: {binary['label']} (SHA256 {binary['sha256'][:12]})"),
            "description": f"Suggested by applocker_readiness from audit events ({where}): this exact file only "
            "(unsigned; a new version needs a new hash).",
            "action": "allow",
            "sid": sid,
            "hash": {"data": "0x" + binary["sha256"], "type": "SHA256", "file": binary["label"]},
        }
        note = "hash rule: the file is not signed"
    elif collection == "Appx":
        return None, "packaged apps are allowed by publisher only and the event carried no package signature"
    else:
        return None, (
            "no signature and no file hash in the events: write the rule by hand (a path rule for the folder "
            "would let anyone run anything placed there if it is user-writable)"
        )
    try:
        parse_rule(collection, rule, f"suggestion for {binary['label']!r}")
    except AppLockerError as exc:
        return None, f"no suggestion: the rule built from the event would not render ({exc})"
    return {"collection": collection, "rule": rule}, note

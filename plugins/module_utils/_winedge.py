# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every Windows planner shares: the probe check, the plan shape, and small Windows value helpers.

The Windows edge pattern (docs/windows-edge-pattern.md): one probe per concern returns the host's
state as JSON in one round trip; a planner (pure Python, here in module_utils) turns probe + desired
state into a ``Plan``; the role's apply tasks run only the plan's actions; the verify step probes
again and asks the planner for a plan that must be empty.

A planner module uses this module for:

- ``check_probe``: the probe result has the concern, version and shape the planner was written for
  (a probe from another module version fails here, naming the key, not deep in the planner);
- ``Plan`` / ``Action``: the result every role reads the same way (``plan.action_ids``,
  ``plan.actions[*].reason``), with ``changed`` meaning "this host is about to change" and never
  true for a recorded probe (nothing can change on a recording);
- value helpers whose Windows semantics are easy to get wrong: processor architecture names,
  ``ALGO=HEX`` hash lists, case-insensitive paths, bounded text diffs.
"""

from __future__ import annotations

import difflib
import ntpath
import re
from dataclasses import dataclass, field

PLAN_SCHEMA = 1
MAX_DIFF_CHARS = 200_000

# Values of PROCESSOR_ARCHITECTURE (HKLM\SYSTEM\CurrentControlSet\Control\Session Manager\Environment).
_ARCHITECTURES = {"amd64": "AMD64", "x64": "AMD64", "arm64": "ARM64", "x86": "x86"}
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_HASH_LENGTHS = {"MD5": 32, "SHA1": 40, "SHA256": 64, "IMPHASH": 32}


class ProbeError(ValueError):
    """The probe result is not what the planner was written for."""


class PlanError(ValueError):
    """The desired state cannot be planned for this host (or, when verifying, was not reached)."""


# --- probe ----------------------------------------------------------------------------------
# A shape is a dict: key -> type, tuple of types (None allowed as a type), a nested shape, or a
# one-element list ``[item]`` for a JSON array whose every item is ``item`` (a type or a shape).
# A key written "?name" may be absent.


def check_probe(probe: object, *, concern: str, version: int, shape: dict, host: str = "") -> dict:
    """Return ``probe`` when it matches ``shape``; raise ProbeError naming the first bad key."""
    where = f" from {host}" if host else ""
    if not isinstance(probe, dict):
        raise ProbeError(f"{concern} probe{where} is not a JSON object ({type(probe).__name__})")
    if probe.get("concern") != concern:
        raise ProbeError(f"probe{where} is for concern {probe.get('concern')!r}, not {concern!r}")
    if probe.get("probe_version") != version:
        raise ProbeError(
            f"{concern} probe{where} has probe_version {probe.get('probe_version')!r}; this planner reads version "
            f"{version} (probe and planner come from different collection versions)"
        )
    _check_shape(probe, shape, concern, where)
    return probe


def _type_name(expected) -> str:
    types = expected if isinstance(expected, tuple) else (expected,)
    return " or ".join("null" if t is None else t.__name__ for t in types)


def _matches(value, expected) -> bool:
    types = expected if isinstance(expected, tuple) else (expected,)
    for kind in types:
        if kind is None and value is None:
            return True
        # bool is an int in Python; a probe's integer must not be a boolean
        if kind is int and isinstance(value, int) and not isinstance(value, bool):
            return True
        if kind is not None and kind is not int and isinstance(value, kind):
            return True
    return False


def _check_shape(value: dict, shape: dict, path: str, where: str) -> None:
    for raw_key, expected in shape.items():
        optional = raw_key.startswith("?")
        key = raw_key.lstrip("?")
        name = f"{path}.{key}"
        if key not in value:
            if optional:
                continue
            raise ProbeError(f"probe{where} lacks {name}")
        item = value[key]
        _check_value(item, expected, name, where)


def _check_value(item, expected, name: str, where: str) -> None:
    if isinstance(expected, dict):
        if not isinstance(item, dict):
            raise ProbeError(f"probe{where}: {name} is {type(item).__name__}, expected an object")
        _check_shape(item, expected, name, where)
    elif isinstance(expected, list):
        if not isinstance(item, list):
            raise ProbeError(f"probe{where}: {name} is {type(item).__name__}, expected a list")
        for index, element in enumerate(item):
            _check_value(element, expected[0], f"{name}[{index}]", where)
    elif not _matches(item, expected):
        raise ProbeError(f"probe{where}: {name} is {item!r}, expected {_type_name(expected)}")


# --- plan -----------------------------------------------------------------------------------


@dataclass
class Action:
    """One step of a plan. ``id`` selects the role's apply tasks; ``reason`` says why, for the log."""

    id: str
    reason: str
    details: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"id": self.id, "reason": self.reason, **self.details}


@dataclass
class Plan:
    concern: str
    host: str
    recorded: bool = False
    actions: list[Action] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    facts: dict = field(default_factory=dict)

    def add(self, action_id: str, reason: str, **details) -> Action:
        if action_id in self.action_ids:
            raise PlanError(f"{self.concern}: action {action_id} planned twice")  # a planner bug, not input
        action = Action(action_id, reason, details)
        self.actions.append(action)
        return action

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def has(self, action_id: str) -> bool:
        return action_id in self.action_ids

    @property
    def action_ids(self) -> list[str]:
        return [a.id for a in self.actions]

    @property
    def compliant(self) -> bool:
        return not self.actions

    @property
    def changed(self) -> bool:
        """The host is about to change. Never for a recorded probe: no host is contacted."""
        return bool(self.actions) and not self.recorded

    def to_dict(self) -> dict:
        return {
            "schema": PLAN_SCHEMA,
            "concern": self.concern,
            "host": self.host,
            "recorded": self.recorded,
            "compliant": self.compliant,
            "action_ids": self.action_ids,
            "actions": [a.to_dict() for a in self.actions],
            "warnings": list(self.warnings),
            "facts": dict(self.facts),
        }

    def require_compliant(self) -> None:
        """The verify step: after the apply, a fresh probe must plan nothing."""
        if self.actions:
            pending = "; ".join(f"{a.id} ({a.reason})" for a in self.actions)
            raise PlanError(f"{self.concern} on {self.host or 'the host'} is not compliant after the apply: {pending}")


# --- Windows values -------------------------------------------------------------------------


def normalize_arch(value: object) -> str:
    """``AMD64``, ``ARM64`` or ``x86`` from a PROCESSOR_ARCHITECTURE value; anything else is an error."""
    arch = _ARCHITECTURES.get(str(value).strip().lower()) if isinstance(value, str) else None
    if arch is None:
        raise ProbeError(f"processor architecture {value!r} is not one of AMD64, ARM64, x86")
    return arch


def parse_hash_list(text: str | None) -> dict[str, str]:
    """``"SHA256=AB..,MD5=CD.."`` -> ``{"SHA256": "ab..", "MD5": "cd.."}``; unparseable parts are left out.

    Sysmon writes hashes as ``ALGO=HEX`` pairs joined by commas (the Hashes field, the ConfigHash
    registry value). Algorithm names are upper-cased, digests lower-cased; a digest of the wrong
    length for its algorithm is dropped rather than compared.
    """
    result: dict[str, str] = {}
    for part in (text or "").split(","):
        algo, sep, digest = part.strip().partition("=")
        algo, digest = algo.strip().upper(), digest.strip()
        if not sep or not algo or not digest or not _HEX.match(digest):
            continue
        expected = _HASH_LENGTHS.get(algo)
        if expected is not None and len(digest) != expected:
            continue
        result[algo] = digest.lower()
    return result


def same_path(left: str | None, right: str | None) -> bool:
    """Windows paths compare case-insensitively, with either slash."""
    if not left or not right:
        return False
    return ntpath.normcase(ntpath.normpath(left)) == ntpath.normcase(ntpath.normpath(right))


def text_diff(before: str, after: str, before_header: str, after_header: str) -> dict:
    """An Ansible diff entry; above MAX_DIFF_CHARS it is a prepared unified diff, cut to that size."""
    if len(before) + len(after) > MAX_DIFF_CHARS:
        text = "".join(
            difflib.unified_diff(
                before.splitlines(True), after.splitlines(True), fromfile=before_header, tofile=after_header, n=1
            )
        )
        return {"before_header": before_header, "after_header": after_header, "prepared": text[:MAX_DIFF_CHARS]}
    return {"before_header": before_header, "after_header": after_header, "before": before, "after": after}

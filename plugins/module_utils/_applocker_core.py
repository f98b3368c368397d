# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The AppLocker policy as data: conditions, rules, collections, the policy; canonical forms and rule Ids.

Every other ``_applocker_*`` module works on these types: the model parser builds them
(``_applocker_model``), the XML layer renders and parses them (``_applocker_xml``), the comparison
normalises them (``_applocker_compare``), the guardrails and the writable-folder planner read them.

Canonical forms fold (upper-case) what AppLocker does not distinguish: publisher, product and binary names and
paths compare case-insensitively, hash data is hex of either case, a version section may carry
leading zeros. A rule's Id is a UUIDv5 over the canonical form of what the rule *is* (collection,
kind, action, SID, condition), not over its name, description or exceptions: renaming a rule or
adding an exception keeps its Id, so events keep pointing at the same rule, and two rules that
are the same rule collide instead of silently doubling.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import json
import os
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Union

# Rule collections in the order AppLocker tools write them (GPO editor, AaronLocker).
COLLECTIONS = ("Exe", "Msi", "Script", "Dll", "Appx")
# Model mode -> XML EnforcementMode.
MODES = {"audit": "AuditOnly", "enforce": "Enabled", "not_configured": "NotConfigured"}
XML_MODES = {xml: model for model, xml in MODES.items()}
ACTIONS = ("Allow", "Deny")
ANY = "*"

SID_EVERYONE = "S-1-1-0"
SID_AUTHENTICATED_USERS = "S-1-5-11"
SID_USERS = "S-1-5-32-545"
SID_ADMINISTRATORS = "S-1-5-32-544"
# Principals that take in (almost) every interactive user: rules for them on user-writable
# folders are the bypass AaronLocker scans for.
BROAD_SIDS = {
    SID_EVERYONE: "Everyone",
    SID_AUTHENTICATED_USERS: "Authenticated Users",
    SID_USERS: "Users",
}

# The only variables AppLocker expands in a path condition, and what they stand for on a
# standard installation. %SYSTEM32% and %PROGRAMFILES% cover both the native and the 32-bit
# folder (AaronLocker maps SysWOW64 to %SYSTEM32% and Program Files (x86) to %PROGRAMFILES%).
# %REMOVABLE% and %HOT% (removable media, USB) have no fixed folder. A probe reports the host's
# own expansions; these are the fallback.
PATH_VARIABLES = {
    "%OSDRIVE%": ("C:",),
    "%WINDIR%": ("C:\\Windows",),
    "%SYSTEM32%": ("C:\\Windows\\System32", "C:\\Windows\\SysWOW64"),
    "%PROGRAMFILES%": ("C:\\Program Files", "C:\\Program Files (x86)"),
    "%REMOVABLE%": (),
    "%HOT%": (),
}
# Most specific first: the variable a concrete folder is written with.
VARIABLE_PREFERENCE = ("%SYSTEM32%", "%WINDIR%", "%PROGRAMFILES%", "%OSDRIVE%")

HASH_LENGTHS = {"SHA256": 64, "SHA256Flat": 64, "SHA1": 40}
MAX_NAME = 1024
MAX_DESCRIPTION = 1024
MAX_PATH = 32767
MAX_SECTION = 65535

# Rule Ids: UUIDv5 in this namespace over the canonical identity (see rule_id).
ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://m1038-appcontrol.invalid/applocker/rule-id/v1")


class AppLockerError(ValueError):
    """Bad AppLocker input; the message names the value and where it is."""


@contextlib.contextmanager
def paused_gc():
    """Pause the cyclic garbage collector while building large acyclic structures.

    Parsing and normalising a policy allocates hundreds of thousands of small objects and no
    cycles; the collector's repeated passes over them made a 20,000-rule comparison twice as
    slow (benchmarks/bench_applocker_policy.py). Reference counting still frees everything.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def write_atomic(path: str, data: bytes, move: Callable[[str, str], None], tmpdir: str, prefix: str) -> None:
    """``data`` into ``path`` whole: a temporary file in ``tmpdir`` (named ``prefix`` and a hash of the path),
    then ``move`` (the module's atomic rename); the temporary file never outlives the call."""
    temp = os.path.join(tmpdir, f"{prefix}-{hashlib.sha256(path.encode()).hexdigest()[:16]}")
    try:
        with open(temp, "wb") as handle:
            handle.write(data)
        move(temp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temp)


def fold(text: str) -> str:
    """Case-insensitive form, character by character (simple upper-case mapping, as Windows'
    ordinal ignore-case comparison does; ``str.casefold`` would also equate ``ß`` and ``SS``)."""
    if text.isascii():
        return text.upper()
    return "".join(c.upper() if len(c.upper()) == 1 else c for c in text)


# --- versions ---------------------------------------------------------------------------------


def parse_version(text: str) -> tuple[int, int, int, int] | None:
    """``a.b.c.d`` (each 0..65535) -> tuple; ``*`` -> None; anything else raises AppLockerError."""
    if text == ANY:
        return None
    parts = text.split(".") if isinstance(text, str) else []
    if len(parts) != 4 or not all(p.isascii() and p.isdigit() and len(p) <= 5 for p in parts):
        raise AppLockerError(f"{text!r} is not a file version a.b.c.d or '*'")
    numbers = tuple(int(p) for p in parts)
    if any(n > MAX_SECTION for n in numbers):
        raise AppLockerError(f"{text!r}: each section of a file version is at most {MAX_SECTION}")
    return numbers  # type: ignore[return-value]


def canonical_version(text: str) -> str:
    numbers = parse_version(text)
    return ANY if numbers is None else ".".join(str(n) for n in numbers)


def version_bounds(low: str, high: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The inclusive range a BinaryVersionRange covers ('*' is open on that side)."""
    return parse_version(low) or (0, 0, 0, 0), parse_version(high) or (MAX_SECTION,) * 4


# --- conditions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PublisherCondition:
    publisher: str
    product: str = ANY
    binary: str = ANY
    low: str = ANY
    high: str = ANY

    kind = "publisher"

    def canonical(self) -> list:
        return [
            "publisher",
            fold(self.publisher),
            fold(self.product),
            fold(self.binary),
            canonical_version(self.low),
            canonical_version(self.high),
        ]

    def folded(self) -> PublisherCondition:
        return PublisherCondition(
            fold(self.publisher),
            fold(self.product),
            fold(self.binary),
            canonical_version(self.low),
            canonical_version(self.high),
        )

    def describe(self) -> str:
        return f"{self.publisher}\\{self.product}\\{self.binary}\\{self.low}-{self.high}"


@dataclass(frozen=True)
class PathCondition:
    path: str

    kind = "path"

    def canonical(self) -> list:
        return ["path", fold(self.path)]

    def folded(self) -> PathCondition:
        return PathCondition(fold(self.path))

    def describe(self) -> str:
        return self.path


@dataclass(frozen=True)
class FileHash:
    type: str
    data: str
    source_name: str | None = None
    source_length: int | None = None

    def canonical(self) -> list:
        return [self.type, "0x" + self.data[2:].upper()]

    def metadata(self) -> list:
        return [self.source_name, self.source_length]


@dataclass(frozen=True)
class HashCondition:
    hashes: tuple[FileHash, ...]

    kind = "hash"

    def canonical(self) -> list:
        return ["hash", sorted(h.canonical() for h in self.hashes)]

    def folded(self) -> HashCondition:
        items = (FileHash(h.type, "0x" + h.data[2:].upper(), h.source_name, h.source_length) for h in self.hashes)
        return HashCondition(tuple(sorted(items, key=lambda h: (h.canonical(), str(h.metadata())))))

    def describe(self) -> str:
        return ", ".join(f"{h.type} {h.data}" + (f" ({h.source_name})" if h.source_name else "") for h in self.hashes)


Condition = Union[PublisherCondition, PathCondition, HashCondition]  # noqa: UP007 - a runtime alias pylint reads
RULE_ELEMENTS = {"publisher": "FilePublisherRule", "path": "FilePathRule", "hash": "FileHashRule"}


def condition_key(condition: Condition) -> str:
    return json.dumps(condition.canonical(), ensure_ascii=False, separators=(",", ":"))


# --- rules, collections, policy ---------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    name: str
    condition: Condition
    action: str = "Allow"
    sid: str = SID_EVERYONE
    description: str = ""
    exceptions: tuple[Condition, ...] = ()
    id: str = ""  # computed by with_id(), or as read from XML
    origin: str = ""  # where it came from, for messages: "model Exe.rules[2]", "default rule", ...

    @property
    def kind(self) -> str:
        return self.condition.kind

    @property
    def label(self) -> str:
        return f"{self.name!r}" + (f" ({self.origin})" if self.origin else "")


def identity(collection: str, rule: Rule) -> str:
    """What a rule is, canonically: the input of its Id and the key for duplicates."""
    return json.dumps(
        [collection, rule.kind, rule.action, rule.sid.upper(), rule.condition.canonical()],
        ensure_ascii=False,
        separators=(",", ":"),
    )


def rule_id(collection: str, rule: Rule) -> str:
    return str(uuid.uuid5(ID_NAMESPACE, identity(collection, rule)))


def with_id(collection: str, rule: Rule) -> Rule:
    return replace(rule, id=rule_id(collection, rule))


@dataclass
class Collection:
    type: str
    mode: str = "NotConfigured"  # XML EnforcementMode
    rules: list[Rule] = field(default_factory=list)
    # RuleCollectionExtensions as a canonical element tree (tag, attributes, children); the
    # model does not write them, a parsed host policy may carry them.
    extensions: tuple | None = None

    @property
    def enforced(self) -> bool:
        """Rules are enforced: Enabled, or NotConfigured with rules (Windows enforces those)."""
        return self.mode == "Enabled" or (self.mode == "NotConfigured" and bool(self.rules))


@dataclass
class Policy:
    collections: dict[str, Collection] = field(default_factory=dict)
    version: str = "1"
    extensions: tuple | None = None  # PolicyExtensions, canonical element tree

    def collection(self, name: str) -> Collection:
        return self.collections.get(name) or Collection(name)

    def complete(self) -> Policy:
        """Every collection present (a missing one is NotConfigured without rules), in document order."""
        extra = sorted(set(self.collections) - set(COLLECTIONS))
        ordered = {name: self.collection(name) for name in (*COLLECTIONS, *extra)}
        return Policy(collections=ordered, version=self.version, extensions=self.extensions)


def variant(policy: Policy, name: str) -> Policy:
    """The ``enforce`` variant is the policy as modelled; the ``audit`` variant enforces nothing.

    Both hold the same rules. In the audit variant every collection that would enforce (Enabled,
    or NotConfigured with rules) is AuditOnly; nothing else differs.
    """
    if name == "enforce":
        return policy
    if name != "audit":
        raise AppLockerError(f"variant {name!r} is neither 'audit' nor 'enforce'")
    collections = {
        key: Collection(c.type, "AuditOnly" if c.enforced else c.mode, list(c.rules), c.extensions)
        for key, c in policy.collections.items()
    }
    return Policy(collections=collections, version=policy.version, extensions=policy.extensions)


# --- paths ------------------------------------------------------------------------------------

_VARIABLE = re.compile(r"%[^%\\]*%")


def expansions(pattern: str, variables: dict[str, tuple[str, ...]] | None = None) -> tuple[str, ...]:
    """The concrete spellings of a path pattern: its leading AppLocker variable replaced by each folder."""
    table = PATH_VARIABLES if variables is None else variables
    match = _VARIABLE.match(pattern)
    if not match:
        return (pattern,)
    folders = table.get(match.group(0).upper(), ())
    return tuple(folder + pattern[match.end() :] for folder in folders)


@functools.lru_cache(maxsize=65536)
def _parts(pattern: str) -> tuple[str, ...]:
    return tuple(fold(pattern).split("*"))


def _wildcard(parts: tuple[str, ...], text: str) -> bool:
    """AppLocker's only wildcard is '*': any run of characters, backslashes included."""
    if len(parts) == 1:
        return text == parts[0]
    first, last = parts[0], parts[-1]
    if len(text) < len(first) + len(last) or not text.startswith(first) or not text.endswith(last):
        return False
    position, end = len(first), len(text) - len(last)
    for part in parts[1:-1]:
        found = text.find(part, position, end)
        if found < 0:
            return False
        position = found + len(part)
    return True


def path_matches(pattern: str, concrete: str, variables: dict[str, tuple[str, ...]] | None = None) -> bool:
    """Does the path condition ``pattern`` match the concrete file path ``concrete``?"""
    text = fold(concrete)
    return any(_wildcard(_parts(spelling), text) for spelling in expansions(pattern, variables))


def applocker_form(folder: str, variables: dict[str, tuple[str, ...]] | None = None) -> str:
    """A concrete folder written with the most specific AppLocker variable that covers it."""
    table = PATH_VARIABLES if variables is None else variables
    lowered = fold(folder).rstrip("\\")
    for name in VARIABLE_PREFERENCE:
        for base in sorted(table.get(name, ()), key=len, reverse=True):
            stem = fold(base).rstrip("\\")
            if lowered == stem or lowered.startswith(stem + "\\"):
                return name + folder.rstrip("\\")[len(stem) :]
    return folder.rstrip("\\")

# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The AppLocker policy model (YAML) -> ``Policy``, with errors that name the value and where it is.

The model maps a rule collection name (Exe, Msi, Script, Dll, Appx) to::

    mode: audit | enforce | not_configured     # the mode of the enforce variant (default audit)
    default_rules: false | true                # Windows' default rules for the collection
    rules:
      - name: Contoso tools                    # required
        description: ...                       # optional
        action: allow | deny                   # default allow
        sid: S-1-1-0                           # user or group SID, default Everyone
        # exactly one of:
        publisher: O=CONTOSO LTD, L=..., S=..., C=US   # the signer's certificate subject
        product: "*"                           # publisher rules: product, binary, version range
        binary: "*"
        version: "*"                           # or {low: 1.0.0.0, high: "*"}
        path: '%PROGRAMFILES%\\Contoso\\*'     # AppLocker variables only
        hash: {data: 0x..., type: SHA256, file: tool.exe, length: 1234}   # or a list of them
        exceptions:                            # publisher and path rules: conditions as above
          - path: '%PROGRAMFILES%\\Contoso\\Cache\\*'

Collections that the model leaves out are NotConfigured and empty. An error reads
``model Exe.rules[2] ('Contoso tools'): version.low: '1.2' is not a file version a.b.c.d or '*'``.
"""

from __future__ import annotations

import re

from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_core import (
    ANY,
    COLLECTIONS,
    HASH_LENGTHS,
    MAX_DESCRIPTION,
    MAX_NAME,
    MAX_PATH,
    MODES,
    PATH_VARIABLES,
    SID_ADMINISTRATORS,
    SID_EVERYONE,
    AppLockerError,
    Collection,
    Condition,
    FileHash,
    HashCondition,
    PathCondition,
    Policy,
    PublisherCondition,
    Rule,
    identity,
    parse_version,
    with_id,
)

RULE_KEYS = {"name", "description", "action", "sid", "publisher", "product", "binary", "version", "path", "hash"}
RULE_KEYS_ALL = RULE_KEYS | {"exceptions"}
COLLECTION_KEYS = {"mode", "default_rules", "rules"}
_SID = re.compile(r"^S-1-[0-9]+(-[0-9]+)+$")
_VARIABLE = re.compile(r"%[^%\\]*%")
_BAD_PATH_CHARS = '"<>|?/'
# Control characters (Unicode category Cc), lone surrogates and the two non-characters: XML 1.0
# cannot carry them. Tab, CR and LF are allowed where line breaks are (descriptions).
_NOT_XML = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_NOT_XML_LINES = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")

_SIGNED = PublisherCondition(ANY, ANY, ANY, "0.0.0.0", ANY)  # noqa: S104 - a file version, not an address
# Windows' default rules per collection (the rules "Create Default Rules" makes in the AppLocker
# snap-in): name, SID, condition. The descriptions are the project's own.
DEFAULT_RULES = {
    "Exe": [
        ("(Default Rule) All files", SID_ADMINISTRATORS, PathCondition("*"), "Administrators run every program."),
        (
            "(Default Rule) All files located in the Program Files folder",
            SID_EVERYONE,
            PathCondition("%PROGRAMFILES%\\*"),
            "Everyone runs programs under Program Files.",
        ),
        (
            "(Default Rule) All files located in the Windows folder",
            SID_EVERYONE,
            PathCondition("%WINDIR%\\*"),
            "Everyone runs programs under the Windows folder.",
        ),
    ],
    "Msi": [
        (
            "(Default Rule) All Windows Installer files",
            SID_ADMINISTRATORS,
            PathCondition("*.*"),
            "Administrators run every Windows Installer file.",
        ),
        (
            "(Default Rule) All Windows Installer files in %systemdrive%\\Windows\\Installer",
            SID_EVERYONE,
            PathCondition("%WINDIR%\\Installer\\*"),
            "Everyone runs Windows Installer files in the Windows Installer cache.",
        ),
        (
            "(Default Rule) All digitally signed Windows Installer files",
            SID_EVERYONE,
            _SIGNED,
            "Everyone runs signed Windows Installer files.",
        ),
    ],
    "Script": [
        ("(Default Rule) All scripts", SID_ADMINISTRATORS, PathCondition("*"), "Administrators run every script."),
        (
            "(Default Rule) All scripts located in the Program Files folder",
            SID_EVERYONE,
            PathCondition("%PROGRAMFILES%\\*"),
            "Everyone runs scripts under Program Files.",
        ),
        (
            "(Default Rule) All scripts located in the Windows folder",
            SID_EVERYONE,
            PathCondition("%WINDIR%\\*"),
            "Everyone runs scripts under the Windows folder.",
        ),
    ],
    "Dll": [
        ("(Default Rule) All DLLs", SID_ADMINISTRATORS, PathCondition("*"), "Administrators load every DLL."),
        (
            "(Default Rule) All DLLs located in the Program Files folder",
            SID_EVERYONE,
            PathCondition("%PROGRAMFILES%\\*"),
            "Everyone loads DLLs under Program Files.",
        ),
        (
            "(Default Rule) Microsoft Windows DLLs",
            SID_EVERYONE,
            PathCondition("%WINDIR%\\*"),
            "Everyone loads DLLs under the Windows folder.",
        ),
    ],
    "Appx": [("(Default Rule) All signed packaged apps", SID_EVERYONE, _SIGNED, "Everyone runs signed packaged apps.")],
}


def default_rules(collection: str) -> list[Rule]:
    return [
        with_id(collection, Rule(name, condition, "Allow", sid, description, origin="default rule"))
        for name, sid, condition, description in DEFAULT_RULES[collection]
    ]


# --- values -----------------------------------------------------------------------------------


def text(value: object, where: str, *, allow_empty: bool = False, limit: int = MAX_NAME, lines: bool = False) -> str:
    """A string XML 1.0 can carry: no control characters (tab and line breaks only with ``lines``)."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise AppLockerError(f"{where}: expected a string, got {type(value).__name__} {value!r}")
    result = str(value)
    if not result.strip() and not allow_empty:
        raise AppLockerError(f"{where}: must not be empty")
    if len(result) > limit:
        raise AppLockerError(f"{where}: {len(result)} characters, at most {limit}")
    found = (_NOT_XML_LINES if lines else _NOT_XML).search(result)
    if found:
        raise AppLockerError(
            f"{where}: {result!r} holds the character U+{ord(found.group()):04X}, which XML cannot carry"
        )
    return result


def sid(value: object, where: str) -> str:
    result = text(value, where).strip().upper()
    if not _SID.match(result):
        raise AppLockerError(
            f"{where}: {value!r} is not a SID such as S-1-1-0 (Everyone), S-1-5-32-544 (Administrators), "
            "S-1-5-32-545 (Users) or S-1-5-21-...-RID"
        )
    return result


def path(value: object, where: str) -> str:
    result = text(value, where, limit=MAX_PATH).strip()
    for char in _BAD_PATH_CHARS:
        if char in result:
            hint = " (write Windows paths with backslashes)" if char == "/" else ""
            raise AppLockerError(f"{where}: {result!r} holds {char!r}, which an AppLocker path cannot{hint}")
    for position, match in enumerate(_VARIABLE.finditer(result)):
        name = match.group(0).upper()
        if name not in PATH_VARIABLES:
            raise AppLockerError(
                f"{where}: {result!r} uses {match.group(0)}; AppLocker expands only "
                f"{', '.join(PATH_VARIABLES)} (environment variables such as %USERPROFILE% are not expanded)"
            )
        if position or match.start():
            raise AppLockerError(f"{where}: {result!r}: an AppLocker variable must start the path")
    return result


def version(value: object, where: str) -> tuple[str, str]:
    if value is None or value == ANY:
        return ANY, ANY
    if not isinstance(value, dict):
        raise AppLockerError(f"{where}: {value!r} must be '*' or {{low: a.b.c.d, high: a.b.c.d or '*'}}")
    unknown = sorted(set(value) - {"low", "high"})
    if unknown:
        raise AppLockerError(f"{where}: unknown key {unknown[0]!r}; a version range has low and high")
    bounds = []
    for key in ("low", "high"):
        item = str(value.get(key, ANY)).strip()
        try:
            bounds.append((item, parse_version(item)))
        except AppLockerError as exc:
            raise AppLockerError(f"{where}.{key}: {exc}") from None
    (low, low_n), (high, high_n) = bounds
    if low_n is not None and high_n is not None and low_n > high_n:
        raise AppLockerError(f"{where}: low {low} is above high {high}")
    return low, high


def file_hash(value: object, where: str) -> FileHash:
    if isinstance(value, str):
        value = {"data": value}
    if not isinstance(value, dict):
        raise AppLockerError(f"{where}: a hash is {{data: 0x..., type: SHA256, file: NAME, length: BYTES}}")
    unknown = sorted(set(value) - {"data", "type", "file", "length"})
    if unknown:
        raise AppLockerError(f"{where}: unknown key {unknown[0]!r}; a hash has data, type, file, length")
    kind = str(value.get("type", "SHA256"))
    if kind not in HASH_LENGTHS:
        raise AppLockerError(f"{where}.type: {kind!r} is not one of {', '.join(HASH_LENGTHS)}")
    data = text(value.get("data"), f"{where}.data").strip()
    digits = data[2:] if data[:2].lower() == "0x" else data
    if len(digits) != HASH_LENGTHS[kind] or not re.fullmatch(r"[0-9A-Fa-f]+", digits):
        raise AppLockerError(f"{where}.data: {data!r} is not {HASH_LENGTHS[kind]} hex digits, as a {kind} hash is")
    name = value.get("file")
    length = value.get("length")
    if length is not None and (isinstance(length, bool) or not isinstance(length, int) or length < 0):
        raise AppLockerError(f"{where}.length: {length!r} must be the file size in bytes")
    return FileHash(kind, "0x" + digits.upper(), None if name is None else text(name, f"{where}.file"), length)


def condition(item: dict, where: str, *, allow_fields: bool) -> Condition:
    """One of publisher/path/hash (with product/binary/version for publisher)."""
    kinds = [key for key in ("publisher", "path", "hash") if key in item]
    if len(kinds) != 1:
        found = ", ".join(kinds) if kinds else "none"
        raise AppLockerError(f"{where}: give exactly one of publisher, path, hash (found {found})")
    kind = kinds[0]
    extra = sorted({"product", "binary", "version"} & set(item))
    if kind != "publisher" and extra:
        raise AppLockerError(f"{where}: {extra[0]} belongs to a publisher condition, not a {kind} condition")
    if not allow_fields:
        unknown = sorted(set(item) - {"publisher", "product", "binary", "version", "path", "hash"})
        if unknown:
            raise AppLockerError(f"{where}: unknown key {unknown[0]!r} in an exception")
    if kind == "path":
        return PathCondition(path(item["path"], f"{where}.path"))
    if kind == "hash":
        hashes = item["hash"] if isinstance(item["hash"], list) else [item["hash"]]
        if not hashes:
            raise AppLockerError(f"{where}.hash: an empty list")
        return HashCondition(tuple(file_hash(h, f"{where}.hash[{i}]") for i, h in enumerate(hashes)))
    low, high = version(item.get("version"), f"{where}.version")
    return PublisherCondition(
        text(item["publisher"], f"{where}.publisher").strip(),
        text(item.get("product", ANY), f"{where}.product").strip(),
        text(item.get("binary", ANY), f"{where}.binary").strip(),
        low,
        high,
    )


def action(value: object, where: str) -> str:
    found = {"allow": "Allow", "deny": "Deny"}.get(str(value).strip().lower()) if isinstance(value, str) else None
    if found is None:
        raise AppLockerError(f"{where}: {value!r} is neither allow nor deny")
    return found


# --- rules and collections ----------------------------------------------------------------------


def parse_rule(collection: str, item: object, where: str) -> Rule:
    if not isinstance(item, dict):
        raise AppLockerError(f"{where}: a rule is a mapping with name and one of publisher, path, hash")
    name = item.get("name")
    shown = name if not isinstance(name, str) or len(name) <= 60 else name[:57] + "..."
    label = f"{where} ({shown!r})" if isinstance(name, str) else where
    unknown = sorted(set(item) - RULE_KEYS_ALL)
    if unknown:
        raise AppLockerError(f"{label}: unknown key {unknown[0]!r}; known keys: {', '.join(sorted(RULE_KEYS_ALL))}")
    name = text(name, f"{label}: name").strip()
    cond = condition(item, label, allow_fields=True)
    if collection == "Appx" and cond.kind != "publisher":
        raise AppLockerError(f"{label}: packaged app (Appx) rules are publisher rules only, not {cond.kind} rules")
    raw_exceptions = item.get("exceptions") or []
    if raw_exceptions and cond.kind == "hash":
        raise AppLockerError(f"{label}: exceptions: a hash rule cannot have exceptions (publisher and path rules can)")
    if not isinstance(raw_exceptions, list):
        raise AppLockerError(f"{label}: exceptions must be a list of conditions")
    exceptions = []
    for index, exc in enumerate(raw_exceptions):
        exc_where = f"{label}: exceptions[{index}]"
        if not isinstance(exc, dict):
            raise AppLockerError(f"{exc_where}: an exception is a mapping with one of publisher, path, hash")
        parsed = condition(exc, exc_where, allow_fields=False)
        if collection == "Appx" and parsed.kind != "publisher":
            raise AppLockerError(f"{exc_where}: packaged app exceptions are publisher conditions only")
        exceptions.append(parsed)
    rule = Rule(
        name=name,
        condition=cond,
        action=action(item.get("action", "allow"), f"{label}: action"),
        sid=sid(item.get("sid", SID_EVERYONE), f"{label}: sid"),
        description=text(
            item.get("description", ""), f"{label}: description", allow_empty=True, limit=MAX_DESCRIPTION, lines=True
        ),
        exceptions=tuple(dict.fromkeys(exceptions)),
        origin=f"model {where}",
    )
    return with_id(collection, rule)


def _collection_name(key: object) -> str:
    for name in COLLECTIONS:
        if isinstance(key, str) and key.strip().lower() == name.lower():
            return name
    raise AppLockerError(f"model: {key!r} is not a rule collection; the collections are {', '.join(COLLECTIONS)}")


def parse_collection(name: str, value: object) -> Collection:
    where = f"model {name}"
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise AppLockerError(f"{where}: expected a mapping with mode, default_rules, rules; got {value!r}")
    unknown = sorted(set(value) - COLLECTION_KEYS)
    if unknown:
        raise AppLockerError(f"{where}: unknown key {unknown[0]!r}; known keys: {', '.join(sorted(COLLECTION_KEYS))}")
    mode = str(value.get("mode", "audit")).strip().lower()
    if mode not in MODES:
        raise AppLockerError(f"{where}.mode: {value.get('mode')!r} is not one of {', '.join(MODES)}")
    defaults = value.get("default_rules", False)
    if not isinstance(defaults, bool):
        raise AppLockerError(f"{where}.default_rules: {defaults!r} must be true or false")
    raw_rules = value.get("rules") or []
    if not isinstance(raw_rules, list):
        raise AppLockerError(f"{where}.rules: expected a list of rules, got {type(raw_rules).__name__}")
    rules = default_rules(name) if defaults else []
    rules += [parse_rule(name, item, f"{name}.rules[{index}]") for index, item in enumerate(raw_rules)]
    check_duplicates(name, rules)
    return Collection(name, MODES[mode], rules)


def check_duplicates(collection: str, rules: list[Rule]) -> None:
    seen: dict[str, Rule] = {}
    for rule in rules:
        key = identity(collection, rule)
        if key in seen:
            first = seen[key]
            raise AppLockerError(
                f"model {collection}: {rule.label} is the same rule as {first.label} (same kind, action, SID and "
                "condition); merge them (names, descriptions and exceptions do not make a rule different)"
            )
        seen[key] = rule


def parse_model(model: object) -> Policy:
    """Validate the model into a Policy (every collection present, rules with their Ids)."""
    if model is None:
        model = {}
    if not isinstance(model, dict):
        raise AppLockerError(f"model: expected a mapping of rule collections, got {type(model).__name__}")
    collections: dict[str, Collection] = {}
    for key, value in model.items():
        name = _collection_name(key)
        if name in collections:
            raise AppLockerError(f"model: collection {name} is given twice ({key!r})")
        collections[name] = parse_collection(name, value)
    return Policy(collections=collections).complete()

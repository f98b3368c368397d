# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""AppLocker policy XML: render a ``Policy``, read any policy back, validate against the XSD.

Rendering is deterministic: the five collections in document order, rules sorted by name then
Id, exceptions and hashes sorted canonically, attributes in one order, two-space indentation,
UTF-8 without a byte order mark. The same policy always gives the same bytes.

Reading accepts what Windows and tools write: UTF-16 (LE/BE, with or without a BOM, the
``encoding="utf-16"`` declaration AaronLocker and ``Get-AppLockerPolicy`` files carry), UTF-8
with or without a BOM, comments, any whitespace, attributes in any order. A DTD is refused.

Validation uses lxml (libxml2) against ``_applocker_xsd.POLICY_XSD``; lxml is imported lazily
so that the rest of the AppLocker code runs without it.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_core import (
    COLLECTIONS,
    RULE_ELEMENTS,
    AppLockerError,
    Collection,
    Condition,
    FileHash,
    HashCondition,
    PathCondition,
    Policy,
    PublisherCondition,
    Rule,
    condition_key,
    paused_gc,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_xsd import POLICY_XSD

_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\t": "&#x9;", "\n": "&#xA;", "\r": "&#xD;"}
_ESCAPE = re.compile('[&<>"\t\n\r]')
_SCHEMA = None


# --- render -----------------------------------------------------------------------------------


def attr(value: str) -> str:
    """An attribute value that reads back exactly (tabs and line breaks as character references)."""
    return _ESCAPE.sub(lambda m: _ESCAPES[m.group(0)], value)


def _condition_xml(cond: Condition, indent: str) -> list[str]:
    if isinstance(cond, PathCondition):
        return [f'{indent}<FilePathCondition Path="{attr(cond.path)}" />']
    if isinstance(cond, PublisherCondition):
        return [
            f'{indent}<FilePublisherCondition PublisherName="{attr(cond.publisher)}" '
            f'ProductName="{attr(cond.product)}" BinaryName="{attr(cond.binary)}">',
            f'{indent}  <BinaryVersionRange LowSection="{cond.low}" HighSection="{cond.high}" />',
            f"{indent}</FilePublisherCondition>",
        ]
    lines = [f"{indent}<FileHashCondition>"]
    for item in sorted(cond.hashes, key=lambda h: (h.canonical(), str(h.metadata()))):
        extra = ""
        if item.source_name is not None:
            extra += f' SourceFileName="{attr(item.source_name)}"'
        if item.source_length is not None:
            extra += f' SourceFileLength="{item.source_length}"'
        lines.append(f'{indent}  <FileHash Type="{item.type}" Data="{item.data}"{extra} />')
    lines.append(f"{indent}</FileHashCondition>")
    return lines


def _rule_xml(rule: Rule) -> list[str]:
    element = RULE_ELEMENTS[rule.kind]
    lines = [
        f'    <{element} Id="{rule.id}" Name="{attr(rule.name)}" Description="{attr(rule.description)}" '
        f'UserOrGroupSid="{rule.sid}" Action="{rule.action}">',
        "      <Conditions>",
        *_condition_xml(rule.condition, "        "),
        "      </Conditions>",
    ]
    if rule.exceptions:
        lines.append("      <Exceptions>")
        for exc in sorted(rule.exceptions, key=condition_key):
            lines.extend(_condition_xml(exc, "        "))
        lines.append("      </Exceptions>")
    lines.append(f"    </{element}>")
    return lines


def _tree_xml(tree: tuple, indent: str) -> list[str]:
    tag, attributes, children = tree
    attrs = "".join(f' {name}="{attr(value)}"' for name, value in attributes)
    if not children:
        return [f"{indent}<{tag}{attrs} />"]
    lines = [f"{indent}<{tag}{attrs}>"]
    for child in children:
        lines.extend(_tree_xml(child, indent + "  "))
    lines.append(f"{indent}</{tag}>")
    return lines


def rule_sort_key(rule: Rule) -> tuple:
    return (rule.name.casefold(), rule.name, rule.id.lower())


def render_policy(policy: Policy) -> str:
    """The policy's XML text (UTF-8 without BOM when encoded)."""
    lines = ['<?xml version="1.0" encoding="utf-8"?>', f'<AppLockerPolicy Version="{policy.version}">']
    for name in (*COLLECTIONS, *sorted(set(policy.collections) - set(COLLECTIONS))):
        coll = policy.collection(name)
        opening = f'  <RuleCollection Type="{attr(name)}" EnforcementMode="{coll.mode}"'
        if not coll.rules and coll.extensions is None:
            lines.append(opening + " />")
            continue
        lines.append(opening + ">")
        for rule in sorted(coll.rules, key=rule_sort_key):
            lines.extend(_rule_xml(rule))
        if coll.extensions is not None:
            lines.extend(_tree_xml(coll.extensions, "    "))
        lines.append("  </RuleCollection>")
    if policy.extensions is not None:
        lines.extend(_tree_xml(policy.extensions, "  "))
    lines.append("</AppLockerPolicy>")
    return "\n".join(lines) + "\n"


# --- read -------------------------------------------------------------------------------------


def decode_policy(data: bytes | str, source: str = "policy") -> str:
    """Policy text from bytes in any encoding Windows tools write; the XML declaration removed."""
    if isinstance(data, bytes):
        if data.startswith(b"\xef\xbb\xbf"):
            text = data[3:].decode("utf-8")
        elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
            text = data.decode("utf-16")
        elif data[:2] == b"<\x00":
            text = data.decode("utf-16-le")
        elif data[:2] == b"\x00<":
            text = data.decode("utf-16-be")
        else:
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise AppLockerError(f"{source}: neither UTF-8 nor UTF-16 ({exc})") from None
    else:
        text = data
    text = text.lstrip("\ufeff")
    text = _DECLARATION.sub("", text, count=1)
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise AppLockerError(f"{source}: a DTD or entity declaration is not accepted in a policy")
    return text


def _where(source: str, *parts: str) -> str:
    return source + ": " + "/".join(parts)


def _attrs(element: ET.Element, where: str, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict:
    unknown = sorted(set(element.attrib) - set(required) - set(optional))
    if unknown:
        raise AppLockerError(f"{where}: unknown attribute {unknown[0]!r}")
    missing = [name for name in required if name not in element.attrib]
    if missing:
        raise AppLockerError(f"{where}: attribute {missing[0]} is missing")
    return dict(element.attrib)


def _condition(element: ET.Element, where: str) -> Condition:
    if element.tag == "FilePathCondition":
        return PathCondition(_attrs(element, where, ("Path",))["Path"])
    if element.tag == "FilePublisherCondition":
        values = _attrs(element, where, ("PublisherName", "ProductName", "BinaryName"))
        ranges = [child for child in element if child.tag == "BinaryVersionRange"]
        if len(ranges) != 1 or len(element) != 1:
            raise AppLockerError(f"{where}: needs exactly one BinaryVersionRange")
        bounds = _attrs(ranges[0], where + "/BinaryVersionRange", ("LowSection", "HighSection"))
        return PublisherCondition(
            values["PublisherName"],
            values["ProductName"],
            values["BinaryName"],
            bounds["LowSection"],
            bounds["HighSection"],
        )
    if element.tag == "FileHashCondition":
        hashes = []
        for child in element:
            if child.tag != "FileHash":
                raise AppLockerError(f"{where}: unexpected element {child.tag}")
            item = _attrs(child, where + "/FileHash", ("Type", "Data"), ("SourceFileName", "SourceFileLength"))
            length = item.get("SourceFileLength")
            try:
                parsed_length = None if length is None else int(length)
            except ValueError:
                raise AppLockerError(f"{where}/FileHash: SourceFileLength {length!r} is not a number") from None
            hashes.append(FileHash(item["Type"], item["Data"], item.get("SourceFileName"), parsed_length))
        if not hashes:
            raise AppLockerError(f"{where}: no FileHash")
        return HashCondition(tuple(hashes))
    raise AppLockerError(f"{where}: unexpected element {element.tag}")


def _tree(element: ET.Element) -> tuple:
    """A canonical element tree: attributes sorted, children in document order."""
    return (element.tag, tuple(sorted(element.attrib.items())), tuple(_tree(child) for child in element))


def _rule(element: ET.Element, where: str, kind: str) -> Rule:
    values = _attrs(element, where, ("Id", "Name", "Description", "UserOrGroupSid", "Action"))
    conditions = [child for child in element if child.tag == "Conditions"]
    exceptions = [child for child in element if child.tag == "Exceptions"]
    others = [child.tag for child in element if child.tag not in ("Conditions", "Exceptions")]
    if others or len(conditions) != 1 or len(exceptions) > 1 or (exceptions and kind == "hash"):
        raise AppLockerError(
            f"{where}: expected one Conditions element and (not for hash rules) at most one Exceptions"
        )
    if len(conditions[0]) != 1:
        raise AppLockerError(f"{where}/Conditions: expected exactly one condition")
    cond = _condition(conditions[0][0], where + "/Conditions/" + conditions[0][0].tag)
    if cond.kind != kind:
        raise AppLockerError(f"{where}: a {RULE_ELEMENTS[kind]} holds a {cond.kind} condition")
    excs = tuple(
        _condition(child, f"{where}/Exceptions/{child.tag}") for child in (exceptions[0] if exceptions else [])
    )
    return Rule(
        name=values["Name"],
        condition=cond,
        action=values["Action"],
        sid=values["UserOrGroupSid"],
        description=values["Description"],
        exceptions=excs,
        id=values["Id"],
        origin="xml",
    )


_KINDS = {element: kind for kind, element in RULE_ELEMENTS.items()}


def parse_policy(data: bytes | str, source: str = "policy") -> Policy:
    """Read an AppLocker policy; raise AppLockerError naming the element that cannot be read."""
    with paused_gc():
        return _parse_policy(decode_policy(data, source), source)


def _parse_policy(text: str, source: str) -> Policy:
    try:
        root = ET.fromstring(text)  # noqa: S314 - DTDs refused above
    except ET.ParseError as exc:
        raise AppLockerError(f"{source}: not well-formed XML ({exc})") from None
    if root.tag != "AppLockerPolicy":
        raise AppLockerError(f"{source}: the root element is {root.tag}, not AppLockerPolicy")
    values = _attrs(root, _where(source, "AppLockerPolicy"), ("Version",))
    policy = Policy(version=values["Version"])
    for child in root:
        if child.tag == "PolicyExtensions":
            policy.extensions = _tree(child)
            continue
        if child.tag != "RuleCollection":
            raise AppLockerError(f"{_where(source, 'AppLockerPolicy')}: unexpected element {child.tag}")
        attrs = _attrs(child, _where(source, "RuleCollection"), ("Type",), ("EnforcementMode",))
        name = attrs["Type"]
        where = _where(source, f"RuleCollection[@Type={name!r}]")
        if name in policy.collections:
            raise AppLockerError(f"{where}: the collection appears twice")
        coll = Collection(name, attrs.get("EnforcementMode", "NotConfigured"))
        for element in child:
            if element.tag == "RuleCollectionExtensions":
                coll.extensions = _tree(element)
            elif element.tag in _KINDS:
                rule_where = f"{where}/{element.tag}[@Id={element.get('Id')!r}]"
                coll.rules.append(_rule(element, rule_where, _KINDS[element.tag]))
            else:
                raise AppLockerError(f"{where}: unexpected element {element.tag}")
        policy.collections[name] = coll
    return policy


# --- validate ---------------------------------------------------------------------------------


def _schema():
    global _SCHEMA  # noqa: PLW0603 - one compiled schema per process
    if _SCHEMA is None:
        from lxml import etree  # noqa: PLC0415 - optional dependency, imported when validating

        _SCHEMA = etree.XMLSchema(etree.fromstring(POLICY_XSD.encode("utf-8")))
    return _SCHEMA


def xsd_errors(data: bytes | str, source: str = "policy", schema=None) -> list[str]:
    """Schema violations of a policy, each ``SOURCE:LINE: PATH: MESSAGE``; empty when valid.

    ``schema`` is an lxml XMLSchema to use instead of the project's (the tests pass Microsoft's).
    """
    from lxml import etree  # noqa: PLC0415 - optional dependency, imported when validating

    text = decode_policy(data, source)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True)
    try:
        document = etree.fromstring(text.encode("utf-8"), parser)
    except etree.XMLSyntaxError as exc:
        return [f"{source}: not well-formed XML ({exc})"]
    checker = schema if schema is not None else _schema()
    if checker.validate(document):
        return []
    return [f"{source}:{error.line}: {error.path}: {error.message}" for error in checker.error_log]


def lxml_available() -> bool:
    try:
        import lxml.etree  # noqa: F401, PLC0415 - probe only
    except ImportError:
        return False
    return True

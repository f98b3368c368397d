# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render the role's own Sysmon configuration, and validate any configuration against the schema table.

Two entry points, both pure (no file system):

- ``render_builtin(settings)``: the role's configuration. ProcessCreate (event ID 1) is exclude-based,
  so every process is logged except the listed exclusions; every other event type of the schema is
  written out explicitly, off (an empty include) unless the settings turn it on. Input errors name
  the setting (``process_create_exclusions[2].field``), not a line of generated XML.
- ``validate(data, ...)``: any configuration (the role's, or a user's SwiftOnSecurity- or
  sysmon-modular-shaped file) before it leaves the controller: well-formed, no DTD, every element,
  attribute, field and condition valid for the config's ``schemaversion``, ``onmatch`` on every
  event element, ``schemaversion`` not above what the target Sysmon release loads, and (as policy)
  ProcessCreate exclude-based so every process is logged. Each finding names the line, the element
  and the reason.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from xml.parsers import expat

from ansible_collections.m1038.appcontrol.plugins.module_utils._sysmon_schema import (
    GROUP_RELATIONS,
    HASH_ALGORITHMS,
    ONMATCH,
    RULE_ELEMENT_MIN_SCHEMA,
    Schema,
    SchemaError,
    compare_schema,
    resolve_schema,
)

GENERATOR = "m1038.appcontrol sysmon_config"
HEADER = f"<!-- {GENERATOR}: rendered and validated on the controller; do not edit on the host. -->"
PROCESS_CREATE = "ProcessCreate"
NUMERIC_CONDITIONS = ("less than", "more than")
BLOCKING_EVENTS = ("FileBlockExecutable", "FileBlockShredding")
# XML 1.0 forbids these characters even as references; a value holding one cannot be written.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class ConfigInputError(ValueError):
    """A setting of the role's own configuration is invalid (the message names the setting)."""


# --- parsing with line numbers ----------------------------------------------------------------


@dataclass
class Node:
    tag: str
    attrs: dict
    line: int
    children: list = field(default_factory=list)
    text: str = ""


@dataclass(frozen=True)
class Finding:
    line: int
    element: str
    reason: str

    def render(self, source: str) -> str:
        return f"{source}:{self.line}: <{self.element}>: {self.reason}"


class _Forbidden(Exception):
    pass


def parse(data: bytes) -> Node:
    """Parse with expat, keeping each element's line. A DTD (and so any entity) is refused."""
    parser = expat.ParserCreate()
    stack: list[Node] = []
    root: list[Node] = []

    def start(tag, attrs):
        node = Node(tag, dict(attrs), parser.CurrentLineNumber)
        if stack:
            stack[-1].children.append(node)
        else:
            root.append(node)
        stack.append(node)

    def end(_tag):
        stack.pop()

    def chars(text):
        if stack:
            stack[-1].text += text

    def doctype(*_args):
        raise _Forbidden("a DOCTYPE is not allowed in a Sysmon configuration")

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = doctype
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        reason = f"not well-formed XML: {expat.errors.messages[exc.code]}"
        raise ConfigSyntaxError(Finding(exc.lineno, "document", reason)) from None
    except _Forbidden as exc:
        raise ConfigSyntaxError(Finding(parser.CurrentLineNumber, "!DOCTYPE", str(exc))) from None
    return root[0]


class ConfigSyntaxError(ValueError):
    def __init__(self, finding: Finding):
        super().__init__(finding.reason)
        self.finding = finding


# --- validation -----------------------------------------------------------------------------


@dataclass
class Validation:
    source: str
    schemaversion: str | None = None
    table_schema: str | None = None
    errors: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    rules: int = 0
    events: dict = field(default_factory=dict)  # rulename -> list of (onmatch, number of filters)
    process_create: str = "not configured"

    @property
    def ok(self) -> bool:
        return not self.errors

    def error(self, node: Node | int, element: str, reason: str) -> None:
        self.errors.append(Finding(node if isinstance(node, int) else node.line, element, reason))

    def warn(self, node: Node | int, element: str, reason: str) -> None:
        self.warnings.append(Finding(node if isinstance(node, int) else node.line, element, reason))

    def messages(self, kind: str = "errors", limit: int = 0) -> list[str]:
        findings = self.errors if kind == "errors" else self.warnings
        shown = findings[:limit] if limit else findings
        return [f.render(self.source) for f in shown]

    def summary(self) -> dict:
        return {
            "schemaversion": self.schemaversion,
            "table_schema": self.table_schema,
            "rules": self.rules,
            "process_create": self.process_create,
            "events": {name: [onmatch for onmatch, _count in blocks] for name, blocks in self.events.items()},
        }


def _suggest(name: str, choices) -> str:
    choices = list(choices)
    folded = [c for c in choices if c.lower() == name.lower()]
    close = folded or difflib.get_close_matches(name, choices, n=1, cutoff=0.75)
    return f" (did you mean {close[0]}?)" if close else ""


def validate(
    data: bytes,
    *,
    source: str = "config",
    max_schema: str | None = None,
    max_schema_reason: str = "",
    require_all_processes: bool = False,
) -> Validation:
    """Check a configuration; never raises on bad input, every problem becomes a finding."""
    result = Validation(source)
    try:
        root = parse(data)
    except ConfigSyntaxError as exc:
        result.errors.append(exc.finding)
        return result
    if root.tag != "Sysmon":
        result.error(root, root.tag, "the root element must be <Sysmon>")
        return result
    schema = _check_root(root, result, max_schema, max_schema_reason)
    if schema is None:
        return result
    filtering = [c for c in root.children if c.tag == "EventFiltering"]
    for child in root.children:
        if child.tag != "EventFiltering":
            _check_option(child, schema, result)
    if not filtering:
        result.warn(root, "Sysmon", "no <EventFiltering>: Sysmon's defaults decide what is logged")
    for extra in filtering[1:]:
        result.error(extra, "EventFiltering", f"a second <EventFiltering> (the first is on line {filtering[0].line})")
    for node in filtering[:1]:
        _check_attrs(node, (), result)
        for child in node.children:
            if child.tag == "RuleGroup":
                _check_rule_group(child, schema, result)
            else:
                _check_event(child, schema, result, group=None)
    _check_process_create(root, result, require_all_processes)
    return result


def _check_root(root: Node, result: Validation, max_schema: str | None, max_reason: str) -> Schema | None:
    for attr in root.attrs:
        if attr != "schemaversion":
            result.error(root, "Sysmon", f"unknown attribute {attr}")
    declared = root.attrs.get("schemaversion")
    if declared is None:
        result.error(root, "Sysmon", "missing schemaversion")
        return None
    result.schemaversion = declared
    try:
        schema, note = resolve_schema(declared)
    except SchemaError as exc:
        result.error(root, "Sysmon", str(exc))
        return None
    result.table_schema = schema.version
    if note:
        result.warn(root, "Sysmon", note)
    if schema.derived:
        result.warn(root, "Sysmon", f"the schema {schema.version} table is {schema.origin}")
    if max_schema and compare_schema(declared, max_schema) > 0:
        why = f", the highest {max_reason}" if max_reason else ""
        result.error(root, "Sysmon", f"schemaversion {declared} is above {max_schema}{why}")
    return schema


def _check_attrs(node: Node, allowed, result: Validation, context: str = "") -> None:
    for attr in node.attrs:
        if attr not in allowed:
            hint = f"; allowed: {', '.join(allowed)}" if allowed else ""
            result.error(node, node.tag, f"unknown attribute {attr}{context}{hint}")


def _check_option(node: Node, schema: Schema, result: Validation) -> None:
    if node.tag in schema.options:
        _check_attrs(node, (), result)
        if node.children:
            result.error(node, node.tag, "an option holds text, not elements")
        if node.tag == "HashAlgorithms":
            values = [v.strip() for v in node.text.split(",")]
            bad = [v for v in values if v.upper() not in HASH_ALGORITHMS]
            if bad or not any(values):
                allowed = ", ".join(HASH_ALGORITHMS)
                result.error(node, node.tag, f"'{node.text.strip()}' is not a comma-separated list of {allowed}")
        return
    if node.tag in schema.rule_options:
        result.warn(
            node,
            node.tag,
            f"{node.tag} is a command-line rule switch in schema {schema.version}; the manifest does not list it as a "
            "configuration element (check on a host)",
        )
        return
    known = (*schema.options, "EventFiltering")
    result.error(
        node,
        node.tag,
        f"unknown element under <Sysmon> for schema {schema.version}{_suggest(node.tag, known)}; "
        f"allowed: {', '.join(known)}",
    )


def _check_relation(node: Node, result: Validation) -> None:
    relation = node.attrs.get("groupRelation")
    if relation is not None and relation.lower() not in GROUP_RELATIONS:
        result.error(node, node.tag, f"groupRelation '{relation}' is not and or or")


def _check_rule_group(node: Node, schema: Schema, result: Validation) -> None:
    _check_attrs(node, ("name", "groupRelation"), result)
    _check_relation(node, result)
    if not node.children:
        result.warn(node, "RuleGroup", "empty <RuleGroup>")
    for child in node.children:
        _check_event(child, schema, result, group=node)


def _check_event(node: Node, schema: Schema, result: Validation, group: Node | None) -> None:
    event = schema.events.get(node.tag)
    if event is None:
        where = "<RuleGroup>" if group is not None else "<EventFiltering>"
        result.error(
            node,
            node.tag,
            f"not an event of schema {schema.version} (under {where}){_suggest(node.tag, schema.events)}; "
            f"events: {', '.join(schema.events)}",
        )
        return
    _check_attrs(node, ("onmatch",), result)
    onmatch = node.attrs.get("onmatch")
    if onmatch is None:
        result.error(node, node.tag, 'missing onmatch ("include" or "exclude")')
    elif onmatch.lower() not in ONMATCH:
        result.error(node, node.tag, f"onmatch '{onmatch}' is not include or exclude")
    elif onmatch not in ONMATCH:
        result.warn(node, node.tag, f"onmatch '{onmatch}' is not written in lower case")
    filters = 0
    for child in node.children:
        if child.tag == "Rule":
            filters += _check_rule(child, event, schema, result)
        else:
            filters += _check_field(child, event, schema, result)
    result.rules += filters
    result.events.setdefault(node.tag, []).append(((onmatch or "").lower(), filters))
    if node.tag in BLOCKING_EVENTS and (onmatch or "").lower() == "include" and filters:
        result.warn(node, node.tag, "Sysmon BLOCKS what these rules match, it does not only log it")


def _check_rule(node: Node, event, schema: Schema, result: Validation) -> int:
    if not schema.supports_rule_element():
        result.error(node, "Rule", f"<Rule> needs schemaversion {RULE_ELEMENT_MIN_SCHEMA} or later")
    _check_attrs(node, ("name", "groupRelation"), result)
    _check_relation(node, result)
    if not node.children:
        result.warn(node, "Rule", "empty <Rule>")
    count = 0
    for child in node.children:
        if child.tag == "Rule":
            result.error(child, "Rule", "a <Rule> inside a <Rule>")
            continue
        count += _check_field(child, event, schema, result)
    return count


def _check_field(node: Node, event, schema: Schema, result: Validation) -> int:
    if node.tag not in event.fields:
        ids = ", ".join(event.event_ids)
        result.error(
            node,
            node.tag,
            f"not a field of {event.rulename} (event {ids}) in schema {schema.version}"
            + _suggest(node.tag, event.fields),
        )
        return 0
    _check_attrs(node, ("condition", "name"), result, context=f" on a {event.rulename} field")
    condition = node.attrs.get("condition", "is")
    folded = {c.lower(): c for c in schema.conditions}
    if condition.lower() not in folded:
        result.error(
            node,
            node.tag,
            f"condition '{condition}' is not one of schema {schema.version}'s: {', '.join(schema.conditions)}"
            + _suggest(condition, schema.conditions),
        )
    elif condition not in schema.conditions:
        spelled = folded[condition.lower()]
        result.warn(node, node.tag, f"condition '{condition}' is not spelled as the manifest does ('{spelled}')")
    if node.children:
        result.error(node, node.tag, "a filter holds a value, not elements")
    value = node.text.strip()
    if not value:
        result.warn(node, node.tag, "empty value")
    elif condition.lower() in NUMERIC_CONDITIONS and not value.isdigit():
        result.warn(node, node.tag, f"'{value}' is not a number for condition '{condition}'")
    return 1


def _check_process_create(root: Node, result: Validation, required: bool) -> None:
    blocks = result.events.get(PROCESS_CREATE, [])
    include = [count for onmatch, count in blocks if onmatch == "include"]
    exclude = [count for onmatch, count in blocks if onmatch == "exclude"]
    if exclude and not include:
        result.process_create = "every process, minus exclusions"
        return
    if include and any(include):
        result.process_create = "only matching processes (include-based)"
    elif include:
        result.process_create = "none (an empty include)"
    why = (
        f"ProcessCreate logs {result.process_create}: allow-list monitoring (M1038) needs every process, "
        'that is one or more onmatch="exclude" ProcessCreate blocks and no include block'
    )
    line = root.line
    for child in _walk(root):
        if child.tag == PROCESS_CREATE:
            line = child.line
            break
    (result.error if required else result.warn)(line, PROCESS_CREATE, why)


def _walk(node: Node):
    for child in node.children:
        yield child
        yield from _walk(child)


# --- the role's own configuration -----------------------------------------------------------


@dataclass
class Builtin:
    """Settings of the role's own configuration (the module's parameters, validated)."""

    schemaversion: str
    hash_algorithms: list
    check_revocation: bool
    dns_lookup: bool
    archive_directory: str
    process_create_exclusions: list
    events: dict  # rulename -> {"include": [...], "exclude": [...]}


def _xml_value(value: object, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ConfigInputError(f"{where} must be a string (got {type(value).__name__})")
    text = str(value)
    if _XML_ILLEGAL.search(text):
        raise ConfigInputError(f"{where} holds a control character XML cannot carry: {text!r}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigInputError(f"{where} is not valid Unicode text: {text!r}") from None
    return text


def escape_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escape_attr(text: str) -> str:
    escaped = escape_text(text).replace('"', "&quot;")
    return escaped.replace("\t", "&#9;").replace("\n", "&#10;").replace("\r", "&#13;")


def _filter_xml(item: dict, event, schema: Schema, where: str) -> str:
    unknown = set(item) - {"field", "condition", "value", "name"}
    if unknown:
        keys = ", ".join(sorted(unknown))
        raise ConfigInputError(f"{where}: unknown key(s) {keys} (use field, condition, value, name)")
    name = item.get("field")
    if name not in event.fields:
        raise ConfigInputError(
            f"{where}.field: '{name}' is not a field of {event.rulename} in schema {schema.version}"
            f"{_suggest(str(name), event.fields)}"
        )
    condition = item.get("condition", "is")
    if condition not in schema.conditions:
        raise ConfigInputError(
            f"{where}.condition: '{condition}' is not one of schema {schema.version}'s: {', '.join(schema.conditions)}"
        )
    value = _xml_value(item.get("value"), f"{where}.value")
    if not value.strip():
        raise ConfigInputError(f"{where}.value is empty")
    rule_name = item.get("name")
    attrs = f' condition="{escape_attr(condition)}"'
    if rule_name not in (None, ""):
        attrs = f' name="{escape_attr(_xml_value(rule_name, f"{where}.name"))}"' + attrs
    return f"<{name}{attrs}>{escape_text(value)}</{name}>"


def _entry_xml(item: object, event, schema: Schema, where: str) -> list[str]:
    if not isinstance(item, dict):
        raise ConfigInputError(f"{where} must be a mapping (field/condition/value, or all/any with a list)")
    groups = [key for key in ("all", "any") if key in item]
    if not groups:
        return [_filter_xml(item, event, schema, where)]
    if len(groups) > 1 or set(item) - {"all", "any", "name"}:
        raise ConfigInputError(f"{where}: a group has one of all/any, and optionally name")
    if not schema.supports_rule_element():
        raise ConfigInputError(f"{where}: all/any groups need schemaversion {RULE_ELEMENT_MIN_SCHEMA} or later")
    members = item[groups[0]]
    if not isinstance(members, list) or not members:
        raise ConfigInputError(f"{where}.{groups[0]} must be a non-empty list of field/condition/value mappings")
    relation = "and" if groups[0] == "all" else "or"
    attrs = f' groupRelation="{relation}"'
    if item.get("name") not in (None, ""):
        attrs = f' name="{escape_attr(_xml_value(item["name"], f"{where}.name"))}"' + attrs
    lines = [f"<Rule{attrs}>"]
    for position, member in enumerate(members):
        if not isinstance(member, dict) or "all" in member or "any" in member:
            raise ConfigInputError(f"{where}.{groups[0]}[{position}] must be a field/condition/value mapping")
        lines.append("  " + _filter_xml(member, event, schema, f"{where}.{groups[0]}[{position}]"))
    lines.append("</Rule>")
    return lines


def _event_block(event, onmatch: str, entries: list, schema: Schema, where: str) -> list[str]:
    if not isinstance(entries, list):
        raise ConfigInputError(f"{where} must be a list")
    body = []
    for position, item in enumerate(entries):
        body.extend(_entry_xml(item, event, schema, f"{where}[{position}]"))
    lines = ['  <RuleGroup groupRelation="or">']
    if body:
        lines.append(f'    <{event.rulename} onmatch="{onmatch}">')
        lines.extend("      " + line for line in body)
        lines.append(f"    </{event.rulename}>")
    else:
        lines.append(f'    <{event.rulename} onmatch="{onmatch}"/>')
    lines.append("  </RuleGroup>")
    return lines


def _builtin_schema(version: str) -> Schema:
    try:
        schema, note = resolve_schema(version)
    except SchemaError as exc:
        raise ConfigInputError(f"schema_version: {exc}") from None
    if note:
        raise ConfigInputError(f"schema_version: {note}; use one of the table's versions")
    return schema


def _option_lines(settings: Builtin, schema: Schema) -> list[str]:
    algorithms = [str(a).strip() for a in settings.hash_algorithms]
    bad = [a for a in algorithms if a.upper() not in HASH_ALGORITHMS]
    if bad or not algorithms:
        raise ConfigInputError(f"hash_algorithms: {bad or '[]'} not a non-empty list of {', '.join(HASH_ALGORITHMS)}")
    options = [("HashAlgorithms", "hash_algorithms", ",".join(algorithms))]
    options.append(("CheckRevocation", "check_revocation", None if settings.check_revocation else "False"))
    if not settings.dns_lookup:
        options.append(("DnsLookup", "dns_lookup", "False"))
    if settings.archive_directory:
        archive = _xml_value(settings.archive_directory, "archive_directory")
        options.append(("ArchiveDirectory", "archive_directory", archive))
    lines = []
    for option, setting, text in options:
        if option not in schema.options:
            raise ConfigInputError(f"{setting}: {option} is not an option of schema {schema.version}")
        lines.append(f"  <{option}/>" if text is None else f"  <{option}>{escape_text(text)}</{option}>")
    return lines


def _event_lines(settings: Builtin, schema: Schema, warnings: list[str]) -> list[str]:
    events = settings.events or {}
    if not isinstance(events, dict):
        raise ConfigInputError("events must be a mapping of event type to {include: [...], exclude: [...]}")
    for name in events:
        if name == PROCESS_CREATE:
            raise ConfigInputError("events.ProcessCreate: use process_create_exclusions (it stays exclude-based)")
        if name not in schema.events:
            raise ConfigInputError(
                f"events.{name}: not an event type of schema {schema.version}{_suggest(str(name), schema.events)}"
            )
    exclusions = settings.process_create_exclusions
    lines = _event_block(schema.events[PROCESS_CREATE], "exclude", exclusions, schema, "process_create_exclusions")
    for rulename, event in schema.events.items():
        spec = events.get(rulename)
        if rulename == PROCESS_CREATE:
            continue
        if spec is None:
            lines.extend(_event_block(event, "include", [], schema, f"events.{rulename}"))
            continue
        if not isinstance(spec, dict) or not spec or set(spec) - {"include", "exclude"}:
            raise ConfigInputError(f"events.{rulename} must be a mapping with include and/or exclude lists")
        for onmatch in ("include", "exclude"):
            if onmatch in spec:
                lines.extend(_event_block(event, onmatch, spec[onmatch] or [], schema, f"events.{rulename}.{onmatch}"))
        if rulename in BLOCKING_EVENTS and spec.get("include"):
            warnings.append(f"events.{rulename}: Sysmon BLOCKS what these rules match, it does not only log it")
    return ["  " + line for line in lines]


def render_builtin(settings: Builtin) -> tuple[str, list[str]]:
    """The role's configuration as text, and warnings about the settings (blocking events)."""
    schema = _builtin_schema(settings.schemaversion)
    warnings: list[str] = []
    lines = [HEADER, f'<Sysmon schemaversion="{escape_attr(schema.version)}">']
    lines.extend(_option_lines(settings, schema))
    lines.append("  <EventFiltering>")
    lines.extend(_event_lines(settings, schema, warnings))
    lines.append("  </EventFiltering>")
    lines.append("</Sysmon>")
    return "\n".join(lines) + "\n", warnings

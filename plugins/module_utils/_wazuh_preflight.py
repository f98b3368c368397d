# Copyright: m1038.appcontrol contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pre-flight checks for Wazuh rule content (private helper, stdlib only).

The controller runs these before anything is written to a manager: each rule file is
well-formed, rule IDs are unique and free, every ``if_sid``/``if_group`` (and
``if_matched_*``) parent exists in the stock ruleset or in ours, every CDB list a rule
uses is registered in ossec.conf and present, and CDB list files parse.

The wazuh-manager test double's ``wazuh-analysisd -t`` runs the same checks over the
files installed on the double, which is why this module imports only the standard library.
It also refuses what the engine's rules parser refuses (``_wazuh_rulesyntax``: unknown
elements and attributes, bad ``type``/``lookup``/``category``/``options`` values, PCRE2
patterns that PCRE2 cannot compile) and CDB lines the engine would read differently from how
they look. It does not replace the engine: osregex/osmatch syntax, decoder names and decoder
logic are only checked by the real ``wazuh-analysisd -t``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

try:
    from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_rulesyntax import (
        Pcre2Unavailable,
        element_problems,
        rule_attribute_problems,
        rule_content_problems,
    )
except ImportError:  # the wazuh-manager test double runs a flat copy of these modules
    from _wazuh_rulesyntax import (  # type: ignore[no-redef]
        Pcre2Unavailable,
        element_problems,
        rule_attribute_problems,
        rule_content_problems,
    )

WRAP_OPEN = "<m1038-wrap>"
WRAP_CLOSE = "</m1038-wrap>"
_DECL_RE = re.compile(r"^\s*<\?xml[^>]*\?>")
_SPLIT_RE = re.compile(r"[,\s]+")
_COMMENT_RE = re.compile(r"<!--.*?-->", re.DOTALL)
_VAR_RE = re.compile(r"\$([^$.|, \0]+)")
LEVEL_MAX = 16
CUSTOM_ID_MIN = 100000
CUSTOM_ID_MAX = 120000
PARENT_SID_TAGS = ("if_sid", "if_matched_sid")
PARENT_GROUP_TAGS = ("if_group", "if_matched_group")


@dataclass(frozen=True)
class Finding:
    """One problem, located as precisely as the input allows."""

    source: str
    message: str
    line: int | None = None
    # "error" stops a deployment; "warning" is what the engine itself only warns about.
    severity: str = "error"

    def __str__(self) -> str:
        where = f"{self.source} line {self.line}" if self.line else self.source
        return f"{where}: {self.message}"


@dataclass
class Rule:
    """The parts of a ``<rule>`` the pre-flight checks need."""

    rule_id: int
    source: str
    line: int | None = None
    level: int | None = None
    overwrite: bool = False
    groups: set[str] = field(default_factory=set)
    parent_sids: list[int] = field(default_factory=list)
    parent_groups: list[str] = field(default_factory=list)
    lists: list[str] = field(default_factory=list)


def _split(value: str) -> list[str]:
    return [v for v in _SPLIT_RE.split(value.strip()) if v]


def parse_xml_fragment(text: str, source: str) -> tuple[ET.Element | None, Finding | None]:
    """Parse a multi-root XML file under a synthetic root; line numbers stay the file's."""
    body = _DECL_RE.sub(lambda m: " " * len(m.group(0)), text, count=1)
    try:
        return ET.fromstring(WRAP_OPEN + body + WRAP_CLOSE), None  # noqa: S314 - see import note
    except ET.ParseError as exc:
        line, column = exc.position
        if line == 1:
            column = max(column - len(WRAP_OPEN), 0)
        reason = str(exc).split(":", maxsplit=1)[0]
        return None, Finding(source, f"XML is not well-formed: {reason} (column {column + 1})", line)


def _rule_lines(text: str) -> dict[str, list[int]]:
    """Map each rule id string to the lines of its ``<rule`` start tags, in file order (comments skipped)."""
    masked = _COMMENT_RE.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)
    lines: dict[str, list[int]] = {}
    for match in re.finditer(r"<rule\b[^>]*?\bid\s*=\s*[\"']\s*([^\"']*?)\s*[\"']", masked):
        lines.setdefault(match.group(1), []).append(masked.count("\n", 0, match.start()) + 1)
    return lines


def parse_rules(text: str, source: str) -> tuple[list[Rule], list[Finding]]:
    """Read the rules of one rule file. Problems come back as findings, never as exceptions."""
    root, error = parse_xml_fragment(text, source)
    if error is not None:
        return [], [error]
    lines = _rule_lines(text)
    rules: list[Rule] = []
    findings: list[Finding] = []

    # os_xml replaces $NAME by the file's <var name="NAME"> values (os_xml_variables.c) before
    # the rules parser sees a value; only files that define variables are expanded.
    variables = {v.get("name", ""): v.text or "" for v in root if v.tag == "var"}

    def expand(value: str) -> str:
        if not variables or "$" not in value:
            return value
        return _VAR_RE.sub(lambda m: variables.get(m.group(1), m.group(0)), value)

    def walk(elem: ET.Element, groups: tuple[str, ...]) -> None:
        for child in elem:
            if child.tag == "group":
                if list(child.attrib) != ["name"]:
                    findings.append(
                        Finding(source, "<group> must have exactly one attribute, name (the engine refuses)")
                    )
                walk(child, groups + tuple(_split((child.get("name") or "").replace(",", " "))))
            elif child.tag == "rule" and groups:
                rule = _read_rule(child, groups, source, lines, findings, expand=expand)
                if rule is not None:
                    rules.append(rule)
            elif child.tag == "rule":
                findings.append(Finding(source, "<rule> outside a <group> (the engine refuses to start)"))
            elif not (child.tag == "var" and elem is root):
                where = "a <group>" if groups else "the top level"
                findings.append(Finding(source, f"<{child.tag}> is not allowed at {where} (the engine refuses)"))

    walk(root, ())
    return rules, findings


def _read_rule(
    elem: ET.Element,
    groups: tuple[str, ...],
    source: str,
    lines: dict[str, list[int]],
    findings: list[Finding],
    *,
    expand=lambda value: value,
) -> Rule | None:
    raw_id = (elem.get("id") or "").strip()
    pending = lines.get(raw_id)
    line = pending.pop(0) if pending else None
    if not raw_id.isdigit():
        findings.append(Finding(source, f"rule id {raw_id!r} is not a positive integer", line))
        return None
    rule = Rule(rule_id=int(raw_id), source=source, line=line, groups=set(groups))
    raw_level = (elem.get("level") or "").strip()
    if not raw_level.isdigit() or int(raw_level) > LEVEL_MAX:
        findings.append(Finding(source, f"rule {raw_id}: level {raw_level!r} is not an integer 0..{LEVEL_MAX}", line))
    else:
        rule.level = int(raw_level)
    rule.overwrite = (elem.get("overwrite") or "").strip().lower() == "yes"
    attributes = {name: expand(value) for name, value in elem.attrib.items()}
    problems = rule_attribute_problems(attributes)
    problems += rule_content_problems(attributes, [child.tag for child in elem])
    for child in elem:
        _read_rule_option(rule, child, findings)
        child_attributes = {name: expand(value) for name, value in child.attrib.items()}
        try:
            problems += element_problems(child.tag, child_attributes, expand(child.text or ""))
        except Pcre2Unavailable as exc:
            problems.append(str(exc))
    findings.extend(Finding(source, f"rule {raw_id}: {problem}", line) for problem in problems)
    return rule


def _read_rule_option(rule: Rule, child: ET.Element, findings: list[Finding]) -> None:
    value = (child.text or "").strip()
    if child.tag == "group":
        rule.groups.update(_split(value.replace(",", " ")))
    elif child.tag in PARENT_SID_TAGS:
        for token in _split(value):
            if token.isdigit():
                rule.parent_sids.append(int(token))
            else:
                msg = f"rule {rule.rule_id}: <{child.tag}> value {token!r} is not a rule id"
                findings.append(Finding(rule.source, msg, rule.line))
    elif child.tag in PARENT_GROUP_TAGS:
        rule.parent_groups.extend(_split(value.replace(",", " ")))
    elif child.tag == "list":
        if value:
            rule.lists.append(value.rstrip("/"))
        else:
            findings.append(Finding(rule.source, f"rule {rule.rule_id}: empty <list> element", rule.line))


@dataclass
class RuleIndex:
    """Rule IDs and groups known from other files (the manager's stock and user rules)."""

    ids: dict[int, str] = field(default_factory=dict)
    groups: set[str] = field(default_factory=set)

    def add(self, rules: list[Rule]) -> None:
        for rule in rules:
            self.ids.setdefault(rule.rule_id, rule.source)
            self.groups.update(rule.groups)

    @classmethod
    def from_summary(cls, files: dict[str, dict]) -> RuleIndex:
        """Build from ``{file: {"ids": [...], "groups": [...]}}`` as the manager probe returns it."""
        index = cls()
        for source in sorted(files):
            entry = files[source] or {}
            for rid in entry.get("ids", []):
                index.ids.setdefault(int(rid), source)
            index.groups.update(entry.get("groups", []))
        return index


def summarize(rules: list[Rule]) -> dict:
    """The compact form the manager probe returns per file."""
    return {
        "ids": sorted({r.rule_id for r in rules}),
        "groups": sorted({g for r in rules for g in r.groups}),
    }


def check_rules(
    ours: list[Rule],
    existing: RuleIndex,
    registered_lists: set[str],
    present_lists: set[str],
    *,
    id_min: int = CUSTOM_ID_MIN,
    id_max: int = CUSTOM_ID_MAX,
) -> list[Finding]:
    """Cross-check our rules against each other and against the rules already on the manager.

    ``existing`` must not contain the files ours replace. ``registered_lists`` and
    ``present_lists`` hold ossec.conf paths such as ``etc/lists/m1038-trusted-companies``.
    """
    findings: list[Finding] = []
    ours_by_id = _check_ids(ours, existing, id_min, id_max, findings)
    all_ids = set(existing.ids) | set(ours_by_id)
    all_groups = set(existing.groups) | {g for r in ours for g in r.groups}
    for rule in ours:
        # The engine drops a missing if_sid ID with warning 7617 and keeps the rule under
        # its other parents; with no parent left it ignores the whole rule (7619). One rule
        # can so serve managers with and without a version-specific stock parent (67019 is
        # 4.9+), but a rule whose parents are all missing would silently detect nothing.
        missing = [sid for sid in rule.parent_sids if sid != rule.rule_id and sid not in all_ids]
        some_parent_left = len(missing) < len([sid for sid in rule.parent_sids if sid != rule.rule_id])
        for sid in rule.parent_sids:
            if sid == rule.rule_id:
                findings.append(_at(rule, f"rule {sid} names itself as its parent (if_sid)"))
            elif sid in missing and some_parent_left:
                findings.append(
                    _at(
                        rule,
                        f"rule {rule.rule_id}: parent rule {sid} (if_sid) does not exist here; the engine skips it"
                        " (warning 7617) and keeps the rule under its other parents",
                        severity="warning",
                    )
                )
            elif sid in missing:
                findings.append(_at(rule, f"rule {rule.rule_id}: parent rule {sid} (if_sid) does not exist"))
        for group in rule.parent_groups:
            if group not in all_groups:
                findings.append(_at(rule, f"rule {rule.rule_id}: parent group {group!r} (if_group) has no rule"))
        for path in rule.lists:
            if path not in registered_lists:
                findings.append(_at(rule, f"rule {rule.rule_id}: CDB list {path} is not registered in ossec.conf"))
            elif path not in present_lists:
                findings.append(_at(rule, f"rule {rule.rule_id}: CDB list {path} does not exist"))
    return findings


def _at(rule: Rule, message: str, severity: str = "error") -> Finding:
    return Finding(rule.source, message, rule.line, severity)


def _check_ids(
    ours: list[Rule], existing: RuleIndex, id_min: int, id_max: int, findings: list[Finding]
) -> dict[int, Rule]:
    first: dict[int, Rule] = {}
    for rule in ours:
        rid = rule.rule_id
        if rid in first:
            prev = first[rid]
            where = f"{prev.source} line {prev.line}" if prev.line else prev.source
            findings.append(_at(rule, f"rule id {rid} is defined twice (first in {where})"))
            continue
        first[rid] = rule
        taken_by = existing.ids.get(rid)
        if rule.overwrite:
            if taken_by is None:
                findings.append(_at(rule, f'rule {rid} has overwrite="yes" but no rule {rid} exists to overwrite'))
        elif taken_by is not None:
            findings.append(_at(rule, f"rule id {rid} is already used by {taken_by}"))
        elif not id_min <= rid <= id_max:
            findings.append(_at(rule, f"rule id {rid} is outside the custom range {id_min}..{id_max}"))
    return first


def check_cdb_list(text: str, source: str) -> list[Finding]:
    """Check a CDB text list: ``key:value`` or ``key:`` lines; quote a key holding ``:`` or starting with ``#``.

    The engine skips lines without ``:``, so empty lines and ``#`` comments without ``:`` are
    accepted. Any other line without ``:`` is reported, because the engine would drop that entry
    silently; so is a ``#`` line holding ``:``, which the engine would read as a key. An unquoted
    key is cut at its first ``:`` (``C:\\x:`` reads as key ``C``), so a line whose unquoted key is
    followed by a value holding ``:`` is reported as ambiguous, with a hint to quote the key; a
    quoted value (``key:"a:b"``) is not ambiguous.
    """
    findings: list[Finding] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        if line.startswith("#"):
            if ":" in line:
                findings.append(Finding(source, "comment line holds ':' and would be read as a key", number))
            continue
        if line.startswith('"'):
            end = line.find('"', 1)
            if end < 1:
                findings.append(Finding(source, "quoted key has no closing quote", number))
                continue
            key, rest = line[1:end], line[end + 1 :]
        else:
            key, sep, value = line.partition(":")
            rest = sep + value
            if ":" in value and not value.startswith('"'):
                # The engine cuts an unquoted key at the first ':' (lists_make.c) and loads the rest
                # as the value without a word: "C:\\x:1" is key "C". Say which reading it gets.
                findings.append(
                    Finding(
                        source,
                        f"entry {line!r} is ambiguous: the engine reads key {key!r} and value {value!r}; "
                        f'if the key holds ":", quote it ("{key}:{value.rpartition(":")[0]}":...)',
                        number,
                    )
                )
                continue
        if not rest.startswith(":"):
            findings.append(
                Finding(source, f"entry {line!r} has no ':' after the key (the engine would drop it)", number)
            )
        elif not key:
            findings.append(Finding(source, "empty key", number))
    return findings


def cdb_keys(text: str) -> list[str]:
    """Keys of a CDB text list (after :func:`check_cdb_list` found no problem)."""
    keys = []
    for line in text.splitlines():
        if ":" not in line:  # the engine skips these lines; a '#' line holding ':' is a key to it
            continue
        if line.startswith('"'):
            keys.append(line[1 : line.find('"', 1)])
        elif line.strip():
            keys.append(line.partition(":")[0])
    return keys

# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small model of how wazuh-analysisd picks a rule, limited to the generated rules.

It follows the engine's source (4.7 to 4.14):

* ``_OS_AddRule`` (src/analysisd/rules_list.c) inserts a child before the first sibling of
  strictly lower level: children run highest level first, equal levels in load order;
* ``OS_CheckIfRuleMatch`` (src/analysisd/rules.c) returns the first child that matches
  (recursively), else the matched rule itself;
* a ``<field>`` or dynamic ``<list>`` on a field the event lacks never matches, negate or not;
* ``<regex>`` runs on the full log; ``type="pcre2"`` patterns compile with no options.

Stock rules are represented only by the IDs an event reaches (``reached``), e.g. 61603 for a
Sysmon process creation.  The renderer uses this model to check, before writing anything,
that every generated test event is answered by the rule the test expects.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache

_HEX_ESCAPE = re.compile(r"\\x\{([0-9a-fA-F]{2})\}")


@lru_cache(maxsize=1024)
def compile_pcre2(pattern: str) -> re.Pattern[bytes]:
    """Translate the PCRE2 subset the generator emits into a Python bytes regex."""
    return re.compile(_HEX_ESCAPE.sub(r"\\x\1", pattern).encode("utf-8"))


def compact_json(event: dict) -> str:
    """The full log as the decoders leave it: compact JSON, one line, ASCII-escaped."""
    return json.dumps(event, separators=(",", ":"), ensure_ascii=True, sort_keys=False)


def field_value(event: dict, dotted: str) -> str | None:
    """Wazuh's JSON decoder exposes nested keys as dotted field names."""
    node: object = event
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    if isinstance(node, (dict, list)) or node is None:
        return None
    if isinstance(node, bool):
        return "true" if node else "false"
    return str(node)


def _search(pattern: str, text: str) -> bool:
    return compile_pcre2(pattern).search(text.encode("utf-8")) is not None


def rule_matches(rule, event: dict, full_log: str, lists: dict[str, dict[str, str]], decoder: str) -> bool:
    """Evaluate one rule's own conditions (not its parents) against ``event``."""
    if rule.decoded_as and rule.decoded_as != decoder:
        return False
    for pattern, negate in rule.regex:
        if _search(pattern, full_log) == negate:
            return False
    for name, pattern, negate in rule.fields:
        value = field_value(event, name)
        if value is None or _search(pattern, value) == negate:
            return False
    for name, lookup, list_name in rule.lists:
        value = field_value(event, name)
        if value is None:
            return False
        present = value in lists[list_name]
        if (lookup == "match_key") != present:
            return False
    return True


def _ordered(rules: list) -> list:
    # sorted() is stable: equal levels keep file (load) order.
    return sorted(rules, key=lambda rule: -rule.level)


def _descend(rule, children: dict[int, list], context: tuple):
    for child in children.get(rule.rule_id, []):
        if rule_matches(child, *context):
            return _descend(child, children, context)
    return rule


def winner(rules: list, event: dict, reached: set[int], lists: dict[str, dict[str, str]], decoder: str = "json"):
    """The generated rule the engine would report for ``event``, or None.

    ``reached`` holds the stock rule IDs the event matched on its way down; the generated
    rules hanging off any of them compete as one set of siblings.
    """
    own = {rule.rule_id for rule in rules}
    children: dict[int, list] = {}
    for rule in rules:
        for parent in rule.parents:
            if parent in own:
                children.setdefault(parent, []).append(rule)
    children = {parent: _ordered(kids) for parent, kids in children.items()}
    full_log = compact_json(event)
    entry = [
        rule
        for rule in rules
        if (rule.decoded_as and not rule.parents) or any(p in reached for p in rule.parents if p not in own)
    ]
    context = (event, full_log, lists, decoder)
    for rule in _ordered(entry):
        if rule_matches(rule, *context):
            return _descend(rule, children, context)
    return None
